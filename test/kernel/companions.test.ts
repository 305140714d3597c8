/**
 * End to end on the lab's companion guests (tools/lab, `.lab/<kernel>-companions`): the guest booted
 * with btf_companions=always, so `vmlinux_btf` and an `M_btf` per module are loaded (tainted OE).
 * Globals the stock BTF cannot type (init_task, a module's file_system_type) must now print through
 * the companions' VARs, from nothing but the dump.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { expectedSymbols, expectExcluded } from './page-state.js';
import { labJson, labPath, unstableCompanionKeys } from '../lab.js';

/** Debian unstable's (7.2) companion guest too (test/lab.ts). */
const VARIANTS = ['6.1-companions', '6.12-companions', ...unstableCompanionKeys] as const;

interface Truth {
  kernel: string;
  modules: { name: string; size: number; state: string; address: string; taints: string }[];
  btf: { name: string; size: number; sha256: string }[];
}
interface ModulesJson {
  modules: { name: string; state: string; taints: string; base: string; size: number; btf: { size: number; sha256: string } | null; btfError?: string }[];
}

describe.each(VARIANTS)('lab %s', (variant) => {
  const truth = labJson<Truth>(variant, 'truth.json');
  const kallsyms = readFileSync(labPath(variant, 'kallsyms.txt'), 'utf8');
  const dumps = labJson<{ dumps: { file: string }[] }>(variant, 'manifest.json').dumps.map((d) => d.file);

  it('the guest loaded vmlinux_btf and module companions with BTF', () => {
    expect(truth.modules.map((m) => m.name)).toContain('vmlinux_btf');
    expect(truth.btf.map((b) => b.name)).toEqual(expect.arrayContaining(['vmlinux_btf', 'ext4_btf']));
  });

  it('the kernel taint says what the unsigned out-of-tree companions did to it (O, E)', () => {
    const kernel = openKernel(labPath(variant, 'qemu-kdump.kdump'));
    try {
      const { mask, flags } = kernel.taint();
      expect(flags).toMatch(/O/);
      expect(flags).toMatch(/E/);
      expect(mask & ((1n << 12n) | (1n << 13n))).toBe((1n << 12n) | (1n << 13n));
      expect(kernel.crashTime()).toBeGreaterThan(1_600_000_000n);
    } finally {
      kernel.close();
    }
  });

  describe.each(dumps)('%s', (dump) => {
    const path = labPath(variant, dump);
    const filtered = dump.startsWith('mkd-');

    it('kbtf symbols and kbtf modules match the guest, companions and taints included', async () => {
      const s = await runCli(['symbols', path]);
      const got = s.stdout.split('\n');
      const want = expectedSymbols(path, kallsyms.split('\n'), s, filtered);
      const diff = got.findIndex((l, i) => l !== want[i]);
      expect(diff === -1 && got.length === want.length ? null : { line: diff + 1, got: got[diff], want: want[diff] }).toBeNull();

      const r = await runCli(['modules', path, '--json']);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as ModulesJson;
      // /proc/modules prints the base with %px: a code-less companion on 6.4+ has none (0x0000000000000000).
      expect(doc.modules.map((m) => [m.name, m.size, m.state, BigInt(m.base), m.taints])).toEqual(truth.modules.map((m) => [m.name, m.size, m.state, BigInt(m.address), m.taints]));
      for (const b of truth.btf.filter((x) => x.name !== 'vmlinux')) {
        const m = doc.modules.find((x) => x.name === b.name)!;
        if (m.btf === null && filtered) {
          expectExcluded(path, m.btfError ?? '', b.name);
          continue;
        }
        expect(m.btf, b.name).toEqual({ size: b.size, sha256: b.sha256 });
      }
    });

    it('kbtf print types globals through the companions (vmlinux_btf and ext4_btf)', async () => {
      const mods = (JSON.parse((await runCli(['modules', path, '--json'])).stdout) as ModulesJson).modules;
      const readable = (name: string) => mods.find((m) => m.name === name)?.btf !== null;
      const r = await runCli(['print', path, 'init_task.comm', 'ext4_fs_type.name', '--json']);
      if (!readable('vmlinux_btf') || !readable('ext4_btf')) {
        // Only a filtered dump may hide a companion's BTF; then the global has no type.
        expect(filtered).toBe(true);
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/NOT_FOUND: no type for global/);
        return;
      }
      expect(r.stderr).toBe('');
      const [comm, fs] = (JSON.parse(r.stdout) as { values: { text: string }[] }).values;
      expect(comm.text).toBe('(char [16])"swapper/0"');
      expect(fs.text).toMatch(/^\(const char \*\)0x[0-9a-f]+ = "ext4"$/);
    });
  });
});
