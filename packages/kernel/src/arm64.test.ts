import { describe, expect, it } from 'vitest';
import { FaultError, UnsupportedError } from '@kbtf/binary';
import { SparseMemory, emptyVmcoreInfo } from './test-memory.js';
import { arm64AddressRefs, arm64FixedToPhys, arm64Layout, arm64Levels, arm64MappedRuns, arm64OutputAddress, arm64Paging, stripPac, translateArm64, type Arm64Paging } from './arm64.js';
import { arm64, detectArch, x86_64 } from './arch.js';
import { KernelMemory } from './memory.js';

const AF = 1n << 10n;
const SH_INNER = 3n << 8n;
const CONT = 1n << 52n;
const PXN_UXN = 3n << 53n;

/** Builds arm64 translation tables as the kernel lays them out, tables from a bump pointer. */
class Tables {
  next: bigint;
  constructor(
    readonly mem: SparseMemory,
    readonly p: Arm64Paging,
  ) {
    this.next = p.root + (1n << BigInt(p.pageShift));
    mem.write(p.root, new Uint8Array(1 << p.pageShift));
  }
  /** A descriptor for output address `pa` (as the kernel's __phys_to_pte_val). */
  encode(pa: bigint): bigint {
    const low = ((1n << 48n) - 1n) & ~((1n << BigInt(this.p.pageShift)) - 1n);
    if (this.p.pa === 'lpa') return (pa & low) | (((pa >> 48n) & 0xfn) << 12n);
    if (this.p.pa === 'lpa2') return (pa & (low | (3n << 48n))) | (((pa >> 50n) & 3n) << 8n);
    return pa & low;
  }
  /** Attribute bits: shareability lives in the descriptor only without LPA2. */
  get attrs(): bigint {
    return AF | PXN_UXN | (this.p.pa === 'lpa2' ? 0n : SH_INNER);
  }
  private alloc(): bigint {
    const a = this.next;
    this.next += 1n << BigInt(this.p.pageShift);
    this.mem.write(a, new Uint8Array(1 << this.p.pageShift));
    return a;
  }
  private read(addr: bigint): bigint {
    return new DataView(this.mem.read(addr, 8).buffer).getBigUint64(0, true);
  }
  /** Map `vaddr` → `paddr` with a page or block of 2^shift bytes; `extra` ORed into the leaf. */
  map(vaddr: bigint, paddr: bigint, shift: number = this.p.pageShift, extra = 0n): void {
    const stride = this.p.pageShift - 3;
    const levels = arm64Levels(this.p.vaBits, this.p.pageShift);
    const topBits = ((this.p.vaBits - this.p.pageShift - 1) % stride) + 1;
    let table = this.p.root;
    for (let level = 0; level < levels; level++) {
      const s = this.p.pageShift + stride * (levels - 1 - level);
      const bits = level === 0 ? topBits : stride;
      const addr = table + ((vaddr >> BigInt(s)) & ((1n << BigInt(bits)) - 1n)) * 8n;
      if (s === shift) {
        const type = shift === this.p.pageShift ? 3n : 1n;
        this.mem.u64(addr, this.encode(paddr) | this.attrs | type | extra);
        return;
      }
      const e = this.read(addr);
      if ((e & 3n) === 3n) {
        table = arm64OutputAddress(e, this.p);
      } else {
        const t = this.alloc();
        this.mem.u64(addr, this.encode(t) | 3n);
        table = t;
      }
    }
    throw new Error(`no level maps 2^${shift}`);
  }
}

function paging(pageShift: number, vaBits: number, pa: Arm64Paging['pa'] = 'pa48', root = 0x40000000n): Arm64Paging {
  return { root, pageShift, vaBits, pa, pacMask: 0n };
}

const KIMAGE = 0xffff800008010000n;
const LINEAR = 0xffff000000200000n;

function arm64Info(numbers: Record<string, bigint>, pageSize = 4096): ReturnType<typeof emptyVmcoreInfo> {
  const info = emptyVmcoreInfo();
  info.pageSize = pageSize;
  info.symbols.set('swapper_pg_dir', 0xffff80000a0b0000n);
  info.symbols.set('_stext', 0xffff800008010000n);
  for (const [k, v] of Object.entries(numbers)) info.numbers.set(k, v);
  return info;
}

