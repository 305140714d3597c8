/**
 * Companions for a Debian 13 (trixie) kernel, built on the bookworm host through the trixie tree
 * (packages/companion/src/suite.ts): packages fetched by the tree's apt, stubs built by its kbuild
 * and gcc-14. The real-host lab (tools/lab/host.sh) builds them with `kbtf companion package`;
 * this suite checks, without a guest, what decides whether that kernel's loader takes them:
 *
 *   - the loader-side check (check.ts) on the kernel's vmlinux BTF, and no `.BTF.base` (a distilled
 *     base, which trixie's kbuild adds when it finds pahole >= 1.28, makes 6.12's loader relocate
 *     .BTF against it);
 *   - vermagic, `struct module` size (`.gnu.linkonce.this_module`) and the modversions CRCs equal
 *     to that kernel's own modules' and Module.symvers';
 *   - the types of a few known globals.
 *
 * The kernel is the newest `+deb13` one the cache has companions for; none is a failure.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBtf, type Btf } from '@kbtf/btf';
import { ElfFile } from '@kbtf/binary';
import { checkCompanion, readModule, type SummaryFile } from '@kbtf/companion';

const cache = process.env.KBTF_CACHE || '/var/cache/kbtf';
const root = join(cache, 'companions');

function trixieKernel(): string {
  const found = existsSync(root)
    ? readdirSync(root)
        .map((f) => /^kbtf-companions-(.+\+deb13-amd64)\.json$/.exec(f)?.[1])
        .filter((k): k is string => !!k)
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    : [];
  if (found.length === 0) throw new Error(`no trixie (+deb13) companions in ${root}: bash tools/lab/host.sh, or kbtf companion build --kernel <trixie kver> --vmlinux ext4`);
  return found.at(-1)!;
}

/** `__versions` as symbol → CRC (struct modversion_info: 8-byte crc, 56-byte name, x86_64). */
function modversions(elf: ElfFile): Map<string, bigint> {
  const out = new Map<string, bigint>();
  if (!elf.section('__versions')) return out;
  const b = elf.sectionBytes('__versions');
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  for (let o = 0; o + 64 <= b.byteLength; o += 64) {
    const name = new TextDecoder().decode(b.subarray(o + 8, o + 64)).replace(/\0.*$/s, '');
    out.set(name, v.getBigUint64(o, true) & 0xffffffffn);
  }
  return out;
}

function varType(btf: Btf, name: string): string {
  const v = btf.findByName(name, 'var');
  if (!v) throw new Error(`no VAR ${name}`);
  const t = btf.type(btf.resolve(v.type));
  return `${t.kind} ${t.name}`;
}

describe('companions of a trixie kernel, built on bookworm', () => {
  const kver = trixieKernel();
  const summary = JSON.parse(readFileSync(join(root, `kbtf-companions-${kver}.json`), 'utf8')) as SummaryFile;
  const vmlinux = parseBtf(readFileSync(join(cache, 'kernels', kver, 'vmlinux.btf')), { source: 'vmlinux' });
  const modulesDir = join(cache, 'kernels', kver, 'image/lib/modules', kver);
  const symvers = new Map(
    readFileSync(join(cache, 'trixie/usr/src', `linux-headers-${kver}`, 'Module.symvers'), 'utf8')
      .split('\n')
      .map((l) => l.split('\t'))
      .filter((f) => f.length >= 2)
      .map((f) => [f[1], BigInt(f[0])] as const),
  );
  const dep = readFileSync(join(modulesDir, 'modules.dep'), 'utf8');
  const rel = (m: string) => dep.split('\n').map((l) => l.split(':')[0]).find((p) => p.replace(/^.*\//, '').replace(/\.ko(\.\w+)?$/, '') === m);

  it('covers vmlinux and ext4', () => {
    expect(summary.kernel).toBe(kver);
    const built = summary.companions.map((c) => c.module);
    expect(built).toContain('vmlinux');
    expect(built).toContain('ext4');
  });

  it.each(summary.companions.map((c) => [c.module, c]))('%s: loader-side check, no .BTF.base, the kernel\'s vermagic, struct module size and CRCs', async (module, c) => {
    const bytes = readFileSync(c.file);
    const elf = ElfFile.fromBytes(bytes, c.file);
    expect(elf.section('.BTF.base'), '.BTF.base').toBeUndefined();
    const check = checkCompanion(bytes, c.file, { of: module, kver, btf: elf.sectionBytes('.BTF'), base: vmlinux });
    expect(check.vars).toBe(c.vars);
    // What the loader compares with the running kernel (kernel/module/version.c, main.c).
    const own = ElfFile.fromBytes(await readModule(join(modulesDir, rel('ext4')!)), 'ext4');
    expect(elf.modinfo().get('vermagic')).toEqual(own.modinfo().get('vermagic'));
    expect(elf.section('.gnu.linkonce.this_module')?.size).toBe(own.section('.gnu.linkonce.this_module')?.size);
    const crcs = modversions(elf);
    expect(crcs.size).toBeGreaterThan(0);
    for (const [sym, crc] of crcs) expect(crc, sym).toBe(symvers.get(sym));
  });

  it('holds the real types of known globals', () => {
    const load = (m: string) => {
      const c = summary.companions.find((x) => x.module === m)!;
      return parseBtf(ElfFile.fromBytes(readFileSync(c.file), c.file).sectionBytes('.BTF'), { base: vmlinux, source: c.file });
    };
    expect(varType(load('ext4'), 'ext4_fs_type')).toBe('struct file_system_type');
    expect(varType(load('vmlinux'), 'init_task')).toBe('struct task_struct');
  });
});
