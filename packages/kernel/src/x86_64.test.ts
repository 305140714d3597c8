import { describe, expect, it } from 'vitest';
import { FaultError } from '@kbtf/binary';
import { SparseMemory, emptyVmcoreInfo } from './test-memory.js';
import { translateX86_64, paSymbol, START_KERNEL_MAP, type X86_64Paging } from './x86_64.js';
import { KernelMemory } from './memory.js';
import { x86_64 } from './arch.js';

const NX = 1n << 63n;

/** Builds page tables the way the kernel lays them out, allocating tables from a bump pointer. */
class PageTables {
  next = 0x100000n;
  constructor(
    readonly mem: SparseMemory,
    readonly paging: X86_64Paging,
    readonly flagBits = 0n,
  ) {
    mem.write(paging.root, new Uint8Array(4096));
  }
  private alloc(): bigint {
    const a = this.next;
    this.next += 0x1000n;
    this.mem.write(a, new Uint8Array(4096));
    return a;
  }
  private entry(table: bigint, index: bigint): { addr: bigint; value: bigint } {
    const addr = table + index * 8n;
    const b = this.mem.read(addr, 8);
    return { addr, value: new DataView(b.buffer).getBigUint64(0, true) };
  }
  /** Map `vaddr` → `paddr` with a page of 2^shift bytes (12, 21 or 30). */
  map(vaddr: bigint, paddr: bigint, shift: 12 | 21 | 30 = 12): void {
    const top = this.paging.levels === 5 ? 48 : 39;
    let table = this.paging.root;
    for (let s = top; s > shift; s -= 9) {
      const e = this.entry(table, (vaddr >> BigInt(s)) & 0x1ffn);
      if (e.value & 1n) {
        table = e.value & 0x000ffffffffff000n & ~this.paging.smeMask;
      } else {
        const t = this.alloc();
        this.mem.u64(e.addr, t | this.paging.smeMask | 0x63n | this.flagBits);
        table = t;
      }
    }
    const e = this.entry(table, (vaddr >> BigInt(shift)) & 0x1ffn);
    this.mem.u64(e.addr, paddr | this.paging.smeMask | 0x63n | (shift === 12 ? 0n : 0x80n) | this.flagBits);
  }
}

describe('translateX86_64', () => {
  for (const levels of [4, 5] as const) {
    it(`walks ${levels}-level tables to 4K, 2M and 1G pages`, () => {
      const mem = new SparseMemory();
      const paging: X86_64Paging = { root: 0x1000n, levels, smeMask: 0n };
      const pt = new PageTables(mem, paging, NX);
      pt.map(0xffffffffc0001000n, 0x7654000n);
      pt.map(0xffff888000200000n, 0x40000000n, 21);
      pt.map(0xffff888040000000n, 0x80000000n, 30);
      expect(translateX86_64(mem, paging, 0xffffffffc0001234n)).toEqual({ paddr: 0x7654234n, pageShift: 12 });
      expect(translateX86_64(mem, paging, 0xffff8880002bcdefn)).toEqual({ paddr: 0x400bcdefn, pageShift: 21 });
      expect(translateX86_64(mem, paging, 0xffff888000212345n).paddr).toBe(0x40012345n);
      expect(translateX86_64(mem, paging, 0xffff888043456789n)).toEqual({ paddr: 0x83456789n, pageShift: 30 });
    });
  }

  it('clears the SME encryption bit from every entry', () => {
    const mem = new SparseMemory();
    const paging: X86_64Paging = { root: 0x1000n, levels: 4, smeMask: 1n << 47n };
    new PageTables(mem, paging).map(0xffffffff81000000n, 0x2000000n);
    expect(translateX86_64(mem, paging, 0xffffffff81000010n).paddr).toBe(0x2000010n);
    // Without the mask the walk would follow the encrypted (bogus) table address and fault.
    expect(() => translateX86_64(mem, { ...paging, smeMask: 0n }, 0xffffffff81000010n)).toThrow(FaultError);
  });

  it('names the address and the level that was not present', () => {
    const mem = new SparseMemory();
    const paging: X86_64Paging = { root: 0x1000n, levels: 4, smeMask: 0n };
    const pt = new PageTables(mem, paging);
    pt.map(0xffffffffc0001000n, 0x7654000n);
    try {
      translateX86_64(mem, paging, 0xffffffffc0002000n);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FaultError);
      expect((err as FaultError).space).toBe('virtual');
      expect((err as FaultError).address).toBe(0xffffffffc0002000n);
      expect((err as Error).message).toMatch(/0xffffffffc0002000: not-mapped \(pte entry not present\)/);
    }
    expect(() => translateX86_64(mem, paging, 0xffff888000000000n)).toThrow(/p4d entry not present/);
  });

  it('reports a page-table page missing from the dump at its level', () => {
    const mem = new SparseMemory();
    const paging: X86_64Paging = { root: 0x1000n, levels: 5, smeMask: 0n };
    const pt = new PageTables(mem, paging);
    pt.map(0xffffffffc0001000n, 0x7654000n);
    mem.pages.delete(0x100000n >> 12n); // the p4d table
    expect(() => translateX86_64(mem, paging, 0xffffffffc0001000n)).toThrow(/not-in-dump \(p4d entry at physical 0x100ff8 unreadable\)/);
  });

  it('finds swapper_pg_dir through __pa_symbol with phys_base', () => {
    expect(paSymbol(0xffffffff9a80a000n, -0x1a00000n)).toBe(0xffffffff9a80a000n - START_KERNEL_MAP - 0x1a00000n);
    const info = emptyVmcoreInfo();
    info.symbols.set('swapper_pg_dir', START_KERNEL_MAP + 0x3000n);
    info.symbols.set('init_top_pgt', START_KERNEL_MAP + 0x3000n);
    info.physBase = 0x1000n;
    info.numbers.set('pgtable_l5_enabled', 0n);
    const mem = new SparseMemory();
    new PageTables(mem, { root: 0x4000n, levels: 4, smeMask: 0n }).map(0xffffffff81000000n, 0x9000n);
    expect(x86_64.matches(info)).toBe(true);
    expect(x86_64.translator(mem, info)(0xffffffff81000008n).paddr).toBe(0x9008n);
  });

  it('recognises a pre-4.13 VMCOREINFO (SYMBOL(init_level4_pgt), no swapper_pg_dir or pgtable_l5_enabled)', () => {
    const info = emptyVmcoreInfo();
    info.symbols.set('init_level4_pgt', START_KERNEL_MAP + 0x3000n);
    info.physBase = 0x1000n;
    const mem = new SparseMemory();
    new PageTables(mem, { root: 0x4000n, levels: 4, smeMask: 0n }).map(0xffffffff81000000n, 0x9000n);
    expect(x86_64.matches(info)).toBe(true);
    expect(x86_64.translator(mem, info)(0xffffffff81000008n).paddr).toBe(0x9008n);
  });
});

