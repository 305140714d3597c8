/**
 * The kernel's own symbol table (kallsyms), decoded from memory.
 *
 * scripts/kallsyms.c (6.1) emits these tables into .rodata, and VMCOREINFO (kernel/crash_core.c,
 * 6.0+ and backports) records where they are:
 *   kallsyms_num_syms     u32 count
 *   kallsyms_names        per symbol: a length in tokens, then that many token numbers. Since 6.1
 *                         (commit 73bbb94466fd "kallsyms: support "big" kernel symbols") a length
 *                         with bit 7 set takes a second byte: len = (b0 & 0x7f) | b1 << 7.
 *   kallsyms_token_table  256 NUL-terminated strings, concatenated
 *   kallsyms_token_index  256 × u16: where each token starts in the token table
 *   addresses, one of four encodings (scripts/kallsyms.c, kernel/kallsyms.c kallsyms_sym_address):
 *     absolute         kallsyms_addresses[i], u64                   (!KALLSYMS_BASE_RELATIVE, ≤ 6.10)
 *     base-relative    kallsyms_relative_base + (u32)kallsyms_offsets[i]
 *     absolute-percpu  off = (s32)kallsyms_offsets[i]; off ≥ 0 ? off : relative_base − 1 − off
 *                      (x86_64 SMP up to 6.15: per-CPU symbols keep their small absolute value)
 *     place-relative   &kallsyms_offsets[i] + (s32)kallsyms_offsets[i]   (newest kernels)
 * The expanded first character of a name is its type (T, t, D, d, B, b, R, r, W, w, V, A, …).
 * VMCOREINFO does not say which address encoding is in use: each candidate is tried and the one
 * that puts `_stext` at VMCOREINFO's SYMBOL(_stext) wins. There are no sizes; /proc/kallsyms
 * order is table order (sorted by address by scripts/kallsyms.c).
 */
import { BadDataError, FaultError, NotFoundError, UnsupportedError, hex } from '@kbtf/binary';
import type { VmcoreInfo } from '@kbtf/vmcore';
import type { KernelMemory } from './memory.js';

export type KallsymsEncoding = 'absolute' | 'base-relative' | 'absolute-percpu' | 'place-relative';

/** KSYM_NAME_LEN (include/linux/kallsyms.h): 512 since 6.1, 128 before. Bounds one entry. */
const KSYM_NAME_LEN = 512;
const MAX_ENTRY = 2 + KSYM_NAME_LEN;
const WINDOW = 256 * 1024;
/** A sanity cap on kallsyms_num_syms (Debian 6.1: ~150,000; allyesconfig: ~400,000). */
const MAX_SYMS = 4_000_000;

export interface SymbolAt {
  name: string;
  address: bigint;
  type: string;
  offset: bigint;
}

/** The vmlinux symbols, in table (= /proc/kallsyms) order. */
export class Kallsyms {
  private byName?: Map<string, number>;
  private sorted?: number[];

  constructor(
    readonly names: string[],
    /** Type character codes, one per symbol. */
    readonly types: Uint8Array,
    readonly addresses: bigint[],
    readonly encoding: KallsymsEncoding,
  ) {}

  get count(): number {
    return this.names.length;
  }

  typeOf(i: number): string {
    return String.fromCharCode(this.types[i]);
  }

  /** Index of the first symbol with this name. */
  indexOf(name: string): number | undefined {
    if (!this.byName) {
      this.byName = new Map();
      for (let i = 0; i < this.names.length; i++) if (!this.byName.has(this.names[i])) this.byName.set(this.names[i], i);
    }
    return this.byName.get(name);
  }

  /** Address of a symbol, or undefined. */
  lookup(name: string): bigint | undefined {
    const i = this.indexOf(name);
    return i === undefined ? undefined : this.addresses[i];
  }

  /** Address of a symbol; NotFoundError when absent. */
  address(name: string): bigint {
    const a = this.lookup(name);
    if (a === undefined) throw new NotFoundError(`kallsyms: no symbol '${name}'`);
    return a;
  }

  /** The nearest symbol at or before `address` (the last one of several at the same address). */
  symbolize(address: bigint): SymbolAt | undefined {
    if (!this.sorted) {
      const a = this.addresses;
      this.sorted = a.map((_, i) => i).sort((x, y) => (a[x] < a[y] ? -1 : a[x] > a[y] ? 1 : x - y));
    }
    const s = this.sorted;
    let lo = 0;
    let hi = s.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.addresses[s[mid]] <= address) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    const i = s[best];
    return { name: this.names[i], address: this.addresses[i], type: this.typeOf(i), offset: address - this.addresses[i] };
  }
}

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

export function kallsymsLocation(info: VmcoreInfo): KallsymsLocation {
  const sym = (name: string): bigint => {
    const v = info.symbols.get(name);
    if (v === undefined) throw new NotFoundError(`VMCOREINFO lacks SYMBOL(${name}) (kallsyms in VMCOREINFO needs 6.0+): cannot read kallsyms`);
    return v;
  };
  return {
    names: sym('kallsyms_names'),
    numSyms: sym('kallsyms_num_syms'),
    tokenTable: sym('kallsyms_token_table'),
    tokenIndex: sym('kallsyms_token_index'),
    offsets: info.symbols.get('kallsyms_offsets'),
    relativeBase: info.symbols.get('kallsyms_relative_base'),
    addresses: info.symbols.get('kallsyms_addresses'),
    stext: info.symbols.get('_stext'),
  };
}

