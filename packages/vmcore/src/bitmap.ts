/**
 * kdump bitmaps: one bit per page frame, LSB first (bit `pfn & 7` of byte `pfn >> 3`).
 * The 1st bitmap says which frames exist (RAM), the 2nd which were dumped. Page descriptors are
 * stored one per set bit of the 2nd bitmap in pfn order, so a frame's descriptor index is the
 * rank of its bit: the number of set bits before it. `rank` answers that in O(1) with a prefix
 * table of counts per 16-byte block (one entry per 128 frames: 8 MiB for 1 TiB of RAM) plus a
 * byte-wise popcount of the block's head, and in one step for the frame after the last one asked.
 */
const POPCOUNT = new Uint8Array(256);
for (let i = 1; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1];

const BLOCK_BYTES = 16;

export class Bitmap {
  /** Number of bits the bitmap describes. */
  readonly bits: number;
  private prefix: Uint32Array | Float64Array | undefined;
  /** The last rank asked for (limit and answer), to answer the next frame's in one step. */
  private lastLimit = -2;
  private lastRank = 0;

  constructor(
    readonly bytes: Uint8Array,
    bits = bytes.byteLength * 8,
  ) {
    this.bits = Math.min(bits, bytes.byteLength * 8);
  }

  test(bit: number): boolean {
    if (bit < 0 || bit >= this.bits) return false;
    return (this.bytes[bit >>> 3] & (1 << (bit & 7))) !== 0;
  }

  private table(): Uint32Array | Float64Array {
    if (this.prefix) return this.prefix;
    const blocks = Math.ceil(this.bytes.byteLength / BLOCK_BYTES);
    const t = this.bytes.byteLength * 8 < 2 ** 32 ? new Uint32Array(blocks + 1) : new Float64Array(blocks + 1);
    let sum = 0;
    for (let b = 0; b < blocks; b++) {
      t[b] = sum;
      const end = Math.min(this.bytes.byteLength, (b + 1) * BLOCK_BYTES);
      for (let i = b * BLOCK_BYTES; i < end; i++) sum += POPCOUNT[this.bytes[i]];
    }
    t[blocks] = sum;
    this.prefix = t;
    return t;
  }

  /** Number of set bits in [0, bit). */
  rank(bit: number): number {
    const limit = Math.min(Math.max(bit, 0), this.bits);
    // Reads walk frames in order: the next frame's rank is this one's plus its bit.
    if (limit === this.lastLimit + 1) {
      this.lastRank += (this.bytes[this.lastLimit >>> 3] >> (this.lastLimit & 7)) & 1;
      this.lastLimit = limit;
      return this.lastRank;
    }
    this.lastRank = this.rankFromTable(limit);
    this.lastLimit = limit;
    return this.lastRank;
  }

  private rankFromTable(limit: number): number {
    const t = this.table();
    const byte = limit >>> 3;
    const block = Math.floor(byte / BLOCK_BYTES);
    let n = t[block];
    for (let i = block * BLOCK_BYTES; i < byte; i++) n += POPCOUNT[this.bytes[i]];
    const rem = limit & 7;
    if (rem) n += POPCOUNT[this.bytes[byte] & ((1 << rem) - 1)];
    return n;
  }

  /** Total set bits below `bits`. */
  count(): number {
    return this.rank(this.bits);
  }

  /** First bit ≥ `from` whose value is `value`, or `bits` when none. */
  next(from: number, value: boolean): number {
    let bit = Math.max(0, from);
    while (bit < this.bits) {
      const byte = this.bytes[bit >>> 3];
      // Skip whole bytes that cannot contain the value.
      if ((bit & 7) === 0 && byte === (value ? 0 : 0xff)) {
        bit += 8;
        continue;
      }
      if (((byte >> (bit & 7)) & 1) === (value ? 1 : 0)) return bit;
      bit++;
    }
    return this.bits;
  }
}
