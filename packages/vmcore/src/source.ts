/**
 * Byte sources: where a dump's bytes come from. A plain file is read with positioned reads (never
 * whole); a flattened makedumpfile file is a ByteSource over an index of its records
 * (flattened.ts). Every source counts the bytes it read from disk, so benchmarks can check that
 * serving reads touches a small fraction of the dump.
 */
import { closeSync, readSync } from 'node:fs';
import { BadDataError, openRegularFile } from '@kbtf/binary';

export interface ByteSource {
  /** Name for errors (the path). */
  readonly name: string;
  /** Logical size in bytes. */
  readonly size: number;
  /** Bytes on disk when they differ from `size` (a flattened file is larger than its content). */
  readonly diskSize?: number;
  /** Bytes read from disk so far. */
  readonly bytesRead: number;
  /**
   * Read exactly `length` bytes at `offset`. Throws BadDataError (truncated) when the range
   * is not entirely inside the source.
   */
  read(offset: number, length: number, what?: string): Uint8Array;
  /**
   * What `read` returns, possibly a view of the source's own buffer: valid only until the next
   * read or view of this source (a compressed page, inflated at once).
   */
  view?(offset: number, length: number, what?: string): Uint8Array;
  close(): void;
}

/** Bytes read at once when a stream of adjacent reads is seen. */
const READAHEAD = 128 * 1024;
/** Streams of adjacent reads followed at once (page data, descriptors, …). */
const STREAMS = 4;

interface Stream {
  /** Offset just past the last read of this stream. */
  next: number;
  /** A window of file bytes read ahead, at winStart (a view of `buf`). */
  win?: Uint8Array;
  winStart: number;
  /** The stream's read-ahead buffer, refilled in place: every read out of it is a copy. */
  buf?: Uint8Array;
}

/**
 * A file read with positioned reads. A read that starts where an earlier one ended (the pages of
 * a kdump file stored one after another, a walk over descriptors) turns into a 128 KiB read-ahead
 * that serves the next ones from memory: reading 5 MiB of vmlinux BTF out of a compressed dump
 * takes ~100 system calls instead of ~1,500. Isolated reads stay exact. Each stream reads ahead into
 * one buffer of its own, reused for every window (what a read returns is always its own copy).
 */
export class FileSource implements ByteSource {
  readonly name: string;
  readonly size: number;
  bytesRead = 0;
  private fd: number | undefined;
  private readonly streams: Stream[] = [];

  constructor(path: string) {
    this.name = path;
    const { fd, size } = openRegularFile(path, 'a vmcore');
    this.fd = fd;
    this.size = size;
  }

  read(offset: number, length: number, what = 'read'): Uint8Array {
    return this.fetch(offset, length, what, true);
  }

  view(offset: number, length: number, what = 'read'): Uint8Array {
    return this.fetch(offset, length, what, false);
  }

  private fetch(offset: number, length: number, what: string, copy: boolean): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new BadDataError(this.name, offset, `truncated: ${what} of ${length} bytes past end of file (${this.size})`);
    }
    if (this.fd === undefined) throw new BadDataError(this.name, offset, 'read after close');
    const end = offset + length;
    const streams = this.streams;
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i];
      const win = s.win;
      if (win && offset >= s.winStart && end <= s.winStart + win.byteLength) {
        s.next = end;
        return copy ? win.slice(offset - s.winStart, end - s.winStart) : win.subarray(offset - s.winStart, end - s.winStart);
      }
    }
    for (let i = 0; i < streams.length; i++) {
      const s = streams[i];
      if (s.next !== offset || length >= READAHEAD) continue;
      const n = Math.min(READAHEAD, this.size - offset);
      s.buf ??= new Uint8Array(READAHEAD);
      s.win = this.preadInto(s.buf.subarray(0, n), offset, what);
      s.winStart = offset;
      s.next = end;
      return copy ? s.win.slice(0, length) : s.win.subarray(0, length);
    }
    // A stream that is dropped hands its buffer on: fresh memory costs a page fault per page.
    const dropped = streams.length >= STREAMS ? streams.shift() : undefined;
    streams.push({ next: end, winStart: 0, buf: dropped?.buf });
    return this.pread(offset, length, what);
  }

  private pread(offset: number, length: number, what: string): Uint8Array {
    return this.preadInto(new Uint8Array(length), offset, what);
  }

  /** Fill `buf` from `offset`. */
  private preadInto(buf: Uint8Array, offset: number, what: string): Uint8Array {
    const length = buf.byteLength;
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd!, buf, done, length - done, offset + done);
      if (n <= 0) throw new BadDataError(this.name, offset + done, `short read (${what})`);
      done += n;
    }
    this.bytesRead += length;
    return buf;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    this.streams.length = 0;
  }
}

/** An in-memory source (tests, small blobs). */
export class MemorySource implements ByteSource {
  bytesRead = 0;
  constructor(
    readonly name: string,
    private readonly bytes: Uint8Array,
  ) {}
  get size(): number {
    return this.bytes.byteLength;
  }
  read(offset: number, length: number, what = 'read'): Uint8Array {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.size) {
      throw new BadDataError(this.name, offset, `truncated: ${what} of ${length} bytes past end of file (${this.size})`);
    }
    this.bytesRead += length;
    return this.bytes.slice(offset, offset + length);
  }
  close(): void {}
}
