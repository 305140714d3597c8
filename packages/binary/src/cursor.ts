import { BadDataError } from './errors.js';

/**
 * A bounds-checked reader over a byte array. Every read checks that it fits inside the view and
 * throws BadDataError naming the source and the absolute offset otherwise. Byte order is chosen once,
 * at construction. 64-bit values are bigint. The underlying bytes are never modified or copied.
 */
export class Cursor {
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly littleEndian: boolean;
  /** Offset of `bytes[0]` in the original source, so errors name the absolute offset. */
  readonly base: number;
  private readonly view: DataView;
  /** Current position, relative to `bytes`. */
  pos: number;

  constructor(bytes: Uint8Array, options: { source?: string; littleEndian?: boolean; base?: number; pos?: number } = {}) {
    this.bytes = bytes;
    this.source = options.source ?? 'input';
    this.littleEndian = options.littleEndian ?? true;
    this.base = options.base ?? 0;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.pos = options.pos ?? 0;
  }

  get length(): number {
    return this.bytes.byteLength;
  }

  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }

  /** Throw unless `size` bytes are available at `offset` (relative). */
  check(offset: number, size: number, what = 'read'): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > this.bytes.byteLength) {
      throw new BadDataError(this.source, this.base + offset, `truncated: ${what} of ${size} bytes past end (${this.base + this.bytes.byteLength})`);
    }
  }

  /** Error at an offset relative to this cursor, naming the absolute offset. */
  error(offset: number, message: string): BadDataError {
    return new BadDataError(this.source, this.base + offset, message);
  }

  seek(offset: number): this {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > this.bytes.byteLength) {
      throw new BadDataError(this.source, this.base + offset, `seek past end (${this.base + this.bytes.byteLength})`);
    }
    this.pos = offset;
    return this;
  }

  skip(n: number): this {
    return this.seek(this.pos + n);
  }

  // Absolute (relative-to-view) reads.
  u8At(offset: number): number {
    this.check(offset, 1, 'u8');
    return this.bytes[offset];
  }
  u16At(offset: number): number {
    this.check(offset, 2, 'u16');
    return this.view.getUint16(offset, this.littleEndian);
  }
  u32At(offset: number): number {
    this.check(offset, 4, 'u32');
    return this.view.getUint32(offset, this.littleEndian);
  }
  i32At(offset: number): number {
    this.check(offset, 4, 'i32');
    return this.view.getInt32(offset, this.littleEndian);
  }
  u64At(offset: number): bigint {
    this.check(offset, 8, 'u64');
    return this.view.getBigUint64(offset, this.littleEndian);
  }
  i64At(offset: number): bigint {
    this.check(offset, 8, 'i64');
    return this.view.getBigInt64(offset, this.littleEndian);
  }
  f32At(offset: number): number {
    this.check(offset, 4, 'f32');
    return this.view.getFloat32(offset, this.littleEndian);
  }
  f64At(offset: number): number {
    this.check(offset, 8, 'f64');
    return this.view.getFloat64(offset, this.littleEndian);
  }
  /** A u64 that must fit in a JS number (offsets, sizes, counts). */
  u64NumberAt(offset: number, what = 'value'): number {
    const v = this.u64At(offset);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw this.error(offset, `${what} ${v} too large`);
    return Number(v);
  }
  /** A zero-copy view of `size` bytes at `offset`. */
  bytesAt(offset: number, size: number): Uint8Array {
    this.check(offset, size, 'bytes');
    return this.bytes.subarray(offset, offset + size);
  }
  /** A NUL-terminated string starting at `offset`, at most `max` bytes; throws if unterminated. */
  cstringAt(offset: number, max = this.bytes.byteLength - offset): string {
    this.check(offset, 0, 'string');
    const end = Math.min(this.bytes.byteLength, offset + max);
    const nul = this.bytes.indexOf(0, offset);
    if (nul < 0 || nul >= end) throw this.error(offset, 'unterminated string');
    return latin1OrUtf8(this.bytes.subarray(offset, nul));
  }
  /** A fixed-size field holding a string padded with NULs. */
  fixedStringAt(offset: number, size: number): string {
    const b = this.bytesAt(offset, size);
    const nul = b.indexOf(0);
    return latin1OrUtf8(nul < 0 ? b : b.subarray(0, nul));
  }

  // Sequential reads at `pos`.
  u8(): number {
    const v = this.u8At(this.pos);
    this.pos += 1;
    return v;
  }
  u16(): number {
    const v = this.u16At(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    const v = this.u32At(this.pos);
    this.pos += 4;
    return v;
  }
  i32(): number {
    const v = this.i32At(this.pos);
    this.pos += 4;
    return v;
  }
  u64(): bigint {
    const v = this.u64At(this.pos);
    this.pos += 8;
    return v;
  }
  i64(): bigint {
    const v = this.i64At(this.pos);
    this.pos += 8;
    return v;
  }
  bytesN(size: number): Uint8Array {
    const v = this.bytesAt(this.pos, size);
    this.pos += size;
    return v;
  }

  /** A sub-cursor over `size` bytes at `offset`, same byte order, absolute offsets kept. */
  sub(offset: number, size: number, source = this.source): Cursor {
    this.check(offset, size, 'section');
    return new Cursor(this.bytes.subarray(offset, offset + size), { source, littleEndian: this.littleEndian, base: this.base + offset });
  }
}

/**
 * This machine's byte order, for the measured fast paths that view bytes as Int32Array or
 * Uint32Array when they are already in host order (BTF validation, kallsyms offsets).
 */
export const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** Decode as UTF-8 when valid, else Latin-1, so that hostile bytes never throw. */
export function latin1OrUtf8(b: Uint8Array): string {
  try {
    return utf8.decode(b);
  } catch {
    return latin1.decode(b);
  }
}
