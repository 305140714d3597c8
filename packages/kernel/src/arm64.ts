/**
 * arm64 (AArch64) virtual → physical translation from VMCOREINFO alone, walking the kernel's
 * translation tables (TTBR1) the way the MMU does.
 *
 * What VMCOREINFO gives (arch/arm64/kernel/crash_core.c, 6.1; vmcore_info.c since 6.9):
 *   NUMBER(VA_BITS)        the configured VA size (CONFIG_ARM64_VA_BITS: 39, 42, 47, 48, 52)
 *   NUMBER(TCR_EL1_T1SZ)   64 − the VA size in use (5.9+): a 52-bit kernel on 48-bit hardware says 16
 *   NUMBER(kimage_voffset) kernel image VA − PA (4.12+): __pa_symbol(x) = x − kimage_voffset
 *   NUMBER(PHYS_OFFSET)    memstart_addr: the physical base of the linear map
 *   NUMBER(KERNELPACMASK)  the pointer-authentication bits of kernel addresses (5.7+, when in use)
 *   KERNELOFFSET           the KASLR slide; PAGESIZE the granule (4096, 16384 or 65536)
 *
 * The walk (arch/arm64/include/asm/pgtable-hwdef.h, 6.1): each level resolves PAGE_SHIFT − 3 bits
 * (9, 11 or 13); the number of levels is ARM64_HW_PGTABLE_LEVELS(va) = (va − 4) / (PAGE_SHIFT − 3)
 * with a top level of 1 << ((va − PAGE_SHIFT − 1) % (PAGE_SHIFT − 3) + 1) entries; the root is
 * swapper_pg_dir, found physically through kimage_voffset (it lies in the kernel image, which is not
 * in the linear map). Descriptor bits [1:0]: 0b11 a table (or at the last level a page), 0b01 a block
 * (level 1/2: 1 GiB/2 MiB with 4 KiB pages, 32 MiB with 16 KiB, 512 MiB with 64 KiB), 0bx0 invalid.
 * The output address is bits [47:PAGE_SHIFT]; with 52-bit physical addresses the top bits come
 * from elsewhere: 64 KiB pages (FEAT_LPA) bits [15:12] hold PA[51:48] (RES0 otherwise, so always
 * taken); 4/16 KiB pages with FEAT_LPA2 (6.9+, only when the VA in use is 52 bits) bits [49:48]
 * hold PA[49:48] and bits [9:8] PA[51:50] — without LPA2 bits [9:8] are shareability, never address.
 * The contiguous bit (52) is a TLB hint: each entry of a contiguous run holds its own address.
 * This is how drgn (libdrgn/arch_aarch64.c, linux_kernel_pgtable_iterator_next_aarch64) and
 * makedumpfile (arch/arm64.c, vaddr_to_paddr_arm64) walk; drgn takes the VA size from T1SZ as here.
 *
 * A 64 KiB-page kernel configured for 52-bit VA that runs with 48 bits points TTBR1 into
 * swapper_pg_dir at TTBR1_BADDR_4852_OFFSET (asm/pgtable-hwdef.h / assembler.h, 5.4+); indexing
 * with the configured 52 bits from swapper_pg_dir reaches the same entries, because a kernel
 * address has bits [51:48] all set. 4/16 KiB kernels (6.9+) fold the extra level at run time
 * instead, so for them the VA size in use decides.
 */
import { FaultError, UnsupportedError, hex } from '@kbtf/binary';
import type { PhysicalMemory, VmcoreInfo } from '@kbtf/vmcore';
import type { Translation } from './x86_64.js';

export interface Arm64Paging {
  /** Physical address of the top-level table (swapper_pg_dir − kimage_voffset). */
  root: bigint;
  /** 12, 14 or 16. */
  pageShift: number;
  /** The VA size the walk indexes with (the top level's width follows from it). */
  vaBits: number;
  /** How the output address is assembled from a descriptor. */
  pa: 'pa48' | 'lpa' | 'lpa2';
  /** Pointer-authentication bits of kernel addresses (NUMBER(KERNELPACMASK)); 0n when absent. */
  pacMask: bigint;
}

