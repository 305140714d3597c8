/**
 * Issue 21 on the plain lab guests (tools/lab/lab.sh, docs/lab.md "Dynamic symbols in the guest"):
 * before printing its ground truth each guest loads two BPF programs (tools/lab/bpf-load.c:
 * kbtf_lab, and kbtf_lab_sub with a subprogram) and enables two kprobes (one at kernel_clone's entry,
 * on ftrace, one past it, in an instruction slot), so its /proc/kallsyms ends with `[bpf]`,
 * `[__builtin__ftrace]` and `[__builtin__kprobes]` lines. `kbtf symbols` on the dumps must print
 * that file line for line, and addresses inside those symbols must resolve to them.
 *
 * The tag of each program comes from the guest's loader (BPF_OBJ_GET_INFO_BY_FD, truth.json
 * `bpf_load`), a source independent of /proc/kallsyms. A missing output is a failure: run the lab.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labJson, labPath, labVariants, unstableLabVariants } from '../lab.js';

interface Section {
  status: number;
  lines: string[];
}

interface Truth {
  bpf_load: Section | null;
  kprobes: Section | null;
}

/** A /proc/kallsyms line of a dynamic source: `ADDR t NAME\t[bpf|__builtin__ftrace|__builtin__kprobes]`. */
const DYNAMIC = /^[0-9a-f]{16} [tT] \S+\t\[(bpf|__builtin__\w+)\]$/;

function parse(line: string): { address: bigint; name: string; module: string } {
  const tab = line.indexOf('\t');
  return { address: BigInt(`0x${line.slice(0, 16)}`), name: line.slice(19, tab), module: line.slice(tab + 2, -1) };
}

describe.each([...labVariants, ...unstableLabVariants])('lab %s: dynamic kallsyms', (variant) => {
  const truth = labJson<Truth>(variant, 'truth.json');
  const kallsyms = readFileSync(labPath(variant, 'kallsyms.txt'), 'latin1').split('\n');
  const dynamic = kallsyms.filter((l) => DYNAMIC.test(l));

  it('the guest loaded kbtf_lab and kbtf_lab_sub, and /proc/kallsyms shows them under the loader\'s tags', () => {
    expect(truth.bpf_load?.status).toBe(0);
    const tags = new Map((truth.bpf_load?.lines ?? []).flatMap((l) => {
      const m = /^(\w+) ok id=\d+ tag=([0-9a-f]{16}) jited=[1-9]\d* ksyms=(\d+)$/.exec(l);
      return m ? [[m[1], { tag: m[2], ksyms: Number(m[3]) }] as const] : [];
    }));
    expect([...tags.keys()]).toEqual(['kbtf_lab', 'kbtf_lab_sub']);
    const bpf = dynamic.filter((l) => l.endsWith('\t[bpf]')).map((l) => parse(l).name);
    expect(bpf).toContain(`bpf_prog_${tags.get('kbtf_lab')!.tag}_kbtf_lab`);
    expect(bpf).toContain(`bpf_prog_${tags.get('kbtf_lab_sub')!.tag}_kbtf_lab_sub`);
    // The subprogram is its own JIT image: kbtf_lab_sub has two ksyms, the second named `_F`
    // (no BTF func_info), with the tag of its own instructions (`r0 = 0; exit`, as kbtf_lab).
    expect(tags.get('kbtf_lab_sub')!.ksyms).toBe(2);
    expect(bpf).toContain(`bpf_prog_${tags.get('kbtf_lab')!.tag}_F`);
    expect(bpf.length).toBe(3);
  });

  it('the guest enabled both kprobes: an ftrace trampoline and kprobe instruction pages are in /proc/kallsyms', () => {
    expect(truth.kprobes?.status).toBe(0);
    const lines = truth.kprobes?.lines ?? [];
    expect(lines).toContain('kbtf_lab_entry kernel_clone ok');
    expect(lines.some((l) => /^kbtf_lab_slot kernel_clone\+\d+ ok$/.test(l))).toBe(true);
    const names = dynamic.map((l) => `${parse(l).name} [${parse(l).module}]`);
    expect(names).toContain('ftrace_trampoline [__builtin__ftrace]');
    expect(names).toContain('kprobe_insn_page [__builtin__kprobes]');
    // The slot probe is optimized into a jump when its instructions allow it (kprobes/list says so).
    const optimized = lines.some((l) => /kernel_clone\+0x[0-9a-f]+\s+\[OPTIMIZED\]$/.test(l));
    expect(names.includes('kprobe_optinsn_page [__builtin__kprobes]')).toBe(optimized);
  });

  // QEMU's own dumps (kdump-compressed and ELF) hold every page: makedumpfile 1.7.2 at -d 31 may
  // drop 6.12's slab pages that these lists live in (test/kernel/page-state.ts expectedSymbols;
  // kernel.test.ts checks the filtered dumps with that allowance).
  describe.each(['qemu-kdump.kdump', 'qemu-elf.core'])('%s', (dump) => {
    it('kbtf symbols prints the guest\'s /proc/kallsyms line for line, the dynamic lines in its order', async () => {
      const r = await runCli(['symbols', labPath(variant, dump)]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const got = r.stdout.split('\n');
      expect(got.filter((l) => DYNAMIC.test(l))).toEqual(dynamic);
      const firstDiff = got.findIndex((l, i) => l !== kallsyms[i]);
      expect(firstDiff === -1 ? null : { line: firstDiff + 1, got: got[firstDiff], want: kallsyms[firstDiff] }).toBeNull();
      expect(got.length).toBe(kallsyms.length);
    });

    it('kbtf symbols --module bpf / __builtin__kprobes list those lines alone', async () => {
      for (const tag of ['bpf', '__builtin__ftrace', '__builtin__kprobes']) {
        const r = await runCli(['symbols', labPath(variant, dump), '--module', tag]);
        expect(r.code, tag).toBe(0);
        expect(r.stdout.split('\n').filter(Boolean), tag).toEqual(dynamic.filter((l) => l.endsWith(`\t[${tag}]`)));
      }
    });

    it('addresses inside each BPF program, the trampoline and the kprobe pages resolve to them', () => {
      const kernel = openKernel(labPath(variant, dump));
      try {
        const { symbols, failures } = kernel.dynamicSymbols();
        expect(failures).toEqual([]);
        for (const line of dynamic) {
          const want = parse(line);
          const s = symbols.find((x) => x.address === want.address && x.name === want.name);
          expect(s?.size, line).toBeGreaterThan(0n);
          const last = want.address + s!.size! - 1n;
          expect(kernel.symbolize(last), line).toMatchObject({ name: want.name, address: want.address, offset: s!.size! - 1n, module: want.module });
          expect(kernel.symbolize(want.address), line).toMatchObject({ name: want.name, offset: 0n });
        }
        const prog = parse(dynamic.find((l) => l.endsWith('_kbtf_lab\t[bpf]'))!);
        expect(kernel.symbolAddress(prog.name)).toBe(prog.address);
      } finally {
        kernel.close();
      }
    });
  });
});
