/**
 * End to end on the lab's real dumps (tools/lab): with nothing but the dump (no DWARF, no vmlinux),
 * `kbtf symbols`, `kbtf modules` and `kbtf print` must say what the guest itself said before it was
 * dumped (truth.json, kallsyms.txt: /proc/kallsyms, /proc/modules, /sys/kernel/btf/*, uname -r,
 * /proc/cmdline), on every dump format of every lab kernel.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { expectedSymbols, expectModulesLikeTruth, type ModulesJson, type Truth } from './page-state.js';
import { labJson, labPath, labVariants, unstableLabVariants } from '../lab.js';


// Debian unstable's 7.2 guest too: the same assertions, a missing output fails (test/lab.ts).
describe.each([...labVariants, ...unstableLabVariants])('lab %s', (variant) => {
  const truth = labJson<Truth>(variant, 'truth.json');
  const kallsyms = readFileSync(labPath(variant, 'kallsyms.txt'), 'utf8');

  it('vmlinux BTF in the dump is /sys/kernel/btf/vmlinux, and every module BTF parses as split BTF on it', () => {
    const kernel = openKernel(labPath(variant, 'qemu-kdump.kdump'));
    try {
      const v = truth.btf.find((b) => b.name === 'vmlinux')!;
      const bytes = kernel.vmlinuxBtfBytes();
      expect([bytes.length, createHash('sha256').update(bytes).digest('hex')]).toEqual([v.size, v.sha256]);
      for (const m of kernel.modules()) {
        const btf = m.btf();
        expect(btf, m.name).toBeDefined();
        expect(btf!.firstId, m.name).toBe(kernel.btf.endId);
        expect(btf!.count, m.name).toBeGreaterThan(0);
      }
    } finally {
      kernel.close();
    }
  });

  // Every dump the lab wrote for this kernel (manifest.json): QEMU ELF paging=false/true, QEMU kdump
  // flattened and reassembled, makedumpfile zlib, lzo, zstd and ELF (-d 31).
  const dumps = labJson<{ dumps: { file: string }[] }>(variant, 'manifest.json').dumps.map((d) => d.file);

  it('the lab wrote every dump format', () => {
    expect(dumps).toEqual(expect.arrayContaining(['qemu-elf.core', 'qemu-elf-paging.core', 'qemu-kdump.flat', 'qemu-kdump.kdump', 'mkd-zlib.kdump', 'mkd-lzo.kdump', 'mkd-elf.core']));
  });

  describe.each(dumps)('%s', (dump) => {
    const path = labPath(variant, dump);

    it('kbtf symbols prints /proc/kallsyms exactly (vmlinux and modules, addresses, types, order)', async () => {
      const r = await runCli(['symbols', path]);
      const got = r.stdout.split('\n');
      const want = expectedSymbols(path, kallsyms.split('\n'), r, dump.startsWith('mkd-'));
      expect(got.length).toBe(want.length);
      const firstDiff = got.findIndex((l, i) => l !== want[i]);
      expect(firstDiff === -1 ? null : { line: firstDiff + 1, got: got[firstDiff], want: want[firstDiff] }).toBeNull();
    });

    it('kbtf modules matches /proc/modules and /sys/kernel/btf/<module>', async () => {
      const r = await runCli(['modules', path, '--json']);
      const filtered = dump.startsWith('mkd-'); // makedumpfile -d 31: some pages left out
      if (!filtered) expect(r.stderr).toBe('');
      else expect(r.stderr).toMatch(/^(kbtf: WARNING: BTF of \d+ module\(s\) unreadable from the dump .*excluded.*\n)?$/);
      expect(r.code).toBe(0);
      const doc = JSON.parse(r.stdout) as ModulesJson;
      expectModulesLikeTruth(doc, truth, path, filtered);
      // Symbol counts: the module's lines in /proc/kallsyms (empty names are not printed there).
      for (const m of doc.modules) {
        const lines = kallsyms.split('\n').filter((l) => l.endsWith(`\t[${m.name}]`)).length;
        expect(m.symbols, m.name).toBeGreaterThanOrEqual(lines);
        expect(m.symbols - lines, m.name).toBeLessThanOrEqual(1); // symtab[0], the null symbol
      }
    });

    it('kbtf read --virt reads init_uts_ns through the page tables', async () => {
      // 6.1 and 6.12 list it as D; Debian unstable's 7.2 as T (/proc/kallsyms of the 7.2-4level guest).
      const at = /^([0-9a-f]{16}) [DT] init_uts_ns$/m.exec(kallsyms);
      expect(at).not.toBeNull();
      const r = await runCli(['read', path, '--virt', `0x${at![1]}`, '200', '--json']);
      expect(r.stderr).toBe('');
      const doc = JSON.parse(r.stdout) as { space: string; hex: string };
      expect(doc.space).toBe('virtual');
      const bytes = Buffer.from(doc.hex, 'hex');
      // struct new_utsname: sysname[65], nodename[65], release[65], …
      expect(bytes.subarray(0, 6).toString('latin1')).toBe('Linux\0');
      expect(bytes.subarray(130, 130 + truth.kernel.length + 1).toString('latin1')).toBe(`${truth.kernel}\0`);
    });

    it('kbtf print gives uname -r and /proc/cmdline', async () => {
      const r = await runCli(['print', path, 'init_uts_ns.name.release', 'saved_command_line', '--json']);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const [release, cmdline] = (JSON.parse(r.stdout) as { values: { text: string; type: string }[] }).values;
      expect(release.text).toBe(`(char [65])${JSON.stringify(truth.kernel)}`);
      expect(cmdline.type).toBe('char *');
      expect(cmdline.text).toMatch(/^\(char \*\)0x[0-9a-f]+ = "(.*)"$/);
      expect(cmdline.text.replace(/^\(char \*\)0x[0-9a-f]+ = /, '')).toBe(JSON.stringify(truth.cmdline));
    });
  });
});
