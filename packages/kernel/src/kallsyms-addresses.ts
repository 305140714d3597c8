/**
 * Where kallsyms' tables are, and the four encodings of its addresses (kallsyms.ts has the
 * format): each candidate encoding is decoded and the one that puts _stext where VMCOREINFO says
 * is kept.
 */

import { BadDataError, HOST_LE, UnsupportedError, hex } from '@kbtf/binary';
import type { KernelMemory } from './memory.js';

export type KallsymsEncoding = 'absolute' | 'base-relative' | 'absolute-percpu' | 'place-relative';

/** Where the tables are: the VMCOREINFO SYMBOL()s. */
export interface KallsymsLocation {
  names: bigint;
  numSyms: bigint;
  tokenTable: bigint;
  tokenIndex: bigint;
  offsets?: bigint;
  relativeBase?: bigint;
  addresses?: bigint;
  /** SYMBOL(_stext), to choose the address encoding. */
  stext?: bigint;
}

export type AddressOf = (i: number) => bigint;
/** Fills hi[i], lo[i] with the high and low 32 bits of symbol i's address (mod 2^64). */
export type Halves = (hi: Uint32Array, lo: Uint32Array) => void;
export interface Encoded {
  addressOf: AddressOf;
  halves: Halves;
}

/** Flips the sign bit: x ^ MIN_I32 < y ^ MIN_I32 compares two int32 bit patterns as unsigned. */
export const MIN_I32 = -0x80000000;

/**
 * Every symbol's address as u32 halves, from kallsyms_offsets: by `delta`, `percpu` a non-negative
 * offset itself, else base + ~offset (absolute-percpu), `u32` base + the offset as unsigned
 * (base-relative), `place` base + i × 4 + the offset (place-relative); mod 2^64. One loop with no
 * call per symbol: it runs once over ~150,000 symbols, mostly before V8 has optimised it, so its
 * arithmetic is on int32 bit patterns (a 64-bit add as two 32-bit halves and a carry): a sum past
 * 2^31 as a double is a heap number in unoptimised code, and the double version allocated ~9 MB
 * (~90 bytes a symbol) on the 6.1 companion dump.
 */
function addHalves(base: bigint, offs: Int32Array, delta: 'percpu' | 'u32' | 'place'): Halves {
  const bh = Number(BigInt.asIntN(32, base >> 32n));
  const bl = Number(BigInt.asIntN(32, base));
  const mode = delta === 'percpu' ? 0 : delta === 'u32' ? 1 : 2;
  return (hi, lo) => {
    for (let i = 0; i < hi.length; i++) {
      const o = offs[i];
      if (mode === 0 && o >= 0) {
        hi[i] = 0;
        lo[i] = o;
        continue;
      }
      // The addend as its low 32 bits and its high word (0, or -1 for a negative place offset).
      let add = o;
      let high = 0;
      if (mode === 0) add = ~o;
      else if (mode === 2) {
        const s = i * 4 + o;
        add = s | 0;
        high = s < 0 ? -1 : 0;
      }
      const l = (bl + add) | 0;
      const carry = (l ^ MIN_I32) < (bl ^ MIN_I32) ? 1 : 0;
      lo[i] = l;
      hi[i] = (bh + high + carry) | 0;
    }
  };
}

export function chooseAddresses(mem: KernelMemory, loc: KallsymsLocation, count: number, stextIndex: number | undefined): Encoded & { encoding: KallsymsEncoding } {
  const candidates: [KallsymsEncoding, () => Encoded][] = [];
  if (loc.addresses !== undefined) {
    const at = loc.addresses;
    candidates.push(['absolute', () => {
      const raw = mem.read(at, count * 8);
      // Hot path: one address per symbol, read by index for every lookup of the table.
      // eslint-disable-next-line no-restricted-syntax
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return {
        addressOf: (i) => dv.getBigUint64(i * 8, true),
        halves: (hi, lo) => {
          for (let i = 0; i < hi.length; i++) {
            lo[i] = dv.getUint32(i * 8, true);
            hi[i] = dv.getUint32(i * 8 + 4, true);
          }
        },
      };
    }]);
  }
  if (loc.offsets !== undefined) {
    const raw = mem.read(loc.offsets, count * 4);
    let offs: Int32Array;
    if (HOST_LE && raw.byteOffset % 4 === 0) offs = new Int32Array(raw.buffer, raw.byteOffset, count);
    else {
      offs = new Int32Array(count);
      // Hot path: the whole offsets table (~170,000 entries) copied once, unaligned or big-endian host.
      // eslint-disable-next-line no-restricted-syntax
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      for (let i = 0; i < count; i++) offs[i] = dv.getInt32(i * 4, true);
    }
    if (loc.relativeBase !== undefined) {
      const base = mem.u64(loc.relativeBase);
      candidates.push(['absolute-percpu', () => ({
        // A non-negative offset is the address itself (a per-CPU offset); else base - 1 - offset.
        addressOf: (i) => (offs[i] >= 0 ? BigInt(offs[i]) : base - 1n - BigInt(offs[i])),
        halves: addHalves(base, offs, 'percpu'),
      })]);
      candidates.push(['base-relative', () => ({ addressOf: (i) => base + BigInt(offs[i] >>> 0), halves: addHalves(base, offs, 'u32') })]);
    }
    const at = loc.offsets;
    candidates.push(['place-relative', () => ({ addressOf: (i) => BigInt.asUintN(64, at + BigInt(i * 4) + BigInt(offs[i])), halves: addHalves(at, offs, 'place') })]);
  }
  if (candidates.length === 0) throw new UnsupportedError('VMCOREINFO has neither kallsyms_offsets nor kallsyms_addresses');
  if (stextIndex === undefined || loc.stext === undefined) {
    if (candidates.length === 1) return { ...candidates[0][1](), encoding: candidates[0][0] };
    throw new UnsupportedError('cannot choose the kallsyms address encoding: no _stext to check against');
  }
  const seen: string[] = [];
  for (const [encoding, build] of candidates) {
    const built = build();
    if (built.addressOf(stextIndex) === loc.stext) return { ...built, encoding };
    seen.push(`${encoding} ${hex(built.addressOf(stextIndex))}`);
  }
  throw new BadDataError('kallsyms', loc.offsets ?? loc.addresses, `no address encoding puts _stext at ${hex(loc.stext)} (${seen.join(', ')})`);
}