describe('KernelMemory', () => {
  it('reads across pages, prefers kernel-half segments and caches walks', () => {
    const mem = new SparseMemory();
    const paging: X86_64Paging = { root: 0x1000n, levels: 4, smeMask: 0n };
    const pt = new PageTables(mem, paging);
    pt.map(0xffffffffc0000000n, 0x20000n);
    pt.map(0xffffffffc0001000n, 0x50000n); // not contiguous physically
    pt.map(0xffff888000000000n, 0x200000n, 21);
    mem.write(0x20ffcn, new Uint8Array([1, 2, 3, 4]));
    mem.write(0x50000n, new Uint8Array([5, 6, 7, 0]));
    mem.write(0x30000n, new Uint8Array([9, 9]));
    const km = new KernelMemory(
      mem,
      (v) => translateX86_64(mem, paging, v),
      [
        { vaddr: 0xffffffff81000000n, paddr: 0x30000n, fileSize: 0x1000n, memSize: 0x1000n },
        { vaddr: 0n, paddr: 0n, fileSize: 0x100000n, memSize: 0x100000n }, // QEMU paging=false style: ignored
      ],
      x86_64.isKernelAddress,
    );
    expect([...km.read(0xffffffffc0000ffcn, 8)]).toEqual([1, 2, 3, 4, 5, 6, 7, 0]);
    expect(km.u16(0xffffffff81000000n)).toBe(0x0909);
    expect([...km.cstring(0xffffffffc0000ffdn)]).toEqual([2, 3, 4, 5, 6, 7]);
    const before = mem.reads;
    km.read(0xffffffffc0000ffcn, 8);
    expect(mem.reads - before).toBe(2); // two data reads, no page-table reads
    expect(km.translate(0xffff888000123456n)).toBe(0x323456n);
    const b2 = mem.reads;
    expect(km.translate(0xffff888000012345n)).toBe(0x212345n); // same 2 MiB page: cached
    expect(mem.reads).toBe(b2);
    expect(() => km.read(0xffffffffc0001ffen, 4)).toThrow(/virtual address 0xffffffffc0002000: not-mapped/);
  });

  it('turns a physical fault into a virtual one naming the virtual address', () => {
    const mem = new SparseMemory();
    const paging: X86_64Paging = { root: 0x1000n, levels: 4, smeMask: 0n };
    new PageTables(mem, paging).map(0xffffffffc0000000n, 0x7000000n);
    const km = new KernelMemory(mem, (v) => translateX86_64(mem, paging, v));
    expect(() => km.u64(0xffffffffc0000010n)).toThrow(/virtual address 0xffffffffc0000010: not-in-dump \(physical 0x7000010\)/);
  });
});
