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
import { BadDataError } from '@kbtf/binary';
import type { ByteSource } from './source.js';

export const FLAT_SIGNATURE = 'makedumpfile';
export const FLAT_HEADER_SIZE = 4096;
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

  /** Insert [off, off+len) → pos, overwriting whatever was there. */
  insert(off: number, len: number, pos: number): void {
    const n = this.logical.length;
    if (n === 0 || off >= this.logical[n - 1] + this.length[n - 1]) {
      this.logical.push(off);
      this.physical.push(pos);
      this.length.push(len);
      return;
    }
    const end = off + len;
    let i = this.find(off);
    if (i < 0) i = 0;
    else if (this.logical[i] + this.length[i] <= off) i++;
    let j = i;
    while (j < n && this.logical[j] < end) j++;
    const L: number[] = [];
    const P: number[] = [];
    const N: number[] = [];
    if (i < j && this.logical[i] < off) {
      L.push(this.logical[i]);
      P.push(this.physical[i]);
      N.push(off - this.logical[i]);
    }
    L.push(off);
    P.push(pos);
    N.push(len);
    if (i < j) {
      const last = j - 1;
      const lastEnd = this.logical[last] + this.length[last];
      if (lastEnd > end) {
        L.push(end);
        P.push(this.physical[last] + (end - this.logical[last]));
        N.push(lastEnd - end);
      }
    }
    this.logical.splice(i, j - i, ...L);
    this.physical.splice(i, j - i, ...P);
    this.length.splice(i, j - i, ...N);
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
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    this.header = { type: dv.getBigInt64(16, false), version: dv.getBigInt64(24, false) };
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
  const map = new ExtentMap();
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
    const dv = new DataView(buf.buffer, buf.byteOffset + (pos - bufAt), RECORD_HEADER);
    const off = dv.getBigInt64(0, false);
    const len = dv.getBigInt64(8, false);
    if (off === -1n && len === -1n) break;
    if (off < 0n || len < 0n || off > BigInt(Number.MAX_SAFE_INTEGER) || len > BigInt(inner.size)) {
      throw new BadDataError(inner.name, pos, `bad flattened record {offset ${off}, size ${len}}`);
    }
    const o = Number(off);
    const n = Number(len);
    const dataAt = pos + RECORD_HEADER;
    if (dataAt + n > inner.size) throw new BadDataError(inner.name, pos, `truncated: flattened record of ${n} bytes past end of file`);
    if (n > 0) map.insert(o, n, dataAt);
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
  return { map, size, records };
}
