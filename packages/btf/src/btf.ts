/**
 * The BTF reader. `parseBtf` checks the header and section bounds, then makes one pass over the
 * type section recording where each record starts (the offset index). Types are decoded on demand,
 * by id, into a cache; the name index is built on first lookup by name. The input is never modified.
 *
 * Split BTF (module BTF on vmlinux) continues the base's ids and string offsets: its first type id
 * is the base's type count (void included), and string offsets below the base's string-section size
 * are the base's strings.
 */
import { BadDataError, Cursor, NotFoundError } from '@kbtf/binary';
import {
  BTF_MAGIC, BTF_TYPE_SIZE, type BtfHeader, KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM,
  KIND_ENUM64, KIND_FLOAT, KIND_FUNC, KIND_FUNC_PROTO, KIND_FWD, KIND_INT, KIND_PTR, KIND_RESTRICT,
  KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION, KIND_VAR, KIND_VOLATILE, detectByteOrder,
  extraSize, infoKind, infoKindFlag, infoVlen, readHeader,
} from './wire.js';
import { KIND_NAMES, kindNumber, type BtfType, type Enum64Value, type EnumValue, type Kind, type Member, type Param, type TypeOfKind, type VarSecInfo } from './types.js';
import { StringTable } from './strings.js';
import { MAX_RESOLVE_DEPTH, POINTER_SIZE, alignOf, arrayInfo, enumName, memberPath, resolveId, sizeOf, type MemberLocation } from './query.js';

export interface ParseOptions {
  /** The base BTF for split BTF (module BTF on vmlinux). */
  base?: Btf;
  /** Name used in error messages (a path). */
  source?: string;
}

/** Parse a BTF blob. Throws BadDataError (code BAD_DATA) for anything that cannot be indexed. */
export function parseBtf(bytes: Uint8Array, opts: ParseOptions = {}): Btf {
  return new Btf(bytes, opts);
}

export class Btf {
  readonly bytes: Uint8Array;
  readonly source: string;
  readonly littleEndian: boolean;
  readonly header: BtfHeader;
  readonly base: Btf | undefined;
  /** The first type id of this blob: 1 for base BTF, the base's `endId` for split BTF. */
  readonly firstId: number;
  /** Number of types in this blob (void not counted). */
  readonly count: number;
  readonly strings: StringTable;
  /** The type section. */
  readonly typeCursor: Cursor;
  private readonly offsets: Uint32Array;
  /** Kind number of each record, in id order. */
  private readonly kinds: Uint8Array;
  private kindIndex?: (Uint32Array | undefined)[];
  private readonly cache: (BtfType | undefined)[];
  private names: Map<string, number | number[]> | undefined;

  constructor(bytes: Uint8Array, opts: ParseOptions = {}) {
    this.bytes = bytes;
    this.source = opts.source ?? 'BTF';
    this.base = opts.base;
    const le = detectByteOrder(bytes);
    const c0 = new Cursor(bytes, { source: this.source });
    if (le === undefined) throw c0.error(0, `not BTF: bad magic (want 0x${BTF_MAGIC.toString(16)})`);
    this.littleEndian = le;
    const c = new Cursor(bytes, { source: this.source, littleEndian: le });
    const h = readHeader(c);
    this.header = h;
    const typeStart = h.hdrLen + h.typeOff;
    const strStart = h.hdrLen + h.strOff;
    if (typeStart + h.typeLen > bytes.length) throw c.error(8, `type section ${typeStart}+${h.typeLen} beyond the blob (${bytes.length} bytes)`);
    if (strStart + h.strLen > bytes.length) throw c.error(16, `string section ${strStart}+${h.strLen} beyond the blob (${bytes.length} bytes)`);
    // btf_parse_str_sec: a non-empty string section ends with NUL (else the last name runs past
    // it; a split BTF on such a base would resolve names out of the base's bounds).
    if (h.strLen > 0 && bytes[strStart + h.strLen - 1] !== 0) throw c.error(strStart + h.strLen - 1, 'string section does not end with NUL');
    this.typeCursor = c.sub(typeStart, h.typeLen, this.source);
    this.strings = new StringTable(c.sub(strStart, h.strLen, this.source), this.base?.strings);
    this.firstId = this.base ? this.base.endId : 1;
    ({ offsets: this.offsets, kinds: this.kinds } = indexTypes(this.typeCursor, this.firstId));
    this.count = this.offsets.length;
    this.cache = new Array<BtfType | undefined>(this.count);
  }

  /** One past the last type id (libbpf's btf__type_cnt). */
  get endId(): number {
    return this.firstId + this.count;
  }

