/**
 * Kernel virtual memory over a dump's physical memory.
 *
 * A dump may record virtual addresses itself (kdump's /proc/vmcore PT_LOADs cover the kernel image
 * and the direct map; QEMU paging=true writes one PT_LOAD per mapping). Those segments are used
 * first; any other address (vmalloc, modules, or every address in a dump without segments) is
 * translated by the architecture's page-table walk. Translations are cached per 4 KiB page, and per
 * 2 MiB / 1 GiB page when the walk ends in a large page.
 */
import { FaultError, hex } from '@kbtf/binary';
import type { PhysicalMemory, VirtualSegment } from '@kbtf/vmcore';
import type { Translator } from './arch.js';

const PAGE_SHIFT = 12;
const PAGE_SIZE = 1 << PAGE_SHIFT;
const U64 = (1n << 64n) - 1n;
/** Pages check() remembers as readable, at most. */
const MAX_READABLE_PAGES = 1 << 16;

/** Reads of kernel virtual memory. Every failure is a FaultError with space 'virtual'. */
export interface VirtualMemory {
  read(vaddr: bigint, length: number): Uint8Array;
  translate(vaddr: bigint): bigint;
}

export class KernelMemory implements VirtualMemory {
  private readonly segments: VirtualSegment[];
  private lastVpage = -1n;
  /** 4 KiB virtual pages a check found readable, on a dump of whole pages (checked once each). */
  private readonly readablePages = new Set<number>();
  private lastPpage = 0n;
  /** Cached translations keyed by virtual page number at each page size: 4 KiB, 2 MiB, 1 GiB. */
  private readonly cache = new Map<number, Map<number, number>>([
    [12, new Map()],
    [21, new Map()],
    [30, new Map()],
  ]);

  constructor(
    readonly phys: PhysicalMemory,
    private readonly walk: Translator | undefined,
    segments: readonly VirtualSegment[] = [],
    isKernelAddress: (v: bigint) => boolean = () => true,
  ) {
    this.segments = segments.filter((s) => s.memSize > 0n && isKernelAddress(s.vaddr)).sort((a, b) => (a.vaddr < b.vaddr ? -1 : a.vaddr > b.vaddr ? 1 : 0));
  }

  /** Physical address of `vaddr`. */
  translate(vaddr: bigint): bigint {
    vaddr &= U64;
    const seg = this.segmentOf(vaddr);
    if (seg) return seg.paddr + (vaddr - seg.vaddr);
    const off = Number(vaddr & 0xfffn);
    // Reads come in runs on one page (a variable, then the next one beside it): the last page's
    // translation first, before the three maps.
    const vpage = vaddr >> 12n;
    if (vpage === this.lastVpage) return this.lastPpage + BigInt(off);
    const hit = this.cached(vaddr);
    if (hit !== undefined) return this.remember(vpage, BigInt(hit)) + BigInt(off);
    if (!this.walk) throw new FaultError('virtual', vaddr, 'not-mapped', 'no segment covers it and no page tables to walk');
    const t = this.walk(vaddr);
    const shift = BigInt(t.pageShift);
    this.cache.get(t.pageShift)?.set(Number(vaddr >> shift), Number(t.paddr >> shift));
    return this.remember(vpage, t.paddr - BigInt(off)) + BigInt(off);
  }

  /** The last translated 4 KiB page (from the cache or a walk; never a segment's). */
  private remember(vpage: bigint, ppage: bigint): bigint {
    this.lastVpage = vpage;
    this.lastPpage = ppage;
    return ppage;
  }

  private cached(vaddr: bigint): number | undefined {
    for (const [shift, map] of this.cache) {
      const base = map.get(Number(vaddr >> BigInt(shift)));
      if (base !== undefined) {
        const within = Number(vaddr & ((1n << BigInt(shift)) - 1n) & ~0xfffn);
        return base * 2 ** shift + within;
      }
    }
    return undefined;
  }

