/**
 * The kernel's BTF checks (kernel/bpf/btf.c, Linux 6.1 and 6.18), in the kernel's words; checked
 * blob by blob against the running kernel's BPF_BTF_LOAD by test/btf/kernel-oracle.test.ts.
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
import { Cursor, HOST_LE } from '@kbtf/binary';
import type { Btf } from './btf.js';
import {
  BTF_HEADER_SIZE, BTF_INFO_MASK, BTF_MAGIC, BTF_MAX_NAME_OFFSET, BTF_MAX_SIZE, BTF_MAX_TYPE, BTF_VERSION, KIND_ARRAY,
  KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC, KIND_FUNC_PROTO, KIND_FWD,
  KIND_INT, KIND_MAX, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION, KIND_VAR,
  KIND_VOLATILE, detectByteOrder, extraSize, infoKind, infoKindFlag, infoVlen,
} from './wire.js';
import { KIND_NAMES } from './types.js';
import { Names } from './validate-names.js';
import { resolveAll } from './validate-resolve.js';
import type { KernelRules } from './rules.js';

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
   * Whose rules: '6.1' exactly as Linux 6.1 (stable 6.1.y, as Debian ships it), or 'current'
   * (default): as the running 6.18 kernel checks, i.e. 6.1 plus kind_flag on TYPE_TAG and DECL_TAG
   * (the "BTF: arbitrary __attribute__ encoding" series of 2025: attribute tags, a DECL_TAG with
   * kind_flag may name a member or argument like any DECL_TAG). The resolver is the same for both.
   * companionRules(release) picks one for a kernel.
   */
  kernel?: KernelRules;
}

const BTF_INT_MASK = 0x0fffffff;

/**
 * The types being checked and, for split BTF, their base: fields are read straight from the bytes
 * (no per-type objects), strings are checked as bytes and decoded only for messages.
 */
export class RawTypes {
  readonly endId: number;
  private readonly base: Btf | undefined;
  constructor(
    readonly firstId: number,
    /** The type section as u32 words in host order. */
    private readonly words: Uint32Array,
    /** Word index of each record. */
    private readonly offsets: Uint32Array,
    readonly names: Names,
    base: Btf | undefined,
  ) {
    this.endId = firstId + offsets.length;
    this.base = base;
  }
  /** Whether `id` is a type here or in the base (0, void, is not). */
  has(id: number): boolean {
    return id >= 1 && id < this.endId && (id >= this.firstId || this.baseOf(id) !== undefined);
  }
  /** The u32 at byte `o` (a multiple of 4) of type `id`'s record; `id` must satisfy `has`. */
  u32(id: number, o: number): number {
    if (id >= this.firstId) return this.words[this.offsets[id - this.firstId] + (o >>> 2)];
    const b = this.baseOf(id)!;
    return b.typeCursor.u32At(b.recordOffset(id) + o);
  }
  i32(id: number, o: number): number {
    return this.u32(id, o) | 0;
  }
  /** The kind of `id`: 0 for void, -1 when out of range. */
  kind(id: number): number {
    if (id === 0) return 0;
    return this.has(id) ? infoKind(this.u32(id, 4)) : -1;
  }
  str(off: number): string | undefined {
    return this.names.str(off);
  }
  private baseOf(id: number): Btf | undefined {
    let b = this.base;
    while (b && id < b.firstId) b = b.base;
    return b;
  }
}

/**
 * The type section as u32 words in host byte order: a view when the bytes are aligned and in host
 * order, else a copy (swapped for the other byte order). A trailing partial word is zero-padded;
 * the record checks never read past the section's byte length.
 */
function hostWords(types: Uint8Array, le: boolean): Uint32Array {
  if (le === HOST_LE && types.byteOffset % 4 === 0 && types.byteLength % 4 === 0) {
    return new Uint32Array(types.buffer, types.byteOffset, types.byteLength / 4);
  }
  const w = new Uint32Array(Math.ceil(types.byteLength / 4));
  const full = types.byteLength & ~3;
  const c = new Cursor(types, { source: 'BTF types', littleEndian: le });
  for (let o = 0; o < full; o += 4) w[o >>> 2] = c.u32At(o);
  if (full < types.byteLength) {
    const tail = new Uint8Array(4);
    tail.set(types.subarray(full));
    w[full >>> 2] = new Cursor(tail, { littleEndian: le }).u32At(0);
  }
  return w;
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
  const h = parseHeader(bytes, opts, ck);
  if (!h || !checkSecInfo(bytes.length, h, ck)) return result();
  const strings = parseStrSec(bytes, h, base, ck);
  if (!strings) return result();
  // btf_parse_type_sec (BPF load only)
  if (mode === 'full' && !checkTypeSec(h, base, ck)) return result();
  const startStr = base ? base.strings.end : 0;
  const firstId = base ? base.endId : 1;
  const names = new Names(strings, startStr, base?.strings);
  const words = hostWords(bytes.subarray(h.hdrLen + h.typeOff, h.hdrLen + h.typeOff + h.typeLen), h.le);
  const offsets = checkAllMetas(words, h.typeLen, firstId, ck, names, (opts.kernel ?? 'current') === 'current');
  if (offsets === undefined) return result();
  const raw = new RawTypes(firstId, words, offsets, names, base);
  if (!ck.errors.length && mode === 'full') resolveAll(raw, (id, m, d) => ck.fail(id, m, d));
  if (!ck.errors.length) checkTypeTags(raw, ck);
  return result(offsets.length);
}

