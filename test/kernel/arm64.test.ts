/**
 * arm64 end to end (issue 17 part 2) on the arm64 lab guests (tools/lab/lab.sh --arch arm64: Debian's
 * arm64 kernels under qemu-system-aarch64 TCG, 4 KiB pages, 48-bit VA, KASLR, pointer
 * authentication): the same assertions as kernel.test.ts against the guest's own /proc, through the
 * CLI, on every dump format the lab wrote; plus the page walk against the fixed translations of
 * asm/memory.h.
 *
 * Debian's arm64 6.1 is built without CONFIG_KALLSYMS_ALL: its kallsyms has no data symbol, and
 * kbtf recovers `modules`, `btf_modules` and the vmlinux BTF from the dump (data-symbols.ts). What
 * it cannot recover there is asserted as such: the dynamic lines (`[bpf]`, `[__builtin__kprobes]`:
 * bpf_kallsyms, bpf_jit_kallsyms, kprobe_insn_slots are data symbols) and `saved_command_line`. Kernels with CONFIG_KALLSYMS_ALL (6.12)
 * must match in full.
 *
 * The keys, and what happens when one is missing: arm64-lab.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { arm64AddressRefs, arm64FixedToPhys, arm64Layout, openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labJson, labPath } from '../lab.js';
import { arm64KeysToTest } from './arm64-lab.js';
import { expectModulesLikeTruth, expectedSymbols, type ModulesJson, type Truth } from './page-state.js';

const present = arm64KeysToTest();

describe.each(present)('arm64 lab %s', (key) => {
  const manifest = labJson<{ kernel: { config: string }; dumps: { file: string }[] }>(key, 'manifest.json');
  const truth = labJson<Truth>(key, 'truth.json');
  const kallsyms = readFileSync(labPath(key, 'kallsyms.txt'), 'utf8');
  // The kernel's own configuration decides what its kallsyms can hold.
  const kallsymsAll = existsSync(manifest.kernel.config) ? /^CONFIG_KALLSYMS_ALL=y$/m.test(readFileSync(manifest.kernel.config, 'utf8')) : true;
  const dumps = manifest.dumps.map((d) => d.file);

  // makedumpfile 1.7.2 refuses 6.12 on arm64 ("Can't determine platform config values"): the
  // makedumpfile dumps exist for 6.1 only; every dump the manifest lists is checked below.
  it('the lab wrote every QEMU dump format', () => {
    expect(dumps).toEqual(expect.arrayContaining(['qemu-elf.core', 'qemu-elf-paging.core', 'qemu-kdump.flat', 'qemu-kdump.kdump']));
    if (key === '6.1-arm64') expect(dumps).toEqual(expect.arrayContaining(['mkd-zlib.kdump', 'mkd-lzo.kdump', 'mkd-elf.core']));
  });

  it('is arm64 by e_machine and VMCOREINFO; the walk of swapper_pg_dir agrees with kimage_voffset and the linear map', () => {
    const kernel = openKernel(labPath(key, 'qemu-elf.core'));
    try {
      expect(kernel.arch.name).toBe('arm64');
      expect(kernel.vmcore.machine).toBe('aarch64');
      const info = kernel.vmcoreinfo;
      const layout = arm64Layout(info);
      expect(layout.flipped).toBe(true); // 5.4+: the linear map is the lower half
      for (const name of ['_stext', 'swapper_pg_dir', 'init_uts_ns']) {
        const v = info.symbols.get(name)!;
        expect(kernel.memory.translate(v), name).toBe(arm64FixedToPhys(layout, v));
      }
      // mem_section is a pointer into the linear map (kmalloc'd by sparse_init).
      const lin = info.symbols.get('mem_section')!;
      expect(lin >= layout.pageOffset && lin < layout.linearEnd).toBe(true);
      expect(kernel.memory.translate(lin)).toBe(arm64FixedToPhys(layout, lin));
    } finally {
      kernel.close();
    }
  });

  // Without KALLSYMS_ALL, `__start_BTF`, `modules` and `btf_modules` are first looked for among the
  // addresses their users' code computes (data-symbols.ts). With it (6.12), kallsyms itself says
  // where they are, so the decoder is checked against the kernel's own table; on 6.1 the addresses
  // kbtf recovered (checked against the guest's /sys/kernel/btf by the tests below) must be among
  // them, i.e. found without a scan.
  it('the code of btf_parse_vmlinux, btf_module_notify and find_module_all computes the addresses of __start_BTF, btf_modules and modules', () => {
    const kernel = openKernel(labPath(key, 'qemu-elf.core'));
    try {
      const ks = kernel.kallsyms;
      const refs = (fn: string): bigint[] => {
        const at = ks.lookup(fn)!;
        const code = kernel.memory.read(at, Number(ks.gapAbove(at)));
        return arm64AddressRefs(code, at).flatMap((r) => (r.load === 8 ? [r.address, Buffer.from(kernel.memory.read(r.address, 8)).readBigUInt64LE(0)] : [r.address]));
      };
      const want = { btf_parse_vmlinux: ['__start_BTF', '__stop_BTF'], btf_module_notify: ['btf_modules'], find_module_all: ['modules'] };
      for (const [fn, names] of Object.entries(want)) {
        const got = refs(fn);
        for (const name of names) {
          const address = ks.lookup(name);
          expect(address, `${name} (${kallsymsAll ? 'kallsyms' : 'recovered'})`).toBeDefined();
          expect(got, `${fn} computes ${name}`).toContain(address);
        }
      }
    } finally {
      kernel.close();
    }
  });

  describe.each(dumps)('%s', (dump) => {
    const path = labPath(key, dump);
    const filtered = dump.startsWith('mkd-');

    it('kbtf symbols prints /proc/kallsyms exactly (with KALLSYMS_ALL=n: all but the dynamic lines, and says why, exit 2)', async () => {
      const r = await runCli(['symbols', path]);
      const got = r.stdout.split('\n');
      let want: string[];
      if (kallsymsAll) want = expectedSymbols(path, kallsyms.split('\n'), r, filtered);
      else {
        // bpf_kallsyms, kprobe_insn_slots, ftrace_ops_trampoline_list are data symbols: not found,
        // and kbtf says so (exit 2) after listing the rest.
        expect(r.code).toBe(2);
        expect(r.stderr).toMatch(/^kbtf: NOT_FOUND: .*kallsyms has no data symbols \(a kernel built without CONFIG_KALLSYMS_ALL\)/);
        const dynamic = (l: string): boolean => /\t\[(bpf|__builtin__[a-z]+)\]$/.test(l);
        const all = kallsyms.split('\n');
        expect(all.filter(dynamic).length).toBeGreaterThan(0); // the guest had them: they are really missed
        want = all.filter((l) => !dynamic(l));
      }
      expect(got.length).toBe(want.length);
      const firstDiff = got.findIndex((l, i) => l !== want[i]);
      expect(firstDiff === -1 ? null : { line: firstDiff + 1, got: got[firstDiff], want: want[firstDiff] }).toBeNull();
    });

    it('kbtf modules matches /proc/modules and /sys/kernel/btf/<module>', async () => {
      const r = await runCli(['modules', path, '--json']);
      if (!filtered) expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expectModulesLikeTruth(JSON.parse(r.stdout) as ModulesJson, truth, path, filtered);
    });

    it('kbtf print gives uname -r, and /proc/cmdline where kallsyms has data symbols', async () => {
      const r = await runCli(['print', path, 'init_uts_ns.name.release', '--json']);
      expect(r.stderr).toBe('');
      expect((JSON.parse(r.stdout) as { values: { text: string }[] }).values[0].text).toBe(`(char [65])${JSON.stringify(truth.kernel)}`);
      const c = await runCli(['print', path, 'saved_command_line', '--json']);
      if (!kallsymsAll) {
        expect(c.code).toBe(2);
        expect(c.stderr).toMatch(/NOT_FOUND: .*saved_command_line/);
        return;
      }
      expect(c.stderr).toBe('');
      const text = (JSON.parse(c.stdout) as { values: { text: string }[] }).values[0].text;
      expect(text.replace(/^\(char \*\)0x[0-9a-f]+ = /, '')).toBe(JSON.stringify(truth.cmdline));
    });

    it('kbtf read --virt reads init_uts_ns through the page tables', async () => {
      // Not in kallsyms without KALLSYMS_ALL: the address the guest's VMCOREINFO gave.
      const at = /^SYMBOL\(init_uts_ns\)=([0-9a-f]{16})$/m.exec(readFileSync(labPath(key, 'vmcoreinfo.txt'), 'utf8'));
      expect(at).not.toBeNull();
      const r = await runCli(['read', path, '--virt', `0x${at![1]}`, '200', '--json']);
      expect(r.stderr).toBe('');
      const bytes = Buffer.from((JSON.parse(r.stdout) as { hex: string }).hex, 'hex');
      expect(bytes.subarray(0, 6).toString('latin1')).toBe('Linux\0');
      expect(bytes.subarray(130, 130 + truth.kernel.length + 1).toString('latin1')).toBe(`${truth.kernel}\0`);
    });
  });
});
