/**
 * The dynamic kallsyms walker on synthetic lists: what real dumps cannot show (corrupt lists, the
 * BPF kallsyms switch, ftrace_mod_maps with their `symnum > 1` quirk). The real-data test is
 * test/kernel/dynamic-ksyms.test.ts (a systemd host's BPF programs against its /proc/kallsyms).
 */
import { describe, expect, it } from 'vitest';
import { BadDataError, FaultError } from '@kbtf/binary';
import { parseBtf, writeBtf, type BtfType } from '@kbtf/btf';
import { readDynamicSymbols, type DynamicKsymsContext } from './dynamic-ksyms.js';
import { KernelMemory } from './memory.js';
import { SparseMemory } from './test-memory.js';
import { parseTypeName } from './ktype.js';

const m = (name: string, type: number, bitOffset: number) => ({ name, type, bitOffset, bitfieldSize: 0 });
/** The layouts of include/linux/bpf.h and kernel/trace/ftrace.c, shortened names. */
const TYPES: BtfType[] = [
  { id: 1, kind: 'int', name: 'int', size: 4, encoding: 1, bitsOffset: 0, bits: 32 },
  { id: 2, kind: 'int', name: 'char', size: 1, encoding: 1, bitsOffset: 0, bits: 8 },
  { id: 3, kind: 'int', name: 'long unsigned int', size: 8, encoding: 0, bitsOffset: 0, bits: 64 },
  { id: 4, kind: 'struct', name: 'list_head', size: 16, bitfields: false, members: [m('next', 5, 0), m('prev', 5, 64)] },
  { id: 5, kind: 'ptr', name: '', type: 4 },
  { id: 6, kind: 'array', name: '', type: 2, indexType: 1, nelems: 16 },
  { id: 7, kind: 'struct', name: 'bpf_ksym', size: 56, bitfields: false, members: [m('start', 3, 0), m('end', 3, 64), m('name', 6, 128), m('lnode', 4, 256), m('prog', 13, 384)] },
  { id: 8, kind: 'struct', name: 'module', size: 16, bitfields: false, members: [m('name', 6, 0)] },
  { id: 9, kind: 'ptr', name: '', type: 8 },
  { id: 10, kind: 'struct', name: 'ftrace_mod_map', size: 48, bitfields: false, members: [m('list', 4, 0), m('mod', 9, 128), m('funcs', 4, 192), m('num_funcs', 12, 320)] },
  { id: 11, kind: 'ptr', name: '', type: 2 },
  { id: 12, kind: 'int', name: 'unsigned int', size: 4, encoding: 0, bitsOffset: 0, bits: 32 },
  { id: 13, kind: 'int', name: '_Bool', size: 1, encoding: 4, bitsOffset: 0, bits: 8 },
  { id: 14, kind: 'struct', name: 'ftrace_mod_func', size: 40, bitfields: false, members: [m('list', 4, 0), m('name', 11, 128), m('ip', 3, 192), m('size', 12, 256)] },
];

const V = 0xffff888000100000n;
const P = 0x100000n;
const BPF_HEAD = V;
const JIT_KALLSYMS = V + 0x10n;
const JIT_HARDEN = V + 0x14n;
const FTRACE_HEAD = V + 0x20n;
const KSYM = [V + 0x100n, V + 0x200n, V + 0x300n];
const LNODE = 32n;

