/**
 * The kernel's BTF checks (kernel/bpf/btf.c, Linux 6.1), in the kernel's words.
 *
 * Phases, as the kernel runs them:
 *   btf_parse_hdr       header size, unsupported header bytes, magic, version, flags, section layout
 *   btf_parse_str_sec   string section at the end, NUL first (base) and last, size limit
 *   btf_check_all_metas each record: info bits, kind, name offset, then the kind's check_meta
 *                       (names valid per kind, vlen/kind_flag/size rules, member offsets, enum and
 *                       datasec entries, linkage, decl_tag component)
 *   btf_check_all_types (BPF loads only) resolve every type: referenced ids, loops, sized targets,
 *                       member placement and bitfields, arrays, VAR/DATASEC, FUNC/FUNC_PROTO, tags
 *   btf_check_type_tags type tags precede other modifiers; chains end
 *
 * `mode: 'module'` runs what `btf_parse_module` runs when a module (a companion) loads: everything
 * but btf_check_all_types. `mode: 'full'` (default) runs what `btf_parse` runs for BPF_BTF_LOAD.
 * The kernel stops at the first error; so does this validator (errors[0] is the kernel's reason),
 * except that it keeps checking further records in the meta phase when their bounds are known.
 */
import { Cursor } from '@kbtf/binary';
import type { Btf } from './btf.js';
import {
  BTF_HEADER_SIZE, BTF_INFO_MASK, BTF_MAGIC, BTF_MAX_NAME_OFFSET, BTF_MAX_SIZE, BTF_MAX_TYPE, BTF_VERSION, KIND_ARRAY,
  KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC, KIND_FUNC_PROTO, KIND_FWD,
  KIND_INT, KIND_MAX, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION, KIND_VAR,
  KIND_VOLATILE, detectByteOrder, extraSize, infoKind, infoKindFlag, infoVlen,
} from './wire.js';
export { nameValid };
import { KIND_NAMES } from './types.js';
import { resolveAll } from './validate-resolve.js';

export interface ValidationError {
  /** The type the kernel names ([id]); 0 for header and string-section errors. */
  typeId: number;
  /** The kernel's message, e.g. "Invalid name", "Loop detected", "Invalid offset". */
  message: string;
  /** Context: kind, name, member. */
  detail?: string;
}
export interface ValidationResult {
  valid: boolean;
  errors: ValidationError[];
  mode: 'full' | 'module';
  /** Number of types checked. */
  types: number;
}
export interface ValidateOptions {
  base?: Btf;
  /** 'full' (BPF_BTF_LOAD, default) or 'module' (what a module load runs). */
  mode?: 'full' | 'module';
  /** Byte order of the target kernel; a blob in the other order is "Invalid magic". Default: either. */
  littleEndian?: boolean;
  /** Stop after this many errors (default 100). */
  maxErrors?: number;
  /**
   * Whose rules: '6.1' exactly as Linux 6.1, or 'current' (default): 6.1 plus what later kernels
   * accept and real kernels emit — kind_flag on TYPE_TAG and DECL_TAG (Linux 6.14, "attribute" tags,
   * a kind_flag DECL_TAG must have component_idx -1).
   */
  kernel?: '6.1' | 'current';
}

/** KSYM_NAME_LEN in Linux 6.1. */
const KSYM_NAME_LEN = 512;
const BTF_INT_MASK = 0x0fffffff;

/** Raw view of one type record, in this blob or its base. */
export interface RawTypes {
  firstId: number;
  endId: number;
  /** Cursor and offset of type `id`'s record, or undefined when out of range (0 = void). */
  at(id: number): { c: Cursor; off: number } | undefined;
  str(off: number): string | undefined;
}

class Checker {
  readonly errors: ValidationError[] = [];
  constructor(readonly max: number) {}
  fail(typeId: number, message: string, detail?: string): void {
    if (this.errors.length < this.max) this.errors.push({ typeId, message, ...(detail ? { detail } : {}) });
  }
  get full(): boolean {
    return this.errors.length >= this.max;
  }
}