  /** Whether `id` names a type here or in the base (0, void, is not a type). */
  has(id: number): boolean {
    return Number.isInteger(id) && id >= 1 && id < this.endId;
  }

  /** Offset of type `id`'s record within the type section (this blob's ids only). */
  recordOffset(id: number): number {
    return this.offsets[id - this.firstId];
  }

  /** The raw `info` word of a type (cheap: no decoding). */
  info(id: number): number {
    return this.recordWord(id, 4);
  }

  /**
   * The word after `info` in a type's record, without decoding it: the referenced type of a VAR,
   * PTR, TYPEDEF, qualifier or FUNC, the size of an INT, STRUCT, UNION, ENUM or DATASEC.
   */
  sizeOrType(id: number): number {
    return this.recordWord(id, 8);
  }

  /** A u32 of type `id`'s common record (name_off 0, info 4, size/type 8), here or in the base. */
  private recordWord(id: number, at: 0 | 4 | 8 | 12 | 20): number {
    if (id < this.firstId) {
      if (this.base && id >= 1) return this.base.recordWord(id, at);
      throw this.notFound(id);
    }
    if (id >= this.endId) throw this.notFound(id);
    return this.typeCursor.u32At(this.offsets[id - this.firstId] + at);
  }

  /** The kind of a type without decoding it. */
  kindOf(id: number): Kind {
    // This blob's own types from the kinds column (indexTypes); the base's, and ids that are no
    // type (the errors), through the record.
    const k = this.kinds[id - this.firstId];
    if (k !== undefined) return KIND_NAMES[k] as Kind;
    if (id >= 1 && id < this.firstId && this.base) return this.base.kindOf(id);
    return KIND_NAMES[infoKind(this.info(id))] as Kind;
  }