/** The level names as the kernel calls them, from the root down; the top is always `pgd`. */
const LOWER_LEVELS = ['p4d', 'pud', 'pmd', 'pte'] as const;

/** ARM64_HW_PGTABLE_LEVELS(va_bits), pgtable-hwdef.h. */
export function arm64Levels(vaBits: number, pageShift: number): number {
  return Math.floor((vaBits - 4) / (pageShift - 3));
}

function levelNames(levels: number): string[] {
  return ['pgd', ...LOWER_LEVELS.slice(LOWER_LEVELS.length - (levels - 1))];
}

/** The paging set-up of an arm64 kernel, from its VMCOREINFO. */
export function arm64Paging(info: VmcoreInfo): Arm64Paging {
  const swapper = info.symbols.get('swapper_pg_dir');
  const voffset = info.numbers.get('kimage_voffset');
  const vaConfig = info.numbers.get('VA_BITS');
  if (swapper === undefined) throw new UnsupportedError('VMCOREINFO lacks SYMBOL(swapper_pg_dir): cannot find the page tables');
  if (voffset === undefined) throw new UnsupportedError('VMCOREINFO lacks NUMBER(kimage_voffset) (kernels before 4.12): cannot find swapper_pg_dir physically');
  const pageSize = info.pageSize ?? 4096;
  const pageShift = Math.log2(pageSize);
  if (![12, 14, 16].includes(pageShift)) throw new UnsupportedError(`arm64 PAGESIZE=${pageSize}: only 4, 16 and 64 KiB granules exist`);
  const t1sz = info.numbers.get('TCR_EL1_T1SZ');
  const vaActual = t1sz !== undefined ? 64 - Number(t1sz) : vaConfig !== undefined ? Number(vaConfig) : undefined;
  if (vaActual === undefined) throw new UnsupportedError('VMCOREINFO lacks NUMBER(VA_BITS) and NUMBER(TCR_EL1_T1SZ): cannot size the page tables');
  if (vaActual <= pageShift + 3 || vaActual > 52) throw new UnsupportedError(`arm64 VA size ${vaActual} bits (from VMCOREINFO) is impossible`);
  let vaBits = vaActual;
  // 64 KiB pages, 52-bit configuration, 48 bits in use: same number of levels, TTBR1 offset into
  // swapper_pg_dir; the configured width from swapper_pg_dir indexes the same entries.
  if (vaConfig !== undefined && Number(vaConfig) > vaActual && arm64Levels(Number(vaConfig), pageShift) === arm64Levels(vaActual, pageShift)) vaBits = Number(vaConfig);
  const pa = pageShift === 16 ? 'lpa' : vaActual === 52 ? 'lpa2' : 'pa48';
  return { root: BigInt.asUintN(64, swapper - voffset), pageShift, vaBits, pa, pacMask: info.numbers.get('KERNELPACMASK') ?? 0n };
}

/** A descriptor's output address (next table, block or page), before the in-page offset. */
export function arm64OutputAddress(entry: bigint, paging: Pick<Arm64Paging, 'pageShift' | 'pa'>): bigint {
  const low = ((1n << 48n) - 1n) & ~((1n << BigInt(paging.pageShift)) - 1n);
  switch (paging.pa) {
    case 'pa48':
      return entry & low;
    case 'lpa':
      return (entry & low) | ((entry & 0xf000n) << 36n);
    case 'lpa2':
      return (entry & (low | (3n << 48n))) | ((entry & 0x300n) << 42n);
  }
}

/**
 * Strip pointer-authentication bits from a kernel address (a saved return address, say): the
 * kernel half keeps its upper bits all set (ptrauth_strip_kernel_insn_pac, asm/pointer_auth.h).
 * Page-table entries never carry them.
 */
export function stripPac(vaddr: bigint, pacMask: bigint): bigint {
  if (pacMask === 0n) return vaddr;
  return (vaddr & (1n << 55n)) !== 0n ? vaddr | pacMask : vaddr & ~pacMask;
}

const U64 = (1n << 64n) - 1n;

/**
 * Translate `vaddr` through swapper_pg_dir. Throws FaultError (space 'virtual') naming the address
 * and the level whose descriptor was invalid or unreadable. `tables` (one per dump) remembers the
 * last-level table of each region one such table covers.
 */
