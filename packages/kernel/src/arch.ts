/**
 * The architecture table: what differs between architectures for reading a kernel from a dump, in
 * the manner of drgn's `struct drgn_architecture_info`: x86_64 and arm64. The dump's machine (ELF
 * e_machine, the kdump header's utsname.machine) and VMCOREINFO decide, and must agree.
 */
import { UnsupportedError } from '@kbtf/binary';
import { arm64Paging, translateArm64 } from './arm64.js';
import type { PhysicalMemory, VmcoreInfo } from '@kbtf/vmcore';
import { paSymbol, translateX86_64, type Translation, type X86_64Paging } from './x86_64.js';

/** Translate one kernel virtual address to physical. Throws FaultError (space 'virtual'). */
export type Translator = (vaddr: bigint) => Translation;

export interface Arch {
  name: string;
  /** The dump's machine name for it (`Vmcore.machine`: ELF e_machine or kdump utsname.machine). */
  machine: string;
  /** Whether this VMCOREINFO was written by a kernel of this architecture. */
  matches(info: VmcoreInfo): boolean;
  /** A page-table translator set up from VMCOREINFO. */
  translator(mem: PhysicalMemory, info: VmcoreInfo): Translator;
  /** Whether an address lies in the kernel half (a segment covering others is not trusted). */
  isKernelAddress: (vaddr: bigint) => boolean;
}

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new UnsupportedError(`VMCOREINFO lacks ${what}: cannot find the page tables`);
  return value;
}

export const x86_64: Arch = {
  name: 'x86_64',
  machine: 'x86_64',
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

export const arm64: Arch = {
  name: 'arm64',
  machine: 'aarch64',
  // arch_crash_save_vmcoreinfo() in arch/arm64/kernel/crash_core.c (4.12–6.8; vmcore_info.c since
  // 6.9) writes NUMBER(VA_BITS), NUMBER(kimage_voffset), NUMBER(PHYS_OFFSET) and, 5.9+,
  // NUMBER(TCR_EL1_T1SZ); x86_64 writes none of them.
  matches: (info) => info.numbers.has('kimage_voffset') || info.numbers.has('VA_BITS') || info.numbers.has('TCR_EL1_T1SZ'),
  translator(mem, info) {
    const paging = arm64Paging(info);
    const tables = new Map<number, bigint>();
    return (vaddr) => translateArm64(mem, paging, vaddr, tables);
  },
  // TTBR1 covers −(1 << VA_BITS) up, VA_BITS ≤ 52: the kernel half has its top 12 bits set.
  isKernelAddress: (vaddr) => vaddr >= 0xfff0000000000000n,
};

export const architectures: readonly Arch[] = [x86_64, arm64];

/**
 * The architecture of a dump: its machine (ELF e_machine, kdump utsname.machine) and VMCOREINFO
 * must agree; a machine name kbtf does not know (QEMU writes "Unknown" in the kdump header of
 * targets without ELF_MACHINE_UNAME) leaves the choice to VMCOREINFO, an ELF e_machine it does not
 * know is unsupported.
 */
export function detectArch(info: VmcoreInfo, machine?: string): Arch {
  if (machine?.startsWith('elf-machine-')) throw new UnsupportedError(`ELF e_machine ${machine.slice(12)} is not supported (x86_64 and aarch64 are)`);
  const byInfo = architectures.filter((a) => a.matches(info));
  const byMachine = machine ? architectures.find((a) => a.machine === machine) : undefined;
  if (byMachine && byInfo.length > 0 && !byInfo.includes(byMachine)) {
    throw new UnsupportedError(`the dump's machine '${machine}' contradicts its VMCOREINFO, which is ${byInfo[0].name}'s`);
  }
  const arch = byMachine ?? byInfo[0];
  if (!arch) throw new UnsupportedError('VMCOREINFO names no supported architecture (x86_64 and arm64 are implemented)');
  return arch;
}