/** The header fields the later phases read. */
interface Header {
  le: boolean;
  hdrLen: number;
  typeOff: number;
  typeLen: number;
  strOff: number;
  strLen: number;
}

/** btf_parse_hdr: the header, or undefined after logging its error. */
function parseHeader(bytes: Uint8Array, opts: ValidateOptions, ck: Checker): Header | undefined {
  const fail = (msg: string): undefined => void ck.fail(0, msg);
  if (bytes.length < 8) return fail('hdr_len not found');
  const le = detectByteOrder(bytes);
  const c = new Cursor(bytes, { littleEndian: le ?? true });
  const hdrLen = c.u32At(4);
  if (bytes.length < hdrLen) return fail('btf_header not found');
  for (let i = BTF_HEADER_SIZE; i < hdrLen; i++) {
    if (bytes[i] !== 0) return fail('Unsupported btf_header');
  }
  const h = (o: number) => (o + 4 <= Math.min(hdrLen, bytes.length) ? c.u32At(o) : 0);
  const typeOff = h(8);
  const typeLen = h(12);
  const strOff = h(16);
  const strLen = h(20);
  if (le === undefined || (opts.littleEndian !== undefined && le !== opts.littleEndian) || c.u16At(0) !== BTF_MAGIC) return fail('Invalid magic');
  if (c.u8At(2) !== BTF_VERSION) return fail('Unsupported version');
  if (c.u8At(3) !== 0) return fail('Unsupported flags');
  if (!opts.base && bytes.length === hdrLen) return fail('No data');
  return { le, hdrLen, typeOff, typeLen, strOff, strLen };
}

/** btf_check_sec_info: sections sorted by offset, no gaps, no overlap, nothing else. */
function checkSecInfo(size: number, h: Header, ck: Checker): boolean {
  const secs = [
    { off: h.typeOff, len: h.typeLen },
    { off: h.strOff, len: h.strLen },
  ].sort((a, b) => a.off - b.off || a.len - b.len);
  const expected = size - h.hdrLen;
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
      return false;
    }
    total += s.len;
  }
  if (expected !== total) {
    ck.fail(0, 'Unsupported section found');
    return false;
  }
  return true;
}

/** btf_parse_str_sec: the string section's bytes, or undefined after logging its error. */
function parseStrSec(bytes: Uint8Array, h: Header, base: Btf | undefined, ck: Checker): Uint8Array | undefined {
  const strStart = h.hdrLen + h.strOff;
  const strLen = h.strLen;
  if (strStart + strLen !== bytes.length) {
    ck.fail(0, 'String section is not at the end');
    return undefined;
  }
  const strings = bytes.subarray(strStart, strStart + strLen);
  if (!(base && strLen === 0)) {
    if (strLen === 0 || strLen - 1 > BTF_MAX_NAME_OFFSET || strings[strLen - 1] !== 0 || (!base && strings[0] !== 0)) {
      ck.fail(0, 'Invalid string section');
      return undefined;
    }
  }
  return strings;
}

/** btf_parse_type_sec's checks before the records: aligned, not empty (but for split BTF). */
function checkTypeSec(h: Header, base: Btf | undefined, ck: Checker): boolean {
  if (h.typeOff & 3) ck.fail(0, 'Unaligned type_off');
  else if (!base && h.typeLen === 0) ck.fail(0, 'No type found');
  else return true;
  return false;
}

/**
 * btf_check_all_metas: the per-record checks. `w` is the type section in words, `len` its length in
 * bytes. Returns the word index of each record, or undefined on a fatal error.
 */
