/**
 * kdump-compressed dumps (one file, a flattened file through its index, or a --split set) as
 * physical memory. A frame's state comes from the two bitmaps of the file that covers it:
 * 2nd bit set → present (descriptor by rank), 1st set and 2nd clear → excluded by the dump level,
 * both clear or beyond max_mapnr / every split range → not in the dump. Decoded pages are kept in
 * a bounded LRU cache.
 */
import { BadDataError, FaultError, UsageError } from '@kbtf/binary';
import { PAGE_LZO, PAGE_SNAPPY, PAGE_ZLIB, PAGE_ZSTD, compressionName, decodePage, decodePageInto } from './decompress.js';
import { KdumpFile, type PageDescriptor } from './kdump-file.js';
import { kdumpHeaderFields } from './kdump-header.js';
import { LruCache } from './lru.js';
import { machineByName, parsePrStatus } from './machine.js';
import { NT_PRSTATUS, vmcoreInfoText } from './notes.js';
import { PhysicalReader, pushRange, type StateRun } from './physical.js';
import type { ElfNote, HeaderFields, PageCounts, PageState, PhysRange, PrStatus, Vmcore, VmcoreDetails, VmcoreFormat, VmcoreInfo, VirtualSegment } from './contract.js';
import { parseVmcoreInfo } from './vmcoreinfo.js';

/** Stored pages check() remembers as decoding, at most (a check of a huge range forgets, it does not grow). */
const MAX_DECODES_KEPT = 1 << 16;

/** Flags of a page whose stored bytes are only input to a decoder (a raw page is kept as read). */
const STORED_COMPRESSED = PAGE_ZLIB | PAGE_LZO | PAGE_SNAPPY | PAGE_ZSTD;

interface DescriptorScan {
  present: number;
  lost: number;
  zero: number;
  compression: Set<string>;
}

export class KdumpCore extends PhysicalReader implements Vmcore, VmcoreDetails {
  readonly path: string;
  readonly format: VmcoreFormat;
  readonly pageSize: number;
  readonly incomplete: boolean;
  readonly vmcoreinfo: VmcoreInfo | undefined;
  readonly virtualSegments: readonly VirtualSegment[] = [];
  readonly notes: readonly ElfNote[];
  readonly prstatus: readonly PrStatus[];
  readonly machine: string;
  readonly files: readonly KdumpFile[];
  readonly maxMapnr: number;
  private readonly pages: LruCache<number, StoredPage>;
  private readonly pageShift: bigint;
  private scan: DescriptorScan | undefined;
  private readonly extraHeader: HeaderFields;
  readonly wholePages = true;
  private lastPfn = -1;
  /** Stored pages check() found to decode: key (as in `pages`) → size × 2^32 + flags. */
  private readonly decodes = new Map<number, number>();
  private scratchPage?: Uint8Array;
  private lastPage: Uint8Array = new Uint8Array(0);

