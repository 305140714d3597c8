/**
 * End to end on the lab's real dumps (tools/lab): with nothing but the dump (no DWARF, no vmlinux),
 * `kbtf symbols`, `kbtf modules` and `kbtf print` must say what the guest itself said before it was
 * dumped (truth.json, kallsyms.txt: /proc/kallsyms, /proc/modules, /sys/kernel/btf/*, uname -r,
 * /proc/cmdline), on every dump format of every lab kernel.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FaultError } from '@kbtf/binary';
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

  it('KernelMemory.check answers as read does, whatever was checked on the same page before (kdump: a page checked once)', () => {
    // makedumpfile -d 31 leaves free and zero pages out: the direct map (and the image's .bss) has
    // pages that read and pages that fault. Three ranges of each picked page, in a shuffled order:
    // the later ones are answered from what the first check of the page found.
    const kernel = openKernel(labPath(variant, 'mkd-zlib.kdump'));
    try {
      const outcome = (f: () => unknown): string => {
        try {
          f();
          return 'ok';
        } catch (err) {
          if (!(err instanceof FaultError)) throw err;
          return `${err.reason}@${err.address.toString(16)}`;
        }
      };
      const image = kernel.kallsyms.address('_stext');
      const imagePages = Number((kernel.kallsyms.address('_end') - image) >> 12n);
      const directMap = kernel.memory.u64(kernel.kallsyms.address('page_offset_base'));
      let s = 0x5eed;
      const rand = (n: number): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) % n);
      const ranges: [bigint, number][] = [];
      for (let i = 0; i < 600; i++) {
        // The guests have 512 MiB: pfns below 131,072.
        const page = i % 3 === 0 ? image + (BigInt(rand(imagePages)) << 12n) : directMap + (BigInt(rand(131072)) << 12n);
        for (let k = 0; k < 3; k++) {
          const len = 1 + rand(64);
          ranges.push([page + BigInt(rand(4096 - len)), len]);
        }
      }
      for (let i = ranges.length - 1; i > 0; i--) {
        const j = rand(i + 1);
        [ranges[i], ranges[j]] = [ranges[j], ranges[i]];
      }
      const wanted = ranges.map(([at, len]) => outcome(() => kernel.memory.read(at, len)));
      const got = ranges.map(([at, len]) => outcome(() => kernel.memory.check(at, len)));
      expect(got).toEqual(wanted);
      // After those checks, knownReadable (no BigInt) never says yes to a range that faults, and
      // says yes to every range read once its page was checked.
      const known = ranges.map(([at, len]) => kernel.memory.knownReadable(Number(at >> 32n), Number(at & 0xffffffffn), len));
      expect(known).toEqual(wanted.map((w) => w === 'ok'));
      expect(wanted.filter((w) => w === 'ok').length, 'some ranges read').toBeGreaterThan(100);
      expect(wanted.filter((w) => w !== 'ok').length, 'some ranges fault').toBeGreaterThan(10);
    } finally {
      kernel.close();
    }
  });

  it('kallsyms by name bytes, by address halves and the gap above (from an address and from a symbol): the same answers as by string and by BigInt, for every symbol', () => {
    const kernel = openKernel(labPath(variant, 'mkd-zlib.kdump'));
    try {
      const ks = kernel.kallsyms;
      ks.indexNames();
      const names = ks.names;
      const addrs = ks.addresses;
      for (let i = 0; i < ks.count; i += 7) {
        const b = Buffer.from(names[i], 'latin1');
        expect(ks.indexOfBytes(b, 0, b.length), names[i]).toBe(ks.indexOf(names[i]));
        const hi = Number(addrs[i] >> 32n);
        const lo = Number(addrs[i] & 0xffffffffn);
        expect(ks.isAt(i, hi, lo)).toBe(true);
        expect(ks.isAt(i, hi, (lo + 1) >>> 0)).toBe(false);
        const gap = ks.gapAbove(addrs[i]);
        expect(ks.gapAboveHalves(hi, lo), names[i]).toBe(typeof gap === 'number' ? gap : undefined);
        expect(ks.gapAboveSymbol(i), names[i]).toBe(typeof gap === 'number' ? gap : undefined);
      }
      const absent = Buffer.from('xno_such_symbolx', 'latin1');
      expect(ks.indexOfBytes(absent, 1, absent.length - 1)).toBeUndefined();
      expect(ks.indexOfBytes(Buffer.from('xjiffies_64x', 'latin1'), 1, 11)).toBe(ks.indexOf('jiffies_64'));
    } finally {
      kernel.close();
    }
  });

  it("a module's symtab columns find by name bytes (and address) the first symbol the decoded symbols do, for every symbol", () => {
    // kbtf symbols is checked line for line against the guest's /proc/kallsyms elsewhere; here the
    // columns verify reads instead of those objects must agree with them.
    const kernel = openKernel(labPath(variant, 'mkd-zlib.kdump'));
    try {
      let checked = 0;
      for (const m of kernel.modules()) {
        const syms = m.symbols;
        const tab = m.symtab;
        expect(tab.count).toBe(syms.length);
        for (let i = 0; i < syms.length; i++) {
          const s = syms[i];
          expect(tab.value(i)).toBe(s.value);
          expect(String.fromCharCode(tab.typetab[i]).toLowerCase()).toBe(s.type.toLowerCase());
          const b = Buffer.from(s.name, 'latin1');
          expect(tab.indexOf(b, 0, b.length), `${m.name}:${s.name}`).toBe(syms.findIndex((x) => x.name === s.name));
          const hi = Number(s.value >> 32n);
          const lo = Number(s.value & 0xffffffffn);
          expect(tab.indexAt(b, 0, b.length, hi, lo)).toBe(syms.findIndex((x) => x.name === s.name && x.value === s.value));
          expect(tab.indexAt(b, 0, b.length, hi, (lo + 1) >>> 0)).toBe(syms.findIndex((x) => x.name === s.name && x.value === s.value + 1n));
          checked++;
        }
        const absent = Buffer.from('no_such_symbol_here', 'latin1');
        expect(tab.indexOf(absent, 0, absent.length)).toBe(-1);
        // The nearest named symbol at or below an address, as a scan of the objects finds it.
        for (let i = 0; i < syms.length; i += 11) {
          for (const at of [syms[i].value - 1n, syms[i].value, syms[i].value + 1n]) {
            let best = -1;
            syms.forEach((x, j) => {
              if (x.name !== '' && x.value <= at && (best < 0 || x.value > syms[best].value)) best = j;
            });
            expect(tab.nearestAtOrBelow(Number(at >> 32n), Number(at & 0xffffffffn)), `${m.name} ${at.toString(16)}`).toBe(best);
          }
        }
      }
      expect(checked).toBeGreaterThan(1000);
    } finally {
      kernel.close();
    }
    // One symbol made alone (its exported letter included) is the one the whole list has.
    const alone = openKernel(labPath(variant, 'mkd-zlib.kdump'));
    const whole = openKernel(labPath(variant, 'mkd-zlib.kdump'));
    try {
      const ms = alone.modules();
      const ws = whole.modules();
      for (let k = 0; k < ms.length; k++) {
        const n = ms[k].symtab.count;
        for (let i = 0; i < n; i += 3) expect(ms[k].symbol(i)).toEqual(ws[k].symbols[i]);
      }
    } finally {
      alone.close();
      whole.close();
    }
  });

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