  /**
   * The first id of this blob (not the base) of kind number `kind` whose name is the bytes `name`,
   * or undefined. A scan of the types of that kind (listed per kind once, from the kinds column);
   * names are compared as bytes: no string is decoded and no name index is built, so finding the
   * few types a walk needs never builds 100,000 strings.
   */
  firstOfKindNamed(kind: number, name: Uint8Array): number | undefined {
    const offsets = this.offsets;
    const c = this.typeCursor;
    // eslint-disable-next-line no-restricted-syntax -- hot path: scans the types of a kind (10,000+ structs of vmlinux BTF) per lookup; offsets were bounds-checked once by indexTypes
    const dv = new DataView(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
    const le = this.littleEndian;
    // Only the types of that kind, in id order (a first lookup lists every kind's types at once).
    const ofKind = this.byKind()[kind];
    if (!ofKind) return undefined;
    for (let j = 0; j < ofKind.length; j++) {
      const i = ofKind[j];
      if (this.strings.equals(dv.getUint32(offsets[i], le), name)) return this.firstId + i;
    }
    return undefined;
  }

  /** Per kind number, the indexes (id − firstId) of this blob's types of that kind, ascending. */
  private byKind(): (Uint32Array | undefined)[] {
    if (this.kindIndex) return this.kindIndex;
    const kinds = this.kinds;
    const counts = new Uint32Array(256);
    countKinds(kinds, counts);
    const out: (Uint32Array | undefined)[] = [];
    for (let k = 0; k < 256; k++) if (counts[k] > 0) out[k] = new Uint32Array(counts[k]);
    fillKinds(kinds, out, new Uint32Array(256));
    return (this.kindIndex = out);
  }

  /** The name_off word of a type (its name's offset in the combined string space), without decoding it. */
  nameOffsetOf(id: number): number {
    return this.recordWord(id, 0);
  }

  /** The name of a type without decoding it ('' when anonymous). */
  nameOf(id: number): string {
    if (id < this.firstId && this.base) return this.base.nameOf(id);
    if (!this.has(id)) throw this.notFound(id);
    return this.strings.get(this.typeCursor.u32At(this.offsets[id - this.firstId]));
  }

  /** The type with id `id` (this blob's or the base's). NotFoundError for 0 (void) or out of range. */
  type(id: number): BtfType {
    if (id < this.firstId) {
      if (this.base && id >= 1) return this.base.type(id);
      throw this.notFound(id);
    }
    const i = id - this.firstId;
    if (!(i < this.count)) throw this.notFound(id);
    return (this.cache[i] ??= decodeType(this.typeCursor, this.strings, this.offsets[i], id));
  }

  /** `type(id)` checked to be of one kind. */
  typeOfKind<K extends Kind>(id: number, kind: K): TypeOfKind<K> {
    const t = this.type(id);
    if (t.kind !== kind) throw new NotFoundError(`${this.source}: type [${id}] is ${t.kind}, not ${kind}`);
    return t as TypeOfKind<K>;
  }

  /**
   * A DATASEC's entries (btf_var_secinfo: VAR id, offset, size) as three columns, read from its
   * record: no object per entry and nothing cached (vmlinux_btf's DATASECs hold tens of thousands,
   * which `type()` would keep for the life of this Btf).
   */
  datasecEntries(id: number): { types: Uint32Array; offsets: Uint32Array; sizes: Uint32Array } {
    if (id < this.firstId && this.base && id >= 1) return this.base.datasecEntries(id);
    const info = this.info(id);
    if (infoKind(info) !== KIND_DATASEC) throw new NotFoundError(`${this.source}: type [${id}] is ${KIND_NAMES[infoKind(info)]}, not datasec`);
    const vlen = infoVlen(info);
    const c = this.typeCursor;
    const types = new Uint32Array(vlen);
    const offsets = new Uint32Array(vlen);
    const sizes = new Uint32Array(vlen);
    for (let i = 0, p = this.offsets[id - this.firstId] + 12; i < vlen; i++, p += 12) {
      types[i] = c.u32At(p);
      offsets[i] = c.u32At(p + 4);
      sizes[i] = c.u32At(p + 8);
    }
    return { types, offsets, sizes };
  }

  /** Ids of this blob (not the base), in order. */
  *ids(): IterableIterator<number> {
    for (let id = this.firstId; id < this.endId; id++) yield id;
  }

  /** Types of this blob (not the base), in id order. */
  *types(): IterableIterator<BtfType> {
    for (let id = this.firstId; id < this.endId; id++) yield this.type(id);
  }

  /** This blob's types of one kind, in id order. */
  *typesOfKind<K extends Kind>(kind: K): IterableIterator<TypeOfKind<K>> {
    const k = kindNumber(kind);
    for (let i = 0; i < this.count; i++) {
      if (infoKind(this.typeCursor.u32At(this.offsets[i] + 4)) === k) yield this.type(this.firstId + i) as TypeOfKind<K>;
    }
  }

  /** All ids named `name` (base first, then this blob), optionally of one kind. */
  findAllByName(name: string, kind?: Kind): number[] {
    const out = this.base ? this.base.findAllByName(name, kind) : [];
    const hit = this.nameIndex().get(name);
    const ids = hit === undefined ? [] : typeof hit === 'number' ? [hit] : hit;
    for (const id of ids) if (kind === undefined || this.kindOf(id) === kind) out.push(id);
    return out;
  }

  /** The first type named `name` (of `kind` if given), base first; undefined if none. */
  findByName<K extends Kind>(name: string, kind: K): TypeOfKind<K> | undefined;
  findByName(name: string): BtfType | undefined;
  findByName(name: string, kind?: Kind): BtfType | undefined {
    const fromBase = this.base ? this.base.findByName(name, kind as Kind) : undefined;
    if (fromBase) return fromBase;
    const hit = this.nameIndex().get(name);
    if (hit === undefined) return undefined;
    for (const id of typeof hit === 'number' ? [hit] : hit) if (kind === undefined || this.kindOf(id) === kind) return this.type(id);
    return undefined;
  }

  /** Like findByName, but NotFoundError when absent. */
  requireByName<K extends Kind>(name: string, kind: K): TypeOfKind<K> {
    const t = this.findByName(name, kind);
    if (!t) throw new NotFoundError(`${this.source}: no ${kind} named '${name}' in BTF`);
    return t;
  }

  /** Size in bytes (see query.ts). */
  sizeof(id: number): number {
    return this.sizeFromRecords(id) ?? sizeOf(this, id);
  }

  /**
   * sizeof read from the records alone, without decoding a type (a struct's members): verify asks
   * the size of every variable's type, thousands of structs. Undefined for anything unusual (void,
   * a kind with no size, a loop, an id out of range): sizeOf then answers and names the problem.
   */
  private sizeFromRecords(id: number): number | undefined {
    let cur = id;
    let mult = 1;
    for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
      if (!this.has(cur)) return undefined;
      switch (infoKind(this.info(cur))) {
        case KIND_INT:
        case KIND_STRUCT:
        case KIND_UNION:
        case KIND_ENUM:
        case KIND_ENUM64:
        case KIND_FLOAT:
        case KIND_DATASEC:
          return mult * this.sizeOrType(cur);
        case KIND_PTR:
          return mult * POINTER_SIZE;
        case KIND_ARRAY:
          // struct btf_array follows the common record: type, index_type, nelems.
          mult *= this.recordWord(cur, 20);
          cur = this.recordWord(cur, 12);
          break;
        case KIND_TYPEDEF:
        case KIND_VOLATILE:
        case KIND_CONST:
        case KIND_RESTRICT:
        case KIND_TYPE_TAG:
        case KIND_VAR:
          cur = this.sizeOrType(cur);
          break;
        default:
          return undefined;
      }
    }
    return undefined;
  }
  /** Alignment in bytes. */
  alignof(id: number): number {
    return alignOf(this, id);
  }
  /** Skip typedef/const/volatile/restrict/type_tag; 0 for void. */
  resolve(id: number): number {
    return resolveId(this, id);
  }
  /** Location of `a.b[3].c` inside type `typeId` (anonymous members searched). */
  memberPath(typeId: number, path: string): MemberLocation {
    return memberPath(this, typeId, path);
  }
  /** Name of an enum value, or undefined. */
  enumName(typeId: number, value: number | bigint): string | undefined {
    return enumName(this, typeId, value);
  }
  /** Element type, size and count of an array. */
  arrayInfo(typeId: number): { elemType: number; elemSize: number; count: number } {
    return arrayInfo(this, typeId);
  }

