/**
 * btf_check_all_types (kernel/bpf/btf.c, Linux 6.1): resolve every type that refers to others.
 *
 * The kernel walks references depth-first with an explicit stack of at most MAX_RESOLVE_DEPTH (32)
 * entries. What it follows depends on the mode set by the type that was pushed: after a PTR
 * (RESOLVE_PTR) only modifiers and pointers are followed, so `struct s { struct s *next; }` is fine;
 * inside a struct or array (RESOLVE_STRUCT_OR_ARRAY) modifiers, arrays and structs are followed, and
 * pointers are sinks. Meeting a type that is still being resolved is "Loop detected".
 */
import type { RawTypes } from './validate.js';
import {
  KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC, KIND_FUNC_PROTO,
  KIND_FWD, KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION, KIND_VAR,
  KIND_VOLATILE, infoKind, infoKindFlag, infoVlen,
} from './wire.js';

const MAX_RESOLVE_DEPTH = 32;
const U32_MAX = 0xffffffff;
type Mode = 'tbd' | 'ptr' | 'struct';

const isModifier = (k: number) => k === KIND_TYPEDEF || k === KIND_VOLATILE || k === KIND_CONST || k === KIND_RESTRICT || k === KIND_TYPE_TAG;
const isStruct = (k: number) => k === KIND_STRUCT || k === KIND_UNION;
const needsResolve = (k: number) => isModifier(k) || k === KIND_PTR || isStruct(k) || k === KIND_ARRAY || k === KIND_VAR || k === KIND_FUNC || k === KIND_DECL_TAG || k === KIND_DATASEC;
const sourceOnly = (k: number) => k === KIND_VAR || k === KIND_DECL_TAG || k === KIND_DATASEC;
/** void (kind 0), FWD, FUNC, FUNC_PROTO. */
const noSize = (k: number) => k === 0 || k === KIND_FWD || k === KIND_FUNC || k === KIND_FUNC_PROTO;
const hasSize = (k: number) => k === KIND_INT || isStruct(k) || k === KIND_ENUM || k === KIND_DATASEC || k === KIND_FLOAT || k === KIND_ENUM64;

function isSink(mode: Mode, k: number): boolean {
  if (mode === 'tbd') return !needsResolve(k);
  if (mode === 'ptr') return !isModifier(k) && k !== KIND_PTR;
  return !isModifier(k) && k !== KIND_ARRAY && !isStruct(k);
}

const rootMode = (k: number): Mode => (k === KIND_PTR ? 'ptr' : isStruct(k) || k === KIND_ARRAY ? 'struct' : 'tbd');

const memberDetail = (raw: RawTypes, nameOff: number) => `member '${raw.str(nameOff) || '(anon)'}'`;
const secDetail = (type: number, offset: number, size: number) => `type_id=${type} offset=${offset} size=${size}`;

class Failure {
  constructor(
    readonly message: string,
    readonly detail?: string,
  ) {}
}

