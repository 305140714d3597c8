/**
 * ELF cores: kdump's /proc/vmcore, /proc/kcore, QEMU dump-guest-memory, makedumpfile -E.
 *
 * Layout facts handled here (docs/vmcore.md; docs/design.md §5; seen in real dumps):
 * - Trust e_phoff, not e_ehsize: QEMU 7.2 writes a wrong e_ehsize and puts two section headers
 *   between the ELF header and the program headers.
 * - PN_XNUM: when e_phnum = 0xffff the real count is section 0's sh_info (QEMU paging=true writes
 *   one PT_LOAD per mapping, tens of thousands).
 * - makedumpfile -E: a PT_LOAD with p_filesz < p_memsz has its tail excluded; e_flags bit 0 marks
 *   an incomplete dump.
 * - Virtual addresses: /proc/vmcore and QEMU paging=true record real kernel virtual addresses; QEMU
 *   paging=false writes 0 or vaddr = paddr. Only the former become `virtualSegments`.
 * - /proc/kcore marks segments with no physical address with p_paddr = -1; those are skipped
 *   for the physical view. Where PT_LOADs overlap physically, the first (lowest paddr, then file
 *   order) wins and later ones are clipped.
 */
import { BadDataError, Cursor, FaultError, UnsupportedError, hex } from '@kbtf/binary';
import { PieceCache } from './block-cache.js';
import { machineByElf, parsePrStatus, type Machine } from './machine.js';
import { NT_PRSTATUS, parseNotes, vmcoreInfoText } from './notes.js';
import { PhysicalReader, pushRange, type StateRun } from './physical.js';
import type { ByteSource } from './source.js';
import type { ElfNote, HeaderFields, PageCounts, PhysRange, PrStatus, Vmcore, VmcoreDetails, VmcoreFormat, VmcoreInfo, VirtualSegment } from './contract.js';
import { parseVmcoreInfo } from './vmcoreinfo.js';

export const ELF_MAGIC = 0x7f454c46; // "\x7fELF" read big-endian
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const ET_CORE = 4;
const PT_LOAD = 1;
const PT_NOTE = 4;
const PN_XNUM = 0xffff;
const EHDR64_SIZE = 64;
const PHDR64_SIZE = 56;
const SHDR64_SIZE = 64;
const EF_INCOMPLETE = 1; // makedumpfile: dump was cut short (ENOSPC)
const NO_PADDR = 0xffffffffffffffffn;
const KERNEL_SPACE = 0x8000000000000000n;

export interface ElfHeader {
  littleEndian: boolean;
  type: number;
  machine: number;
  flags: number;
  ehsize: number;
  phoff: number;
  phentsize: number;
  /** The real program header count (after PN_XNUM). */
  phnum: number;
  rawPhnum: number;
  shoff: number;
  shnum: number;
  entry: bigint;
}

export interface ProgramHeader {
  type: number;
  flags: number;
  offset: number;
  vaddr: bigint;
  paddr: bigint;
  filesz: bigint;
  memsz: bigint;
}

/** A PT_LOAD in the physical index (after clipping overlaps). */
interface LoadSegment {
  paddr: bigint;
  fileEnd: bigint;
  memEnd: bigint;
  offset: number;
}

