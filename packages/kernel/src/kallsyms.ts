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

/**
 * The vmlinux symbols, in table (= /proc/kallsyms) order. Names are kept expanded in one byte blob
 * (type character first) and turned into strings only when asked for: a lookup by name compares
 * bytes, so finding a few symbols never builds 150,000 strings.
 */
export class Kallsyms {
  private byName?: Map<string, number>;
  private sorted?: number[];
  private namesCache?: string[];
  private addressCache?: bigint[];

  constructor(
    /** Expanded entries, each its type character then its name. */
    private readonly blob: Uint8Array,
    /** Entry i is blob[starts[i] .. starts[i + 1]). */
    private readonly starts: Uint32Array,
    private readonly addressOf: (i: number) => bigint,
    readonly encoding: KallsymsEncoding,
  ) {}

  get count(): number {
    return this.starts.length - 1;
  }

  /** Every name, in table order. */
  get names(): string[] {
    if (!this.namesCache) {
      const buf = Buffer.from(this.blob.buffer, this.blob.byteOffset, this.blob.byteLength);
      const out = new Array<string>(this.count);
      for (let i = 0; i < out.length; i++) out[i] = buf.toString('latin1', this.starts[i] + 1, this.starts[i + 1]);
      this.namesCache = out;
    }
    return this.namesCache;
  }

  /** Every address, in table order. */
  get addresses(): bigint[] {
    if (!this.addressCache) {
      const out = new Array<bigint>(this.count);
      for (let i = 0; i < out.length; i++) out[i] = this.addressOf(i);
      this.addressCache = out;
    }
    return this.addressCache;
  }

  nameOf(i: number): string {
    return this.namesCache ? this.namesCache[i] : Buffer.from(this.blob.buffer, this.blob.byteOffset, this.blob.byteLength).toString('latin1', this.starts[i] + 1, this.starts[i + 1]);
  }

  addressAt(i: number): bigint {
    return this.addressCache ? this.addressCache[i] : this.addressOf(i);
  }

  typeOf(i: number): string {
    return String.fromCharCode(this.blob[this.starts[i]]);
  }

  /** Index of the first symbol with this name. */
  indexOf(name: string): number | undefined {
    if (this.byName) return this.byName.get(name);
    const want = Buffer.from(name, 'latin1');
    const { blob, starts } = this;
    const n = this.count;
    outer: for (let i = 0; i < n; i++) {
      const s = starts[i] + 1;
      if (starts[i + 1] - s !== want.length) continue;
      for (let k = 0; k < want.length; k++) if (blob[s + k] !== want[k]) continue outer;
      return i;
    }
    return undefined;
  }

  /** Build the name index (worth it for many lookups). */
  indexNames(): void {
    if (this.byName) return;
    const m = new Map<string, number>();
    const names = this.names;
    for (let i = 0; i < names.length; i++) if (!m.has(names[i])) m.set(names[i], i);
    this.byName = m;
  }

  /** Address of a symbol, or undefined. */
  lookup(name: string): bigint | undefined {
    const i = this.indexOf(name);
    return i === undefined ? undefined : this.addressAt(i);
  }

  /** Address of a symbol; NotFoundError when absent. */
  address(name: string): bigint {
    const a = this.lookup(name);
    if (a === undefined) throw new NotFoundError(`kallsyms: no symbol '${name}'`);
    return a;
  }

  /** The nearest symbol at or before `address` (the last one of several at the same address). */
  symbolize(address: bigint): SymbolAt | undefined {
    const a = this.addresses;
    if (!this.sorted) this.sorted = a.map((_, i) => i).sort((x, y) => (a[x] < a[y] ? -1 : a[x] > a[y] ? 1 : x - y));
    const s = this.sorted;
    let lo = 0;
    let hi = s.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (a[s[mid]] <= address) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best < 0) return undefined;
    const i = s[best];
    return { name: this.nameOf(i), address: a[i], type: this.typeOf(i), offset: address - a[i] };
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
  const { blob, starts } = decodeNames(mem, loc, count, tokens);
  const probe = new Kallsyms(blob, starts, () => 0n, 'absolute');
  const { addressOf, encoding } = chooseAddresses(mem, loc, count, probe.indexOf('_stext'));
  return new Kallsyms(blob, starts, addressOf, encoding);
}