describe('translateArm64 on synthetic tables', () => {
  it('4 KiB granule, 48-bit VA (4 levels): page, 2 MiB and 1 GiB blocks; SH, AF, PXN/UXN and the contiguous bit are not address', () => {
    const mem = new SparseMemory();
    const p = paging(12, 48);
    const t = new Tables(mem, p);
    t.map(KIMAGE, 0x41234000n, 12, CONT);
    t.map(LINEAR, 0x40200000n, 21, CONT);
    t.map(0xffff000040000000n, 0x80000000n, 30);
    expect(translateArm64(mem, p, KIMAGE + 0x567n)).toEqual({ paddr: 0x41234567n, pageShift: 12 });
    expect(translateArm64(mem, p, LINEAR + 0x1abcden)).toEqual({ paddr: 0x403abcden, pageShift: 21 });
    expect(translateArm64(mem, p, 0xffff00007fffffffn)).toEqual({ paddr: 0xbfffffffn, pageShift: 30 });
  });

  it('4 KiB granule, 39-bit VA (3 levels: pgd, pmd, pte)', () => {
    const mem = new SparseMemory();
    const p = paging(12, 39);
    const t = new Tables(mem, p);
    t.map(0xffffffc008010000n, 0x5000n);
    t.map(0xffffff8000200000n, 0x40200000n, 21);
    expect(translateArm64(mem, p, 0xffffffc008010042n).paddr).toBe(0x5042n);
    expect(translateArm64(mem, p, 0xffffff8000200010n).paddr).toBe(0x40200010n);
    expect(() => translateArm64(mem, p, 0xffffff8000400000n)).toThrow(/pmd descriptor 0x0 not valid/);
  });

  it('4 KiB granule, 52-bit VA with LPA2 (5 levels): PA[51:50] from bits [9:8], PA[49:48] in place', () => {
    const mem = new SparseMemory();
    const p = paging(12, 52, 'lpa2');
    const t = new Tables(mem, p);
    const high = 0x000f123456789000n; // bits 51..48 all set
    t.map(0xfff0000000001000n, high);
    t.map(0xfff8000000200000n, 0x000c000000200000n, 21);
    expect(translateArm64(mem, p, 0xfff0000000001abcn).paddr).toBe(high + 0xabcn);
    expect(translateArm64(mem, p, 0xfff8000000212345n).paddr).toBe(0x000c000000212345n);
    // The same entries read as 48-bit PA drop bits [51:48] and ignore [9:8].
    expect(translateArm64(mem, { ...p, pa: 'pa48' }, 0xfff0000000001abcn).paddr).toBe(0x0000123456789abcn);
  });

  it('16 KiB granule: 47-bit VA (3 levels), 48-bit VA (4 levels, a 2-entry top), 32 MiB blocks', () => {
    for (const va of [47, 48]) {
      const mem = new SparseMemory();
      const p = paging(14, va);
      const t = new Tables(mem, p);
      const base = va === 48 ? 0xffff800008000000n : 0xffffc00008000000n;
      t.map(base + 0x4000n, 0x12340000n + 0x4000n);
      t.map(base + 0x2000000n, 0x42000000n, 25);
      expect(arm64Levels(va, 14)).toBe(va === 48 ? 4 : 3);
      expect(translateArm64(mem, p, base + 0x5234n).paddr).toBe(0x12345234n);
      expect(translateArm64(mem, p, base + 0x3ffffffn)).toEqual({ paddr: 0x43ffffffn, pageShift: 21 });
    }
  });

  it('64 KiB granule: 42-bit VA (2 levels), 48-bit VA (3 levels) with FEAT_LPA 52-bit PAs, 512 MiB blocks', () => {
    const mem = new SparseMemory();
    const p2 = paging(16, 42);
    const t2 = new Tables(mem, p2);
    t2.map(0xfffffc0008010000n, 0x80010000n);
    t2.map(0xfffffe0020000000n, 0x20000000n, 29);
    expect(translateArm64(mem, p2, 0xfffffc000801fff0n).paddr).toBe(0x8001fff0n);
    expect(translateArm64(mem, p2, 0xfffffe0030000000n)).toEqual({ paddr: 0x30000000n, pageShift: 21 });
    const mem3 = new SparseMemory();
    const p3 = paging(16, 48, 'lpa');
    const t3 = new Tables(mem3, p3);
    t3.map(KIMAGE, 0x000f000000010000n);
    t3.map(0xffff000020000000n, 0x000a000020000000n, 29);
    expect(translateArm64(mem3, p3, KIMAGE + 0x1234n).paddr).toBe(0x000f000000011234n);
    expect(translateArm64(mem3, p3, 0xffff000020000008n).paddr).toBe(0x000a000020000008n);
  });

  it('names the level of an invalid or unreadable descriptor; 0b01 at the last level and blocks at level 0 are invalid', () => {
    const mem = new SparseMemory();
    const p = paging(12, 48);
    const t = new Tables(mem, p);
    t.map(KIMAGE, 0x41234000n);
    const err = (v: bigint): FaultError => {
      try {
        translateArm64(mem, p, v);
      } catch (e) {
        if (e instanceof FaultError) return e;
        throw e;
      }
      throw new Error('no fault');
    };
    expect(err(0xffff000000000000n).message).toMatch(/pgd descriptor 0x0 not valid/);
    expect(err(KIMAGE + 0x1000n).message).toMatch(/pte descriptor 0x0 not valid/);
    expect(err(KIMAGE + 0x1000n).address).toBe(KIMAGE + 0x1000n);
    // A last-level descriptor of type 0b01 is reserved.
    const pteTable = [...mem.pages.keys()].sort((a, b) => (a < b ? 1 : -1))[0] << 12n;
    mem.u64(pteTable + 0x11n * 8n, 0x41235000n | AF | 1n);
    expect(err(KIMAGE + 0x1000n).message).toMatch(/pte descriptor .* not valid/);
    // A block descriptor at level 0 (no block there with 4 KiB pages and 48 bits) is invalid.
    mem.u64(p.root + 0n, 0x80000000n | AF | 1n);
    expect(err(0xffff000000000000n).message).toMatch(/pgd descriptor 0x80000401 not valid/);
    // A table page missing from the dump: the physical fault's reason, the level named.
    mem.u64(p.root + 1n * 8n, 0x7770000n | 3n);
    const e = err(0xffff008000000000n);
    expect(e.reason).toBe('not-in-dump');
    expect(e.message).toMatch(/pud descriptor at physical 0x7770000 unreadable/);
    // Outside TTBR1's range.
    expect(err(0x0000ffff00000000n).message).toMatch(/below the kernel half of a 48-bit VA space/);
  });

  it('strips pointer-authentication bits (NUMBER(KERNELPACMASK)) before walking', () => {
    const mem = new SparseMemory();
    const pacMask = 0xff7f000000000000n; // bits 63..56 and 54..48: 48-bit VA, TBI off
    const p = { ...paging(12, 48), pacMask };
    new Tables(mem, p).map(KIMAGE, 0x41234000n);
    const signed = (KIMAGE & ~pacMask) | 0x2a13000000000000n;
    expect(stripPac(signed, pacMask)).toBe(KIMAGE);
    expect(translateArm64(mem, p, signed + 8n).paddr).toBe(0x41234008n);
    expect(stripPac(0x0000aaaa00001000n | 0x0012000000000000n, pacMask)).toBe(0x0000aaaa00001000n);
    expect(() => translateArm64(mem, { ...p, pacMask: 0n }, signed)).toThrow(FaultError);
  });

  it('KernelMemory over the arm64 walk reads across pages and caches 2 MiB blocks', () => {
    const mem = new SparseMemory();
    const p = paging(12, 48);
    const t = new Tables(mem, p);
    t.map(KIMAGE, 0x41234000n);
    t.map(KIMAGE + 0x1000n, 0x50000000n);
    t.map(LINEAR, 0x40200000n, 21);
    mem.write(0x41234ffen, new Uint8Array([1, 2]));
    mem.write(0x50000000n, new Uint8Array([3, 4]));
    const tables = new Map<number, bigint>();
    const km = new KernelMemory(mem, (v) => translateArm64(mem, p, v, tables), [], arm64.isKernelAddress);
    expect([...km.read(KIMAGE + 0xffen, 4)]).toEqual([1, 2, 3, 4]);
    km.translate(LINEAR);
    const reads = mem.reads;
    expect(km.translate(LINEAR + 0x1ff000n)).toBe(0x403ff000n);
    expect(mem.reads).toBe(reads);
  });
});

