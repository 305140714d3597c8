/**
 * x86_64 virtual → physical translation by walking the kernel page tables, the way the MMU does.
 *
 * The root is `swapper_pg_dir` (= `init_top_pgt`), whose physical address needs no translation:
 * kernel image addresses are linear above `__START_KERNEL_map`, so
 *   __pa_symbol(x) = x − __START_KERNEL_map + phys_base          (arch/x86/include/asm/page_64.h)
 * where x is the runtime (KASLR-relocated) address VMCOREINFO's SYMBOL() records and phys_base is
 * VMCOREINFO's NUMBER(phys_base).
 *
 * Each level indexes 9 bits of the address: PML5 (bits 48–56, only with 5-level paging, VMCOREINFO
 * NUMBER(pgtable_l5_enabled), kernel 4.17+), PML4 (39–47), PUD (30–38), PMD (21–29), PTE (12–20).
 * An entry is present when bit 0 is set; bit 7 (PSE) at the PUD or PMD level maps a 1 GiB or 2 MiB
 * page. The next table's (or the page's) physical address is the entry masked by PTE_PFN_MASK: bits
 * 12–51 (__PHYSICAL_MASK_SHIFT = 52, arch/x86/include/asm/page_64_types.h), which drops NX (bit 63)
 * and the protection-key bits (59–62). With AMD SME the encryption bit (`sme_me_mask`, VMCOREINFO
 * NUMBER(sme_mask), 4.14+) lies inside that range and is cleared too.
 */
import { Cursor, FaultError, hex } from '@kbtf/binary';
import type { PhysicalMemory } from '@kbtf/vmcore';

/** __START_KERNEL_map (arch/x86/include/asm/page_64_types.h). */
export const START_KERNEL_MAP = 0xffffffff80000000n;
/** PTE_PFN_MASK with __PHYSICAL_MASK_SHIFT = 52: bits 12–51. */
export const X86_64_PFN_MASK = ((1n << 52n) - 1n) & ~0xfffn;

const PRESENT = 1n;
const PSE = 1n << 7n;
const ENTRY_SIZE = 8;

/** The level names as the kernel calls them, from the root down (5-level first). */
const LEVELS = ['pgd', 'p4d', 'pud', 'pmd', 'pte'] as const;

export interface X86_64Paging {
  /** Physical address of the top-level table (swapper_pg_dir). */
  root: bigint;
  /** 4 or 5. */
  levels: 4 | 5;
  /** AMD SME encryption bit(s) to clear from every entry; 0n when absent. */
  smeMask: bigint;
}

/** The result of translating one address: where it lives and how large the mapping page is. */
export interface Translation {
  paddr: bigint;
  /** log2 of the mapping's page size: 12, 21 or 30. */
  pageShift: number;
}

/** Physical address of a kernel-image symbol (`__pa_symbol`). */
export function paSymbol(vaddr: bigint, physBase: bigint): bigint {
  return vaddr - START_KERNEL_MAP + physBase;
}

/**
 * Translate `vaddr` through the page tables. Throws FaultError (space 'virtual', reason
 * 'not-mapped') naming the address and the level whose entry was not present; a physical read that
 * fails (an excluded page-table page, say) is rethrown as a virtual fault naming the level too.
 * `pteTables` (one per dump) remembers the last-level table of each 2 MiB region walked.
 */
export function translateX86_64(mem: PhysicalMemory, paging: X86_64Paging, vaddr: bigint, pteTables?: Map<number, bigint>): Translation {
  const mask = X86_64_PFN_MASK & ~paging.smeMask;
  let table = paging.root;
  let first = paging.levels === 5 ? 0 : 1;
  // The page tables of a dump do not change: the last-level table of each 2 MiB region, once
  // found, serves every other 4 KiB page in it with one read instead of four or five.
  const region = pteTables ? Number(vaddr >> 21n) : 0;
  const known = pteTables?.get(region);
  if (known !== undefined) {
    table = known;
    first = LEVELS.length - 1;
  }
  for (let level = first; level < LEVELS.length; level++) {
    if (level === LEVELS.length - 1 && known === undefined) pteTables?.set(region, table);
    const shift = 12 + 9 * (LEVELS.length - 1 - level);
    const index = (vaddr >> BigInt(shift)) & 0x1ffn;
    const entryAddr = table + index * BigInt(ENTRY_SIZE);
    let entry: bigint;
    try {
      entry = new Cursor(mem.read(entryAddr, ENTRY_SIZE), { source: 'page table', littleEndian: true }).u64At(0);
    } catch (err) {
      const reason = err instanceof FaultError ? err.reason : 'bad-data';
      throw new FaultError('virtual', vaddr, reason, `${LEVELS[level]} entry at physical ${hex(entryAddr)} unreadable`, { cause: err });
    }
    if ((entry & PRESENT) === 0n) {
      throw new FaultError('virtual', vaddr, 'not-mapped', `${LEVELS[level]} entry not present`);
    }
    const large = (LEVELS[level] === 'pud' || LEVELS[level] === 'pmd') && (entry & PSE) !== 0n;
    if (large || LEVELS[level] === 'pte') {
      const pageMask = (1n << BigInt(shift)) - 1n;
      return { paddr: (entry & mask & ~pageMask) | (vaddr & pageMask), pageShift: shift };
    }
    table = entry & mask;
  }
  /* c8 ignore next */
  throw new FaultError('virtual', vaddr, 'not-mapped', 'page walk ended without a page');
}