function checkAllMetas(w: Uint32Array, len: number, firstId: number, ck: Checker, names: Names, tagFlags: boolean): Uint32Array | undefined {
  const offsets = new Uint32Array(Math.floor(len / 12));
  const n = metaLoop(w, len, firstId, ck, names, tagFlags, offsets);
  if (n < 0 || ck.errors.length) return undefined;
  return offsets.subarray(0, n);
}

/**
 * checkAllMetas' loop: the number of records, -1 on a fatal error. A function of its own that ends
 * in `return n`: compiled while it runs (on-stack replacement), a loop followed by code that never
 * ran deoptimizes at its exit, on every later blob (indexRecords in btf.ts).
 */
function metaLoop(w: Uint32Array, len: number, firstId: number, ck: Checker, names: Names, tagFlags: boolean, offsets: Uint32Array): number {
  let n = 0;
  let off = 0;
  let id = firstId;
  while (off < len && !ck.full) {
    const left = len - off;
    if (left < 12) {
      ck.fail(id, `meta_left:${left} meta_needed:12`);
      return -1;
    }
    const i = off >>> 2;
    const nameOff = w[i];
    const info = w[i + 1];
    if ((info & ~BTF_INFO_MASK) !== 0) {
      ck.fail(id, `Invalid btf_info:${info.toString(16)}`);
      return -1;
    }
    const kind = infoKind(info);
    if (kind > KIND_MAX || kind === 0) {
      ck.fail(id, `Invalid kind:${kind}`);
      return -1;
    }
    const extra = extraSize(kind, infoVlen(info));
    if (!names.valid(nameOff)) {
      ck.fail(id, `Invalid name_offset:${nameOff}`, metaDetail(names, kind, nameOff));
    } else if (left - 12 < extra) {
      ck.fail(id, `meta_left:${left - 12} meta_needed:${extra}`, metaDetail(names, kind, nameOff));
      return -1;
    } else {
      const msg = META[kind](w, i, kind, names, tagFlags);
      if (msg) ck.fail(id, msg[0], msg[1] ? `${metaDetail(names, kind, nameOff)} ${msg[1]}` : metaDetail(names, kind, nameOff));
    }
    if (left - 12 < extra) return -1;
    offsets[n++] = i;
    off += 12 + extra;
    id++;
  }
  return n;
}

/** "KIND name", for a message. */
const metaDetail = (names: Names, kind: number, nameOff: number) => `${KIND_NAMES[kind].toUpperCase()} ${names.str(nameOff) || '(anon)'}`;
const memberDetail = (names: Names, nameOff: number) => `member '${names.str(nameOff) ?? ''}'`;
const secDetail = (type: number, offset: number, size: number) => `type_id=${type} offset=${offset} size=${size}`;

type Meta = [string, string?] | undefined;

/**
 * Each kind's check_meta, by kind number: (words, record word index, kind, names, tagFlags) →
 * [message, member detail] or undefined. Small functions called through a table: each compiles on
 * its own, and a kind met late in the blob cannot deoptimize the loop.
 */
type MetaCheck = (w: Uint32Array, i: number, kind: number, names: Names, tagFlags: boolean) => Meta;
const none: MetaCheck = () => undefined;
const META: MetaCheck[] = [];
function registerMeta(): void {
  const table: [number[], MetaCheck][] = [
    [[KIND_INT], (w, i) => metaInt(w, i)],
    [[KIND_PTR, KIND_TYPEDEF, KIND_VOLATILE, KIND_CONST, KIND_RESTRICT, KIND_TYPE_TAG], metaRef],
    [[KIND_FWD], (w, i, _k, names) => metaFwd(w, i, names)],
    [[KIND_ARRAY], (w, i) => metaArray(w, i)],
    [[KIND_STRUCT, KIND_UNION], metaComposite],
    [[KIND_ENUM, KIND_ENUM64], metaEnum],
    [[KIND_FUNC_PROTO], (w, i) => metaFuncProto(w, i)],
    [[KIND_FUNC], (w, i, _k, names) => metaFunc(w, i, names)],
    [[KIND_VAR], (w, i, _k, names) => metaVar(w, i, names)],
    [[KIND_DATASEC], (w, i, _k, names) => metaDatasec(w, i, names)],
    [[KIND_FLOAT], (w, i) => metaFloat(w, i)],
    [[KIND_DECL_TAG], (w, i, _k, names, tagFlags) => metaDeclTag(w, i, names, tagFlags)],
  ];
  for (let k = 0; k <= KIND_MAX; k++) META[k] = none;
  for (const [kinds, f] of table) for (const k of kinds) META[k] = f;
}

function metaFuncProto(w: Uint32Array, i: number): Meta {
  if (w[i]) return ['Invalid name'];
  if (infoKindFlag(w[i + 1])) return ['Invalid btf_info kind_flag'];
  return undefined;
}