export function resolveAll(raw: RawTypes, fail: (id: number, message: string, detail?: string) => void): void {
  const own = raw.endId - raw.firstId;
  const state = new Uint8Array(own); // 0 new, 1 resolving, 2 resolved
  const kindOf = (id: number): number => raw.kind(id);
  const u32 = (id: number, o: number) => raw.u32(id, o);
  const resolved = (id: number) => id < raw.firstId || state[id - raw.firstId] === 2;
  /**
   * btf_type_id_size memo by id: the sized type it ends at (0: none, -1: not computed yet) and that
   * type's size. This blob's ids in typed arrays, the base's in maps.
   */
  const memoId = new Int32Array(own).fill(-1);
  const memoSize = new Float64Array(own);
  const baseMemo = new Map<number, number>();
  const baseSize = new Map<number, number>();
  /** The size found by the last idSize call that returned non-zero. */
  let sizeOut = 0;

  /** btf_type_id_size: follow modifiers and VAR to a type with a size; its id (0: none), size in sizeOut. */
  function idSize(id: number, depth = 0): number {
    const k = kindOf(id);
    if (k < 0 || noSize(k) || depth > MAX_RESOLVE_DEPTH) return 0;
    const i = id - raw.firstId;
    const hit = i >= 0 ? memoId[i] : (baseMemo.get(id) ?? -1);
    if (hit >= 0) {
      sizeOut = i >= 0 ? memoSize[i] : baseSize.get(id)!;
      return hit;
    }
    let out = 0;
    let size = 0;
    if (hasSize(k)) {
      out = id;
      size = u32(id, 8);
    } else if (k === KIND_PTR) {
      out = id;
      size = 8;
    } else if (k === KIND_ARRAY) {
      const e = idSize(u32(id, 12), depth + 1);
      const n = u32(id, 20);
      if (e && sizeOut * n <= U32_MAX) {
        out = id;
        size = sizeOut * n;
      }
    } else if (isModifier(k) || k === KIND_VAR) {
      out = idSize(u32(id, 8), depth + 1);
      size = sizeOut;
    }
    if (!out) size = 0;
    if (i >= 0) {
      memoId[i] = out;
      memoSize[i] = size;
    } else {
      baseMemo.set(id, out);
      baseSize.set(id, size);
    }
    sizeOut = size;
    return out;
  }
  /** Skip modifiers (btf_type_id_resolve for the "void / fwd / func_proto" target test). */
  function skipMods(id: number): number {
    for (let i = 0; i <= MAX_RESOLVE_DEPTH; i++) {
      const k = kindOf(id);
      if (!isModifier(k)) return id;
      id = u32(id, 8);
    }
    return id;
  }
  function intRegular(id: number): boolean {
    const d = u32(id, 12);
    const bits = d & 0xff;
    const bytes = Math.ceil(bits / 8);
    return bits % 8 === 0 && ((d >>> 16) & 0xff) === 0 && (bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16);
  }

  function visit(next: number, mode: Mode, depth: number): void {
    const k = kindOf(next);
    if (k <= 0 || next < raw.firstId || isSink(mode, k) || resolved(next)) return;
    if (state[next - raw.firstId] === 1) throw new Failure('Loop detected');
    const m: Mode = k === KIND_PTR || isStruct(k) || k === KIND_ARRAY ? rootMode(k) : mode;
    resolve(next, m, depth + 1);
  }

  function resolve(id: number, mode: Mode, depth: number): void {
    if (depth >= MAX_RESOLVE_DEPTH) throw new Failure(`Exceeded max resolving depth:${MAX_RESOLVE_DEPTH}`);
    state[id - raw.firstId] = 1;
    const info = u32(id, 4);
    const k = infoKind(info);
    const st = u32(id, 8);
    const x = 12;
    if (isModifier(k) || k === KIND_PTR || k === KIND_VAR) {
      const nk = kindOf(st);
      if (nk < 0 || sourceOnly(nk)) throw new Failure('Invalid type_id');
      visit(st, mode, depth);
      if (!idSize(st)) {
        if (k === KIND_VAR) throw new Failure('Invalid type_id');
        const tk = kindOf(skipMods(st));
        if (tk !== 0 && tk !== KIND_FWD && tk !== KIND_FUNC_PROTO) throw new Failure('Invalid type_id');
      }
    } else if (k === KIND_ARRAY) {
      const elem = u32(id, x);
      const index = u32(id, x + 4);
      const nelems = u32(id, x + 8);
      const ik = kindOf(index);
      if (ik < 0 || noSize(ik) || sourceOnly(ik)) throw new Failure('Invalid index');
      visit(index, mode, depth);
      const is = idSize(index);
      if (!is || kindOf(is) !== KIND_INT || !intRegular(is)) throw new Failure('Invalid index');
      const ek = kindOf(elem);
      if (ek < 0 || noSize(ek) || sourceOnly(ek)) throw new Failure('Invalid elem');
      visit(elem, mode, depth);
      const es = idSize(elem);
      if (!es) throw new Failure('Invalid elem');
      const esize = sizeOut;
      if (kindOf(es) === KIND_INT && !intRegular(es)) throw new Failure('Invalid array of int');
      if (nelems && esize > Math.floor(U32_MAX / nelems)) throw new Failure('Array size overflows U32_MAX');
    } else if (isStruct(k)) {
      const kflag = infoKindFlag(info);
      const vlen = infoVlen(info);
      for (let i = 0, p = x; i < vlen; i++, p += 12) {
        const mt = u32(id, p + 4);
        const raw32 = u32(id, p + 8);
        const mk = kindOf(mt);
        if (mk < 0 || noSize(mk) || sourceOnly(mk)) throw new Failure('Invalid member', memberDetail(raw, u32(id, p)));
        visit(mt, mode, depth);
        const msg = checkMember(st, mt, raw32, kflag);
        if (msg) throw new Failure(msg, memberDetail(raw, u32(id, p)));
      }
    } else if (k === KIND_FUNC) {
      if (kindOf(st) !== KIND_FUNC_PROTO) throw new Failure('Invalid type_id');
      const n = infoVlen(u32(st, 4));
      for (let i = 0, p = 12; i < n; i++, p += 8) {
        if (!u32(st, p) && u32(st, p + 4)) throw new Failure(`Invalid arg#${i + 1}`);
      }
    } else if (k === KIND_DECL_TAG) {
      const nk = kindOf(st);
      if (!(nk === KIND_FUNC || isStruct(nk) || nk === KIND_VAR || nk === KIND_TYPEDEF)) throw new Failure('Invalid type_id');
      visit(st, mode, depth);
      const comp = raw.i32(id, x);
      if (comp !== -1) {
        if (nk === KIND_VAR || nk === KIND_TYPEDEF) throw new Failure('Invalid component_idx');
        const target = isStruct(nk) ? st : u32(st, 8);
        const vlen = raw.has(target) ? infoVlen(u32(target, 4)) : 0;
        if (comp >= vlen) throw new Failure('Invalid component_idx');
      }
    } else if (k === KIND_DATASEC) {
      const vlen = infoVlen(info);
      for (let i = 0, p = x; i < vlen; i++, p += 12) {
        const vt = u32(id, p);
        const vs = u32(id, p + 8);
        if (kindOf(vt) !== KIND_VAR) throw new Failure('Not a VAR kind member', secDetail(vt, u32(id, p + 4), vs));
        visit(vt, 'tbd', depth);
        if (!idSize(u32(vt, 8))) throw new Failure('Invalid type', secDetail(vt, u32(id, p + 4), vs));
        if (vs < sizeOut) throw new Failure('Invalid size', secDetail(vt, u32(id, p + 4), vs));
      }
    }
    state[id - raw.firstId] = 2;
  }

  /** The check_member / check_kflag_member of the member's type. */
  function checkMember(structSize: number, mt: number, raw32: number, kflag: boolean): string | undefined {
    let k = kindOf(mt);
    let id = mt;
    if (isModifier(k)) {
      id = idSize(mt);
      if (!id) return 'Invalid member';
      k = kindOf(id);
    }
    const bitOff = kflag ? raw32 & 0xffffff : raw32;
    const bitfield = kflag ? raw32 >>> 24 : 0;
    const bytesOff = Math.floor(bitOff / 8);
    if (k === KIND_INT) {
      const d = u32(id, 12);
      const intBits = d & 0xff;
      const intOff = (d >>> 16) & 0xff;
      if (!kflag) {
        if (U32_MAX - bitOff < intOff) return 'bits_offset exceeds U32_MAX';
        const off = bitOff + intOff;
        const copy = intBits + (off % 8);
        if (copy > 128) return 'nr_copy_bits exceeds 128';
        const bo = Math.floor(off / 8);
        if (structSize < bo || structSize - bo < Math.ceil(copy / 8)) return 'Member exceeds struct_size';
        return undefined;
      }
      if (!intRegular(id)) return 'Invalid member base type';
      let nr = bitfield;
      if (!nr) {
        if (bitOff % 8) return 'Invalid member offset';
        nr = intBits;
      } else if (nr > intBits) return 'Invalid member bitfield_size';
      const copy = nr + (bitOff % 8);
      if (copy > 128) return 'nr_copy_bits exceeds 128';
      if (structSize < bytesOff || structSize - bytesOff < Math.ceil(copy / 8)) return 'Member exceeds struct_size';
      return undefined;
    }
    if (k === KIND_ENUM || k === KIND_ENUM64) {
      if (kflag) {
        let nr = bitfield;
        if (!nr) {
          if (bitOff % 8) return 'Member is not byte aligned';
          nr = 32;
        } else if (nr > 32) return 'Invalid member bitfield_size';
        if (structSize < Math.ceil((bitOff + nr) / 8)) return 'Member exceeds struct_size';
        return undefined;
      }
    } else if (bitfield) return 'Invalid member bitfield_size';
    if (!idSize(id)) return 'Invalid member';
    const size = sizeOut;
    if (k === KIND_FLOAT) {
      const alignBits = Math.min(8, size) * 8;
      if (bitOff % alignBits) return 'Member is not properly aligned';
      if (Math.ceil(bitOff / 8) + size > structSize) return 'Member exceeds struct_size';
      return undefined;
    }
    if (bitOff % 8) return 'Member is not byte aligned';
    if (structSize - bytesOff < size) return 'Member exceeds struct_size';
    return undefined;
  }

  function funcProtoCheck(id: number): void {
    const info = u32(id, 4);
    const ret = u32(id, 8);
    if (ret) {
      const rk = kindOf(ret);
      if (rk < 0 || sourceOnly(rk)) throw new Failure('Invalid return type');
      if (needsResolve(rk) && !resolved(ret)) resolve(ret, rootMode(rk), 0);
      if (!idSize(ret)) throw new Failure('Invalid return type');
    }
    let n = infoVlen(info);
    if (!n) return;
    const p0 = 12;
    if (!u32(id, p0 + 8 * (n - 1) + 4)) {
      if (u32(id, p0 + 8 * (n - 1))) throw new Failure(`Invalid arg#${n}`);
      n--;
    }
    for (let i = 0; i < n; i++) {
      const at = u32(id, p0 + 8 * i + 4);
      const an = u32(id, p0 + 8 * i);
      const ak = kindOf(at);
      if (ak < 0 || sourceOnly(ak)) throw new Failure(`Invalid arg#${i + 1}`);
      if (an && !raw.names.nameOk(an)) throw new Failure(`Invalid arg#${i + 1}`);
      if (needsResolve(ak) && !resolved(at)) resolve(at, rootMode(ak), 0);
      if (!idSize(at)) throw new Failure(`Invalid arg#${i + 1}`);
    }
  }

  for (let id = raw.firstId; id < raw.endId; id++) {
    const k = kindOf(id);
    try {
      if (needsResolve(k) && !resolved(id)) resolve(id, rootMode(k), 0);
      if (k === KIND_FUNC_PROTO) funcProtoCheck(id);
    } catch (e) {
      if (!(e instanceof Failure)) throw e;
      fail(id, e.message, e.detail);
      return;
    }
  }
}