describe('arm64MappedRuns', () => {
  it('lists the mapped runs of a range by walking the tables: neighbours merged, blocks whole, clipped to the range', () => {
    const mem = new SparseMemory();
    const p = paging(12, 48);
    const t = new Tables(mem, p);
    t.map(KIMAGE, 0x41234000n);
    t.map(KIMAGE + 0x1000n, 0x50000000n);
    t.map(KIMAGE + 0x3000n, 0x1000n);
    t.map(LINEAR, 0x40200000n, 21);
    expect(arm64MappedRuns(mem, p, 0xffff000000000000n, 1n << 64n)).toEqual([
      { start: LINEAR, end: LINEAR + 0x200000n },
      { start: KIMAGE, end: KIMAGE + 0x2000n },
      { start: KIMAGE + 0x3000n, end: KIMAGE + 0x4000n },
    ]);
    expect(arm64MappedRuns(mem, p, KIMAGE + 0x800n, KIMAGE + 0x3800n)).toEqual([
      { start: KIMAGE + 0x800n, end: KIMAGE + 0x2000n },
      { start: KIMAGE + 0x3000n, end: KIMAGE + 0x3800n },
    ]);
    // A table the dump lacks maps nothing; a range below TTBR1's maps nothing.
    mem.u64(p.root + 8n, 0x7770000n | 3n);
    expect(arm64MappedRuns(mem, p, 0xffff008000000000n, 0xffff010000000000n)).toEqual([]);
    expect(arm64MappedRuns(mem, p, 0n, 0x10000n)).toEqual([]);
  });
});