/** Validate a BTF blob by the kernel's rules. Never throws on bad input. */
export function validateBtf(bytes: Uint8Array, opts: ValidateOptions = {}): ValidationResult {
  const mode = opts.mode ?? 'full';
  const ck = new Checker(opts.maxErrors ?? 100);
  const result = (types = 0): ValidationResult => ({ valid: ck.errors.length === 0, errors: ck.errors, mode, types });
  const base = opts.base;

  // btf_parse (BPF load): BTF_MAX_SIZE.
  if (mode === 'full' && bytes.length > BTF_MAX_SIZE) {
    ck.fail(0, 'BTF too large', `${bytes.length} > ${BTF_MAX_SIZE} bytes (E2BIG)`);
    return result();
  }
  // btf_parse_hdr
  if (bytes.length < 8) {
    ck.fail(0, 'hdr_len not found');
    return result();
  }
  const le = detectByteOrder(bytes);
  const c = new Cursor(bytes, { littleEndian: le ?? true });
  const hdrLen = c.u32At(4);
  if (bytes.length < hdrLen) {
    ck.fail(0, 'btf_header not found');
    return result();
  }
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (bytes[i] !== 0) {
      ck.fail(0, 'Unsupported btf_header');
      return result();
    }
  }
  const h = (o: number) => (o + 4 <= Math.min(hdrLen, bytes.length) ? c.u32At(o) : 0);
  const typeOff = h(8);
  const typeLen = h(12);
  const strOff = h(16);
  const strLen = h(20);
  if (le === undefined || (opts.littleEndian !== undefined && le !== opts.littleEndian) || c.u16At(0) !== BTF_MAGIC) {
    ck.fail(0, 'Invalid magic');
    return result();
  }
  if (c.u8At(2) !== BTF_VERSION) {
    ck.fail(0, 'Unsupported version');
    return result();
  }
  if (c.u8At(3) !== 0) {
    ck.fail(0, 'Unsupported flags');
    return result();
  }
  if (!base && bytes.length === hdrLen) {
    ck.fail(0, 'No data');
    return result();
  }
  // btf_check_sec_info: sections sorted by offset, no gaps, no overlap, nothing else.
  const secs = [
    { off: typeOff, len: typeLen },
    { off: strOff, len: strLen },
  ].sort((a, b) => a.off - b.off || a.len - b.len);
  const expected = bytes.length - hdrLen;
  let total = 0;
  for (const s of secs) {
    const msg =
      expected < s.off ? 'Invalid section offset'
      : total < s.off ? 'Unsupported section found'
      : total > s.off ? 'Section overlap found'
      : expected - total < s.len ? 'Total section length too long'
      : undefined;
    if (msg) {
      ck.fail(0, msg);
      return result();
    }
    total += s.len;
  }
  if (expected !== total) {
    ck.fail(0, 'Unsupported section found');
    return result();
  }
  // btf_parse_str_sec
  const strStart = hdrLen + strOff;
  if (strStart + strLen !== bytes.length) {
    ck.fail(0, 'String section is not at the end');
    return result();
  }
  const strings = bytes.subarray(strStart, strStart + strLen);
  if (!(base && strLen === 0)) {
    if (strLen === 0 || strLen - 1 > BTF_MAX_NAME_OFFSET || strings[strLen - 1] !== 0 || (!base && strings[0] !== 0)) {
      ck.fail(0, 'Invalid string section');
      return result();
    }
  }
  // btf_parse_type_sec (BPF load only)
  if (mode === 'full') {
    if (typeOff & 3) {
      ck.fail(0, 'Unaligned type_off');
      return result();
    }
    if (!base && typeLen === 0) {
      ck.fail(0, 'No type found');
      return result();
    }
  }
  const startStr = base ? base.strings.end : 0;
  const firstId = base ? base.endId : 1;
  const strValid = (off: number): boolean => off <= BTF_MAX_NAME_OFFSET && (off < startStr || off - startStr < strLen);
  const strAt = (off: number): string | undefined => {
    if (!strValid(off)) return undefined;
    if (off < startStr) return base?.strings.tryGet(off);
    const rel = off - startStr;
    const e = strings.indexOf(0, rel);
    return Buffer.from(strings.buffer, strings.byteOffset + rel, (e < 0 ? strLen : e) - rel).toString('latin1');
  };
  const tc = new Cursor(bytes.subarray(hdrLen + typeOff, hdrLen + typeOff + typeLen), { littleEndian: le, base: hdrLen + typeOff });
  const offsets = checkAllMetas(tc, firstId, ck, strValid, strAt, (opts.kernel ?? 'current') === 'current');
  if (offsets === undefined) return result();
  const raw: RawTypes = {
    firstId,
    endId: firstId + offsets.length,
    at(id) {
      if (id >= firstId && id < firstId + offsets.length) return { c: tc, off: offsets[id - firstId] };
      if (base && id >= 1 && id < firstId) {
        let b: Btf | undefined = base;
        while (b && id < b.firstId) b = b.base;
        return b ? { c: b.typeCursor, off: b.recordOffset(id) } : undefined;
      }
      return undefined;
    },
    str: strAt,
  };
  if (!ck.errors.length && mode === 'full') resolveAll(raw, (id, m, d) => ck.fail(id, m, d));
  if (!ck.errors.length) checkTypeTags(raw, ck);
  return result(offsets.length);
}

