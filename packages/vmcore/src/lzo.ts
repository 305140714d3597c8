/**
 * An LZO1X decompressor (what makedumpfile -l writes: liblzo2's lzo1x_1_compress), ported from
 * the kernel's lzo1x_decompress_safe (lib/lzo/lzo1x_decompress_safe.c, 6.1) without its
 * unaligned-copy fast paths. Output is bounded by `outLen`; every input and look-behind access is
 * checked, so hostile input throws instead of reading or writing out of bounds. The kernel's
 * "lzo-rle" bitstream (leading byte 17 + version) is accepted too.
 */
const M2_MAX_OFFSET = 0x0800;
const MIN_ZERO_RUN_LENGTH = 4;

export class LzoError extends Error {}

const LOOP = 0;
const COPY_LITERAL = 1;
const MATCH_NEXT = 2;

/**
 * Decompress `input`, which must expand to exactly `outLen` bytes: into `out` (its first `outLen`
 * bytes; a page of a longer read, no page of its own made), else into a new array. On an error
 * `out` is partly written.
 */
// eslint-disable-next-line max-lines-per-function -- one decoder state machine (LOOP / COPY_LITERAL / MATCH_NEXT) mirroring lib/lzo/lzo1x_decompress_safe.c; its op/ip cursors are locals of the hot loop
export function lzo1xDecompress(input: Uint8Array, outLen: number, into?: Uint8Array): Uint8Array {
  if (into && into.byteLength < outLen) throw new RangeError(`lzo: ${into.byteLength} bytes of room for ${outLen}`);
  const out = into ?? new Uint8Array(outLen);
  const ipEnd = input.byteLength;
  let ip = 0;
  let op = 0;
  let t = 0;
  let next = 0;
  let state = 0;
  let mPos = 0;
  // The bounds checks are written out where they apply, not small closures: V8 runs the launcher
  // without TurboFan inlining, so each would be a call per byte read (and five closures made per
  // page). Each check throws what the kernel's NEED_IP / NEED_OP / TEST_LB return.
  if (ipEnd < 3) throw inputOverrun();
  let bitstreamVersion = 0;
  if (ipEnd >= 5 && input[0] === 17) {
    bitstreamVersion = input[1];
    ip = 2;
  }
  let mode = LOOP;
  if (input[ip] > 17) {
    t = input[ip++] - 17;
    if (t < 4) {
      next = t;
      mode = MATCH_NEXT;
    } else mode = COPY_LITERAL;
  }

  for (;;) {
    if (mode === COPY_LITERAL) {
      if (outLen - op < t) throw outputOverrun();
      if (ipEnd - ip < t + 3) throw inputOverrun();
      if (t < SHORT_COPY) for (let i = 0; i < t; i++) out[op + i] = input[ip + i];
      else out.set(input.subarray(ip, ip + t), op);
      op += t;
      ip += t;
      state = 4;
      mode = LOOP;
      continue;
    }
    if (mode === MATCH_NEXT) {
      state = next;
      t = next;
      if (ipEnd - ip < t + 3) throw inputOverrun();
      if (outLen - op < t) throw outputOverrun();
      for (; t > 0; t--) out[op++] = input[ip++];
      mode = LOOP;
      continue;
    }
    if (ip >= ipEnd) throw inputOverrun();
    t = input[ip++];
    if (t < 16) {
      if (state === 0) {
        if (t === 0) {
          const z = zeroRun(input, ip);
          ip += z;
          t = z * 255 + 15 + input[ip++];
        }
        t += 3;
        mode = COPY_LITERAL;
        continue;
      }
      next = t & 3;
      if (ip >= ipEnd) throw inputOverrun();
      if (state !== 4) {
        mPos = op - 1 - (t >> 2) - (input[ip++] << 2);
        if (mPos < 0) throw new LzoError('look-behind overrun');
        if (outLen - op < 2) throw outputOverrun();
        out[op++] = out[mPos++];
        out[op++] = out[mPos];
        mode = MATCH_NEXT;
        continue;
      }
      mPos = op - (1 + M2_MAX_OFFSET) - (t >> 2) - (input[ip++] << 2);
      t = 3;
    } else if (t >= 64) {
      next = t & 3;
      if (ip >= ipEnd) throw inputOverrun();
      mPos = op - 1 - ((t >> 2) & 7) - (input[ip++] << 3);
      t = (t >> 5) - 1 + 2;
    } else if (t >= 32) {
      t = (t & 31) + 2;
      if (t === 2) {
        const z = zeroRun(input, ip);
        ip += z;
        t += z * 255 + 31 + input[ip++];
      }
      if (ipEnd - ip < 2) throw inputOverrun();
      next = input[ip] | (input[ip + 1] << 8);
      ip += 2;
      mPos = op - 1 - (next >> 2);
      next &= 3;
    } else {
      if (ipEnd - ip < 2) throw inputOverrun();
      next = input[ip] | (input[ip + 1] << 8);
      if ((next & 0xfffc) === 0xfffc && (t & 0xf8) === 0x18 && bitstreamVersion) {
        if (ipEnd - ip < 3) throw inputOverrun();
        t = ((t & 7) | (input[ip + 2] << 3)) + MIN_ZERO_RUN_LENGTH;
        if (outLen - op < t) throw outputOverrun();
        out.fill(0, op, op + t);
        op += t;
        next &= 3;
        ip += 3;
        mode = MATCH_NEXT;
        continue;
      }
      mPos = op - ((t & 8) << 11);
      t = (t & 7) + 2;
      if (t === 2) {
        const z = zeroRun(input, ip);
        ip += z;
        t += z * 255 + 7 + input[ip++];
        if (ipEnd - ip < 2) throw inputOverrun();
        next = input[ip] | (input[ip + 1] << 8);
      }
      ip += 2;
      mPos -= next >> 2;
      next &= 3;
      if (mPos === op) {
        if (t !== 3) throw new LzoError('bad end marker');
        if (ip !== ipEnd) throw new LzoError('input not consumed');
        if (op !== outLen) throw new LzoError(`decompressed to ${op} bytes, expected ${outLen}`);
        return out;
      }
      mPos -= 0x4000;
    }
    if (mPos < 0) throw new LzoError('look-behind overrun');
    if (outLen - op < t) throw outputOverrun();
    op = copyMatch(out, op, mPos, t);
    mode = MATCH_NEXT;
  }
}

