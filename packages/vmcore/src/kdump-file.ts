/**
 * One kdump-compressed file: its headers, bitmaps and page descriptors (one file of a
 * `makedumpfile --split` set covers only [start_pfn, end_pfn)).
 *
 * Page descriptors (struct page_desc, 24 bytes): i64 offset, u32 size, u32 flags, u64 page_flags;
 * one per set bit of the 2nd bitmap in pfn order, starting with the file's start_pfn. Every zero
 * page may point at one stored zero page (QEMU and makedumpfile both share it). In an incomplete
 * dump (status 0x8, makedumpfile ran out of space) descriptors of pages never written are zero:
 * offset 0 means lost; descriptors past the end of the file are lost too.
 */
import { BadDataError, Cursor } from '@kbtf/binary';
import { Bitmap } from './bitmap.js';
import { DUMP_DH_COMPRESSED_INCOMPLETE, readDiskDumpHeader, readSubHeader, type DiskDumpHeader, type KdumpSubHeader } from './kdump-header.js';
import { LruCache } from './lru.js';
import { parseNotes } from './notes.js';
import type { ByteSource } from './source.js';
import type { ElfNote } from './contract.js';

export const PAGE_DESC_SIZE = 24;
/** Descriptors read per chunk (768 bytes: small enough for random access, one read per 32 pages). */
const DESC_CHUNK = 32;

/** A page_desc_t (makedumpfile diskdump_mod.h); its page_flags word is unused (zero) and not read. */
export interface PageDescriptor {
  offset: number;
  size: number;
  flags: number;
}

export class KdumpFile {
  readonly header: DiskDumpHeader;
  readonly sub: KdumpSubHeader;
  readonly pageSize: number;
  readonly maxMapnr: number;
  readonly startPfn: number;
  readonly endPfn: number;
  readonly split: boolean;
  readonly incomplete: boolean;
  /** 1st bitmap: frames that exist. */
  readonly present: Bitmap;
  /** 2nd bitmap: frames dumped. */
  readonly dumped: Bitmap;
  readonly descOffset: number;
  /** Descriptors this file holds (set bits of the 2nd bitmap in [startPfn, endPfn)). */
  readonly descCount: number;
  private readonly rankBase: number;
  private readonly descCache = new LruCache<number, DataView>(256);

