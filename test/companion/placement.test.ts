/**
 * Every VAR of a built module companion sits in the DATASEC of its symbol's section, at the symbol's
 * st_value, as the module's own ELF symbol table (the -dbg file) says. pahole 1.30 gets this wrong
 * when a relocatable object has non-zero sh_addr (Debian 6.12's -dbg modules); the builder realigns
 * (packages/companion/src/datasec.ts), and on every arm64 module (__patchable_function_entries has sh_addr
 * 0x60 there: pahole misfiled 2 VARs of each). Runs on the companions CI builds (tools/test.sh).
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { elfSection, parseBtf } from '@kbtf/btf';
import { objectSymbols } from '../../packages/companion/src/datasec.js';
import { openElfFile } from '@kbtf/binary';
import { companionLabKeys, labKernel } from '../lab.js';
import { labModuleFile } from '../btf/lab-btf.js';

const cache = process.env.KBTF_CACHE || '/var/cache/kbtf';
/** The kernels the lab built companions for and booted (never a literal: Debian's ABI moves); the arm64 one too (test/companion/arm64.test.ts). */
const kvers = [...companionLabKeys, '6.1-arm64-companions', '6.12-arm64-companions'].map(labKernel);

describe.each(kvers)('companion VAR placement, %s', (kver) => {
  const summaryPath = join(cache, 'companions', `kbtf-companions-${kver}.json`);
  if (!existsSync(summaryPath)) throw new Error(`missing ${summaryPath}: build the companions first (docs/companions.md)`);
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8')) as { companions: { module: string; file: string }[] };
  const base = parseBtf(readFileSync(join(cache, 'kernels', kver, 'vmlinux.btf')));
  const dbg = join(cache, 'kernels', kver, 'dbg/usr/lib/debug/lib/modules', kver);

  it.each(summary.companions.filter((c) => c.module !== 'vmlinux').map((c) => [c.module, c.file]))('%s', (module, file) => {
    const btf = parseBtf(elfSection(readFileSync(file), '.BTF')!, { base });
    const { elf, close } = openElfFile(labModuleFile({ modulesDir: dbg }, module));
    try {
      const byName = new Map<string, { section: string; value: number }[]>();
      for (const s of objectSymbols(elf)) byName.set(s.name, [...(byName.get(s.name) ?? []), { section: s.section.name, value: Number(s.value) }]);
      let checked = 0;
      for (const t of btf.types()) {
        if (t.kind !== 'datasec') continue;
        for (const e of t.vars) {
          const syms = byName.get(btf.type(e.type).name);
          if (syms?.length !== 1) continue;
          expect(`${btf.type(e.type).name} ${t.name}+${e.offset}`).toBe(`${btf.type(e.type).name} ${syms[0].section}+${syms[0].value}`);
          checked++;
        }
      }
      expect(checked).toBeGreaterThan(0);
    } finally {
      close();
    }
  });
});
