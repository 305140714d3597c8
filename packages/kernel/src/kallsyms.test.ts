import { describe, expect, it } from 'vitest';
import { FaultError } from '@kbtf/binary';
import { SparseMemory } from './test-memory.js';
import { KernelMemory } from './memory.js';
import { readKallsyms, type KallsymsLocation } from './kallsyms.js';

const BASE_V = 0xffffffff82000000n;
const BASE_P = 0x2000000n;

interface Sym {
  type: string;
  name: string;
  address: bigint;
}

/**
 * Lays out kallsyms tables the way scripts/kallsyms.c (6.1) writes them: a token table in which
 * every byte not used by a merged token stands for itself, names as token streams with one- or
 * two-byte lengths, and the chosen address encoding.
 */
function build(syms: Sym[], encoding: 'absolute' | 'base-relative' | 'absolute-percpu' | 'place-relative', relativeBase = 0xffffffff81000000n) {
  const merged = ['_stext'.slice(0, 3), 'ab', 'mod'];
  const tokens: string[] = [];
  const used = new Set<number>();
  for (const s of syms) for (const c of s.type + s.name) used.add(c.charCodeAt(0));
  let m = 0;
  for (let i = 0; i < 256; i++) tokens.push(used.has(i) || m >= merged.length ? String.fromCharCode(i || 1) : merged[m++]);
  const encode = (text: string): number[] => {
    const out: number[] = [];
    for (let i = 0; i < text.length; ) {
      const t = tokens.findIndex((tok, idx) => tok.length > 1 && !used.has(idx) && text.startsWith(tok, i));
      if (t >= 0 && i > 0) {
        out.push(t);
        i += tokens[t].length;
      } else {
        out.push(text.charCodeAt(i));
        i++;
      }
    }
    return out;
  };
  const names: number[] = [];
  for (const s of syms) {
    const e = encode(s.type + s.name);
    if (e.length > 0x7f) names.push((e.length & 0x7f) | 0x80, e.length >> 7);
    else names.push(e.length);
    names.push(...e);
  }
  const tokenTable: number[] = [];
  const tokenIndex: number[] = [];
  for (const t of tokens) {
    tokenIndex.push(tokenTable.length);
    for (const c of t) tokenTable.push(c.charCodeAt(0));
    tokenTable.push(0);
  }
  const mem = new SparseMemory();
  const loc: KallsymsLocation = {
    numSyms: BASE_V + 0x0n,
    // kallsyms_names last, alone at the top: a test can cut it short or make it span windows.
    names: BASE_V + 0x100000n,
    tokenTable: BASE_V + 0x1000n,
    tokenIndex: BASE_V + 0x2000n,
    stext: syms.find((s) => s.name === '_stext')?.address,
  };
  const put = (v: bigint, bytes: number[] | Uint8Array) => mem.write(BASE_P + (v - BASE_V), Uint8Array.from(bytes));
  const dv = (n: number) => new DataView(new ArrayBuffer(n));
  const count = dv(4);
  count.setUint32(0, syms.length, true);
  put(loc.numSyms, new Uint8Array(count.buffer));
  put(loc.names, names);
  put(loc.tokenTable, tokenTable);
  const ti = dv(512);
  tokenIndex.forEach((v, i) => ti.setUint16(i * 2, v, true));
  put(loc.tokenIndex, new Uint8Array(ti.buffer));
  if (encoding === 'absolute') {
    loc.addresses = BASE_V + 0x10000n;
    const a = dv(syms.length * 8);
    syms.forEach((s, i) => a.setBigUint64(i * 8, s.address, true));
    put(loc.addresses, new Uint8Array(a.buffer));
  } else {
    loc.offsets = BASE_V + 0x10000n;
    loc.relativeBase = BASE_V + 0x3000n;
    const rb = dv(8);
    rb.setBigUint64(0, relativeBase, true);
    put(loc.relativeBase, new Uint8Array(rb.buffer));
    const o = dv(syms.length * 4);
    syms.forEach((s, i) => {
      let v: bigint;
      if (encoding === 'base-relative') v = s.address - relativeBase;
      else if (encoding === 'place-relative') v = BigInt.asIntN(64, s.address - (loc.offsets! + BigInt(i * 4)));
      else v = s.address < 0x80000000n ? s.address : -(s.address - relativeBase + 1n);
      o.setInt32(i * 4, Number(BigInt.asIntN(32, v)), true);
    });
    put(loc.offsets, new Uint8Array(o.buffer));
  }
  const km = new KernelMemory(mem, undefined, [{ vaddr: BASE_V, paddr: BASE_P, fileSize: 0x300000n, memSize: 0x300000n }]);
  return { km, loc, mem, namesLength: names.length };
}