function setup() {
  const btf = parseBtf(writeBtf(TYPES), { source: 'test BTF' });
  const phys = new SparseMemory();
  const memory = new KernelMemory(phys, undefined, [{ vaddr: V, paddr: P, fileSize: 0x10000n, memSize: 0x10000n }]);
  const put = (v: bigint, bytes: Uint8Array) => phys.write(P + (v - V), bytes);
  const u64 = (v: bigint, x: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, x, true);
    put(v, b);
  };
  const u32 = (v: bigint, x: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, x, true);
    put(v, b);
  };
  const str = (v: bigint, s: string) => put(v, new TextEncoder().encode(`${s}\0`));
  /** head → nodes[0] → … → head, next and prev. */
  const link = (head: bigint, nodes: bigint[]) => {
    const ring = [head, ...nodes];
    ring.forEach((n, i) => {
      u64(n, ring[(i + 1) % ring.length]);
      u64(n + 8n, ring[(i + ring.length - 1) % ring.length]);
    });
  };
  // jiffies_64: a kernel with data symbols in kallsyms (CONFIG_KALLSYMS_ALL), as every x86_64 Debian one.
  const symbols = new Map<string, bigint>([['bpf_kallsyms', BPF_HEAD], ['bpf_jit_kallsyms', JIT_KALLSYMS], ['bpf_jit_harden', JIT_HARDEN], ['jiffies_64', 0xffffffff82a0a000n]]);
  const ctx: DynamicKsymsContext = { memory, type: (n) => parseTypeName(btf, n), symbol: (n) => symbols.get(n) };
  // Three BPF programs, linked in order, bpf_jit_kallsyms = 1, bpf_jit_harden = 0.
  KSYM.forEach((k, i) => {
    u64(k, 0xffffffffc0001000n + BigInt(i) * 0x100n);
    u64(k + 8n, 0xffffffffc0001000n + BigInt(i) * 0x100n + 0x40n);
    str(k + 16n, `bpf_prog_${i}`);
  });
  link(BPF_HEAD, KSYM.map((k) => k + LNODE));
  u32(JIT_KALLSYMS, 1);
  u32(JIT_HARDEN, 0);
  return { ctx, symbols, u64, u32, str, link };
}

const bpfNames = (ctx: DynamicKsymsContext) => readDynamicSymbols(ctx).symbols.map((s) => `${s.address.toString(16)} ${s.type} ${s.name}\t[${s.module}]`);

describe('bpf_kallsyms', () => {
  it('lists each bpf_ksym at its start, named by ksym->name, type t, tag bpf, with end − start as size', () => {
    const { ctx } = setup();
    const r = readDynamicSymbols(ctx);
    expect(r.failures).toEqual([]);
    expect(bpfNames(ctx)).toEqual(['ffffffffc0001000 t bpf_prog_0\t[bpf]', 'ffffffffc0001100 t bpf_prog_1\t[bpf]', 'ffffffffc0001200 t bpf_prog_2\t[bpf]']);
    expect(r.symbols.map((s) => s.size)).toEqual([0x40n, 0x40n, 0x40n]);
  });

  it('shows nothing unless bpf_jit_kallsyms_enabled(): bpf_jit_kallsyms == 1 and bpf_jit_harden == 0', () => {
    const a = setup();
    a.u32(JIT_KALLSYMS, 0);
    expect(readDynamicSymbols(a.ctx).symbols).toEqual([]);
    const b = setup();
    b.u32(JIT_HARDEN, 1);
    expect(readDynamicSymbols(b.ctx).symbols).toEqual([]);
    const c = setup();
    c.symbols.delete('bpf_kallsyms'); // CONFIG_BPF_JIT=n: no list, no lines, no error
    expect(readDynamicSymbols(c.ctx)).toEqual({ symbols: [], failures: [] });
  });

  it('a kernel with no data symbol in kallsyms (CONFIG_KALLSYMS_ALL=n) lists nothing, and says so: a NotFoundError, not silence', () => {
    const c = setup();
    for (const n of ['bpf_kallsyms', 'bpf_jit_kallsyms', 'bpf_jit_harden', 'jiffies_64']) c.symbols.delete(n);
    const r = readDynamicSymbols(c.ctx);
    expect(r.symbols).toEqual([]);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0].code).toBe('NOT_FOUND');
    expect(r.failures[0].message).toMatch(/kallsyms has no data symbols .*CONFIG_KALLSYMS_ALL.*\[bpf\]/);
  });

  it('a cycle that never returns to the head is a BadDataError naming the node reached twice, not a hang', () => {
    const { ctx, u64 } = setup();
    u64(KSYM[2] + LNODE, KSYM[0] + LNODE); // the third program's next is the first again
    const t = Date.now();
    const r = readDynamicSymbols(ctx);
    expect(Date.now() - t).toBeLessThan(1000);
    expect(r.symbols.map((s) => s.name)).toEqual(['bpf_prog_0', 'bpf_prog_1', 'bpf_prog_2']); // what was read is kept
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0]).toBeInstanceOf(BadDataError);
    expect(r.failures[0].code).toBe('BAD_DATA');
    expect(r.failures[0].message).toContain('bpf_kallsyms');
    expect(r.failures[0].message).toContain(`cycle: the list node at 0x${(KSYM[0] + LNODE).toString(16)}`);
  });

  it('a node linked to itself is a cycle too', () => {
    const { ctx, u64 } = setup();
    u64(KSYM[1] + LNODE, KSYM[1] + LNODE);
    const r = readDynamicSymbols(ctx);
    expect(r.symbols.map((s) => s.name)).toEqual(['bpf_prog_0', 'bpf_prog_1']);
    expect(r.failures[0].message).toMatch(new RegExp(`cycle: the list node at 0x${(KSYM[1] + LNODE).toString(16)} \\(next of 0x${(KSYM[1] + LNODE).toString(16)}\\)`));
  });

  it('a NULL next pointer is a BadDataError naming the node that holds it', () => {
    const { ctx, u64 } = setup();
    u64(KSYM[0] + LNODE, 0n);
    const r = readDynamicSymbols(ctx);
    expect(r.symbols.map((s) => s.name)).toEqual(['bpf_prog_0']);
    expect(r.failures[0]).toBeInstanceOf(BadDataError);
    expect(r.failures[0].message).toContain(`NULL next pointer in the list node at 0x${(KSYM[0] + LNODE).toString(16)} after 1 entries`);
  });

  it('a next pointer into memory the dump lacks is a FaultError naming that address', () => {
    const { ctx, u64 } = setup();
    const wild = 0xffff888000200020n; // outside the synthetic segment
    u64(KSYM[1] + LNODE, wild);
    const r = readDynamicSymbols(ctx);
    expect(r.symbols.map((s) => s.name)).toEqual(['bpf_prog_0', 'bpf_prog_1']);
    expect(r.failures[0]).toBeInstanceOf(FaultError);
    expect(r.failures[0].message).toMatch(/^bpf_kallsyms: /);
    expect((r.failures[0] as FaultError).address).toBeGreaterThanOrEqual(wild - LNODE);
    expect(r.failures[0].message).toContain('0xffff8880002000');
  });
});