/** Parse the ELF64 header at the start of `source`. */
export function readElfHeader(source: ByteSource): ElfHeader {
  const head = source.read(0, EHDR64_SIZE, 'ELF header');
  if (head[4] !== ELFCLASS64) throw new UnsupportedError(`${source.name}: ELF class ${head[4]} (only ELF64 cores are supported)`);
  if (head[5] !== ELFDATA2LSB && head[5] !== ELFDATA2MSB) throw new BadDataError(source.name, 5, `bad ELF data encoding ${head[5]}`);
  const c = new Cursor(head, { source: source.name, littleEndian: head[5] === ELFDATA2LSB });
  const h: ElfHeader = {
    littleEndian: c.littleEndian,
    type: c.u16At(16),
    machine: c.u16At(18),
    entry: c.u64At(24),
    phoff: c.u64NumberAt(32, 'e_phoff'),
    shoff: c.u64NumberAt(40, 'e_shoff'),
    flags: c.u32At(48),
    ehsize: c.u16At(52),
    phentsize: c.u16At(54),
    rawPhnum: c.u16At(56),
    phnum: c.u16At(56),
    shnum: c.u16At(60),
  };
  if (h.type !== ET_CORE) throw new UnsupportedError(`${source.name}: ELF type ${h.type} is not a core file (ET_CORE)`);
  if (h.phentsize !== PHDR64_SIZE) throw new BadDataError(source.name, 54, `e_phentsize ${h.phentsize} (expected ${PHDR64_SIZE})`);
  if (h.rawPhnum === PN_XNUM) {
    if (h.shoff === 0) throw new BadDataError(source.name, 56, 'e_phnum is PN_XNUM but there is no section header 0');
    const sh0 = new Cursor(source.read(h.shoff, SHDR64_SIZE, 'section header 0'), { source: source.name, littleEndian: h.littleEndian, base: h.shoff });
    h.phnum = sh0.u32At(44);
  }
  if (h.phoff + h.phnum * PHDR64_SIZE > source.size) {
    throw new BadDataError(source.name, h.phoff, `truncated: ${h.phnum} program headers past end of file (${source.size})`);
  }
  return h;
}

export function readProgramHeaders(source: ByteSource, h: ElfHeader): ProgramHeader[] {
  const bytes = source.read(h.phoff, h.phnum * PHDR64_SIZE, 'program headers');
  const c = new Cursor(bytes, { source: source.name, littleEndian: h.littleEndian, base: h.phoff });
  const out: ProgramHeader[] = [];
  for (let i = 0; i < h.phnum; i++) {
    const at = i * PHDR64_SIZE;
    out.push({
      type: c.u32At(at),
      flags: c.u32At(at + 4),
      offset: c.u64NumberAt(at + 8, 'p_offset'),
      vaddr: c.u64At(at + 16),
      paddr: c.u64At(at + 24),
      filesz: c.u64At(at + 32),
      memsz: c.u64At(at + 40),
    });
  }
  return out;
}

export class ElfCore extends PhysicalReader implements Vmcore, VmcoreDetails {
  readonly path: string;
  readonly format: VmcoreFormat;
  readonly pageSize: number;
  readonly incomplete: boolean;
  readonly vmcoreinfo: VmcoreInfo | undefined;
  readonly virtualSegments: readonly VirtualSegment[];
  readonly notes: readonly ElfNote[];
  readonly prstatus: readonly PrStatus[];
  readonly machine: string;
  readonly elf: ElfHeader;
  readonly programHeaders: readonly ProgramHeader[];
  private readonly segments: LoadSegment[];
  private readonly pieces: PieceCache;

  constructor(
    private readonly source: ByteSource,
    options: { format?: VmcoreFormat; cachePages?: number; extraHeader?: HeaderFields } = {},
  ) {
    super();
    this.path = source.name;
    this.format = options.format ?? 'elf';
    this.extraHeader = options.extraHeader ?? {};
    this.elf = readElfHeader(source);
    const arch: Machine | undefined = machineByElf(this.elf.machine);
    this.machine = arch?.name ?? `elf-machine-${this.elf.machine}`;
    this.programHeaders = readProgramHeaders(source, this.elf);
    this.notes = this.readNotes();
    const text = vmcoreInfoText(this.notes);
    this.vmcoreinfo = text === undefined ? undefined : parseVmcoreInfo(text);
    this.pageSize = this.vmcoreinfo?.pageSize ?? arch?.pageSize ?? 4096;
    this.incomplete = (this.elf.flags & EF_INCOMPLETE) !== 0;
    this.prstatus = arch ? prstatusOf(this.notes, arch, this.elf.littleEndian, source.name) : [];
    this.segments = buildIndex(this.programHeaders, source);
    this.virtualSegments = virtualSegmentsOf(this.programHeaders);
    this.pieces = new PieceCache(source, options.cachePages ?? 1024);
  }

  private readonly extraHeader: HeaderFields;

  get physBase(): bigint | undefined {
    return this.vmcoreinfo?.physBase;
  }
  get bytesRead(): number {
    return this.source.bytesRead;
  }
  get fileSize(): number {
    return this.source.diskSize ?? this.source.size;
  }

