/**
 * The contract between @kbtf/vmcore and the layers above it. Readers are synchronous: a dump is a
 * local file, reads are small and frequent (page-table walks, kallsyms), and a bounded page cache
 * sits in front of the file.
 */

/** Physical memory as served from a dump. All addresses are physical, bigint. */
export interface PhysicalMemory {
  /**
   * Read `length` bytes at `paddr`, across page boundaries. Throws FaultError (space 'physical')
   * naming the first failing address and the reason: 'excluded' (makedumpfile dump level),
   * 'not-in-dump', 'lost' (incomplete dump). Never returns silent zeros for a missing page.
   */
  read(paddr: bigint, length: number): Uint8Array;
  /** True when the whole range can be read without a fault. */
  isPresent(paddr: bigint, length: number): boolean;
  /** Page size of the dump (4096 on x86_64). */
  readonly pageSize: number;
}

/** A segment of an ELF core: where a kernel virtual address range lives physically, if known. */
export interface VirtualSegment {
  vaddr: bigint;
  paddr: bigint;
  /** Bytes backed by the file. */
  fileSize: bigint;
  /** Bytes of memory the segment describes (> fileSize when makedumpfile excluded pages). */
  memSize: bigint;
}

/** VMCOREINFO as the kernel writes it (kernel/crash_core.c), parsed. */
export interface VmcoreInfo {
  /** The text exactly as found. */
  raw: string;
  osRelease?: string;
  buildId?: string;
  pageSize?: number;
  /** KERNELOFFSET= (hex): the KASLR slide. */
  kernelOffset?: bigint;
  /** NUMBER(phys_base), signed decimal. */
  physBase?: bigint;
  /** SYMBOL(name)=hex address. */
  symbols: Map<string, bigint>;
  /** OFFSET(type.member)=decimal. */
  offsets: Map<string, number>;
  /** SIZE(type)=decimal. */
  sizes: Map<string, number>;
  /** LENGTH(name)=decimal. */
  lengths: Map<string, number>;
  /** NUMBER(name)=signed decimal. */
  numbers: Map<string, bigint>;
  /** Every other KEY=value line. */
  other: Map<string, string>;
}

export type VmcoreFormat = 'elf' | 'kdump' | 'kdump-flattened' | 'kdump-split';

/** An opened dump. Close it to release the file descriptors. */
export interface Vmcore extends PhysicalMemory {
  readonly path: string;
  readonly format: VmcoreFormat;
  /** The dump was marked incomplete (ELF e_flags bit 0, kdump status 0x8). */
  readonly incomplete: boolean;
  /** Parsed VMCOREINFO, from the ELF note or the kdump sub-header; undefined when absent. */
  readonly vmcoreinfo: VmcoreInfo | undefined;
  /**
   * Segments with kernel virtual addresses (kdump's /proc/vmcore, QEMU paging=true). Empty when the
   * dump records no usable virtual addresses (kdump-compressed, QEMU paging=false): translate then
   * through the page tables.
   */
  readonly virtualSegments: readonly VirtualSegment[];
  close(): void;
}