export function translateArm64(mem: PhysicalMemory, paging: Arm64Paging, vaddr: bigint, tables?: Map<number, bigint>): Translation {
  vaddr = stripPac(vaddr, paging.pacMask) & U64;
  if (vaddr < ((U64 << BigInt(paging.vaBits)) & U64)) {
    throw new FaultError('virtual', vaddr, 'not-mapped', `below the kernel half of a ${paging.vaBits}-bit VA space (TTBR1)`);
  }
  const stride = paging.pageShift - 3;
  const levels = arm64Levels(paging.vaBits, paging.pageShift);
  const names = levelNames(levels);
  const topBits = ((paging.vaBits - paging.pageShift - 1) % stride) + 1;
  let table = paging.root;
  let first = 0;
  const lastRegionShift = BigInt(paging.pageShift + stride);
  const region = tables ? Number((vaddr & ((1n << BigInt(paging.vaBits)) - 1n)) >> lastRegionShift) : 0;
  const known = tables?.get(region);
  if (known !== undefined) {
    table = known;
    first = levels - 1;
  }
  for (let level = first; level < levels; level++) {
    const last = level === levels - 1;
    if (last && known === undefined) tables?.set(region, table);
    const shift = paging.pageShift + stride * (levels - 1 - level);
    const bits = level === 0 ? topBits : stride;
    const index = (vaddr >> BigInt(shift)) & ((1n << BigInt(bits)) - 1n);
    const entryAddr = table + index * 8n;
    const entry = readEntry(mem, entryAddr, vaddr, names[level]);
    const type = entry & 3n;
    // The MMU's level number: the last level is 3, a 5-level walk starts at −1. Blocks exist at
    // levels 1 and 2, and at level 0 only with 4 KiB pages and LPA2 (512 GiB).
    const hwLevel = 4 - levels + level;
    const block = type === 1n && !last && (hwLevel >= 1 || (hwLevel === 0 && paging.pa === 'lpa2' && paging.pageShift === 12));
    if (!block && type !== 3n) {
      throw new FaultError('virtual', vaddr, 'not-mapped', `${names[level]} descriptor ${hex(entry)} not valid`);
    }
    const out = arm64OutputAddress(entry, paging);
    if (block || last) {
      const pageMask = (1n << BigInt(shift)) - 1n;
      // KernelMemory caches at 4 KiB, 2 MiB and 1 GiB: report the largest of those the mapping covers.
      const pageShift = shift >= 30 ? 30 : shift >= 21 ? 21 : 12;
      return { paddr: (out & ~pageMask) | (vaddr & pageMask), pageShift };
    }
    table = out;
  }
  /* c8 ignore next */
  throw new FaultError('virtual', vaddr, 'not-mapped', 'page walk ended without a page');
}