  get header(): HeaderFields {
    const e = this.elf;
    return {
      ...this.extraHeader,
      e_machine: e.machine,
      byteOrder: e.littleEndian ? 'little' : 'big',
      e_flags: e.flags,
      e_ehsize: e.ehsize,
      e_phoff: e.phoff,
      e_phnum: e.rawPhnum,
      programHeaders: e.phnum,
      e_shoff: e.shoff,
      e_shnum: e.shnum,
      loadSegments: this.programHeaders.filter((p) => p.type === PT_LOAD).length,
      noteSegments: this.programHeaders.filter((p) => p.type === PT_NOTE).length,
    };
  }

  private readNotes(): ElfNote[] {
    const notes: ElfNote[] = [];
    for (const p of this.programHeaders) {
      if (p.type !== PT_NOTE) continue;
      if (p.filesz > BigInt(this.source.size)) throw new BadDataError(this.source.name, p.offset, `PT_NOTE size ${p.filesz} larger than the file`);
      const bytes = this.source.read(p.offset, Number(p.filesz), 'PT_NOTE');
      notes.push(...parseNotes(bytes, p.offset, this.elf.littleEndian, this.source.name));
    }
    return notes;
  }

  compression(): string[] {
    return ['none'];
  }

  /** Index of the last segment with paddr ≤ addr, or -1. */
  private find(addr: bigint): number {
    let lo = 0;
    let hi = this.segments.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.segments[mid].paddr <= addr) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }

  stateAt(paddr: bigint): StateRun {
    const i = this.find(paddr);
    const s = this.segments[i];
    if (s && paddr < s.fileEnd) return { state: 'present', end: s.fileEnd };
    if (s && paddr < s.memEnd) return { state: 'excluded', end: s.memEnd };
    const next = this.segments[i + 1];
    return { state: 'not-in-dump', end: next ? next.paddr : paddr + BigInt(this.pageSize) - (paddr % BigInt(this.pageSize)) };
  }

  /**
   * An ELF core stores bytes as they are and every segment's file range was checked against the
   * file when it was opened: a range is readable when segments store it, nothing needs reading. The
   * first address they do not store fails as `read` fails there (chunk's fault).
   */
  override check(paddr: bigint, length: number): void {
    this.checkArguments('check', paddr, length);
    const end = paddr + BigInt(length);
    let at = paddr;
    while (at < end) {
      const s = this.segments[this.find(at)];
      if (!s || at >= s.fileEnd) {
        this.chunk(at, 1); // throws the fault read would
        throw new FaultError('physical', at, 'bad-data', 'not stored by any segment');
      }
      at = s.fileEnd;
    }
  }

  protected chunk(paddr: bigint, maxLen: number): Uint8Array {
    const s = this.segments[this.find(paddr)];
    if (!s || paddr >= s.memEnd) this.fault(paddr, 'not-in-dump');
    if (paddr >= s.fileEnd) this.fault(paddr, this.incomplete ? 'lost' : 'excluded', this.incomplete ? 'incomplete ELF dump' : 'p_filesz < p_memsz');
    // The piece of this page that this segment stores.
    const ps = BigInt(this.pageSize);
    const pageStart = paddr - (paddr % ps);
    const start = pageStart > s.paddr ? pageStart : s.paddr;
    const end = pageStart + ps < s.fileEnd ? pageStart + ps : s.fileEnd;
    const piece = this.pieces.piece(start, s.offset + Number(start - s.paddr), Number(end - start));
    const at = Number(paddr - start);
    return piece.subarray(at, Math.min(piece.byteLength, at + maxLen));
  }

  ranges(): PhysRange[] {
    const out: PhysRange[] = [];
    let prev = 0n;
    for (const s of this.segments) {
      pushRange(out, prev, s.paddr, 'not-in-dump');
      pushRange(out, s.paddr, s.fileEnd, 'present');
      pushRange(out, s.fileEnd, s.memEnd, this.incomplete ? 'lost' : 'excluded');
      prev = s.memEnd;
    }
    return out;
  }

  pageCounts(): PageCounts {
    const ps = BigInt(this.pageSize);
    const counts: PageCounts = { present: 0, excluded: 0, lost: 0, zero: undefined };
    for (const r of this.ranges()) {
      const pages = Number((r.end - r.start + ps - 1n) / ps);
      if (r.state === 'present') counts.present += pages;
      else if (r.state === 'excluded') counts.excluded += pages;
      else if (r.state === 'lost') counts.lost += pages;
    }
    return counts;
  }

  close(): void {
    this.source.close();
  }
}