  constructor(files: KdumpFile[], options: { format?: VmcoreFormat; cachePages?: number; extraHeader?: HeaderFields } = {}) {
    super();
    if (files.length === 0) throw new UsageError('kdump: no files');
    this.files = [...files].sort((a, b) => a.startPfn - b.startPfn);
    const first = this.files[0];
    for (const f of this.files) {
      if (f.pageSize !== first.pageSize || f.maxMapnr !== first.maxMapnr) {
        throw new BadDataError(f.source.name, 0, `split part disagrees with ${first.source.name} on block_size or max_mapnr`);
      }
    }
    for (let i = 1; i < this.files.length; i++) {
      if (this.files[i].startPfn < this.files[i - 1].endPfn) {
        throw new BadDataError(this.files[i].source.name, 0, `split range [${this.files[i].startPfn}, ${this.files[i].endPfn}) overlaps ${this.files[i - 1].source.name}`);
      }
    }
    this.path = this.files.map((f) => f.source.name).join(',');
    this.format = options.format ?? (this.files.length > 1 ? 'kdump-split' : 'kdump');
    this.extraHeader = options.extraHeader ?? {};
    this.pageSize = first.pageSize;
    this.pageShift = BigInt(Math.log2(this.pageSize));
    this.maxMapnr = first.maxMapnr;
    this.incomplete = this.files.some((f) => f.incomplete);
    this.notes = first.notes();
    const text = first.vmcoreinfoText() ?? vmcoreInfoText(this.notes);
    this.vmcoreinfo = text === undefined ? undefined : parseVmcoreInfo(text);
    // makedumpfile writes block_size = the kernel's PAGESIZE; QEMU writes its target's page size,
    // which for aarch64 is 64 KiB whatever the guest's granule (target/arm/arch_dump.c
    // cpu_get_dump_info: info->page_size = 64 KiB), so a 4 KiB-page kernel's pages are read 16 to a
    // block. A block that is not a whole number of kernel pages would shift every translation.
    const vmPage = this.vmcoreinfo?.pageSize;
    if (vmPage !== undefined && (vmPage > this.pageSize || this.pageSize % vmPage !== 0)) {
      throw new BadDataError(first.source.name, 428, `block_size ${this.pageSize} contradicts VMCOREINFO PAGESIZE=${vmPage} (not a whole number of its pages)`);
    }
    // An empty utsname.machine (or one no table knows) is taken from VMCOREINFO: only arm64 writes
    // NUMBER(kimage_voffset) (arch/arm64/kernel/crash_core.c).
    const uname = first.header.utsname.machine;
    this.machine = machineByName(uname) ? uname : this.vmcoreinfo?.numbers.has('kimage_voffset') ? 'aarch64' : uname || 'x86_64';
    const arch = machineByName(this.machine);
    this.prstatus = arch
      ? this.notes.filter((n) => n.type === NT_PRSTATUS && n.name === 'CORE').flatMap((n, i) => parsePrStatus(n.desc, arch, true, i, first.source.name) ?? [])
      : [];
    this.pages = new LruCache(options.cachePages ?? 1024);
  }

  /** VMCOREINFO's phys_base wins: QEMU 7.2 writes a wrong one into the sub-header. */
  get physBase(): bigint | undefined {
    return this.vmcoreinfo?.physBase ?? this.files[0].sub.physBase;
  }
  get bytesRead(): number {
    return this.files.reduce((n, f) => n + f.source.bytesRead, 0);
  }
  get fileSize(): number {
    return this.files.reduce((n, f) => n + (f.source.diskSize ?? f.source.size), 0);
  }
  get header(): HeaderFields {
    const f = this.files[0];
    const fields: HeaderFields = { ...this.extraHeader, ...kdumpHeaderFields(f.header, f.sub) };
    if (this.files.length > 1) fields.split_files = this.files.map((x) => `${x.source.name}[${x.startPfn},${x.endPfn})`).join(' ');
    return fields;
  }

  private fileFor(pfn: number): KdumpFile | undefined {
    for (const f of this.files) if (f.covers(pfn)) return f;
    return undefined;
  }

  private pageState(pfn: number): { state: PageState; file?: KdumpFile } {
    const f = this.fileFor(pfn);
    if (!f) return { state: 'not-in-dump' };
    if (f.dumped.test(pfn)) {
      if (f.incomplete) {
        const d = f.descriptor(f.descIndex(pfn));
        if (!d || d.offset === 0) return { state: 'lost', file: f };
      }
      return { state: 'present', file: f };
    }
    return { state: f.present.test(pfn) ? 'excluded' : 'not-in-dump', file: f };
  }

  stateAt(paddr: bigint): StateRun {
    const pfn = paddr >> this.pageShift;
    const end = (pfn + 1n) << this.pageShift;
    if (pfn >= BigInt(this.maxMapnr)) return { state: 'not-in-dump', end };
    return { state: this.pageState(Number(pfn)).state, end };
  }

  protected chunk(paddr: bigint, maxLen: number): Uint8Array {
    const pfnBig = paddr >> this.pageShift;
    const at = Number(paddr - (pfnBig << this.pageShift));
    const page = this.page(paddr, pfnBig);
    return page.subarray(at, Math.min(this.pageSize, at + maxLen));
  }

