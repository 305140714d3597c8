/**
 * The flattened makedumpfile format (`makedumpfile -F`, and every kdump file QEMU ≤ 8.1 writes):
 * a stream a pipe can carry. A 4096-byte header ("makedumpfile" signature, then big-endian i64
 * type = 1 and i64 version = 1), then records {i64 offset, i64 size} (big-endian) each followed
 * by `size` bytes that belong at `offset` of the reassembled file, until a record {-1, -1}.
 *
 * `makedumpfile -R` reassembles it; we never do. One pass over the record headers (16 bytes each,
 * the data is skipped) builds an index from reassembled offsets to positions in the flattened
 * file; the result is a ByteSource that reads through that index. A later record overwrites an
 * earlier one where they overlap, as -R would.
 */
import { BadDataError, Cursor, UnsupportedError } from '@kbtf/binary';
import type { ByteSource } from './source.js';

export const FLAT_SIGNATURE = 'makedumpfile';
export const FLAT_HEADER_SIZE = 4096;
const TYPE_FLAT_HEADER = 1n;
const VERSION_FLAT_HEADER = 1n;
const RECORD_HEADER = 16;
/** Read record headers in batches of this many bytes when records are small. */
const SCAN_CHUNK = 4096;

export interface FlatHeader {
  type: bigint;
  version: bigint;
}

export function isFlattened(head: Uint8Array): boolean {
  return new TextDecoder('latin1').decode(head.subarray(0, FLAT_SIGNATURE.length)) === FLAT_SIGNATURE;
}

export type Progress = (done: number, total: number) => void;

/** Non-overlapping extents, sorted by logical offset. */
class ExtentMap {
  logical: number[] = [];
  physical: number[] = [];
  length: number[] = [];

  push(off: number, len: number, pos: number): void {
    const n = this.logical.length - 1;
    // Merge with the previous extent when both are contiguous in the file too.
    if (n >= 0 && this.logical[n] + this.length[n] === off && this.physical[n] + this.length[n] === pos) this.length[n] += len;
    else {
      this.logical.push(off);
      this.physical.push(pos);
      this.length.push(len);
    }
  }

  /** Index of the last extent with logical ≤ off, or -1. */
  find(off: number): number {
    let lo = 0;
    let hi = this.logical.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.logical[mid] <= off) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return best;
  }
}

/**
 * The records in file order (a later one overwrites an earlier one where they overlap, as -R
 * would). makedumpfile writes them in ascending, disjoint order, which maps them as they come;
 * any other order is resolved in O(n log n) by one sweep over the sorted record boundaries with a
 * heap of the records covering the current point, the latest on top. (Splicing each record into
 * a sorted list, as this did before, took minutes for 400,000 records in descending order.)
 */
class RecordList {
  readonly off: number[] = [];
  readonly len: number[] = [];
  readonly pos: number[] = [];
  private inOrder = true;

  add(off: number, len: number, pos: number): void {
    const n = this.off.length;
    if (n > 0 && off < this.off[n - 1] + this.len[n - 1]) this.inOrder = false;
    this.off.push(off);
    this.len.push(len);
    this.pos.push(pos);
  }

  toMap(): ExtentMap {
    const map = new ExtentMap();
    const { off, len, pos } = this;
    const n = off.length;
    if (this.inOrder) {
      for (let i = 0; i < n; i++) map.push(off[i], len[i], pos[i]);
      return map;
    }
    const byStart = Array.from({ length: n }, (_, i) => i).sort((a, b) => off[a] - off[b]);
    // Every record boundary, sorted (typed-array sort is numeric and native), duplicates skipped below.
    const points = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      points[2 * i] = off[i];
      points[2 * i + 1] = off[i] + len[i];
    }
    points.sort();
    const heap = new MaxHeap();
    let next = 0;
    for (let k = 0; k + 1 < points.length; k++) {
      const p = points[k];
      if (p === points[k + 1]) continue;
      while (next < n && off[byStart[next]] === p) heap.push(byStart[next++]);
      while (heap.size > 0 && off[heap.top] + len[heap.top] <= p) heap.pop();
      if (heap.size === 0) continue;
      const w = heap.top;
      map.push(p, points[k + 1] - p, pos[w] + (p - off[w]));
    }
    return map;
  }
}

/** A binary max-heap of record numbers (the larger number is the later record). */
class MaxHeap {
  private readonly a: number[] = [];
  get size(): number {
    return this.a.length;
  }
  get top(): number {
    return this.a[0];
  }
  push(v: number): void {
    const a = this.a;
    let i = a.push(v) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (a[up] >= v) break;
      a[i] = a[up];
      i = up;
    }
    a[i] = v;
  }
  pop(): void {
    const a = this.a;
    const last = a.pop()!;
    if (a.length === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= a.length) break;
      const c = l + 1 < a.length && a[l + 1] > a[l] ? l + 1 : l;
      if (a[c] <= last) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
  }
}