/** Decode every symbol in one pass. */
export function readKallsyms(mem: KernelMemory, loc: KallsymsLocation): Kallsyms {
  const count = mem.u32(loc.numSyms);
  if (count === 0 || count > MAX_SYMS) throw new BadDataError('kallsyms', loc.numSyms, `implausible kallsyms_num_syms ${count}`);
  const tokens = readTokens(mem, loc);
  const { names, types } = decodeNames(mem, loc, count, tokens);
  const { addresses, encoding } = chooseAddresses(mem, loc, count, names);
  return new Kallsyms(names, types, addresses, encoding);
}

function readTokens(mem: KernelMemory, loc: KallsymsLocation): string[] {
  const idx = mem.read(loc.tokenIndex, 256 * 2);
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const starts: number[] = [];
  for (let i = 0; i < 256; i++) starts.push(dv.getUint16(i * 2, true));
  const maxStart = Math.max(...starts);
  // Tokens are short (scripts/kallsyms.c merges pairs; a token rarely passes 20 bytes).
  const table = mem.read(loc.tokenTable, maxStart + 1);
  const tail = mem.cstring(loc.tokenTable + BigInt(maxStart), KSYM_NAME_LEN);
  const latin1 = new TextDecoder('latin1');
  return starts.map((s) => {
    if (s === maxStart) return latin1.decode(tail);
    const end = table.indexOf(0, s);
    if (end < 0) throw new BadDataError('kallsyms_token_table', s, 'unterminated token');
    return latin1.decode(table.subarray(s, end));
  });
}

/** A growing window over kallsyms_names, read in large chunks, stopping short of a fault. */
class NameStream {
  private buf: Uint8Array = new Uint8Array(0);
  private bufStart = 0;
  constructor(
    private readonly mem: KernelMemory,
    private readonly base: bigint,
  ) {}

  /** The window, guaranteed to hold MAX_ENTRY bytes from `pos` when memory has them. */
  at(pos: number): { buf: Uint8Array; start: number } {
    if (pos - this.bufStart + MAX_ENTRY > this.buf.length) this.refill(pos);
    return { buf: this.buf, start: this.bufStart };
  }

  private refill(pos: number): void {
    const v = this.base + BigInt(pos);
    try {
      this.buf = this.mem.read(v, WINDOW);
    } catch (err) {
      // The window ran off mapped memory: keep what precedes the fault, if anything.
      if (!(err instanceof FaultError) || err.space !== 'virtual' || err.address <= v) throw err;
      this.buf = this.mem.read(v, Number(err.address - v));
    }
    this.bufStart = pos;
  }
}

function decodeNames(mem: KernelMemory, loc: KallsymsLocation, count: number, tokens: string[]): { names: string[]; types: Uint8Array } {
  const names = new Array<string>(count);
  const types = new Uint8Array(count);
  const stream = new NameStream(mem, loc.names);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const { buf, start } = stream.at(pos);
    let p = pos - start;
    if (p >= buf.length) throw new FaultError('virtual', loc.names + BigInt(pos), 'not-mapped', `kallsyms_names ends at symbol ${i} of ${count}`);
    let len = buf[p++];
    if (len & 0x80) len = (len & 0x7f) | (buf[p++] << 7);
    if (len === 0 || p + len > buf.length) throw new BadDataError('kallsyms_names', loc.names + BigInt(pos), `bad entry ${i}: length ${len}`);
    let s = '';
    for (let k = 0; k < len; k++) s += tokens[buf[p + k]];
    types[i] = s.charCodeAt(0);
    names[i] = s.slice(1);
    pos = start + p + len;
  }
  return { names, types };
}

function chooseAddresses(mem: KernelMemory, loc: KallsymsLocation, count: number, names: string[]): { addresses: bigint[]; encoding: KallsymsEncoding } {
  const stextIndex = names.indexOf('_stext');
  const candidates: [KallsymsEncoding, () => bigint[]][] = [];
  if (loc.addresses !== undefined) {
    const at = loc.addresses;
    candidates.push(['absolute', () => u64Array(mem.read(at, count * 8), count)]);
  }
  if (loc.offsets !== undefined) {
    const raw = mem.read(loc.offsets, count * 4);
    const offs = new Int32Array(count);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) offs[i] = dv.getInt32(i * 4, true);
    if (loc.relativeBase !== undefined) {
      const base = mem.u64(loc.relativeBase);
      candidates.push(['absolute-percpu', () => Array.from(offs, (o) => (o >= 0 ? BigInt(o) : base - 1n - BigInt(o)))]);
      candidates.push(['base-relative', () => Array.from(offs, (o) => base + BigInt(o >>> 0))]);
    }
    const at = loc.offsets;
    candidates.push(['place-relative', () => Array.from(offs, (o, i) => BigInt.asUintN(64, at + BigInt(i * 4) + BigInt(o)))]);
  }
  if (candidates.length === 0) throw new UnsupportedError('VMCOREINFO has neither kallsyms_offsets nor kallsyms_addresses');
  if (stextIndex < 0 || loc.stext === undefined) {
    if (candidates.length === 1) return { addresses: candidates[0][1](), encoding: candidates[0][0] };
    throw new UnsupportedError('cannot choose the kallsyms address encoding: no _stext to check against');
  }
  const seen: string[] = [];
  for (const [encoding, build] of candidates) {
    const addresses = build();
    if (addresses[stextIndex] === loc.stext) return { addresses, encoding };
    seen.push(`${encoding} ${hex(addresses[stextIndex])}`);
  }
  throw new BadDataError('kallsyms', loc.offsets ?? loc.addresses, `no address encoding puts _stext at ${hex(loc.stext)} (${seen.join(', ')})`);
}

function u64Array(b: Uint8Array, count: number): bigint[] {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const out = new Array<bigint>(count);
  for (let i = 0; i < count; i++) out[i] = dv.getBigUint64(i * 8, true);
  return out;
}