describe('arm64Paging from VMCOREINFO', () => {
  it('finds swapper_pg_dir through kimage_voffset and sizes the walk from TCR_EL1_T1SZ', () => {
    const p = arm64Paging(arm64Info({ VA_BITS: 48n, kimage_voffset: 0xffff7fffc7e00000n, PHYS_OFFSET: 0x40000000n, TCR_EL1_T1SZ: 16n }));
    expect(p).toEqual({ root: 0xffff80000a0b0000n - 0xffff7fffc7e00000n, pageShift: 12, vaBits: 48, pa: 'pa48', pacMask: 0n });
    expect(p.root).toBe(0x422b0000n);
  });

  it('52-bit configurations: 4 KiB pages fold to the VA in use, 64 KiB pages index with 52 bits from swapper_pg_dir', () => {
    const n = { VA_BITS: 52n, kimage_voffset: 0xffff7fffc7e00000n, PHYS_OFFSET: 0x40000000n };
    expect(arm64Paging(arm64Info({ ...n, TCR_EL1_T1SZ: 16n })).vaBits).toBe(48);
    expect(arm64Paging(arm64Info({ ...n, TCR_EL1_T1SZ: 12n })).pa).toBe('lpa2');
    const k64 = arm64Paging(arm64Info({ ...n, TCR_EL1_T1SZ: 16n }, 65536));
    expect(k64).toMatchObject({ pageShift: 16, vaBits: 52, pa: 'lpa' });
    // The 52-bit index of a kernel address from swapper_pg_dir is the 48-bit index from
    // swapper_pg_dir + TTBR1_BADDR_4852_OFFSET ((1024 − 64) × 8).
    const mem = new SparseMemory();
    const t = new Tables(mem, { ...k64, root: 0x40000000n });
    t.map(KIMAGE, 0x90000000n);
    const as48 = { ...k64, root: 0x40000000n + (1024n - 64n) * 8n, vaBits: 48 };
    expect(translateArm64(mem, as48, KIMAGE + 4n).paddr).toBe(0x90000004n);
    expect(translateArm64(mem, { ...k64, root: 0x40000000n }, KIMAGE + 4n).paddr).toBe(0x90000004n);
  });

  it('without TCR_EL1_T1SZ (before 5.9) VA_BITS decides; missing or impossible values are UnsupportedError', () => {
    expect(arm64Paging(arm64Info({ VA_BITS: 39n, kimage_voffset: 0n })).vaBits).toBe(39);
    expect(() => arm64Paging(arm64Info({ VA_BITS: 48n }))).toThrow(/kimage_voffset/);
    expect(() => arm64Paging(arm64Info({ kimage_voffset: 0n }))).toThrow(/VA_BITS/);
    expect(() => arm64Paging(arm64Info({ VA_BITS: 56n, kimage_voffset: 0n }))).toThrow(UnsupportedError);
    expect(() => arm64Paging(arm64Info({ VA_BITS: 48n, kimage_voffset: 0n }, 8192))).toThrow(/PAGESIZE=8192/);
  });
});

describe('the arm64 fixed translations (asm/memory.h)', () => {
  it('5.4+ layout: PAGE_OFFSET = −(1 << VA_BITS), image through kimage_voffset', () => {
    const info = arm64Info({ VA_BITS: 48n, kimage_voffset: 0xffff7fffc7e00000n, PHYS_OFFSET: 0x40000000n });
    const l = arm64Layout(info);
    expect(l).toMatchObject({ flipped: true, pageOffset: 0xffff000000000000n, linearEnd: 0xffff800000000000n });
    expect(arm64FixedToPhys(l, 0xffff000000123456n)).toBe(0x40123456n);
    expect(arm64FixedToPhys(l, 0xffff800008010000n)).toBe(0x40210000n);
  });
  it('before 5.4: the linear map is the upper half, __pa(x) = (x & ~PAGE_OFFSET) + PHYS_OFFSET', () => {
    const info = arm64Info({ VA_BITS: 48n, kimage_voffset: 0xffff7fffc7e00000n, PHYS_OFFSET: 0x40000000n });
    info.symbols.set('_stext', 0xffff000008081000n);
    const l = arm64Layout(info);
    expect(l).toMatchObject({ flipped: false, pageOffset: 0xffff800000000000n });
    expect(arm64FixedToPhys(l, 0xffff800000123456n)).toBe(0x40123456n);
  });
});