describe('ftrace_mod_maps', () => {
  /** One map of module "mymod" with functions f0, f1, f2 (num_funcs 3), as ftrace_free_mem() leaves it. */
  function withModMap() {
    const s = setup();
    const mod = V + 0x400n;
    const map = V + 0x500n;
    const funcs = [V + 0x600n, V + 0x700n, V + 0x800n];
    s.symbols.set('ftrace_mod_maps', FTRACE_HEAD);
    s.str(mod, 'mymod');
    s.link(FTRACE_HEAD, [map]);
    s.u64(map + 16n, mod);
    s.link(map + 24n, funcs);
    s.u32(map + 40n, funcs.length);
    funcs.forEach((f, i) => {
      s.str(V + 0x900n + BigInt(i) * 16n, `f${i}`);
      s.u64(f + 16n, V + 0x900n + BigInt(i) * 16n);
      s.u64(f + 24n, 0xffffffffc0100000n + BigInt(i) * 0x10n);
      s.u32(f + 32n, 0x10);
    });
    return s;
  }

  it('reproduces ftrace_mod_get_kallsym(): symnum 0 and 1 both give the first function, the last is never shown; then BPF', () => {
    const { ctx } = withModMap();
    const r = readDynamicSymbols(ctx);
    expect(r.failures).toEqual([]);
    expect(bpfNames(ctx)).toEqual([
      'ffffffffc0100000 T f0\t[mymod]',
      'ffffffffc0100000 T f0\t[mymod]',
      'ffffffffc0100010 T f1\t[mymod]',
      'ffffffffc0001000 t bpf_prog_0\t[bpf]',
      'ffffffffc0001100 t bpf_prog_1\t[bpf]',
      'ffffffffc0001200 t bpf_prog_2\t[bpf]',
    ]);
  });

  it('a cycle in a map\'s function list fails that source alone; BPF programs still follow', () => {
    const s = withModMap();
    s.u64(V + 0x700n, V + 0x600n); // f1.next = f0
    const r = readDynamicSymbols(s.ctx);
    expect(r.failures).toHaveLength(1);
    expect(r.failures[0].message).toMatch(/^ftrace_mod_maps: ftrace_mod_map 0xffff888000100500 funcs: offset 0xffff888000100600: cycle/);
    expect(r.symbols.map((x) => x.name)).toEqual(['bpf_prog_0', 'bpf_prog_1', 'bpf_prog_2']);
  });
});