  /**
   * check(): the page must decode, as for a read, but nothing keeps it. A stored page is decoded
   * once, into a scratch page, and remembered as decoding (by where it is stored, its flags and
   * size: bad data in a damaged dump fails every time). Verify checks ~30,000 variables on ~2,000
   * pages, which are not made and cached as pages of their own.
   */
  protected override chunkLength(paddr: bigint, maxLen: number): number {
    const pfnBig = paddr >> this.pageShift;
    const at = Number(paddr - (pfnBig << this.pageShift));
    const found = this.locate(paddr, pfnBig);
    if (!(found instanceof Uint8Array)) {
      const { d, key } = found;
      const stamp = d.size * 2 ** 32 + d.flags;
      if (this.decodes.get(key) !== stamp) {
        const scratch = (this.scratchPage ??= new Uint8Array(this.pageSize));
        this.decode(paddr, found, (data) => decodePageInto(d.flags, data, this.pageSize, scratch, 0));
        if (this.decodes.size >= MAX_DECODES_KEPT) this.decodes.clear();
        this.decodes.set(key, stamp);
      }
    }
    return Math.min(this.pageSize, at + maxLen) - at;
  }

  /**
   * A whole page read as part of a longer read: decoded straight into `out`, neither cached nor
   * copied twice (vmlinux BTF is ~1,000 pages read once). Faults are page()'s.
   */
  protected override copyChunk(paddr: bigint, maxLen: number, out: Uint8Array, at: number): number {
    const pfnBig = paddr >> this.pageShift;
    if (maxLen < this.pageSize || paddr !== pfnBig << this.pageShift) return super.copyChunk(paddr, maxLen, out, at);
    const found = this.locate(paddr, pfnBig);
    if (found instanceof Uint8Array) out.set(found, at);
    else this.decode(paddr, found, (data) => decodePageInto(found.d.flags, data, this.pageSize, out, at));
    return this.pageSize;
  }

  /** The decoded page holding `paddr`. */
  private page(paddr: bigint, pfnBig: bigint): Uint8Array {
    const found = this.locate(paddr, pfnBig);
    if (found instanceof Uint8Array) return found;
    const page = this.decode(paddr, found, (data) => decodePage(found.d.flags, data, this.pageSize));
    this.pages.set(found.key, { flags: found.d.flags, size: found.d.size, page });
    return this.served(found.pfn, page);
  }

  /**
   * The page holding `paddr` when it is the last one served or cached; otherwise where it is
   * stored. Throws the FaultError for a page the dump does not hold or describes wrongly.
   */
  private locate(paddr: bigint, pfnBig: bigint): Uint8Array | { pfn: number; f: KdumpFile; d: PageDescriptor; key: number } {
    const pfn = Number(pfnBig);
    if (pfn >= this.maxMapnr) throw new FaultError('physical', paddr, 'not-in-dump', `pfn ${pfnBig} ≥ max_mapnr ${this.maxMapnr}`);
    // The last page served, again (reads come in runs on one page): what follows depends on the
    // pfn alone, so its answer is the same.
    if (pfn === this.lastPfn) return this.lastPage;
    const f = this.fileFor(pfn);
    if (!f) throw new FaultError('physical', paddr, 'not-in-dump', 'outside every split range');
    if (!f.dumped.test(pfn)) {
      if (f.present.test(pfn)) throw new FaultError('physical', paddr, 'excluded', `excluded by dump level ${f.sub.dumpLevel ?? '?'}`);
      throw new FaultError('physical', paddr, 'not-in-dump');
    }
    const d = f.descriptor(f.descIndex(pfn));
    if (!d || (f.incomplete && d.offset === 0)) throw new FaultError('physical', paddr, 'lost', 'incomplete dump');
    if (f.incomplete && d.offset + d.size > f.source.size) throw new FaultError('physical', paddr, 'lost', 'incomplete dump: page data past end of file');
    if (d.size === 0 || d.size > this.pageSize || d.offset + d.size > f.source.size) {
      throw new FaultError('physical', paddr, 'bad-data', `page descriptor offset ${d.offset} size ${d.size} out of range in ${f.source.name}`);
    }
    // Cache by where the page is stored, so that pages sharing one stored page (zero pages)
    // decode once; a descriptor that points there with other flags or another size is decoded on
    // its own terms (a damaged dump must not read as one page or another depending on which pfn
    // came first).
    const key = d.offset * this.files.length + this.files.indexOf(f);
    const cached = this.pages.get(key);
    if (cached && cached.flags === d.flags && cached.size === d.size) return this.served(pfn, cached.page);
    return { pfn, f, d, key };
  }