function nameValid(s: string | undefined): boolean {
  if (s === undefined || s.length === 0 || s.length >= KSYM_NAME_LEN) return false;
  return /^[A-Za-z_.][A-Za-z0-9_.]*$/.test(s);
}

/** btf_check_all_metas: the per-record checks. Returns record offsets, or undefined on a fatal error. */
function checkAllMetas(c: Cursor, firstId: number, ck: Checker, strValid: (o: number) => boolean, strAt: (o: number) => string | undefined, tagFlags: boolean): number[] | undefined {
  const offsets: number[] = [];
  let off = 0;
  let id = firstId;
  while (off < c.length && !ck.full) {
    const left = c.length - off;
    if (left < 12) {
      ck.fail(id, `meta_left:${left} meta_needed:12`);
      return undefined;
    }
    const nameOff = c.u32At(off);
    const info = c.u32At(off + 4);
    const st = c.u32At(off + 8);
    if ((info & ~BTF_INFO_MASK) !== 0) {
      ck.fail(id, `Invalid btf_info:${info.toString(16)}`);
      return undefined;
    }
    const kind = infoKind(info);
    if (kind > KIND_MAX || kind === 0) {
      ck.fail(id, `Invalid kind:${kind}`);
      return undefined;
    }
    const vlen = infoVlen(info);
    const extra = extraSize(kind, vlen);
    const detail = `${KIND_NAMES[kind].toUpperCase()} ${strAt(nameOff) || '(anon)'}`;
    if (!strValid(nameOff)) {
      ck.fail(id, `Invalid name_offset:${nameOff}`, detail);
    } else if (left - 12 < extra) {
      ck.fail(id, `meta_left:${left - 12} meta_needed:${extra}`, detail);
      return undefined;
    } else {
      const msg = checkMeta(c, off, kind, vlen, infoKindFlag(info), nameOff, st, strValid, strAt, tagFlags);
      if (msg) ck.fail(id, msg[0], msg[1] ? `${detail} ${msg[1]}` : detail);
    }
    if (left - 12 < extra) return undefined;
    offsets.push(off);
    off += 12 + extra;
    id++;
  }
  if (ck.errors.length) return undefined;
  return offsets;
}

