/**
 * End to end on companions already built (docs/companions.md) and on the lab guests that loaded them:
 *
 *   kbtf companion build --kernel KVER --deps --vmlinux ext4 xfs btrfs nf_tables e1000 loop
 *   bash tools/lab/lab.sh --key SERIES-companions --ko ... --modprobe-conf ... --append btf_companions=always
 *
 * The companions are read from $KBTF_CACHE/companions (default /var/cache/kbtf/companions) and the
 * vmlinux BTF they are split on from $KBTF_CACHE/kernels/KVER/vmlinux.btf. Nothing is rebuilt here;
 * anything missing is a failure, never a skip.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '@kbtf/btf';
import { companionLabKeys, labJson, labKernel, unstableCompanionKeys } from '../lab.js';
import { expectCompanionsAccepted, expectSoftdepOrder, varType, type CompanionGuestTruth } from './guest-truth.js';
import { ElfFile } from '@kbtf/binary';
import { checkCompanion, type SummaryFile } from '@kbtf/companion';

const cache = process.env.KBTF_CACHE || '/var/cache/kbtf';
const companionsRoot = join(cache, 'companions');
/** The test set; their dependencies come along with --deps. */
const testSet = ['ext4', 'xfs', 'btrfs', 'nf_tables', 'e1000', 'vmlinux'];


function need(path: string): string {
  if (!existsSync(path)) throw new Error(`missing ${path}: build the companions first (docs/companions.md)`);
  return path;
}


// Debian unstable's (7.2) companions too: built through the sid tree (test/lab.ts).
describe.each([...companionLabKeys, ...unstableCompanionKeys])('companions for the kernel of lab %s', (key) => {
  const kver = labKernel(key);
  const summary = JSON.parse(readFileSync(need(join(companionsRoot, `kbtf-companions-${kver}.json`)), 'utf8')) as SummaryFile;
  const vmlinux = parseBtf(readFileSync(need(join(cache, 'kernels', kver, 'vmlinux.btf'))), { source: 'vmlinux' });
  const truth = labJson<CompanionGuestTruth>(key, 'truth.json');

  it('covers the test set', () => {
    expect(summary.kernel).toBe(kver);
    const built = summary.companions.map((c) => c.module);
    for (const m of testSet) expect(built).toContain(m);
  });

  it('each companion passes the loader-side check and is smaller than pahole\'s raw output', () => {
    for (const c of summary.companions) {
      const bytes = readFileSync(need(c.file));
      const btf = ElfFile.fromBytes(bytes, c.file).sectionBytes('.BTF');
      const check = checkCompanion(bytes, c.file, { of: c.module, kver, btf, base: vmlinux });
      expect(check.btfSize).toBe(c.companion);
      expect(check.vars).toBe(c.vars);
      expect(c.companion).toBeLessThan(c.raw);
      expect(bytes.byteLength).toBe(c.ko);
    }
  });

  it('holds VARs named after the modules\' real globals, with their real types', () => {
    const load = (m: string) => {
      const c = summary.companions.find((x) => x.module === m)!;
      return parseBtf(ElfFile.fromBytes(readFileSync(c.file), c.file).sectionBytes('.BTF'), { base: vmlinux, source: c.file });
    };
    const ext4 = load('ext4');
    expect(varType(ext4, 'ext4_fs_type')).toBe('struct file_system_type'); // static struct in fs/ext4/super.c
    const xfs = load('xfs');
    expect(varType(xfs, 'xfs_fs_type')).toBe('struct file_system_type');
    const e1000 = load('e1000');
    expect(varType(e1000, 'debug')).toBe('int int'); // module_param(debug, int, 0)
    const vm = load('vmlinux');
    expect(varType(vm, 'init_task')).toBe('struct task_struct');
    expect(varType(vm, 'modules')).toBe('struct list_head');
  });

  it('the guest booted with btf_companions=always and the kernel accepted every companion\'s BTF', () => expectCompanionsAccepted(truth, summary.companions));

  it('kmod loaded each companion right after its module (softdep post:), not by the explicit list', () => expectSoftdepOrder(truth, summary.companions));
});