export class FlattenedSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  readonly header: FlatHeader;
  readonly records: number;
  private readonly map: ExtentMap;

  constructor(
    private readonly inner: ByteSource,
    options: { progress?: Progress } = {},
  ) {
    this.name = inner.name;
    const head = inner.read(0, 32, 'flattened header');
    if (!isFlattened(head)) throw new BadDataError(inner.name, 0, 'not a flattened makedumpfile file');
    const c = new Cursor(head, { source: inner.name, littleEndian: false });
    this.header = { type: c.i64At(16), version: c.i64At(24) };
    // makedumpfile's dump.h (and QEMU's copy): TYPE_FLAT_HEADER 1, VERSION_FLAT_HEADER 1, the only
    // ones ever written; makedumpfile -R refuses anything else.
    if (this.header.type !== TYPE_FLAT_HEADER) throw new BadDataError(inner.name, 16, `flattened header type ${this.header.type}, not ${TYPE_FLAT_HEADER}`);
    if (this.header.version !== VERSION_FLAT_HEADER) throw new UnsupportedError(`${inner.name}: flattened format version ${this.header.version} (kbtf reads version ${VERSION_FLAT_HEADER})`);
    const { map, size, records } = indexRecords(inner, options.progress);
    this.map = map;
    this.size = size;
    this.records = records;
  }

  get bytesRead(): number {
    return this.inner.bytesRead;
  }

  get diskSize(): number {
    return this.inner.size;
  }

  read(offset: number, length: number, what = 'read'): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new BadDataError(this.name, offset, `truncated: ${what} of ${length} bytes past end of the reassembled file (${this.size})`);
    }
    const out = new Uint8Array(length);
    let done = 0;
    let i = this.map.find(offset);
    while (done < length) {
      const at = offset + done;
      while (i + 1 < this.map.logical.length && this.map.logical[i + 1] <= at) i++;
      const a = i >= 0 ? this.map.logical[i] : 0;
      const b = i >= 0 ? a + this.map.length[i] : 0;
      if (i < 0 || at >= b) {
        // A hole nothing wrote: -R would leave zeros there (sparse file).
        const nextStart = i + 1 < this.map.logical.length ? this.map.logical[i + 1] : this.size;
        const n = Math.min(length - done, nextStart - at);
        done += n; // out is zero-filled
        continue;
      }
      const n = Math.min(length - done, b - at);
      out.set(this.inner.read(this.map.physical[i] + (at - a), n, what), done);
      done += n;
    }
    return out;
  }

  close(): void {
    this.inner.close();
  }
}

function indexRecords(inner: ByteSource, progress?: Progress): { map: ExtentMap; size: number; records: number } {
  const list = new RecordList();
  let pos = FLAT_HEADER_SIZE;
  let size = 0;
  let records = 0;
  let buf: Uint8Array = new Uint8Array(0);
  let bufAt = 0;
  let lastReport = 0;
  let lastLen = 0;
  for (;;) {
    if (pos + RECORD_HEADER > inner.size) throw new BadDataError(inner.name, pos, 'truncated: flattened record header past end of file (no end marker)');
    if (pos < bufAt || pos + RECORD_HEADER > bufAt + buf.byteLength) {
      // After a large record read just its successor's header; among small records read ahead.
      bufAt = pos;
      buf = inner.read(pos, Math.min(lastLen > SCAN_CHUNK ? RECORD_HEADER : SCAN_CHUNK, inner.size - pos), 'flattened records');
    }
    const rec = new Cursor(buf, { source: inner.name, littleEndian: false, base: bufAt });
    const off = rec.i64At(pos - bufAt);
    const len = rec.i64At(pos - bufAt + 8);
    if (off === -1n && len === -1n) break;
    if (off < 0n || len < 0n || off > BigInt(Number.MAX_SAFE_INTEGER) || len > BigInt(inner.size)) {
      throw new BadDataError(inner.name, pos, `bad flattened record {offset ${off}, size ${len}}`);
    }
    const o = Number(off);
    const n = Number(len);
    const dataAt = pos + RECORD_HEADER;
    if (dataAt + n > inner.size) throw new BadDataError(inner.name, pos, `truncated: flattened record of ${n} bytes past end of file`);
    if (n > 0) list.add(o, n, dataAt);
    size = Math.max(size, o + n);
    records++;
    lastLen = n;
    pos = dataAt + n;
    if (progress && pos - lastReport > 64 << 20) {
      progress(pos, inner.size);
      lastReport = pos;
    }
  }
  if (progress) progress(inner.size, inner.size);
  return { map: list.toMap(), size, records };
}
