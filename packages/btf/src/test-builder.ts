/**
 * A raw BTF builder for tests: it writes exactly the words it is given, so tests can make every
 * kind of invalid blob (bad name offsets, bad info bits, loops, bad headers). Not part of the build.
 */
import { ByteWriter } from '@kbtf/binary';
import { makeInfo } from './wire.js';

export const K = { INT: 1, PTR: 2, ARRAY: 3, STRUCT: 4, UNION: 5, ENUM: 6, FWD: 7, TYPEDEF: 8, VOLATILE: 9, CONST: 10, RESTRICT: 11, FUNC: 12, FUNC_PROTO: 13, VAR: 14, DATASEC: 15, FLOAT: 16, DECL_TAG: 17, TYPE_TAG: 18, ENUM64: 19 } as const;

export class TestBtf {
  private readonly strs: number[] = [0];
  private readonly strMap = new Map<string, number>([['', 0]]);
  readonly records: number[][] = [];
  constructor(readonly firstId = 1, readonly strStart = 0) {}

  /** Offset of `s` in the (combined) string space, adding it if new. */
  str(s: string): number {
    const hit = this.strMap.get(s);
    if (hit !== undefined) return hit;
    const off = this.strStart + this.strs.length;
    for (const ch of Buffer.from(s, 'latin1')) this.strs.push(ch);
    this.strs.push(0);
    this.strMap.set(s, off);
    return off;
  }
  /** Append a raw record: name offset (or string), info, size/type, extra words. Returns its id. */
  raw(name: string | number, info: number, sizeType: number, ...extra: number[]): number {
    this.records.push([typeof name === 'string' ? this.str(name) : name, info >>> 0, sizeType >>> 0, ...extra.map((v) => v >>> 0)]);
    return this.firstId + this.records.length - 1;
  }
  rec(kind: number, name: string | number, sizeType: number, extra: number[] = [], vlen = 0, kflag = false): number {
    return this.raw(name, makeInfo(kind, vlen, kflag), sizeType, ...extra);
  }
  int(name = 'int', size = 4, encoding = 1, bits = size * 8, offset = 0): number {
    return this.rec(K.INT, name, size, [(encoding << 24) | (offset << 16) | bits]);
  }
  ref(kind: number, type: number, name = ''): number {
    return this.rec(kind, name, type);
  }
  ptr(type: number): number {
    return this.ref(K.PTR, type);
  }
  typedef(name: string, type: number): number {
    return this.ref(K.TYPEDEF, type, name);
  }
  array(elem: number, index: number, nelems: number): number {
    return this.rec(K.ARRAY, '', 0, [elem, index, nelems]);
  }
  /** members: [name, type, bitOffset, bitfieldSize?]. */
  struct(name: string, size: number, members: [string, number, number, number?][], opts: { union?: boolean; kflag?: boolean } = {}): number {
    const kflag = opts.kflag ?? members.some((m) => m[3]);
    const extra = members.flatMap(([n, t, o, bf]) => [this.str(n), t, kflag ? ((bf ?? 0) << 24) | o : o]);
    return this.rec(opts.union ? K.UNION : K.STRUCT, name, size, extra, members.length, kflag);
  }
  enum(name: string, size: number, values: [string, number][], signed = false): number {
    return this.rec(K.ENUM, name, size, values.flatMap(([n, v]) => [this.str(n), v]), values.length, signed);
  }
  enum64(name: string, size: number, values: [string, bigint][]): number {
    return this.rec(K.ENUM64, name, size, values.flatMap(([n, v]) => [this.str(n), Number(v & 0xffffffffn), Number(v >> 32n)]), values.length);
  }
  fwd(name: string, union = false): number {
    return this.rec(K.FWD, name, 0, [], 0, union);
  }
  funcProto(ret: number, params: [string, number][]): number {
    return this.rec(K.FUNC_PROTO, '', ret, params.flatMap(([n, t]) => [this.str(n), t]), params.length);
  }
  func(name: string, proto: number, linkage = 1): number {
    return this.rec(K.FUNC, name, proto, [], linkage);
  }
  var(name: string, type: number, linkage = 1): number {
    return this.rec(K.VAR, name, type, [linkage]);
  }
  datasec(name: string, size: number, vars: [number, number, number][]): number {
    return this.rec(K.DATASEC, name, size, vars.flat(), vars.length);
  }
  float(name: string, size: number): number {
    return this.rec(K.FLOAT, name, size);
  }
  declTag(value: string, type: number, componentIdx = -1): number {
    return this.rec(K.DECL_TAG, value, type, [componentIdx]);
  }
  typeTag(value: string, type: number): number {
    return this.rec(K.TYPE_TAG, value, type);
  }

  /** The blob; header fields may be overridden, the string section replaced, bytes appended. */
  build(o: { littleEndian?: boolean; magic?: number; version?: number; flags?: number; hdrLen?: number; typeOff?: number; typeLen?: number; strOff?: number; strLen?: number; strings?: number[]; trailing?: number[]; headerExtra?: number[] } = {}): Uint8Array {
    const types = new ByteWriter({ littleEndian: o.littleEndian ?? true });
    for (const r of this.records) for (const w of r) types.u32(w);
    const t = types.finish();
    const strs = Uint8Array.from(o.strings ?? this.strs);
    const extra = o.headerExtra ?? [];
    const hdrLen = o.hdrLen ?? 24 + extra.length;
    const w = new ByteWriter({ littleEndian: o.littleEndian ?? true });
    w.u16(o.magic ?? 0xeb9f).u8(o.version ?? 1).u8(o.flags ?? 0).u32(hdrLen);
    w.u32(o.typeOff ?? 0).u32(o.typeLen ?? t.length).u32(o.strOff ?? t.length).u32(o.strLen ?? strs.length);
    for (const b of extra) w.u8(b);
    w.bytes(t).bytes(strs);
    for (const b of o.trailing ?? []) w.u8(b);
    return w.finish();
  }
}

/** `n` typedefs, each naming its successor (forward references), the last naming int. */
export function typedefChain(n: number): Uint8Array {
  const b = new TestBtf();
  b.int();
  for (let i = 0; i < n; i++) b.typedef(`t${i}`, i === n - 1 ? 1 : i + 3);
  return b.build();
}

/** `n` structs, each holding its successor by value. */
export function nestedStructs(n: number): Uint8Array {
  const b = new TestBtf();
  b.int();
  for (let i = 0; i < n; i++) b.struct(`s${i}`, 4, [['m', i === n - 1 ? 1 : i + 3, 0]]);
  return b.build();
}

/** A seeded pseudo-random generator (mulberry32) in [0, 1), for deterministic fuzzing and mutation. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