  /**
   * Run `decode` on the stored bytes of a located page. They are a view of the source's read-ahead
   * when it has one (valid until its next read: `decode` must copy what it keeps). A page that does
   * not decode is bad data at `paddr`.
   */
  private decode<T>(paddr: bigint, at: { f: KdumpFile; d: PageDescriptor }, decode: (data: Uint8Array) => T): T {
    const { f, d } = at;
    try {
      const src = f.source;
      if (src.view && d.flags & STORED_COMPRESSED) return decode(src.view(d.offset, d.size, 'page'));
      return decode(src.read(d.offset, d.size, 'page'));
    } catch (err) {
      throw new FaultError('physical', paddr, 'bad-data', `${compressionName(d.flags)} page at file offset ${d.offset}: ${(err as Error).message}`, { cause: err });
    }
  }

  private served(pfn: number, page: Uint8Array): Uint8Array {
    this.lastPfn = pfn;
    this.lastPage = page;
    return page;
  }

  ranges(): PhysRange[] {
    const out: PhysRange[] = [];
    const shift = this.pageShift;
    const add = (a: number, b: number, s: PageState): void => pushRange(out, BigInt(a) << shift, BigInt(b) << shift, s);
    let prev = 0;
    for (const f of this.files) {
      add(prev, f.startPfn, 'not-in-dump');
      let pfn = f.startPfn;
      while (pfn < f.endPfn) {
        let next: number;
        let state: PageState;
        if (f.dumped.test(pfn)) {
          state = 'present';
          next = f.dumped.next(pfn, false);
        } else if (f.present.test(pfn)) {
          state = 'excluded';
          next = Math.min(f.dumped.next(pfn, true), f.present.next(pfn, false));
        } else {
          state = 'not-in-dump';
          next = Math.min(f.dumped.next(pfn, true), f.present.next(pfn, true));
        }
        next = Math.min(next, f.endPfn);
        if (state === 'present' && f.incomplete) {
          for (let p = pfn; p < next; p++) add(p, p + 1, this.pageState(p).state);
        } else add(pfn, next, state);
        pfn = next;
      }
      prev = f.endPfn;
    }
    add(prev, this.maxMapnr, 'not-in-dump');
    return out;
  }

  private scanDescriptors(): DescriptorScan {
    if (this.scan) return this.scan;
    const s: DescriptorScan = { present: 0, lost: 0, zero: 0, compression: new Set() };
    for (const f of this.files) {
      const shared = new Map<number, number>();
      f.forEachDescriptor((d) => {
        if (!d || (f.incomplete && d.offset === 0)) {
          s.lost++;
          return;
        }
        s.present++;
        s.compression.add(compressionName(d.flags));
        shared.set(d.offset, (shared.get(d.offset) ?? 0) + 1);
      });
      for (const n of shared.values()) if (n > 1) s.zero += n;
    }
    this.scan = s;
    return s;
  }

  pageCounts(): PageCounts {
    const s = this.scanDescriptors();
    let excluded = 0;
    for (const f of this.files) {
      for (let pfn = f.startPfn; pfn < f.endPfn; ) {
        const a = f.present.next(pfn, true);
        if (a >= f.endPfn) break;
        const b = Math.min(f.present.next(a, false), f.endPfn);
        excluded += b - a - (f.dumped.rank(b) - f.dumped.rank(a));
        pfn = b;
      }
    }
    return { present: s.present, excluded, lost: s.lost, zero: s.zero };
  }

  compression(): string[] {
    return [...this.scanDescriptors().compression].sort();
  }

  close(): void {
    for (const f of this.files) f.source.close();
  }
}

/** A decoded page and the descriptor fields it was decoded with. */
interface StoredPage {
  flags: number;
  size: number;
  page: Uint8Array;
}