  constructor(readonly source: ByteSource) {
    this.header = readDiskDumpHeader(source);
    this.sub = readSubHeader(source, this.header);
    const h = this.header;
    const bs = h.blockSize;
    this.pageSize = bs;
    this.incomplete = (h.status & DUMP_DH_COMPRESSED_INCOMPLETE) !== 0;
    const bitmapAt = (1 + h.subHdrSize) * bs;
    const bitmapLen = h.bitmapBlocks * bs;
    const half = bitmapLen / 2;
    const mapnr = this.sub.maxMapnr64 ?? BigInt(h.maxMapnr32);
    if (mapnr > BigInt(half * 8)) throw new BadDataError(source.name, 440, `max_mapnr ${mapnr} exceeds the bitmap's ${half * 8} bits`);
    this.maxMapnr = Number(mapnr);
    this.split = (this.sub.split ?? 0) !== 0;
    const start = this.sub.startPfn64 ?? this.sub.startPfn ?? 0n;
    const end = this.sub.endPfn64 ?? this.sub.endPfn ?? mapnr;
    this.startPfn = this.split ? Number(start < mapnr ? start : mapnr) : 0;
    this.endPfn = this.split ? Number(end < mapnr ? end : mapnr) : this.maxMapnr;
    if (this.startPfn > this.endPfn) throw new BadDataError(source.name, h.blockSize + 16, `split range start_pfn ${start} > end_pfn ${end}`);
    const bitmaps = source.read(bitmapAt, bitmapLen, 'bitmaps');
    this.present = new Bitmap(bitmaps.subarray(0, half), this.maxMapnr);
    this.dumped = new Bitmap(bitmaps.subarray(half), this.maxMapnr);
    this.descOffset = bitmapAt + bitmapLen;
    this.rankBase = this.dumped.rank(this.startPfn);
    this.descCount = this.dumped.rank(this.endPfn) - this.rankBase;
    if (!this.incomplete && this.descOffset + this.descCount * PAGE_DESC_SIZE > source.size) {
      throw new BadDataError(source.name, this.descOffset, `truncated: ${this.descCount} page descriptors run past end of file (${source.size})`);
    }
    // A copy cut short that its writer did not mark incomplete: found here, from the descriptors
    // themselves, not later as pages that quietly fail (or as a verdict built on the pages that
    // happened to survive). The page data's end is not the last descriptor's (pages repeat a stored
    // page, QEMU puts its shared zero page first), so every descriptor is looked at: 24 bytes a
    // dumped page, read in large chunks (20,415 for the bundled dump, ~2 ms).
    //
    // The same pass checks the 2nd bitmap against the table: every writer seen (makedumpfile 1.7.2
    // and 1.7.6, QEMU 7.2; all formats of the lab's dumps) stores the first page right after the
    // last descriptor. A flipped bit in the 2nd bitmap shifts every later pfn onto its neighbour's
    // descriptor (pages read as other pages' data); the table then ends 24 bytes before or after
    // where the data starts.
    if (!this.incomplete && this.descCount > 0) {
      const { start, end, endIndex } = this.pageDataExtent();
      const tableEnd = this.descOffset + this.descCount * PAGE_DESC_SIZE;
      if (end > source.size) {
        throw new BadDataError(source.name, this.descOffset + endIndex * PAGE_DESC_SIZE, `truncated: page data runs to ${end}, past end of file (${source.size}), and the dump is not marked incomplete`);
      }
      const dataStart = this.afterSubHeaderRegions(tableEnd);
      if (start !== dataStart) {
        throw new BadDataError(source.name, tableEnd, `the 2nd bitmap counts ${this.descCount} dumped pages, so page data should start after their descriptors at ${dataStart}, but it starts at ${start}: the bitmap or the descriptor table is damaged`);
      }
    }
  }

  /**
   * `at`, moved past the sub-header's VMCOREINFO, notes and erase info where a writer placed them
   * right there (makedumpfile and QEMU keep them inside the sub-header blocks; a writer may put
   * them between the descriptors and the pages instead).
   */
  private afterSubHeaderRegions(at: number): number {
    const regions = [
      [this.sub.offsetVmcoreinfo, this.sub.sizeVmcoreinfo],
      [this.sub.offsetNote, this.sub.sizeNote],
      [this.sub.offsetEraseinfo, this.sub.sizeEraseinfo],
    ].filter((r): r is [number, number] => !!r[0] && !!r[1]);
    for (let moved = true; moved; ) {
      moved = false;
      for (const [o, n] of regions) {
        if (o === at) {
          at += n;
          moved = true;
        }
      }
    }
    return at;
  }