/** One kind's check_meta; returns [message, member detail] or undefined. */
function checkMeta(
  c: Cursor, off: number, kind: number, vlen: number, kflag: boolean, nameOff: number, st: number,
  strValid: (o: number) => boolean, strAt: (o: number) => string | undefined, tagFlags: boolean,
): [string, string?] | undefined {
  const x = off + 12;
  const named = (o: number) => nameValid(strAt(o));
  switch (kind) {
    case KIND_INT: {
      if (vlen) return ['vlen != 0'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      const d = c.u32At(x);
      if (d & ~BTF_INT_MASK) return [`Invalid int_data:${d.toString(16)}`];
      const nrBits = (d & 0xff) + ((d >>> 16) & 0xff);
      if (nrBits > 128) return ['nr_bits exceeds 128'];
      if (Math.ceil(nrBits / 8) > st) return ['nr_bits exceeds type_size'];
      const enc = (d >>> 24) & 0x0f;
      if (enc && enc !== 1 && enc !== 2 && enc !== 4) return ['Unsupported encoding'];
      return undefined;
    }
    case KIND_PTR:
    case KIND_TYPEDEF:
    case KIND_VOLATILE:
    case KIND_CONST:
    case KIND_RESTRICT:
    case KIND_TYPE_TAG:
      if (vlen) return ['vlen != 0'];
      if (kflag && !(tagFlags && kind === KIND_TYPE_TAG)) return ['Invalid btf_info kind_flag'];
      if (st > BTF_MAX_TYPE) return ['Invalid type_id'];
      if (kind === KIND_TYPEDEF) {
        if (!nameOff || !named(nameOff)) return ['Invalid name'];
      } else if (kind === KIND_TYPE_TAG) {
        if (!strAt(nameOff)) return ['Invalid name'];
      } else if (nameOff) return ['Invalid name'];
      return undefined;
    case KIND_FWD:
      if (vlen) return ['vlen != 0'];
      if (st) return ['type != 0'];
      if (!nameOff || !named(nameOff)) return ['Invalid name'];
      return undefined;
    case KIND_ARRAY: {
      if (nameOff) return ['Invalid name'];
      if (vlen) return ['vlen != 0'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      if (st) return ['size != 0'];
      const elem = c.u32At(x);
      const index = c.u32At(x + 4);
      if (!elem || elem > BTF_MAX_TYPE) return ['Invalid elem'];
      if (!index || index > BTF_MAX_TYPE) return ['Invalid index'];
      return undefined;
    }
    case KIND_STRUCT:
    case KIND_UNION: {
      if (nameOff && !named(nameOff)) return ['Invalid name'];
      let last = 0;
      for (let i = 0, p = x; i < vlen; i++, p += 12) {
        const mName = c.u32At(p);
        const mType = c.u32At(p + 4);
        const raw = c.u32At(p + 8);
        const m = `member '${strAt(mName) ?? ''}'`;
        if (!strValid(mName)) return [`Invalid member name_offset:${mName}`, m];
        if (mName && !named(mName)) return ['Invalid name', m];
        if (!mType || mType > BTF_MAX_TYPE) return ['Invalid type_id', m];
        const bitOff = kflag ? raw & 0xffffff : raw;
        if (kind === KIND_UNION && bitOff) return ['Invalid member bits_offset', m];
        if (last > bitOff) return ['Invalid member bits_offset', m];
        if (Math.ceil(bitOff / 8) > st) return ['Member bits_offset exceeds its struct size', m];
        last = bitOff;
      }
      return undefined;
    }
    case KIND_ENUM:
    case KIND_ENUM64: {
      if (st > 8 || st === 0 || (st & (st - 1)) !== 0) return ['Unexpected size'];
      if (nameOff && !named(nameOff)) return ['Invalid name'];
      const step = kind === KIND_ENUM ? 8 : 12;
      for (let i = 0, p = x; i < vlen; i++, p += step) {
        const vName = c.u32At(p);
        if (!strValid(vName)) return [`Invalid name_offset:${vName}`, `value ${i}`];
        if (!vName || !named(vName)) return ['Invalid name', `value ${i}`];
      }
      return undefined;
    }
    case KIND_FUNC_PROTO:
      if (nameOff) return ['Invalid name'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      return undefined;
    case KIND_FUNC:
      if (!nameOff || !named(nameOff)) return ['Invalid name'];
      if (vlen > 1) return ['Invalid func linkage'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      return undefined;
    case KIND_VAR: {
      if (vlen) return ['vlen != 0'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      if (!nameOff || !named(nameOff)) return ['Invalid name'];
      if (!st || st > BTF_MAX_TYPE) return ['Invalid type_id'];
      const linkage = c.u32At(x);
      if (linkage !== 0 && linkage !== 1) return ['Linkage not supported'];
      return undefined;
    }
    case KIND_DATASEC: {
      if (!st) return ['size == 0'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      if (!nameOff || !named(nameOff)) return ['Invalid name'];
      let lastEnd = 0;
      let sum = 0;
      for (let i = 0, p = x; i < vlen; i++, p += 12) {
        const vt = c.u32At(p);
        const vo = c.u32At(p + 4);
        const vs = c.u32At(p + 8);
        const d = `type_id=${vt} offset=${vo} size=${vs}`;
        if (!vt || vt > BTF_MAX_TYPE) return ['Invalid type_id', d];
        if (vo < lastEnd || vo >= st) return ['Invalid offset', d];
        if (!vs || vs > st) return ['Invalid size', d];
        lastEnd = vo + vs;
        if (lastEnd > st) return ['Invalid offset+size', d];
        sum += vs;
      }
      if (st < sum) return ['Invalid btf_info size'];
      return undefined;
    }
    case KIND_FLOAT:
      if (vlen) return ['vlen != 0'];
      if (kflag) return ['Invalid btf_info kind_flag'];
      if (![2, 4, 8, 12, 16].includes(st)) return ['Invalid type_size'];
      return undefined;
    case KIND_DECL_TAG: {
      if (!strAt(nameOff)) return ['Invalid value'];
      if (vlen) return ['vlen != 0'];
      if (kflag && !tagFlags) return ['Invalid btf_info kind_flag'];
      if (c.i32At(x) < -1 || (kflag && c.i32At(x) !== -1)) return ['Invalid component_idx'];
      return undefined;
    }
  }
  return undefined;
}

/** btf_check_type_tags: in a modifier chain, type tags come first; chains end within 32 steps. */
function checkTypeTags(raw: RawTypes, ck: Checker): void {
  const isMod = (k: number) => k === KIND_TYPEDEF || k === KIND_VOLATILE || k === KIND_CONST || k === KIND_RESTRICT || k === KIND_TYPE_TAG;
  let good = raw.firstId - 1;
  for (let i = raw.firstId; i < raw.endId; i++) {
    let r = raw.at(i);
    if (!r) return;
    let info = r.c.u32At(r.off + 4);
    if (!isMod(infoKind(info))) continue;
    let inTags = infoKind(info) === KIND_TYPE_TAG;
    let cur = i;
    let limit = 32;
    while (isMod(infoKind(info))) {
      if (!limit--) {
        ck.fail(i, 'Max chain length or cycle detected');
        return;
      }
      if (infoKind(info) === KIND_TYPE_TAG) {
        if (!inTags) {
          ck.fail(i, "Type tags don't precede modifiers");
          return;
        }
      } else if (inTags) inTags = false;
      if (cur <= good) break;
      cur = r.c.u32At(r.off + 8);
      if (cur === 0) break;
      r = raw.at(cur);
      if (!r) {
        ck.fail(i, 'Invalid type_id');
        return;
      }
      info = r.c.u32At(r.off + 4);
    }
    good = i;
  }
}

