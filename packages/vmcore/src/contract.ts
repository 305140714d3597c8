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
  /**
   * `read` into `dest` at `at` instead of a new buffer (a scan that reads megabytes through one
   * buffer). On a fault, `dest` holds what was read before it.
   */
  readInto?(paddr: bigint, length: number, dest: Uint8Array, at: number): void;
  /**
   * What `read` checks, without returning the bytes: throws the FaultError `read` would throw
   * (every page stored, and a compressed page decoded), else returns. For a check of tens of
   * thousands of variables, some of them megabytes, that needs no value.
   */
  check(paddr: bigint, length: number): void;
  /** True when the whole range can be read without a fault. */
  isPresent(paddr: bigint, length: number): boolean;
  /** Page size of the dump (4096 on x86_64). */
  readonly pageSize: number;
  /**
   * True when the dump stores every page whole or not at all (kdump: one descriptor per page), so
   * that a check of any bytes of a page answers for all of them. Not an ELF core: a segment may end
   * inside a page.
   */
  readonly wholePages?: boolean;
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
  /** The machine the dump names (VmcoreDetails.machine), when its reader knows it. */
  readonly machine?: string;
  close(): void;
}

// ---------------------------------------------------------------------------------------------
// Extensions (issue 5): what `kbtf info` and the layers above may want to know about a dump.
// ---------------------------------------------------------------------------------------------

/** State of a physical page (or range) in a dump. */
export type PageState = 'present' | 'excluded' | 'lost' | 'not-in-dump';

/** A run of physical addresses in one state; `end` is exclusive. */
export interface PhysRange {
  start: bigint;
  end: bigint;
  state: PageState;
}

/** An ELF note (from an ELF core or the note blob of a kdump sub-header). */
export interface ElfNote {
  name: string;
  type: number;
  /** Offset of the descriptor in its file (kdump: in the note blob's file). */
  descOffset: number;
  desc: Uint8Array;
}

/** Registers of one CPU from an NT_PRSTATUS note, named per architecture. */
export interface PrStatus {
  /** Index of the note among the NT_PRSTATUS notes (usually the CPU number). */
  index: number;
  pid: number;
  signal: number;
  registers: Record<string, bigint>;
}

/** Page counts; `zero` counts pages stored as one shared page (kdump) where known. */
export interface PageCounts {
  /** Pages the dump can serve. */
  present: number;
  /** Pages the dump describes but filtered out (makedumpfile dump level). */
  excluded: number;
  /** Pages an incomplete dump lost. */
  lost: number;
  /** Present pages that share one stored zero page (kdump descriptors with a common offset). */
  zero: number | undefined;
}

/** Format-specific header fields, for `kbtf info`. Values are numbers, bigints or strings. */
export type HeaderFields = Record<string, string | number | bigint | boolean | null>;

/** Extra, optional services of an opened dump. Every Vmcore openVmcore returns has them. */
export interface VmcoreDetails {
  /** Architecture from the ELF e_machine or the kdump utsname ("x86_64", "aarch64", …). */
  readonly machine: string;
  /** phys_base: VMCOREINFO NUMBER(phys_base) when present, else the kdump sub-header's. */
  readonly physBase: bigint | undefined;
  /** Header fields (ELF header / disk_dump_header + kdump_sub_header / flattened header). */
  readonly header: HeaderFields;
  /** All notes found. */
  readonly notes: readonly ElfNote[];
  /** NT_PRSTATUS notes, parsed. */
  readonly prstatus: readonly PrStatus[];
  /** Compression methods used by the pages ("zlib", "lzo", "snappy", "zstd", "none"). */
  compression(): string[];
  /** Present / excluded / lost / not-in-dump as sorted, merged ranges. */
  ranges(): PhysRange[];
  /** Page counts (may read every page descriptor: call it for reports, not per read). */
  pageCounts(): PageCounts;
  /** Bytes read from the dump file(s) so far. */
  readonly bytesRead: number;
  /** Total size of the dump file(s). */
  readonly fileSize: number;
}