function readEntry(mem: PhysicalMemory, entryAddr: bigint, vaddr: bigint, level: string): bigint {
  try {
    const b = mem.read(entryAddr, 8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    return v;
  } catch (err) {
    const reason = err instanceof FaultError ? err.reason : 'bad-data';
    throw new FaultError('virtual', vaddr, reason, `${level} descriptor at physical ${hex(entryAddr)} unreadable`, { cause: err });
  }
}

/**
 * The fixed translations of arm64 (arch/arm64/include/asm/memory.h), used to cross-check the walk:
 * the kernel image (__pa_symbol: x − kimage_voffset) and the linear map. Since 5.4 the linear map
 * is the lower half of the kernel VA space, PAGE_OFFSET = −(1 << VA_BITS) and
 * __lm_to_phys(x) = x − PAGE_OFFSET + PHYS_OFFSET (a 52-bit kernel on 48-bit hardware lowers
 * memstart_addr instead, arch/arm64/mm/init.c); before 5.4 it was the upper half,
 * PAGE_OFFSET = −(1 << (VA_BITS − 1)) and __pa(x) = (x & ~PAGE_OFFSET) + PHYS_OFFSET. makedumpfile
 * (get_page_offset_arm64) tells the two apart by where _stext lies: above _PAGE_END(VA_BITS_MIN)
 * = −(1 << (min(VA_BITS, 48) − 1)) means the new ("flipped") layout.
 */
export interface Arm64Layout {
  kimageVoffset: bigint;
  physOffset: bigint;
  pageOffset: bigint;
  flipped: boolean;
  /** Linear-map end (exclusive): PAGE_END = _PAGE_END(VA_BITS_MIN) in the flipped layout. */
  linearEnd: bigint;
}

export function arm64Layout(info: VmcoreInfo): Arm64Layout {
  const need = (k: string): bigint => {
    const v = info.numbers.get(k);
    if (v === undefined) throw new UnsupportedError(`VMCOREINFO lacks NUMBER(${k})`);
    return v;
  };
  const va = Number(need('VA_BITS'));
  const stext = info.symbols.get('_stext');
  if (stext === undefined) throw new UnsupportedError('VMCOREINFO lacks SYMBOL(_stext)');
  const pageEnd = BigInt.asUintN(64, -(1n << BigInt(Math.min(va, 48) - 1)));
  const flipped = stext > pageEnd;
  const pageOffset = BigInt.asUintN(64, flipped ? -(1n << BigInt(va)) : -(1n << BigInt(va - 1)));
  return { kimageVoffset: need('kimage_voffset'), physOffset: need('PHYS_OFFSET'), pageOffset, flipped, linearEnd: flipped ? pageEnd : U64 };
}

/**
 * Physical address of a linear-map or kernel-image address by the fixed formulas (not for vmalloc,
 * modules or vmemmap, which only the page tables map).
 */
export function arm64FixedToPhys(layout: Arm64Layout, vaddr: bigint): bigint {
  const linear = vaddr >= layout.pageOffset && vaddr < layout.linearEnd;
  if (linear) return BigInt.asUintN(64, (layout.flipped ? vaddr - layout.pageOffset : vaddr & ~layout.pageOffset) + layout.physOffset);
  return BigInt.asUintN(64, vaddr - layout.kimageVoffset);
}

/** A run of mapped kernel virtual addresses, [start, end). */
export interface MappedRun {
  start: bigint;
  end: bigint;
}

/**
 * The mapped runs of [start, end) by a walk of the tables themselves (not one translation per
 * page): invalid upper-level descriptors skip their whole span, unreadable tables count as
 * unmapped. Adjacent mappings merge into one run.
 */
export function arm64MappedRuns(mem: PhysicalMemory, paging: Arm64Paging, start: bigint, end: bigint): MappedRun[] {
  const runs: MappedRun[] = [];
  const stride = paging.pageShift - 3;
  const levels = arm64Levels(paging.vaBits, paging.pageShift);
  const topBits = ((paging.vaBits - paging.pageShift - 1) % stride) + 1;
  const add = (lo: bigint, hi: bigint): void => {
    const last = runs[runs.length - 1];
    if (last && last.end === lo) last.end = hi;
    else runs.push({ start: lo, end: hi });
  };
  const visit = (table: bigint, level: number, lo: bigint, hi: bigint): void => {
    const shift = BigInt(paging.pageShift + stride * (levels - 1 - level));
    const size = 1n << shift;
    const mask = (1n << BigInt(level === 0 ? topBits : stride)) - 1n;
    let bytes: Uint8Array;
    try {
      bytes = mem.read(table, Number(mask + 1n) * 8);
    } catch (err) {
      if (err instanceof FaultError) return;
      throw err;
    }
    const hwLevel = 4 - levels + level;
    for (let va = lo & ~(size - 1n); va < hi; va += size) {
      const at = Number((va >> shift) & mask) * 8;
      let e = 0n;
      for (let i = 7; i >= 0; i--) e = (e << 8n) | BigInt(bytes[at + i]);
      const type = e & 3n;
      const from = va > lo ? va : lo;
      const to = va + size < hi ? va + size : hi;
      if (level === levels - 1) {
        if (type === 3n) add(from, to);
      } else if (type === 1n && hwLevel >= 1) add(from, to);
      else if (type === 3n) visit(arm64OutputAddress(e, paging), level + 1, from, to);
    }
  };
  const min = (U64 << BigInt(paging.vaBits)) & U64;
  if (end > min) visit(paging.root, 0, start > min ? start : min, end);
  return runs;
}

/** An address arm64 code computes (arm64AddressRefs), and the width of the load at it (0: none). */
export interface Arm64Ref {
  address: bigint;
  load: number;
}

/**
 * The addresses of globals arm64 code at `pc` computes: an ADRP puts a 4 KiB page (±4 GiB of the
 * instruction) in a register, ADDs of immediates to it or to a register derived from it give
 * addresses (GCC's section anchors reach several globals from one base), and a load or store at an
 * immediate offset from such a register touches the word at that address: a global's value, or
 * the GOT slot holding the address of a weak one (Arm ARM C6.2.11 ADRP, C6.2.4 ADD (immediate),
 * C6.2.132 LDR (immediate), C6.2.304 STR (immediate), C6.2.170 LDUR). Other instructions are not followed: a
 * register one of them overwrote can yield a wrong address, so every result is a candidate to
 * check, never a symbol. In code order, each address once (a load's width wins over an ADD).
 */
export function arm64AddressRefs(code: Uint8Array, pc: bigint): Arm64Ref[] {
  const regs = new Array<bigint | undefined>(32);
  const found = new Map<bigint, number>();
  const emit = (address: bigint, load: number): void => {
    if ((found.get(address) ?? 0) < load || !found.has(address)) found.set(address, load);
  };
  const words = Buffer.from(code.buffer, code.byteOffset, code.byteLength);
  for (let i = 0; i + 4 <= code.length; i += 4) {
    const insn = words.readUInt32LE(i);
    const rd = insn & 31;
    const base = regs[(insn >>> 5) & 31];
    if ((insn & 0x9f000000) >>> 0 === 0x90000000) {
      // ADRP Xd, label: immhi:immlo is a signed 21-bit count of pages from the instruction's page.
      let imm = (((insn >>> 5) & 0x7ffff) << 2) | ((insn >>> 29) & 3);
      if (imm & 0x100000) imm -= 0x200000;
      const page = BigInt.asUintN(64, pc + BigInt(i)) & ~0xfffn;
      regs[rd] = BigInt.asUintN(64, page + (BigInt(imm) << 12n));
    } else if ((insn & 0xff800000) >>> 0 === 0x91000000) {
      // ADD Xd, Xn, #imm12{, LSL #12} (64-bit, no flags).
      const value = base === undefined ? undefined : BigInt.asUintN(64, base + (BigInt((insn >>> 10) & 0xfff) << ((insn >>> 22) & 1 ? 12n : 0n)));
      regs[rd] = value;
      if (value !== undefined) emit(value, 0);
    } else if ((insn & 0x3f000000) >>> 0 === 0x39000000) {
      // LDR/STR{B,H,W,} (integer), unsigned offset: size = 1 << insn[31:30], imm12 scaled by it;
      // opc (insn[23:22]) 0 is a store, anything else a load into Rt.
      const size = 1 << (insn >>> 30);
      const load = (insn >>> 22) & 3 ? size : 0;
      if (base !== undefined) emit(BigInt.asUintN(64, base + BigInt(((insn >>> 10) & 0xfff) * size)), load);
      if (load) regs[rd] = undefined;
    } else if ((insn & 0x3f200000) >>> 0 === 0x38000000 && ((insn >>> 10) & 3) !== 2) {
      // LDUR/STUR (insn[11:10] = 0) and LDR/STR pre-index (3) and post-index (1), signed imm9
      // unscaled: the access is at Rn + imm9 (unscaled, pre) or Rn (post); pre and post write
      // Rn + imm9 back to Rn (`ldr x0, [x22, #80]!`).
      const mode = (insn >>> 10) & 3;
      const size = 1 << (insn >>> 30);
      const load = (insn >>> 22) & 3 ? size : 0;
      const imm = ((insn >>> 12) & 0x1ff) - ((insn >>> 12) & 0x100 ? 0x200 : 0);
      const moved = base === undefined ? undefined : BigInt.asUintN(64, base + BigInt(imm));
      if (base !== undefined) emit(mode === 1 ? base : moved!, load);
      if (mode !== 0) regs[(insn >>> 5) & 31] = moved;
      if (load) regs[rd] = undefined;
    }
  }
  return [...found].map(([address, load]) => ({ address, load }));
}