function prstatusOf(notes: readonly ElfNote[], arch: Machine, le: boolean, source: string): PrStatus[] {
  const out: PrStatus[] = [];
  for (const n of notes) {
    if (n.type !== NT_PRSTATUS || n.name !== 'CORE') continue;
    const p = parsePrStatus(n.desc, arch, le, out.length, source);
    if (p) out.push(p);
  }
  return out;
}

/** Sorted, non-overlapping PT_LOADs with a physical address; every range checked against the file. */
/**
 * The physical index: disjoint pieces sorted by address. Each PT_LOAD has a file-backed part
 * [p_paddr, +p_filesz) and a zero-fill part up to +p_memsz, which makedumpfile -E uses for pages it
 * excluded: those read as `excluded` (or `lost` in a dump marked incomplete), never as zeros.
 * Where segments overlap, file-backed bytes win over another segment's zero-fill (libkdumpfile's
 * elf-overlap test dump: a PT_LOAD at 0xc000 inside an earlier one's zero-fill), and among parts of
 * the same kind the lower address, then the earlier header, wins.
 */
function buildIndex(phdrs: readonly ProgramHeader[], source: ByteSource): LoadSegment[] {
  const loads = phdrs.filter((p) => p.type === PT_LOAD && p.paddr !== NO_PADDR && p.memsz > 0n);
  for (const p of loads) {
    if (p.filesz > p.memsz) throw new BadDataError(source.name, p.offset, `PT_LOAD p_filesz ${hex(p.filesz)} > p_memsz ${hex(p.memsz)}`);
    if (BigInt(p.offset) + p.filesz > BigInt(source.size)) {
      throw new BadDataError(source.name, p.offset, `truncated: PT_LOAD at paddr ${hex(p.paddr)} (${p.filesz} bytes) runs past end of file (${source.size})`);
    }
  }
  const byAddr = <T extends { start: bigint; i: number }>(a: T, b: T) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.i - b.i);
  // File-backed parts, disjoint.
  const files: LoadSegment[] = [];
  let covered = -1n;
  for (const { p } of loads.map((p, i) => ({ p, i, start: p.paddr })).sort(byAddr)) {
    const end = p.paddr + p.filesz;
    const start = p.paddr > covered ? p.paddr : covered;
    if (end <= start) continue;
    files.push({ paddr: start, fileEnd: end, memEnd: end, offset: p.offset + Number(start - p.paddr) });
    covered = end;
  }
  // Zero-fill parts, disjoint among themselves, then with the file-backed parts cut out.
  const zeros: LoadSegment[] = [];
  covered = -1n;
  let f = 0;
  for (const { p, start: zStart } of loads.map((p, i) => ({ p, i, start: p.paddr + p.filesz })).sort(byAddr)) {
    let a = zStart > covered ? zStart : covered;
    const b = p.paddr + p.memsz;
    if (b <= a) continue;
    covered = b;
    while (f < files.length && files[f].memEnd <= a) f++;
    for (let k = f; a < b; k++) {
      const next = k < files.length ? files[k] : undefined;
      const gapEnd = next && next.paddr < b ? next.paddr : b;
      if (gapEnd > a) zeros.push({ paddr: a, fileEnd: a, memEnd: gapEnd, offset: 0 });
      if (!next || next.paddr >= b) break;
      a = next.memEnd;
    }
  }
  return [...files, ...zeros].sort((x, y) => (x.paddr < y.paddr ? -1 : x.paddr > y.paddr ? 1 : 0));
}

/** PT_LOADs whose vaddr is a real kernel address (not 0, not equal to paddr). */
function virtualSegmentsOf(phdrs: readonly ProgramHeader[]): VirtualSegment[] {
  return phdrs
    .filter((p) => p.type === PT_LOAD && p.vaddr !== 0n && p.vaddr !== p.paddr && p.vaddr >= KERNEL_SPACE)
    .map((p) => ({ vaddr: p.vaddr, paddr: p.paddr, fileSize: p.filesz, memSize: p.memsz }));
}