function metaInt(w: Uint32Array, i: number): Meta {
  const info = w[i + 1];
  const st = w[i + 2];
  if (infoVlen(info)) return ['vlen != 0'];
  if (infoKindFlag(info)) return ['Invalid btf_info kind_flag'];
  const d = w[i + 3];
  if (d & ~BTF_INT_MASK) return [`Invalid int_data:${d.toString(16)}`];
  const nrBits = (d & 0xff) + ((d >>> 16) & 0xff);
  if (nrBits > 128) return ['nr_bits exceeds 128'];
  if (Math.ceil(nrBits / 8) > st) return ['nr_bits exceeds type_size'];
  const enc = (d >>> 24) & 0x0f;
  if (enc && enc !== 1 && enc !== 2 && enc !== 4) return ['Unsupported encoding'];
  return undefined;
}

/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG. */
function metaRef(w: Uint32Array, i: number, kind: number, names: Names, tagFlags: boolean): Meta {
  const nameOff = w[i];
  const info = w[i + 1];
  if (infoVlen(info)) return ['vlen != 0'];
  if (infoKindFlag(info) && !(tagFlags && kind === KIND_TYPE_TAG)) return ['Invalid btf_info kind_flag'];
  if (w[i + 2] > BTF_MAX_TYPE) return ['Invalid type_id'];
  if (kind === KIND_TYPEDEF) {
    if (!nameOff || !names.nameOk(nameOff)) return ['Invalid name'];
  } else if (kind === KIND_TYPE_TAG) {
    if (!names.nonEmpty(nameOff)) return ['Invalid name'];
  } else if (nameOff) return ['Invalid name'];
  return undefined;
}

function metaFwd(w: Uint32Array, i: number, names: Names): Meta {
  const nameOff = w[i];
  if (infoVlen(w[i + 1])) return ['vlen != 0'];
  if (w[i + 2]) return ['type != 0'];
  if (!nameOff || !names.nameOk(nameOff)) return ['Invalid name'];
  return undefined;
}

function metaArray(w: Uint32Array, i: number): Meta {
  const info = w[i + 1];
  if (w[i]) return ['Invalid name'];
  if (infoVlen(info)) return ['vlen != 0'];
  if (infoKindFlag(info)) return ['Invalid btf_info kind_flag'];
  if (w[i + 2]) return ['size != 0'];
  const elem = w[i + 3];
  const index = w[i + 4];
  if (!elem || elem > BTF_MAX_TYPE) return ['Invalid elem'];
  if (!index || index > BTF_MAX_TYPE) return ['Invalid index'];
  return undefined;
}

function metaComposite(w: Uint32Array, i: number, kind: number, names: Names): Meta {
  const nameOff = w[i];
  const info = w[i + 1];
  const st = w[i + 2];
  const kflag = infoKindFlag(info);
  const vlen = infoVlen(info);
  if (nameOff && !names.nameOk(nameOff)) return ['Invalid name'];
  let last = 0;
  for (let k = 0, p = i + 3; k < vlen; k++, p += 3) {
    const mName = w[p];
    const mType = w[p + 1];
    const raw = w[p + 2];
    if (!names.valid(mName)) return [`Invalid member name_offset:${mName}`, memberDetail(names, mName)];
    if (mName && !names.nameOk(mName)) return ['Invalid name', memberDetail(names, mName)];
    if (!mType || mType > BTF_MAX_TYPE) return ['Invalid type_id', memberDetail(names, mName)];
    const bitOff = kflag ? raw & 0xffffff : raw;
    if (kind === KIND_UNION && bitOff) return ['Invalid member bits_offset', memberDetail(names, mName)];
    if (last > bitOff) return ['Invalid member bits_offset', memberDetail(names, mName)];
    if (Math.ceil(bitOff / 8) > st) return ['Member bits_offset exceeds its struct size', memberDetail(names, mName)];
    last = bitOff;
  }
  return undefined;
}

function metaEnum(w: Uint32Array, i: number, kind: number, names: Names): Meta {
  const nameOff = w[i];
  const st = w[i + 2];
  if (st > 8 || st === 0 || (st & (st - 1)) !== 0) return ['Unexpected size'];
  if (nameOff && !names.nameOk(nameOff)) return ['Invalid name'];
  const step = kind === KIND_ENUM ? 2 : 3;
  const vlen = infoVlen(w[i + 1]);
  for (let k = 0, p = i + 3; k < vlen; k++, p += step) {
    const vName = w[p];
    if (!names.valid(vName)) return [`Invalid name_offset:${vName}`, `value ${k}`];
    if (!vName || !names.nameOk(vName)) return ['Invalid name', `value ${k}`];
  }
  return undefined;
}

