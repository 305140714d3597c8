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
import { BadDataError, Cursor, FaultError, NotFoundError } from '@kbtf/binary';
import { KSYM_NAME_LEN } from '@kbtf/btf';
import type { VmcoreInfo } from '@kbtf/vmcore';
import type { KernelMemory } from './memory.js';
import { MIN_I32, chooseAddresses, type AddressOf, type Encoded, type Halves, type KallsymsEncoding, type KallsymsLocation } from './kallsyms-addresses.js';
import { HASH_P, MAX_INDEXED, bytesHash, hashSlot, nameHash, nameIndex, type NameIndex } from './name-hash.js';

export type { KallsymsEncoding, KallsymsLocation } from './kallsyms-addresses.js';

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
 * The vmlinux symbols, in table (= /proc/kallsyms) order. Names stay as the kernel stores them
 * (token numbers) and are expanded only when asked for; each has a 32-bit hash, folded from
 * per-token hashes at load, so that a lookup by name compares numbers and expands only the
 * entries whose hash matches: finding a few symbols never builds 150,000 strings.
 */
export class Kallsyms {
  /**
   * The name index (indexNames): an open-addressing table of table index + 1 by name hash, linear
   * probing. Symbols go in in table order, so the ones of one hash are met in table order.
   */
  private byHash?: NameIndex;
  /**
   * Every address as two u32 halves (table order), and the table indices sorted by (address,
   * index): `order` is undefined when that is the table order itself (as scripts/kallsyms.c writes
   * it), so that position p is symbol p.
   */
  private byAddress?: { hi: Uint32Array; lo: Uint32Array; order: Uint32Array | undefined };
  private namesCache?: string[];
  private addressCache?: bigint[];
  private readonly table: Names;
  /** Scratch space for expanding one name. */
  private scratch = new Uint8Array(1024);

  private readonly addressOf: AddressOf;
  /** Every address as u32 halves, computed without a BigInt per symbol. */
  private readonly halves: Halves;

  constructor(
    names: Names,
    addresses: Encoded,
    readonly encoding: KallsymsEncoding,
  ) {
    this.table = names;
    this.byHash = names.byHash;
    this.addressOf = addresses.addressOf;
    this.halves = addresses.halves;
  }

  get count(): number {
    return this.table.hashes.length;
  }

