/**
 * A growable little/big-endian byte writer, the twin of Cursor for encoders (BTF writer, test
 * builders of edge-case inputs).
 */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  readonly littleEndian: boolean;
  length = 0;

  constructor(options: { littleEndian?: boolean; capacity?: number } = {}) {
    this.littleEndian = options.littleEndian ?? true;
    this.buf = new Uint8Array(options.capacity ?? 256);
    this.view = new DataView(this.buf.buffer);
  }

  private reserve(n: number): number {
    const at = this.length;
    if (at + n > this.buf.byteLength) {
      let cap = this.buf.byteLength * 2;
      while (cap < at + n) cap *= 2;
      const next = new Uint8Array(cap);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    this.length += n;
    return at;
  }

  u8(v: number): this {
    const at = this.reserve(1);
    this.view.setUint8(at, v);
    return this;
  }
  u16(v: number): this {
    const at = this.reserve(2);
    this.view.setUint16(at, v, this.littleEndian);
    return this;
  }
  u32(v: number): this {
    const at = this.reserve(4);
    this.view.setUint32(at, v >>> 0, this.littleEndian);
    return this;
  }
  i32(v: number): this {
    const at = this.reserve(4);
    this.view.setInt32(at, v, this.littleEndian);
    return this;
  }
  u64(v: bigint): this {
    const at = this.reserve(8);
    this.view.setBigUint64(at, BigInt.asUintN(64, v), this.littleEndian);
    return this;
  }
  i64(v: bigint): this {
    const at = this.reserve(8);
    this.view.setBigInt64(at, BigInt.asIntN(64, v), this.littleEndian);
    return this;
  }
  bytes(b: Uint8Array): this {
    const at = this.reserve(b.byteLength);
    this.buf.set(b, at);
    return this;
  }
  /** NUL-terminated UTF-8. */
  cstring(s: string): this {
    return this.bytes(new TextEncoder().encode(s)).u8(0);
  }
  zeros(n: number): this {
    this.reserve(n); // new capacity is zero-filled; reused capacity never is written twice
    this.buf.fill(0, this.length - n, this.length);
    return this;
  }
  /** Pad with zeros to a multiple of `align`. */
  align(align: number): this {
    const pad = (align - (this.length % align)) % align;
    return this.zeros(pad);
  }
  /** Overwrite a u32 at `offset` (for back-patching lengths). */
  patchU32(offset: number, v: number): this {
    this.view.setUint32(offset, v >>> 0, this.littleEndian);
    return this;
  }
  finish(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