function inputOverrun(): LzoError {
  return new LzoError('input overrun');
}

function outputOverrun(): LzoError {
  return new LzoError('output overrun');
}

/**
 * The zero bytes at `ip` of an LZO long length (each adds 255), up to the byte that ends it, which
 * must be there: the caller reads it at ip + the count.
 */
function zeroRun(input: Uint8Array, ip: number): number {
  let p = ip;
  while (p < input.byteLength && input[p] === 0) p++;
  if (p >= input.byteLength) throw inputOverrun();
  return p - ip;
}

/** Below this many bytes a copy is a loop; from it on, one native copy (a call and a view cost more for a few bytes). */
const SHORT_COPY = 16;

/**
 * The match of `t` bytes at `mPos` (< op) appended at `op`; returns the new op. Byte by byte it is
 * LZ77's overlapping copy (a distance shorter than the length repeats the last `op - mPos` bytes:
 * a run of zeros in a page is one 4,000-byte match at distance 1). A long one is native copies of
 * what is already written, doubling: out[mPos, op) holds a whole number of periods, so copying it
 * to op continues the pattern.
 */
function copyMatch(out: Uint8Array, op: number, mPos: number, t: number): number {
  if (t < SHORT_COPY) {
    for (let i = 0; i < t; i++) out[op + i] = out[mPos + i];
    return op + t;
  }
  while (t > 0) {
    const n = Math.min(t, op - mPos);
    out.copyWithin(op, mPos, mPos + n);
    op += n;
    t -= n;
  }
  return op;
}