function metaFunc(w: Uint32Array, i: number, names: Names): Meta {
  const nameOff = w[i];
  const info = w[i + 1];
  if (!nameOff || !names.nameOk(nameOff)) return ['Invalid name'];
  if (infoVlen(info) > 1) return ['Invalid func linkage'];
  if (infoKindFlag(info)) return ['Invalid btf_info kind_flag'];
  return undefined;
}

function metaVar(w: Uint32Array, i: number, names: Names): Meta {
  const nameOff = w[i];
  const info = w[i + 1];
  const st = w[i + 2];
  if (infoVlen(info)) return ['vlen != 0'];
  if (infoKindFlag(info)) return ['Invalid btf_info kind_flag'];
  if (!nameOff || !names.nameOk(nameOff)) return ['Invalid name'];
  if (!st || st > BTF_MAX_TYPE) return ['Invalid type_id'];
  const linkage = w[i + 3];
  if (linkage !== 0 && linkage !== 1) return ['Linkage not supported'];
  return undefined;
}

function metaDatasec(w: Uint32Array, i: number, names: Names): Meta {
  const nameOff = w[i];
  const info = w[i + 1];
  const st = w[i + 2];
  if (!st) return ['size == 0'];
  if (infoKindFlag(info)) return ['Invalid btf_info kind_flag'];
  if (!nameOff || !names.sectionOk(nameOff)) return ['Invalid name'];
  let lastEnd = 0;
  let sum = 0;
  const vlen = infoVlen(info);
  for (let k = 0, p = i + 3; k < vlen; k++, p += 3) {
    const vt = w[p];
    const vo = w[p + 1];
    const vs = w[p + 2];
    if (!vt || vt > BTF_MAX_TYPE) return ['Invalid type_id', secDetail(vt, vo, vs)];
    if (vo < lastEnd || vo >= st) return ['Invalid offset', secDetail(vt, vo, vs)];
    if (!vs || vs > st) return ['Invalid size', secDetail(vt, vo, vs)];
    lastEnd = vo + vs;
    if (lastEnd > st) return ['Invalid offset+size', secDetail(vt, vo, vs)];
    sum += vs;
  }
  if (st < sum) return ['Invalid btf_info size'];
  return undefined;
}

function metaFloat(w: Uint32Array, i: number): Meta {
  const info = w[i + 1];
  const st = w[i + 2];
  if (infoVlen(info)) return ['vlen != 0'];
  if (infoKindFlag(info)) return ['Invalid btf_info kind_flag'];
  if (st !== 2 && st !== 4 && st !== 8 && st !== 12 && st !== 16) return ['Invalid type_size'];
  return undefined;
}

function metaDeclTag(w: Uint32Array, i: number, names: Names, tagFlags: boolean): Meta {
  const info = w[i + 1];
  const kflag = infoKindFlag(info);
  if (!names.nonEmpty(w[i])) return ['Invalid value'];
  if (infoVlen(info)) return ['vlen != 0'];
  if (kflag && !tagFlags) return ['Invalid btf_info kind_flag'];
  const comp = w[i + 3] | 0;
  if (comp < -1) return ['Invalid component_idx'];
  return undefined;
}

/** btf_check_type_tags: in a modifier chain, type tags come first; chains end within 32 steps. */
function checkTypeTags(raw: RawTypes, ck: Checker): void {
  const isMod = (k: number) => k === KIND_TYPEDEF || k === KIND_VOLATILE || k === KIND_CONST || k === KIND_RESTRICT || k === KIND_TYPE_TAG;
  let good = raw.firstId - 1;
  for (let i = raw.firstId; i < raw.endId; i++) {
    let kind = infoKind(raw.u32(i, 4));
    if (!isMod(kind)) continue;
    let inTags = kind === KIND_TYPE_TAG;
    let cur = i;
    let limit = 32;
    while (isMod(kind)) {
      if (!limit--) {
        ck.fail(i, 'Max chain length or cycle detected');
        return;
      }
      if (kind === KIND_TYPE_TAG) {
        if (!inTags) {
          ck.fail(i, "Type tags don't precede modifiers");
          return;
        }
      } else if (inTags) inTags = false;
      if (cur <= good) break;
      cur = raw.u32(cur, 8);
      if (cur === 0) break;
      if (!raw.has(cur)) {
        ck.fail(i, 'Invalid type_id');
        return;
      }
      kind = infoKind(raw.u32(cur, 4));
    }
    good = i;
  }
}

registerMeta();
