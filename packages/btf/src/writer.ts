/**
 * The BTF writer: encode a list of types as base or split BTF, with a deduplicated string table.
 *
 * The i-th type gets id `firstId + i` (1 for base BTF, the base's `endId` for split BTF); references
 * between types are ids, as in the reader's model, and are written as given. `t.id` is ignored.
 * Strings are laid out in the order they are first referenced (type name, then member / value /
 * parameter names), after the empty string at offset 0 — the order libbpf's btf__dedup produces —
 * so `writeBtf([...parseBtf(blob).types()])` reproduces canonical blobs byte for byte. For split BTF a
 * string already present in the base's string table refers to the base's copy.
 */
import { ByteWriter, UsageError } from '@kbtf/binary';
import type { Btf } from './btf.js';
import type { StringTable } from './strings.js';
import { kindNumber, type BtfType } from './types.js';
import { BTF_HEADER_SIZE, BTF_MAGIC, BTF_VERSION, makeInfo } from './wire.js';

export interface WriteOptions {
  /** Write split BTF on this base. */
  base?: Btf;
  /** Byte order (default little-endian). */
  littleEndian?: boolean;
  /**
   * Keep this string table (of a parsed blob at the same level: base, or split on the same base) as
   * the prefix of the new one, and keep every name offset that still points at the same string.
   * With it, `writeBtf(btf.types(), { base: btf.base, strings: btf.strings })` is byte-identical to
   * the input even when the input's strings are not in first-reference order or hold unreferenced
   * strings (pahole ≥ 1.25 in parallel mode writes both). New strings are appended.
   */
  strings?: StringTable;
}

class StringWriter {
  private readonly map = new Map<string, number>();
  private readonly chunks: Uint8Array[] = [];
  private size = 1;
  private readonly enc = new TextEncoder();
  constructor(
    private readonly base: Btf | undefined,
    private readonly start: number,
    private readonly keep: StringTable | undefined,
  ) {
    this.map.set('', 0);
    if (keep) {
      if (keep.start !== start) throw new UsageError(`kept string table starts at ${keep.start}, the new one at ${start}: not the same base`);
      if (keep.bytes.length === 0 || keep.bytes[keep.bytes.length - 1] !== 0) throw new UsageError('kept string table is empty or unterminated');
      this.chunks.push(keep.bytes);
      this.size = keep.bytes.length;
    } else {
      this.chunks.push(new Uint8Array(1));
    }
  }
  add(s: string, nameOff?: number): number {
    if (s === '') return 0;
    if (this.keep) {
      if (nameOff !== undefined && nameOff !== 0 && this.keep.tryGet(nameOff) === s) return nameOff;
      const kept = this.keep.offsetOf(s);
      if (kept !== undefined) return kept;
    }
    const hit = this.map.get(s);
    if (hit !== undefined) return hit;
    const inBase = this.base?.strings.offsetOf(s);
    if (inBase !== undefined) {
      this.map.set(s, inBase);
      return inBase;
    }
    const off = this.start + this.size;
    let b: Uint8Array;
    if (/^[\x20-\x7e]*$/.test(s)) {
      b = new Uint8Array(s.length + 1);
      for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
    } else {
      const e = this.enc.encode(s);
      b = new Uint8Array(e.length + 1);
      b.set(e);
    }
    if (b.indexOf(0) !== b.length - 1) throw new UsageError(`string '${s}' contains a NUL byte`);
    this.chunks.push(b);
    this.size += b.length;
    this.map.set(s, off);
    return off;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.size);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Encode `types` (ids firstId, firstId+1, … in order) as a BTF blob. */
export function writeBtf(types: Iterable<BtfType>, opts: WriteOptions = {}): Uint8Array {
  const le = opts.littleEndian ?? true;
  const base = opts.base;
  const strs = new StringWriter(base, base ? base.strings.end : 0, opts.strings);
  const w = new ByteWriter({ littleEndian: le, capacity: 1 << 16 });
  for (const t of types) encodeType(w, strs, t);
  const strBytes = strs.bytes();
  const out = new ByteWriter({ littleEndian: le, capacity: BTF_HEADER_SIZE + w.length + strBytes.length });
  out.u16(BTF_MAGIC).u8(BTF_VERSION).u8(0).u32(BTF_HEADER_SIZE);
  out.u32(0).u32(w.length).u32(w.length).u32(strBytes.length);
  out.bytes(w.finish()).bytes(strBytes);
  return out.finish();
}

function head(w: ByteWriter, strs: StringWriter, t: BtfType, vlen: number, kindFlag: boolean, sizeOrType: number): void {
  if (vlen > 0xffff) throw new UsageError(`type [${t.id}] '${t.name}': vlen ${vlen} exceeds 65535`);
  w.u32(strs.add(t.name, t.nameOff)).u32(makeInfo(kindNumber(t.kind), vlen, kindFlag)).u32(sizeOrType);
}

function encodeType(w: ByteWriter, strs: StringWriter, t: BtfType): void {
  switch (t.kind) {
    case 'int':
      head(w, strs, t, 0, false, t.size);
      w.u32(((t.encoding & 0x0f) << 24) | ((t.bitsOffset & 0xff) << 16) | (t.bits & 0xff));
      return;
    case 'ptr':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
      head(w, strs, t, 0, t.kindFlag ?? false, t.type);
      return;
    case 'array':
      head(w, strs, t, 0, false, 0);
      w.u32(t.type).u32(t.indexType).u32(t.nelems);
      return;
    case 'struct':
    case 'union': {
      const kf = t.bitfields || t.members.some((m) => m.bitfieldSize !== 0);
      head(w, strs, t, t.members.length, kf, t.size);
      for (const m of t.members) {
        w.u32(strs.add(m.name, m.nameOff)).u32(m.type);
        w.u32(kf ? ((m.bitfieldSize << 24) | (m.bitOffset & 0xffffff)) >>> 0 : m.bitOffset);
      }
      return;
    }
    case 'enum':
      head(w, strs, t, t.values.length, t.signed, t.size);
      for (const v of t.values) {
        w.u32(strs.add(v.name, v.nameOff));
        w.u32(v.value >>> 0);
      }
      return;
    case 'enum64':
      head(w, strs, t, t.values.length, t.signed, t.size);
      for (const v of t.values) {
        const u = BigInt.asUintN(64, v.value);
        w.u32(strs.add(v.name, v.nameOff)).u32(Number(u & 0xffffffffn)).u32(Number(u >> 32n));
      }
      return;
    case 'fwd':
      head(w, strs, t, 0, t.union, 0);
      return;
    case 'func':
      head(w, strs, t, t.linkage, false, t.type);
      return;
    case 'func_proto':
      head(w, strs, t, t.params.length, false, t.type);
      for (const p of t.params) w.u32(strs.add(p.name, p.nameOff)).u32(p.type);
      return;
    case 'var':
      head(w, strs, t, 0, false, t.type);
      w.u32(t.linkage);
      return;
    case 'datasec':
      head(w, strs, t, t.vars.length, false, t.size);
      for (const v of t.vars) w.u32(v.type).u32(v.offset).u32(v.size);
      return;
    case 'float':
      head(w, strs, t, 0, false, t.size);
      return;
    case 'decl_tag':
      head(w, strs, t, 0, t.kindFlag ?? false, t.type);
      w.i32(t.componentIdx);
      return;
  }
}