const symbols: Sym[] = [
  { type: 'A', name: 'fixed_percpu_data', address: 0n },
  { type: 'D', name: 'runqueues', address: 0x2c9c0n },
  { type: 'T', name: '_stext', address: 0xffffffff81000000n },
  { type: 't', name: 'abmodab_local', address: 0xffffffff81000010n },
  { type: 'T', name: 'x'.repeat(200), address: 0xffffffff81000100n },
  { type: 'D', name: 'jiffies_64', address: 0xffffffff82a05000n },
  { type: 'b', name: 'dup', address: 0xffffffff82b00000n },
  { type: 'b', name: 'dup', address: 0xffffffff82b00008n },
];

describe('readKallsyms', () => {
  for (const encoding of ['absolute', 'base-relative', 'absolute-percpu', 'place-relative'] as const) {
    it(`decodes names, types and ${encoding} addresses`, () => {
      const syms = encoding === 'absolute-percpu' ? symbols : symbols.filter((s) => s.address > 0xffff000000000000n);
      const { km, loc } = build(syms, encoding);
      const ks = readKallsyms(km, loc);
      expect(ks.encoding).toBe(encoding);
      expect(ks.names).toEqual(syms.map((s) => s.name));
      expect(syms.map((_, i) => ks.typeOf(i))).toEqual(syms.map((s) => s.type));
      expect(ks.addresses).toEqual(syms.map((s) => s.address));
      // The address order (built from the encoding's u32 halves, without BigInts) finds each one.
      for (const [i, s] of syms.entries()) {
        expect(ks.symbolize(s.address)).toMatchObject({ name: s.name, address: s.address, offset: 0n });
        if (i + 1 < syms.length) expect(ks.nextAddressAbove(s.address)).toBe(syms[i + 1].address);
      }
    });
  }

  it('looks up by name (first of duplicates) and by address with offset', () => {
    const { km, loc } = build(symbols, 'absolute-percpu');
    // Without the name index at first (lookups scan), then with it.
    const ks = readKallsyms(km, loc, { nameIndex: false });
    expect(ks.lookup('dup')).toBe(0xffffffff82b00000n);
    expect(ks.lookup('nope')).toBeUndefined();
    // By the name's bytes, before and after the name index is built: the same first symbol.
    for (const indexed of [false, true]) {
      if (indexed) ks.indexNames();
      for (const name of ['dup', 'jiffies_64', 'x'.repeat(200), 'nope', 'du', '']) {
        const b = Buffer.from(`<${name}>`, 'latin1');
        expect(ks.indexOfBytes(b, 1, b.length - 1), name).toBe(ks.indexOf(name));
      }
      // A name at one of its addresses, not at another's or another name's (addressesOf last: it
      // builds the name index).
      expect(ks.hasSymbolAt('dup', 0xffffffff82b00008n)).toBe(true);
      expect(ks.hasSymbolAt('dup', 0xffffffff82b00004n)).toBe(false);
      expect(ks.hasSymbolAt('du', 0xffffffff82b00000n)).toBe(false);
      expect(ks.hasSymbolAt('jiffies_64', 0xffffffff82b00008n)).toBe(false);
      expect(ks.addressesOf('dup')).toEqual([0xffffffff82b00000n, 0xffffffff82b00008n]);
    }
    expect(() => ks.address('nope')).toThrow(/no symbol 'nope'/);
    expect(ks.symbolize(0xffffffff81000018n)).toMatchObject({ name: 'abmodab_local', offset: 8n, type: 't' });
    expect(ks.symbolize(0x2c9c4n)).toMatchObject({ name: 'runqueues', offset: 4n });
  });

  it('by address: the next symbol above, aliases skipped, in a sorted table and in one out of order', () => {
    const alias = { type: 'T', name: 'stext_alias', address: 0xffffffff81000000n };
    const sorted = [...symbols.slice(0, 3), alias, ...symbols.slice(3)];
    // The same symbols with the table out of address order: the answers must not change.
    const shuffled = [sorted[5], sorted[0], sorted[8], sorted[2], sorted[7], sorted[3], sorted[1], sorted[6], sorted[4]];
    for (const syms of [sorted, shuffled]) {
      const { km, loc } = build(syms, 'absolute-percpu');
      const ks = readKallsyms(km, loc);
      expect(ks.nextAddressAbove(0xffffffff81000000n)).toBe(0xffffffff81000010n);
      expect(ks.nextAddressAbove(0xfffffffe00000000n)).toBe(0xffffffff81000000n);
      expect(ks.nextAddressAbove(0xffffffff82a05000n)).toBe(0xffffffff82b00000n);
      expect(ks.nextAddressAbove(0xffffffff82b00008n)).toBeUndefined();
      expect(ks.nextAddressAbove(0x10n)).toBe(0x2c9c0n);
      // gapAbove: nextAddressAbove − address, a Number below 2^53, else the BigInt (from the last
      // per-CPU offset, 0x2c9c4, up to the kernel's first symbol).
      let big = 0;
      for (const at of [0xffffffff81000000n, 0xfffffffe00000000n, 0xffffffff82a05000n, 0x10n, 0xffffffff82b00008n, 0x2c9c4n, 0xffffffff81000013n]) {
        const next = ks.nextAddressAbove(at);
        const d = next === undefined ? undefined : next - at;
        if (d !== undefined && d >= 2n ** 53n) big++;
        expect(ks.gapAbove(at), at.toString(16)).toBe(d === undefined || d >= 2n ** 53n ? d : Number(d));
        expect(ks.gapAboveHalves(Number(at >> 32n), Number(at & 0xffffffffn)), at.toString(16)).toBe(d === undefined || d >= 2n ** 53n ? undefined : Number(d));
      }
      expect(big).toBe(1);
      // From a symbol (stepping past its aliases in the sorted table, by a search in the other):
      // gapAboveHalves at its address, for every symbol.
      for (let i = 0; i < ks.count; i++) {
        const at = ks.addressAt(i);
        expect(ks.gapAboveSymbol(i), ks.nameOf(i)).toBe(ks.gapAboveHalves(Number(at >> 32n), Number(at & 0xffffffffn)));
      }
      // Of several symbols at one address, the one last in the table.
      expect(ks.symbolize(0xffffffff81000004n)).toMatchObject({ name: syms.indexOf(alias) > syms.findIndex((x) => x.name === '_stext') ? 'stext_alias' : '_stext', offset: 4n });
      expect(ks.symbolize(0xffffffff82b0000fn)).toMatchObject({ name: 'dup', address: 0xffffffff82b00008n, offset: 7n });
      expect(ks.symbolize(0x2c9c4n)).toMatchObject({ name: 'runqueues', offset: 4n });
    }
  });

  it('refuses an encoding that does not put _stext where VMCOREINFO says', () => {
    const { km, loc } = build(symbols, 'absolute-percpu');
    expect(() => readKallsyms(km, { ...loc, stext: 0xffffffff81200000n })).toThrow(/no address encoding puts _stext at 0xffffffff81200000/);
  });
});