function readTokens(mem: KernelMemory, loc: KallsymsLocation): Uint8Array[] {
  const idx = mem.read(loc.tokenIndex, 256 * 2);
  const dv = new DataView(idx.buffer, idx.byteOffset, idx.byteLength);
  const starts: number[] = [];
  for (let i = 0; i < 256; i++) starts.push(dv.getUint16(i * 2, true));
  const maxStart = Math.max(...starts);
  // Tokens are short (scripts/kallsyms.c merges pairs; a token rarely passes 20 bytes).
  const table = mem.read(loc.tokenTable, maxStart + 1);
  const tail = mem.cstring(loc.tokenTable + BigInt(maxStart), KSYM_NAME_LEN);
  return starts.map((s) => {
    if (s === maxStart) return tail;
    const end = table.indexOf(0, s);
    if (end < 0) throw new BadDataError('kallsyms_token_table', s, 'unterminated token');
    return table.subarray(s, end);
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

function decodeNames(mem: KernelMemory, loc: KallsymsLocation, count: number, tokens: Uint8Array[]): { blob: Uint8Array; starts: Uint32Array } {
  const starts = new Uint32Array(count + 1);
  let blob = new Uint8Array(count * 32);
  let at = 0;
  const stream = new NameStream(mem, loc.names);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    const { buf, start } = stream.at(pos);
    let p = pos - start;
    if (p >= buf.length) throw new FaultError('virtual', loc.names + BigInt(pos), 'not-mapped', `kallsyms_names ends at symbol ${i} of ${count}`);
    let len = buf[p++];
    if (len & 0x80) len = (len & 0x7f) | (buf[p++] << 7);
    if (len === 0 || p + len > buf.length) throw new BadDataError('kallsyms_names', loc.names + BigInt(pos), `bad entry ${i}: length ${len}`);
    if (at + len * 64 > blob.length) {
      const bigger = new Uint8Array(Math.max(blob.length * 2, at + len * 64));
      bigger.set(blob.subarray(0, at));
      blob = bigger;
    }
    starts[i] = at;
    for (let k = 0; k < len; k++) {
      const t = tokens[buf[p + k]];
      for (let j = 0; j < t.length; j++) blob[at++] = t[j];
    }
    pos = start + p + len;
  }
  starts[count] = at;
  return { blob: blob.subarray(0, at), starts };
}

type AddressOf = (i: number) => bigint;

function chooseAddresses(mem: KernelMemory, loc: KallsymsLocation, count: number, stextIndex: number | undefined): { addressOf: AddressOf; encoding: KallsymsEncoding } {
  const candidates: [KallsymsEncoding, () => AddressOf][] = [];
  if (loc.addresses !== undefined) {
    const at = loc.addresses;
    candidates.push(['absolute', () => {
      const raw = mem.read(at, count * 8);
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      return (i) => dv.getBigUint64(i * 8, true);
    }]);
  }
  if (loc.offsets !== undefined) {
    const raw = mem.read(loc.offsets, count * 4);
    const offs = new Int32Array(count);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    for (let i = 0; i < count; i++) offs[i] = dv.getInt32(i * 4, true);
    if (loc.relativeBase !== undefined) {
      const base = mem.u64(loc.relativeBase);
      candidates.push(['absolute-percpu', () => (i) => (offs[i] >= 0 ? BigInt(offs[i]) : base - 1n - BigInt(offs[i]))]);
      candidates.push(['base-relative', () => (i) => base + BigInt(offs[i] >>> 0)]);
    }
    const at = loc.offsets;
    candidates.push(['place-relative', () => (i) => BigInt.asUintN(64, at + BigInt(i * 4) + BigInt(offs[i]))]);
  }
  if (candidates.length === 0) throw new UnsupportedError('VMCOREINFO has neither kallsyms_offsets nor kallsyms_addresses');
  if (stextIndex === undefined || loc.stext === undefined) {
    if (candidates.length === 1) return { addressOf: candidates[0][1](), encoding: candidates[0][0] };
    throw new UnsupportedError('cannot choose the kallsyms address encoding: no _stext to check against');
  }
  const seen: string[] = [];
  for (const [encoding, build] of candidates) {
    const addressOf = build();
    if (addressOf(stextIndex) === loc.stext) return { addressOf, encoding };
    seen.push(`${encoding} ${hex(addressOf(stextIndex))}`);
  }
  throw new BadDataError('kallsyms', loc.offsets ?? loc.addresses, `no address encoding puts _stext at ${hex(loc.stext)} (${seen.join(', ')})`);
}