  /**
   * Where the page data of the descriptors starts (smallest offset) and ends (largest offset +
   * size), and which descriptor ends it. A fast path over the raw table (two u32 halves of the i64
   * offset, no BigInt, no objects): it runs at every open.
   */
  private pageDataExtent(): { start: number; end: number; endIndex: number } {
    const per = 65536;
    let start = Infinity;
    let end = 0;
    let endIndex = -1;
    for (let first = 0; first < this.descCount; first += per) {
      const n = Math.min(per, this.descCount - first);
      const bytes = this.source.read(this.descOffset + first * PAGE_DESC_SIZE, n * PAGE_DESC_SIZE, 'page descriptors');
      // eslint-disable-next-line no-restricted-syntax -- hot path: one pass over every page descriptor at open (millions in a large dump); the loop stays inside bytes
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let i = 0, rel = 0; i < n; i++, rel += PAGE_DESC_SIZE) {
        const o = dv.getInt32(rel + 4, true) * 2 ** 32 + dv.getUint32(rel, true);
        const e = o + dv.getUint32(rel + 8, true);
        if (o < start) start = o;
        if (e > end) {
          end = e;
          endIndex = first + i;
        }
      }
    }
    return { start, end, endIndex };
  }

  /** True when this file is responsible for `pfn`. */
  covers(pfn: number): boolean {
    return pfn >= this.startPfn && pfn < this.endPfn;
  }

  /** Descriptor index of a dumped pfn. */
  descIndex(pfn: number): number {
    return this.dumped.rank(pfn) - this.rankBase;
  }

  /** The descriptor at `index`, or undefined when an incomplete dump lacks it. */
  descriptor(index: number): PageDescriptor | undefined {
    const chunkIndex = Math.floor(index / DESC_CHUNK);
    let chunk = this.descCache.get(chunkIndex);
    if (!chunk) {
      const at = this.descOffset + chunkIndex * DESC_CHUNK * PAGE_DESC_SIZE;
      const want = Math.min(DESC_CHUNK, this.descCount - chunkIndex * DESC_CHUNK) * PAGE_DESC_SIZE;
      const len = Math.max(0, Math.min(want, this.source.size - at));
      const bytes = len > 0 ? this.source.read(at, len, 'page descriptors') : new Uint8Array(0);
      // eslint-disable-next-line no-restricted-syntax -- hot path: the descriptor of every page read; bounds checked against chunk.byteLength below
      chunk = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      this.descCache.set(chunkIndex, chunk);
    }
    const rel = (index % DESC_CHUNK) * PAGE_DESC_SIZE;
    if (rel + PAGE_DESC_SIZE > chunk.byteLength) {
      if (this.incomplete) return undefined;
      throw new BadDataError(this.source.name, this.descOffset + index * PAGE_DESC_SIZE, 'truncated: page descriptor past end of file');
    }
    // i64 offset read as two halves: a Number, no BigInt on the path of every page read.
    const hi = chunk.getInt32(rel + 4, true);
    const offset = hi * 2 ** 32 + chunk.getUint32(rel, true);
    if (hi < 0 || offset > Number.MAX_SAFE_INTEGER) {
      throw new BadDataError(this.source.name, this.descOffset + index * PAGE_DESC_SIZE, `page descriptor offset ${chunk.getBigInt64(rel, true)} out of range`);
    }
    return { offset, size: chunk.getUint32(rel + 8, true), flags: chunk.getUint32(rel + 12, true) };
  }

  /** Visit every descriptor this file holds, reading them in large chunks. */
  forEachDescriptor(visit: (d: PageDescriptor | undefined, index: number) => void): void {
    const per = 65536;
    for (let first = 0; first < this.descCount; first += per) {
      const n = Math.min(per, this.descCount - first);
      const at = this.descOffset + first * PAGE_DESC_SIZE;
      const len = Math.max(0, Math.min(n * PAGE_DESC_SIZE, this.source.size - at));
      const bytes = len > 0 ? this.source.read(at, len, 'page descriptors') : new Uint8Array(0);
      const c = new Cursor(bytes, { source: this.source.name, base: at });
      for (let i = 0; i < n; i++) {
        const rel = i * PAGE_DESC_SIZE;
        if (rel + PAGE_DESC_SIZE > bytes.byteLength) {
          visit(undefined, first + i);
          continue;
        }
        visit({ offset: Number(c.i64At(rel)), size: c.u32At(rel + 8), flags: c.u32At(rel + 12) }, first + i);
      }
    }
  }

  /** VMCOREINFO text from the sub-header (v3+), undefined when absent. */
  vmcoreinfoText(): string | undefined {
    const { offsetVmcoreinfo: off, sizeVmcoreinfo: size } = this.sub;
    if (!off || !size) return undefined;
    if (this.incomplete && off + size > this.source.size) return undefined; // cut before it was written
    const bytes = this.source.read(off, size, 'VMCOREINFO');
    const nul = bytes.indexOf(0);
    return new TextDecoder('latin1').decode(nul < 0 ? bytes : bytes.subarray(0, nul));
  }

  /** ELF notes from the sub-header (v4+). */
  notes(): ElfNote[] {
    const { offsetNote: off, sizeNote: size } = this.sub;
    if (!off || !size) return [];
    if (this.incomplete && off + size > this.source.size) return [];
    return parseNotes(this.source.read(off, size, 'notes'), off, true, this.source.name);
  }
}