  private segmentOf(vaddr: bigint): VirtualSegment | undefined {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = segs[mid];
      if (vaddr < s.vaddr) hi = mid - 1;
      else if (vaddr >= s.vaddr + s.memSize) lo = mid + 1;
      else return s;
    }
    return undefined;
  }

  /** Read `length` bytes at `vaddr`, merging physically contiguous pages into one read. */
  read(vaddr: bigint, length: number): Uint8Array {
    vaddr &= U64;
    if (length === 0) return new Uint8Array(0);
    // Inside one page (most reads: a field, a pointer, a small struct): what runs() would do for
    // its one run, without the run bookkeeping.
    if (length > 0 && Number(vaddr & 0xfffn) + length <= PAGE_SIZE) {
      const p = this.translate(vaddr);
      try {
        return this.phys.read(p, length);
      } catch (err) {
        throw atVirtual(err, vaddr, p);
      }
    }
    let out: Uint8Array | undefined;
    this.runs(vaddr, length, (paddr, n, at) => {
      const bytes = this.phys.read(paddr, n);
      // One physically contiguous run: the physical read is the result, no second copy.
      if (at === 0 && n === length) out = bytes;
      else (out ??= new Uint8Array(length)).set(bytes, at);
    });
    return out!;
  }

  /** `read` into `dest` at `at` (see PhysicalMemory.readInto); the same faults. */
  readInto(vaddr: bigint, length: number, dest: Uint8Array, at: number): void {
    this.runs(vaddr & U64, length, (paddr, n, off) => {
      if (this.phys.readInto) this.phys.readInto(paddr, n, dest, at + off);
      else dest.set(this.phys.read(paddr, n), at + off);
    });
  }

  /**
   * Whether `length` bytes at the address whose u32 halves are (hi, lo) lie in one page an earlier
   * check() found readable, without a BigInt: true means check() passes; false says nothing.
   */
  knownReadable(hi: number, lo: number, length: number): boolean {
    return length > 0 && (lo & 0xfff) + length <= PAGE_SIZE && this.readablePages.has(hi * 2 ** 20 + (lo >>> 12));
  }

  /**
   * What `read` checks, without the bytes: every page translates and the dump stores it (a
   * compressed page is decoded). Throws the FaultError `read` would throw.
   */
  check(vaddr: bigint, length: number): void {
    vaddr &= U64;
    if (length > 0 && Number(vaddr & 0xfffn) + length <= PAGE_SIZE) {
      // A page stores whole or not at all (kdump) and translates whole: once any of its bytes
      // checked, all of them would (verify checks ~30,000 variables on ~2,000 pages).
      const vpage = Number(vaddr >> 12n);
      if (this.readablePages.has(vpage)) return;
      const p = this.translate(vaddr);
      try {
        this.phys.check(p, length);
      } catch (err) {
        throw atVirtual(err, vaddr, p);
      }
      if (this.phys.wholePages) {
        if (this.readablePages.size >= MAX_READABLE_PAGES) this.readablePages.clear();
        this.readablePages.add(vpage);
      }
      return;
    }
    this.runs(vaddr, length, (paddr, n) => this.phys.check(paddr, n));
  }

  /**
   * `length` bytes at `vaddr` as physically contiguous runs, in order: `each(paddr, bytes, offset)`.
   * A physical fault is raised again at the virtual address that failed.
   */
  private runs(vaddr: bigint, length: number, each: (paddr: bigint, n: number, at: number) => void): void {
    let done = 0;
    let runV = vaddr;
    let runP = -1n;
    let runLen = 0;
    let runAt = 0;
    const flush = (): void => {
      if (runLen === 0) return;
      try {
        each(runP, runLen, runAt);
      } catch (err) {
        throw atVirtual(err, runV, runP);
      }
    };
    while (done < length) {
      const v = vaddr + BigInt(done);
      const n = Math.min(length - done, PAGE_SIZE - Number(v & 0xfffn));
      const p = this.translate(v);
      if (runLen > 0 && p === runP + BigInt(runLen)) {
        runLen += n;
      } else {
        flush();
        runV = v;
        runP = p;
        runLen = n;
        runAt = done;
      }
      done += n;
    }
    flush();
  }

  /** Whether `length` bytes at `vaddr` can be read. */
  isPresent(vaddr: bigint, length: number): boolean {
    try {
      this.read(vaddr, length);
      return true;
    } catch (err) {
      if (err instanceof FaultError) return false;
      throw err;
    }
  }

  u8(vaddr: bigint): number {
    return this.read(vaddr, 1)[0];
  }
  u16(vaddr: bigint): number {
    return view(this.read(vaddr, 2)).getUint16(0, true);
  }
  u32(vaddr: bigint): number {
    return view(this.read(vaddr, 4)).getUint32(0, true);
  }
  i32(vaddr: bigint): number {
    return view(this.read(vaddr, 4)).getInt32(0, true);
  }
  u64(vaddr: bigint): bigint {
    return view(this.read(vaddr, 8)).getBigUint64(0, true);
  }

  /**
   * A NUL-terminated string at `vaddr`, at most `max` bytes (without the NUL), read page by page so
   * that a short string near the end of a mapping does not fault on the next page.
   */
  cstring(vaddr: bigint, max = 4096): Uint8Array {
    const parts: Uint8Array[] = [];
    let total = 0;
    let v = vaddr;
    while (total < max) {
      const n = Math.min(max - total, PAGE_SIZE - Number(v & 0xfffn));
      const chunk = this.read(v, n);
      const nul = chunk.indexOf(0);
      if (nul >= 0) {
        parts.push(chunk.subarray(0, nul));
        total += nul;
        break;
      }
      parts.push(chunk);
      total += n;
      v += BigInt(n);
    }
    return concat(parts, total);
  }
}

/** A view of bytes just read at their exact size (no bounds to check). */
function view(b: Uint8Array): DataView {
  // eslint-disable-next-line no-restricted-syntax -- hot path: every scalar read of kernel memory (member values, list walks, page-table-free reads) comes through here
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A physical fault in the run that starts at `runV` (physical `runP`), raised again at its virtual address. */
function atVirtual(err: unknown, runV: bigint, runP: bigint): unknown {
  if (!(err instanceof FaultError)) return err;
  return new FaultError('virtual', runV + (err.address - runP), err.reason, `physical ${hex(err.address)}`, { cause: err });
}