describe('detectArch', () => {
  const x86 = emptyVmcoreInfo();
  x86.symbols.set('init_top_pgt', 0xffffffff82a0a000n);
  const old = emptyVmcoreInfo();
  old.symbols.set('init_level4_pgt', 0xffffffff81c09000n);
  const a64 = arm64Info({ VA_BITS: 48n, kimage_voffset: 0n });
  it('by machine and VMCOREINFO together', () => {
    expect(detectArch(x86, 'x86_64')).toBe(x86_64);
    expect(detectArch(old)).toBe(x86_64);
    expect(detectArch(a64, 'aarch64')).toBe(arm64);
    expect(detectArch(a64, 'Unknown')).toBe(arm64);
    expect(detectArch(a64)).toBe(arm64);
  });
  it('a contradiction, an unknown ELF machine or no architecture at all is UnsupportedError', () => {
    expect(() => detectArch(a64, 'x86_64')).toThrow(/machine 'x86_64' contradicts its VMCOREINFO, which is arm64's/);
    expect(() => detectArch(x86, 'aarch64')).toThrow(/contradicts/);
    expect(() => detectArch(x86, 'elf-machine-8')).toThrow(/e_machine 8 is not supported/);
    expect(() => detectArch(emptyVmcoreInfo())).toThrow(UnsupportedError);
  });
  it('the kernel half', () => {
    expect(arm64.isKernelAddress(0xffff000000000000n)).toBe(true);
    expect(arm64.isKernelAddress(0xfff0000000000000n)).toBe(true);
    expect(arm64.isKernelAddress(0x0000ffff00000000n)).toBe(false);
  });
});

describe('arm64AddressRefs', () => {
  const words = (...w: number[]): Uint8Array => {
    const b = Buffer.alloc(w.length * 4);
    w.forEach((x, i) => b.writeUInt32LE(x, i * 4));
    return b;
  };

  it('follows ADRP, ADD and a pre-indexed LDR (find_module_all of Debian arm64 6.12, objdump: `adrp x22; add x22, x22, #0x5a0; …; ldr x0, [x22, #80]!` = &modules)', () => {
    const pc = 0xffffc52baa785108n;
    const code = words(0xd0012c96, 0x911682d6, 0xa90153f3, 0xa90363f7, 0xaa0003f8, 0xf8450ec0, 0xeb16001f);
    expect(arm64AddressRefs(code, pc)).toEqual([
      { address: 0xffffc52bacd175a0n, load: 0 },
      { address: 0xffffc52bacd175f0n, load: 8 },
    ]);
  });

  it('reports the GOT slot a weak symbol is loaded from (btf_vmlinux_read of Debian arm64 6.1: `adrp x1; ldr x1, [x1, #2440]`)', () => {
    const code = words(0xd00053a1, 0xf944c421, 0xa9be7bfd, 0xaa0303e0, 0x8b040021);
    expect(arm64AddressRefs(code, 0xffffd1d0fec8788cn)).toEqual([{ address: 0xffffd1d0ff6fd988n, load: 8 }]);
  });

  it('takes ADRP pages below the instruction, post-index writeback, and forgets a register a load overwrote', () => {
    // adrp x0, -1 page; str x1, [x0], #16; add x2, x0, #8; ldr x3, [x0]; add x2, x3, #0 (objdump-checked)
    const code = words(0xf0ffffe0, 0xf8010401, 0x91002002, 0xf9400003, 0x91000062);
    const page = 0xffff80000ffff000n;
    expect(arm64AddressRefs(code, 0xffff800010000ff0n)).toEqual([
      { address: page, load: 0 },
      { address: page + 24n, load: 0 },
      { address: page + 16n, load: 8 },
    ]);
  });

  it('finds nothing in code without ADRP, and ignores a trailing partial word', () => {
    expect(arm64AddressRefs(words(0xd503201f, 0x91002002, 0xf9400003).subarray(0, 11), 0xffff800010000000n)).toEqual([]);
  });
});