  private nameIndex(): Map<string, number | number[]> {
    if (this.names) return this.names;
    const m = new Map<string, number | number[]>();
    for (let i = 0; i < this.count; i++) {
      const off = this.typeCursor.u32At(this.offsets[i]);
      if (off === 0) continue;
      const name = this.strings.tryGet(off);
      if (!name) continue;
      const id = this.firstId + i;
      const prev = m.get(name);
      if (prev === undefined) m.set(name, id);
      else if (typeof prev === 'number') m.set(name, [prev, id]);
      else prev.push(id);
    }
    return (this.names = m);
  }

  private notFound(id: number): NotFoundError {
    return new NotFoundError(`${this.source}: type id ${id} out of range (types 1..${this.endId - 1})`);
  }
}

/**
 * One pass over the type section: the offset of every record. Unknown kinds and records that run
 * past the section end are BadDataError. The index never allocates more than the section size.
 */
function indexTypes(c: Cursor, firstId: number): { offsets: Uint32Array; kinds: Uint8Array } {
  const max = Math.floor(c.length / BTF_TYPE_SIZE);
  const offsets = new Uint32Array(max);
  const kinds = new Uint8Array(max);
  const n = indexRecords(c, firstId, offsets, kinds);
  return { offsets: offsets.slice(0, n), kinds: kinds.slice(0, n) };
}

/**
 * indexTypes' loop, a function of its own that ends in `return n`: V8 compiles the loop while it
 * runs (on-stack replacement), and code after the loop that had never run (the slices above) made
 * that compiled loop deoptimize at its exit, for every BTF blob parsed after it (27 times on the
 * bundled dump; --trace-deopt). Returns the number of records.
 */
