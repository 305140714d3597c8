/**
 * The architecture table: what differs between architectures for reading a kernel from a dump, in
 * the manner of drgn's `struct drgn_architecture_info`. Only x86_64 is implemented; arm64 (and
 * others) add an entry here with their own page-table walk.
 */
import { UnsupportedError } from '@kbtf/binary';
import type { PhysicalMemory, VmcoreInfo } from '@kbtf/vmcore';
import { paSymbol, translateX86_64, type Translation, type X86_64Paging } from './x86_64.js';

/** Translate one kernel virtual address to physical. Throws FaultError (space 'virtual'). */
export type Translator = (vaddr: bigint) => Translation;

export interface Arch {
  name: string;
  /** Whether this VMCOREINFO was written by a kernel of this architecture. */
  matches(info: VmcoreInfo): boolean;
  /** A page-table translator set up from VMCOREINFO. */
  translator(mem: PhysicalMemory, info: VmcoreInfo): Translator;
  /** Whether an address lies in the kernel half (a segment covering others is not trusted). */
  isKernelAddress(vaddr: bigint): boolean;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new UnsupportedError(`VMCOREINFO lacks ${what}: cannot find the page tables`);
  return value;
}

export const x86_64: Arch = {
  name: 'x86_64',
  // arch_crash_save_vmcoreinfo() in arch/x86/kernel/crash_core_64.c (6.1) writes these two;
  // kernels before 4.13 named the top-level table init_level4_pgt (libkdumpfile's test dumps).
  matches: (info) => info.symbols.has('init_top_pgt') || info.symbols.has('init_level4_pgt') || info.numbers.has('pgtable_l5_enabled'),
  translator(mem, info) {
    const pgd = need(info.symbols.get('swapper_pg_dir') ?? info.symbols.get('init_top_pgt') ?? info.symbols.get('init_level4_pgt'), 'SYMBOL(swapper_pg_dir)');
    const physBase = need(info.physBase ?? info.numbers.get('phys_base'), 'NUMBER(phys_base)');
    const paging: X86_64Paging = {
      root: paSymbol(pgd, physBase),
      levels: info.numbers.get('pgtable_l5_enabled') === 1n ? 5 : 4,
      smeMask: info.numbers.get('sme_mask') ?? 0n,
    };
    const pteTables = new Map<number, bigint>();
    return (vaddr) => translateX86_64(mem, paging, vaddr, pteTables);
  },
  isKernelAddress: (vaddr) => vaddr >= 0xff00000000000000n,
};

export const architectures: readonly Arch[] = [x86_64];

export function detectArch(info: VmcoreInfo): Arch {
  const arch = architectures.find((a) => a.matches(info));
  if (!arch) throw new UnsupportedError('VMCOREINFO names no supported architecture (only x86_64 is implemented)');
  return arch;
}