describe('readKallsyms: kallsyms_names longer than a read window, cut short, damaged', () => {
  // 40,000 symbols: ~450 KB of names, read in 256 KiB windows.
  const many: Sym[] = [{ type: 'T', name: '_stext', address: 0xffffffff81000000n }];
  for (let i = 1; i < 40_000; i++) many.push({ type: i % 3 ? 't' : 'd', name: `sym_${i.toString(36)}_${'q'.repeat(i % 7)}`, address: 0xffffffff81000000n + BigInt(i * 16) });

  it('decodes every name across windows, with and without the name index', () => {
    const { km, loc, namesLength } = build(many, 'base-relative');
    expect(namesLength).toBeGreaterThan(256 * 1024);
    for (const nameIndex of [true, false]) {
      const ks = readKallsyms(km, loc, { nameIndex });
      expect(ks.names).toEqual(many.map((s) => s.name));
      for (const i of [0, 1, 9_999, 21_845, 21_846, 39_999]) {
        expect(ks.indexOf(many[i].name)).toBe(i);
        expect(ks.typeOf(i)).toBe(many[i].type);
        expect(ks.addressAt(i)).toBe(many[i].address);
      }
    }
  });

  it('names cut short by a missing page: a fault naming the symbol it stopped at', () => {
    const { km, loc, mem } = build(many, 'base-relative');
    // Drop a page in the second window: the first 256 KiB decode, then the walk runs out.
    const gone = (0x2000000n + 0x100000n + 300_000n) >> 12n;
    mem.pages.delete(gone);
    // The entry that runs into the missing page is a fault there, not a bad entry.
    expect(() => readKallsyms(km, loc)).toThrow(/kallsyms_names ends within symbol \d+ of 40000/);
    try {
      readKallsyms(km, loc);
    } catch (err) {
      expect(err).toBeInstanceOf(FaultError);
      expect((err as FaultError).address).toBe(BASE_V + 0x100000n + ((gone << 12n) - (0x2000000n + 0x100000n)));
    }
  });

  it('an entry of length 0: bad data naming the entry', () => {
    const { km, loc, mem } = build(many, 'base-relative');
    // Entry 0 is `T_stext`: its length byte is the first byte of kallsyms_names; entry 1 follows it.
    const first = mem.read(0x2000000n + 0x100000n, 1)[0];
    mem.write(0x2000000n + 0x100000n + BigInt(1 + first), Uint8Array.of(0));
    expect(() => readKallsyms(km, loc)).toThrow(/bad entry 1: length 0/);
  });
});