function indexRecords(c: Cursor, firstId: number, offsets: Uint32Array, kinds: Uint8Array): number {
  let n = 0;
  let off = 0;
  const len = c.length;
  // Bounds are checked here once per record: read the info words without the cursor's checks.
  // eslint-disable-next-line no-restricted-syntax -- hot path: indexes every type of a BTF blob at parse (npm run bench -- btf)
  const dv = new DataView(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
  const le = c.littleEndian;
  while (off < len) {
    if (off + BTF_TYPE_SIZE > len) throw c.error(off, `type [${firstId + n}]: record truncated (${len - off} bytes left)`);
    const info = dv.getUint32(off + 4, le);
    const kind = infoKind(info);
    const extra = extraSize(kind, infoVlen(info));
    if (extra < 0) throw c.error(off, `type [${firstId + n}]: unknown kind ${kind}`);
    const next = off + BTF_TYPE_SIZE + extra;
    if (next > len) throw c.error(off, `type [${firstId + n}]: ${KIND_NAMES[kind]} record of ${next - off} bytes truncated (${len - off} bytes left)`);
    kinds[n] = kind;
    offsets[n++] = off;
    off = next;
  }
  return n;
}

/** byKind's loops (functions of their own, as indexRecords): how many types of each kind. */
function countKinds(kinds: Uint8Array, counts: Uint32Array): void {
  for (let i = 0; i < kinds.length; i++) counts[kinds[i]]++;
}

/** Each type's index into its kind's list, in id order. */
function fillKinds(kinds: Uint8Array, out: (Uint32Array | undefined)[], fill: Uint32Array): void {
  for (let i = 0; i < kinds.length; i++) out[kinds[i]]![fill[kinds[i]]++] = i;
}

/** Decode the record at `off` into the public model. */
// eslint-disable-next-line max-lines-per-function -- one switch over the BTF kinds, a case per kind record layout (wire.ts)
export function decodeType(c: Cursor, strings: StringTable, off: number, id: number): BtfType {
  const nameOff = c.u32At(off);
  const info = c.u32At(off + 4);
  const st = c.u32At(off + 8);
  const kind = infoKind(info);
  const vlen = infoVlen(info);
  const kindFlag = infoKindFlag(info);
  const name = strings.get(nameOff);
  const x = off + BTF_TYPE_SIZE;
  switch (kind) {
    case KIND_INT: {
      const v = c.u32At(x);
      return { id, kind: 'int', name, nameOff, kindFlag, size: st, encoding: (v >>> 24) & 0x0f, bitsOffset: (v >>> 16) & 0xff, bits: v & 0xff };
    }
    case KIND_PTR:
    case KIND_TYPEDEF:
    case KIND_VOLATILE:
    case KIND_CONST:
    case KIND_RESTRICT:
    case KIND_TYPE_TAG:
      return { id, kind: KIND_NAMES[kind] as 'ptr', name, nameOff, kindFlag, type: st };
    case KIND_ARRAY:
      return { id, kind: 'array', name, nameOff, kindFlag, type: c.u32At(x), indexType: c.u32At(x + 4), nelems: c.u32At(x + 8) };
    case KIND_STRUCT:
    case KIND_UNION: {
      const members = new Array<Member>(vlen);
      for (let i = 0, p = x; i < vlen; i++, p += 12) {
        const mOff = c.u32At(p);
        const o = c.u32At(p + 8);
        members[i] = {
          name: strings.get(mOff),
          nameOff: mOff,
          type: c.u32At(p + 4),
          bitOffset: kindFlag ? o & 0xffffff : o,
          bitfieldSize: kindFlag ? o >>> 24 : 0,
        };
      }
      return { id, kind: kind === KIND_STRUCT ? 'struct' : 'union', name, nameOff, kindFlag, size: st, members, bitfields: kindFlag };
    }
    case KIND_ENUM: {
      const values = new Array<EnumValue>(vlen);
      for (let i = 0, p = x; i < vlen; i++, p += 8) {
        const vOff = c.u32At(p);
        values[i] = { name: strings.get(vOff), nameOff: vOff, value: kindFlag ? c.i32At(p + 4) : c.u32At(p + 4) };
      }
      return { id, kind: 'enum', name, nameOff, kindFlag, size: st, signed: kindFlag, values };
    }
    case KIND_ENUM64: {
      const values = new Array<Enum64Value>(vlen);
      for (let i = 0, p = x; i < vlen; i++, p += 12) {
        const vOff = c.u32At(p);
        const raw = (BigInt(c.u32At(p + 8)) << 32n) | BigInt(c.u32At(p + 4));
        values[i] = { name: strings.get(vOff), nameOff: vOff, value: kindFlag ? BigInt.asIntN(64, raw) : raw };
      }
      return { id, kind: 'enum64', name, nameOff, kindFlag, size: st, signed: kindFlag, values };
    }
    case KIND_FWD:
      return { id, kind: 'fwd', name, nameOff, kindFlag, union: kindFlag };
    case KIND_FUNC:
      return { id, kind: 'func', name, nameOff, kindFlag, type: st, linkage: vlen };
    case KIND_FUNC_PROTO: {
      const params = new Array<Param>(vlen);
      for (let i = 0, p = x; i < vlen; i++, p += 8) {
        const pOff = c.u32At(p);
        params[i] = { name: strings.get(pOff), nameOff: pOff, type: c.u32At(p + 4) };
      }
      return { id, kind: 'func_proto', name, nameOff, kindFlag, type: st, params };
    }
    case KIND_VAR:
      return { id, kind: 'var', name, nameOff, kindFlag, type: st, linkage: c.u32At(x) };
    case KIND_DATASEC: {
      const vars = new Array<VarSecInfo>(vlen);
      for (let i = 0, p = x; i < vlen; i++, p += 12) vars[i] = { type: c.u32At(p), offset: c.u32At(p + 4), size: c.u32At(p + 8) };
      return { id, kind: 'datasec', name, nameOff, kindFlag, size: st, vars };
    }
    case KIND_FLOAT:
      return { id, kind: 'float', name, nameOff, kindFlag, size: st };
    case KIND_DECL_TAG:
      return { id, kind: 'decl_tag', name, nameOff, kindFlag, type: st, componentIdx: c.i32At(x) };
    default:
      throw new BadDataError(c.source, c.base + off, `type [${id}]: unknown kind ${kind}`);
  }
}