  /** Every name, in table order. */
  get names(): string[] {
    if (!this.namesCache) {
      const out = new Array<string>(this.count);
      for (let i = 0; i < out.length; i++) out[i] = this.nameOf(i);
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
    if (this.namesCache) return this.namesCache[i];
    const n = this.expand(i);
    return Buffer.from(this.scratch.buffer, 0, n).toString('latin1', 1);
  }

  addressAt(i: number): bigint {
    return this.addressCache ? this.addressCache[i] : this.addressOf(i);
  }

  typeOf(i: number): string {
    const { tokens, comp, entryAt } = this.table;
    return String.fromCharCode(tokens.bytes[tokens.start[comp[entryAt[i]]]]);
  }

  /** Expand entry i (type character, then name) into this.scratch; returns its length. */
  private expand(i: number): number {
    const { tokens, comp, entryAt, lens } = this.table;
    const { bytes, start } = tokens;
    const e = entryAt[i] + lens[i];
    let n = 0;
    for (let k = entryAt[i]; k < e; k++) {
      const t = comp[k];
      const len = start[t + 1] - start[t];
      if (n + len > this.scratch.length) {
        const bigger = new Uint8Array(this.scratch.length * 2 + len);
        bigger.set(this.scratch.subarray(0, n));
        this.scratch = bigger;
      }
      // Tokens are a few bytes: a loop, not a subarray view per token.
      const scratch = this.scratch;
      for (let b = start[t], end = start[t + 1]; b < end; b++) scratch[n++] = bytes[b];
    }
    return n;
  }

  /** Index of the first symbol with this name. */
  indexOf(name: string): number | undefined {
    return this.firstWithHash(nameHash(name), (i) => this.nameIs(i, name));
  }

  /**
   * indexOf for the name bytes[start, end), one byte a character (the latin1 reading of a string):
   * no string is made (verify looks up every vmlinux VAR's name from the BTF string section).
   */
  indexOfBytes(bytes: Uint8Array, start: number, end: number): number | undefined {
    const h = bytesHash(bytes, start, end);
    this.wantBytes = bytes;
    this.wantStart = start;
    this.wantEnd = end;
    return this.firstWithHash(h, this.isWanted);
  }

  /** indexOfBytes' name, and its matcher (made once: verify looks up tens of thousands of names). */
  private wantBytes: Uint8Array = new Uint8Array(0);
  private wantStart = 0;
  private wantEnd = 0;
  private readonly isWanted = (i: number): boolean => {
    const bytes = this.wantBytes;
    const start = this.wantStart;
    const end = this.wantEnd;
    const len = this.expand(i);
    if (len - 1 !== end - start) return false;
    for (let k = 0; k < end - start; k++) if (this.scratch[k + 1] !== bytes[start + k]) return false;
    return true;
  };

  /**
   * The first symbol in table order whose name hashes to `h` and `matches`; through the name index
   * once built. Every lookup by name goes through here (addressesOf visits all: `matches` false).
   */
  private firstWithHash(h: number, matches: (i: number) => boolean): number | undefined {
    const hashes = this.table.hashes;
    const index = this.byHash;
    if (index) {
      const slots = index.slots;
      const mask = slots.length - 1;
      for (let k = hashSlot(h, index.shift); slots[k] !== 0; k = (k + 1) & mask) {
        const i = slots[k] - 1;
        if (hashes[i] === h && matches(i)) return i;
      }
      return undefined;
    }
    const n = this.count;
    for (let i = 0; i < n; i++) if (hashes[i] === h && matches(i)) return i;
    return undefined;
  }

  /** Whether symbol i's name is `want` (compared as latin1 bytes). */
  private nameIs(i: number, want: string): boolean {
    const len = this.expand(i);
    if (len - 1 !== want.length) return false;
    for (let k = 0; k < want.length; k++) if (this.scratch[k + 1] !== (want.charCodeAt(k) & 0xff)) return false;
    return true;
  }

  /**
   * Build the name index, when readKallsyms did not (it does unless told not to): a hash table of
   * the symbols by name hash, at most half full, so that a lookup expands only the few names of its
   * hash, and no name string is built. One pass, no sort.
   */
  indexNames(): void {
    if (this.byHash) return;
    const hashes = this.table.hashes;
    if (hashes.length > MAX_INDEXED) return;
    const index = nameIndex(hashes.length);
    for (let i = 0; i < hashes.length; i++) index.add(hashes[i], i);
    this.byHash = index;
  }

  /** Every address of a name, in table order (static names repeat); undefined when absent. Builds the name index. */
  addressesOf(name: string): bigint[] | undefined {
    this.indexNames();
    let out: bigint[] | undefined;
    this.firstWithHash(nameHash(name), (i) => {
      if (this.nameIs(i, name)) (out ??= []).push(this.addressAt(i));
      return false;
    });
    return out;
  }

  /**
   * Whether a symbol of this name is at `address` (static names repeat: verify asks this of a VAR
   * whose name's first symbol is elsewhere). Each candidate's address is compared before its
   * name is expanded: a name that repeats hundreds of times costs one expansion, not hundreds.
   */
  hasSymbolAt(name: string, address: bigint): boolean {
    const a = BigInt.asUintN(64, address);
    const hi = Number(a >> 32n);
    const lo = Number(a & 0xffffffffn);
    return this.firstWithHash(nameHash(name), (i) => this.isAt(i, hi, lo) && this.nameIs(i, name)) !== undefined;
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
    const pos = this.lastAtOrBelow(address);
    if (pos < 0) return undefined;
    const order = this.byAddress!.order;
    const i = order ? order[pos] : pos;
    const a = this.addressAt(i);
    return { name: this.nameOf(i), address: a, type: this.typeOf(i), offset: address - a };
  }

  /** The lowest symbol address above `address` (aliases at `address` skipped), or undefined. */
  nextAddressAbove(address: bigint): bigint | undefined {
    const pos = this.lastAtOrBelow(address) + 1;
    const order = this.byAddress!.order;
    return pos < this.count ? this.addressAt(order ? order[pos] : pos) : undefined;
  }

  /**
   * nextAddressAbove(address) − address, or undefined when no symbol is above: a Number when it is
   * below 2^53 (always, within one kernel), computed from the address halves without a BigInt;
   * verify asks it for every variable of vmlinux.
   */
  gapAbove(address: bigint): number | bigint | undefined {
    const a = BigInt.asUintN(64, address);
    const wantHi = Number(a >> 32n);
    const wantLo = Number(a & 0xffffffffn);
    const pos = this.lastAtOrBelowHalves(wantHi, wantLo) + 1;
    if (pos >= this.count) return undefined;
    const { hi, lo, order } = this.byAddress!;
    const i = order ? order[pos] : pos;
    const gap = (hi[i] - wantHi) * 2 ** 32 + (lo[i] - wantLo);
    return a === address && Number.isSafeInteger(gap) ? gap : this.addressAt(i) - address;
  }

  /** Every symbol's address as u32 halves, by table index (hi[i], lo[i]): for loops over many symbols. */
  addressHalves(): { readonly hi: Uint32Array; readonly lo: Uint32Array } {
    return (this.byAddress ??= this.addressOrder());
  }

  /** Whether symbol i is at the address whose u32 halves are (hi, lo): no BigInt made. */
  isAt(i: number, hi: number, lo: number): boolean {
    const order = (this.byAddress ??= this.addressOrder());
    return order.hi[i] === hi && order.lo[i] === lo;
  }

  /**
   * gapAbove for the address whose u32 halves are (hi, lo), as a Number: undefined when no symbol
   * is above it or the gap is not exact as a double (gapAbove then says it as a BigInt).
   */
  gapAboveHalves(hi: number, lo: number): number | undefined {
    const pos = this.lastAtOrBelowHalves(hi, lo) + 1;
    if (pos >= this.count) return undefined;
    const byAddress = this.byAddress!;
    const i = byAddress.order ? byAddress.order[pos] : pos;
    const gap = (byAddress.hi[i] - hi) * 2 ** 32 + (byAddress.lo[i] - lo);
    return Number.isSafeInteger(gap) ? gap : undefined;
  }

  /**
   * gapAboveHalves at symbol i's own address. In a table in address order (as scripts/kallsyms.c
   * writes it) the next higher address is found by stepping past i's aliases, not by a search:
   * verify asks this of every vmlinux variable.
   */
  gapAboveSymbol(i: number): number | undefined {
    const { hi, lo, order } = (this.byAddress ??= this.addressOrder());
    if (order) return this.gapAboveHalves(hi[i], lo[i]);
    const h = hi[i];
    const l = lo[i];
    let j = i + 1;
    while (j < hi.length && hi[j] === h && lo[j] === l) j++;
    if (j >= hi.length) return undefined;
    const gap = (hi[j] - h) * 2 ** 32 + (lo[j] - l);
    return Number.isSafeInteger(gap) ? gap : undefined;
  }

  /**
   * The position in address order of the last symbol at or below `address` (-1 when none). The
   * address order is built once, without a BigInt per comparison: scripts/kallsyms.c writes the
   * table sorted by address (absolute per-CPU symbols, small offsets, first), so it is usually the
   * table order itself, checked in one pass; any other table is sorted.
   */
  private lastAtOrBelow(address: bigint): number {
    address = BigInt.asUintN(64, address);
    return this.lastAtOrBelowHalves(Number(address >> 32n), Number(address & 0xffffffffn));
  }

  /** lastAtOrBelow of the address whose high and low 32 bits are wantHi, wantLo. */
  private lastAtOrBelowHalves(wantHi: number, wantLo: number): number {
    const { hi, lo, order } = (this.byAddress ??= this.addressOrder());
    let l = 0;
    let h = hi.length;
    while (l < h) {
      const mid = (l + h) >>> 1;
      const i = order ? order[mid] : mid;
      if (hi[i] < wantHi || (hi[i] === wantHi && lo[i] <= wantLo)) l = mid + 1;
      else h = mid;
    }
    return l - 1;
  }

  private addressOrder(): { hi: Uint32Array; lo: Uint32Array; order: Uint32Array | undefined } {
    const n = this.count;
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    this.halves(hi, lo);
    // Compared as int32 bit patterns with the sign bit flipped (unsigned order): a Uint32Array
    // element past 2^31 (every kernel address half) is a heap number in unoptimised code, ~9 MB
    // of them for this one pass.
    const hs = new Int32Array(hi.buffer, hi.byteOffset, n);
    const ls = new Int32Array(lo.buffer, lo.byteOffset, n);
    let sorted = true;
    for (let i = 1; i < n && sorted; i++) {
      const h = hs[i] ^ MIN_I32;
      const hp = hs[i - 1] ^ MIN_I32;
      if (h < hp || (h === hp && (ls[i] ^ MIN_I32) < (ls[i - 1] ^ MIN_I32))) sorted = false;
    }
    if (sorted) return { hi, lo, order: undefined };
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((x, y) => hi[x] - hi[y] || lo[x] - lo[y] || x - y);
    return { hi, lo, order };
  }
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

/**
 * Decode every symbol in one pass, building the name index as it goes (`nameIndex: false`: not
 * until indexNames; lookups scan the hashes until then).
 */
export function readKallsyms(mem: KernelMemory, loc: KallsymsLocation, options: { nameIndex?: boolean } = {}): Kallsyms {
  const count = mem.u32(loc.numSyms);
  if (count === 0 || count > MAX_SYMS) throw new BadDataError('kallsyms', loc.numSyms, `implausible kallsyms_num_syms ${count}`);
  const tokens = readTokens(mem, loc);
  const names = decodeNames(mem, loc, count, tokens, options.nameIndex !== false);
  // Names only, to find _stext: no address is asked of it.
  const probe = new Kallsyms(names, { addressOf: () => 0n, halves: () => {} }, 'absolute');
  const { encoding, ...addresses } = chooseAddresses(mem, loc, count, probe.indexOf('_stext'));
  return new Kallsyms(names, addresses, encoding);
}

/** The 256 tokens, flattened: token t is bytes[start[t] .. start[t + 1]). */
interface Tokens {
  bytes: Uint8Array;
  start: Int32Array;
}

function readTokens(mem: KernelMemory, loc: KallsymsLocation): Tokens {
  const idx = mem.read(loc.tokenIndex, 256 * 2);
  const c = new Cursor(idx, { source: 'kallsyms_token_index', littleEndian: true });
  const starts: number[] = [];
  for (let i = 0; i < 256; i++) starts.push(c.u16At(i * 2));
  const maxStart = Math.max(...starts);
  // Tokens are short (scripts/kallsyms.c merges pairs; a token rarely passes 20 bytes).
  const table = mem.read(loc.tokenTable, maxStart + 1);
  const tail = mem.cstring(loc.tokenTable + BigInt(maxStart), KSYM_NAME_LEN);
  const list = starts.map((s) => {
    if (s === maxStart) return tail;
    const end = table.indexOf(0, s);
    if (end < 0) throw new BadDataError('kallsyms_token_table', s, 'unterminated token');
    return table.subarray(s, end);
  });
  const start = new Int32Array(257);
  for (let t = 0; t < 256; t++) start[t + 1] = start[t] + list[t].length;
  const bytes = new Uint8Array(start[256]);
  for (let t = 0; t < 256; t++) bytes.set(list[t], start[t]);
  return { bytes, start };
}

/**
 * Walk kallsyms_names: where each entry's tokens are, and the hash of each name (type character
 * excluded), folded from per-token hashes without expanding anything. kallsyms_names is read in
 * 256 KiB windows that stop short of a fault; the token bytes are kept as they are.
 */
function decodeNames(mem: KernelMemory, loc: KallsymsLocation, count: number, tokens: Tokens, indexed: boolean): Names {
  const { full, fullPow, rest } = tokenHashes(tokens);
  const entryAt = new Uint32Array(count);
  const lens = new Uint16Array(count);
  const hashes = new Int32Array(count);
  // The name index is filled here, in the loop that makes the hashes: a loop of its own over
  // ~100,000 symbols ran mostly unoptimised (it runs once, and V8's one compiler thread is busy
  // with other code), ~10 ms of a 6.1 companion verify.
  const index = indexed && count <= MAX_INDEXED ? nameIndex(count) : undefined;
  const slots = index?.slots;
  const shift = index?.shift ?? 32;
  const mask = (slots?.length ?? 1) - 1;
  const parts: Uint8Array[] = [];
  let buf: Uint8Array = new Uint8Array(0);
  let bufStart = 0;
  let pos = 0;
  /** Token bytes kept so far (in parts), i.e. the offset in `comp` of buf[0]. */
  let kept = 0;
  for (let i = 0; i < count; i++) {
    if (pos - bufStart + MAX_ENTRY > buf.length) {
      parts.push(buf.subarray(0, pos - bufStart));
      kept += pos - bufStart;
      buf = readWindow(mem, loc.names + BigInt(pos));
      bufStart = pos;
    }
    // The entries the window holds whole, in a loop of their own. One it stops at (the window's
    // last ones at the end of memory, a bad entry) is checked here, then taken alone.
    let j = hashEntries(buf, pos - bufStart, buf.length - MAX_ENTRY, kept, i, count, entryAt, lens, hashes, full, fullPow, rest, slots, shift, mask);
    if (j === i) {
      checkEntry(loc, buf, bufStart, pos, i, count);
      j = hashEntries(buf, pos - bufStart, buf.length, kept, i, i + 1, entryAt, lens, hashes, full, fullPow, rest, slots, shift, mask);
    }
    pos = bufStart + entryAt[j - 1] - kept + lens[j - 1];
    i = j - 1;
  }
  parts.push(buf.subarray(0, pos - bufStart));
  const comp = new Uint8Array(kept + pos - bufStart);
  let at = 0;
  for (const part of parts) {
    comp.set(part, at);
    at += part.length;
  }
  return { comp, entryAt, lens, hashes, tokens, byHash: index };
}

/**
 * decodeNames' loop over the entries from `i` (below `count`) that start in `buf` at `p` up to
 * `limit` and lie whole in it: each one's place, length and name hash (and its slot in the name
 * index). Returns the first entry it did not take.
 *
 * A function of its own that ends in `return i`: V8 compiles the loop while it runs (on-stack
 * replacement), and the window refill in decodeNames' loop, first met after that, deoptimised it
 * there (the rest of kallsyms ran unoptimised until V8 compiled the loop again). The columns come
 * as arguments, not an object: its fields, read on entry, had no type feedback in the first call
 * (V8 allocates that later) and deoptimised the compiled function at its first line.
 */
function hashEntries(buf: Uint8Array, p: number, limit: number, kept: number, i: number, count: number, entryAt: Uint32Array, lens: Uint16Array, hashes: Int32Array, full: Int32Array, fullPow: Int32Array, rest: Int32Array, slots: Int32Array | undefined, shift: number, mask: number): number {
  for (; i < count && p <= limit; i++) {
    // Both length bytes are read every time: a branch the loop never took before V8 optimised it
    // would deoptimise it at the first "big" symbol.
    const b0 = buf[p];
    const b1 = buf[p + 1];
    let q = p + 1;
    let len = b0;
    if (b0 & 0x80) {
      len = (b0 & 0x7f) | (b1 << 7);
      q++;
    }
    const e = q + len;
    if (len === 0 || e > buf.length) break;
    entryAt[i] = kept + q;
    lens[i] = len;
    let h = rest[buf[q]];
    for (let k = q + 1; k < e; k++) {
      const t = buf[k];
      h = (Math.imul(h, fullPow[t]) + full[t]) | 0;
    }
    hashes[i] = h;
    // The insert inlined (TurboFan runs without inlining, launcher): NameIndex.add's probe, its
    // step run for every entry (from the slot before) so that the first collision does not meet
    // an operation V8 has no feedback for.
    if (slots) {
      let k = hashSlot(h, shift) - 1;
      do k = (k + 1) & mask;
      while (slots[k] !== 0);
      slots[k] = i + 1;
    }
    p = e;
  }
  return i;
}

/**
 * Why kallsyms_names entry `i` at `pos` (`buf` holds the names from `bufStart`) cannot be taken,
 * thrown: memory that ends before it or within it (a window cut short by a fault, for an entry
 * of a possible length), or a bad length. Returns when the entry lies whole in `buf`.
 */
function checkEntry(loc: KallsymsLocation, buf: Uint8Array, bufStart: number, pos: number, i: number, count: number): void {
  let p = pos - bufStart;
  if (p >= buf.length) throw new FaultError('virtual', loc.names + BigInt(pos), 'not-mapped', `kallsyms_names ends at symbol ${i} of ${count}`);
  const b0 = buf[p];
  let len = b0;
  p++;
  if (b0 & 0x80) {
    len = (b0 & 0x7f) | (buf[p] << 7);
    p++;
  }
  if (len !== 0 && p + len <= buf.length) return;
  if (len !== 0 && len <= MAX_ENTRY && buf.length < WINDOW) {
    throw new FaultError('virtual', loc.names + BigInt(bufStart + buf.length), 'not-mapped', `kallsyms_names ends within symbol ${i} of ${count}`);
  }
  badEntry(loc, pos, i, len);
}

/** Per token: its hash and HASH_P^length (to append it to a hash), and the hash of all but its first byte. */
function tokenHashes(tokens: Tokens): { full: Int32Array; fullPow: Int32Array; rest: Int32Array } {
  const full = new Int32Array(256);
  const fullPow = new Int32Array(256);
  const rest = new Int32Array(256);
  for (let t = 0; t < 256; t++) {
    const a = tokens.start[t];
    const e = tokens.start[t + 1];
    let h = 0;
    let pw = 1;
    let r = 0;
    for (let j = a; j < e; j++) {
      h = (Math.imul(h, HASH_P) + tokens.bytes[j]) | 0;
      pw = Math.imul(pw, HASH_P);
      if (j > a) r = (Math.imul(r, HASH_P) + tokens.bytes[j]) | 0;
    }
    full[t] = h;
    fullPow[t] = pw;
    rest[t] = r;
  }
  return { full, fullPow, rest };
}

function badEntry(loc: KallsymsLocation, pos: number, i: number, len: number): never {
  throw new BadDataError('kallsyms_names', loc.names + BigInt(pos), `bad entry ${i}: length ${len}`);
}

/** WINDOW bytes of kernel memory at `v`, or what precedes the first fault in them. */
function readWindow(mem: KernelMemory, v: bigint): Uint8Array {
  try {
    return mem.read(v, WINDOW);
  } catch (err) {
    if (!(err instanceof FaultError) || err.space !== 'virtual' || err.address <= v) throw err;
    return mem.read(v, Number(err.address - v));
  }
}

interface Names {
  /** kallsyms_names as read (length bytes and token numbers). */
  comp: Uint8Array;
  /** Entry i's token numbers are comp[entryAt[i] .. entryAt[i] + lens[i]). */
  entryAt: Uint32Array;
  lens: Uint16Array;
  /** nameHash of each name (type character excluded). */
  hashes: Int32Array;
  tokens: Tokens;
  /** The name index, when it was built with the names. */
  byHash?: NameIndex;
}
