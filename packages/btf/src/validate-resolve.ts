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
import { nameValid } from './validate.js';
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

class Failure {
  constructor(
    readonly message: string,
    readonly detail?: string,
  ) {}
}

export function resolveAll(raw: RawTypes, fail: (id: number, message: string, detail?: string) => void): void {
  const state = new Uint8Array(raw.endId - raw.firstId); // 0 new, 1 resolving, 2 resolved
  const rec = (id: number) => raw.at(id);
  /** Kind of id: 0 for void, -1 for out of range. */
  const kindOf = (id: number): number => {
    if (id === 0) return 0;
    const r = rec(id);
    return r ? infoKind(r.c.u32At(r.off + 4)) : -1;
  };
  const u32 = (id: number, o: number) => {
    const r = rec(id)!;
    return r.c.u32At(r.off + o);
  };
  const resolved = (id: number) => id < raw.firstId || state[id - raw.firstId] === 2;
  const sizeMemo = new Map<number, { id: number; kind: number; size: number } | null>();

  /** btf_type_id_size: follow modifiers and VAR to a type with a size. */
  function idSize(id: number, depth = 0): { id: number; kind: number; size: number } | null {
    const k = kindOf(id);
    if (k < 0 || noSize(k) || depth > MAX_RESOLVE_DEPTH) return null;
    const hit = sizeMemo.get(id);
    if (hit !== undefined) return hit;
    let out: { id: number; kind: number; size: number } | null;
    if (hasSize(k)) out = { id, kind: k, size: u32(id, 8) };
    else if (k === KIND_PTR) out = { id, kind: k, size: 8 };
    else if (k === KIND_ARRAY) {
      const e = idSize(u32(id, 12), depth + 1);
      const n = u32(id, 20);
      out = e && e.size * n <= U32_MAX ? { id, kind: k, size: e.size * n } : null;
    } else if (isModifier(k) || k === KIND_VAR) {
      const next = idSize(u32(id, 8), depth + 1);
      out = next;
    } else out = null;
    sizeMemo.set(id, out);
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
    return bits % 8 === 0 && ((d >>> 16) & 0xff) === 0 && [1, 2, 4, 8, 16].includes(bytes);
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
    const r = rec(id)!;
    const info = r.c.u32At(r.off + 4);
    const k = infoKind(info);
    const st = r.c.u32At(r.off + 8);
    const x = r.off + 12;
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
      const elem = r.c.u32At(x);
      const index = r.c.u32At(x + 4);
      const nelems = r.c.u32At(x + 8);
      const ik = kindOf(index);
      if (ik < 0 || noSize(ik) || sourceOnly(ik)) throw new Failure('Invalid index');
      visit(index, mode, depth);
      const is = idSize(index);
      if (!is || is.kind !== KIND_INT || !intRegular(is.id)) throw new Failure('Invalid index');
      const ek = kindOf(elem);
      if (ek < 0 || noSize(ek) || sourceOnly(ek)) throw new Failure('Invalid elem');
      visit(elem, mode, depth);
      const es = idSize(elem);
      if (!es) throw new Failure('Invalid elem');
      if (es.kind === KIND_INT && !intRegular(es.id)) throw new Failure('Invalid array of int');
      if (nelems && es.size > Math.floor(U32_MAX / nelems)) throw new Failure('Array size overflows U32_MAX');
    } else if (isStruct(k)) {
      const kflag = infoKindFlag(info);
      for (let i = 0, p = x; i < infoVlen(info); i++, p += 12) {
        const mt = r.c.u32At(p + 4);
        const raw32 = r.c.u32At(p + 8);
        const mname = raw.str(r.c.u32At(p)) || '(anon)';
        const mk = kindOf(mt);
        if (mk < 0 || noSize(mk) || sourceOnly(mk)) throw new Failure('Invalid member', `member '${mname}'`);
        visit(mt, mode, depth);
        const msg = checkMember(st, mt, raw32, kflag);
        if (msg) throw new Failure(msg, `member '${mname}'`);
      }
    } else if (k === KIND_FUNC) {
      if (kindOf(st) !== KIND_FUNC_PROTO) throw new Failure('Invalid type_id');
      const pr = rec(st)!;
      const pinfo = pr.c.u32At(pr.off + 4);
      for (let i = 0, p = pr.off + 12; i < infoVlen(pinfo); i++, p += 8) {
        if (!pr.c.u32At(p) && pr.c.u32At(p + 4)) throw new Failure(`Invalid arg#${i + 1}`);
      }
    } else if (k === KIND_DECL_TAG) {
      const nk = kindOf(st);
      if (!(nk === KIND_FUNC || isStruct(nk) || nk === KIND_VAR || nk === KIND_TYPEDEF)) throw new Failure('Invalid type_id');
      visit(st, mode, depth);
      const comp = r.c.i32At(x);
      if (comp !== -1) {
        if (nk === KIND_VAR || nk === KIND_TYPEDEF) throw new Failure('Invalid component_idx');
        const target = isStruct(nk) ? st : u32(st, 8);
        const tr = rec(target);
        const vlen = tr ? infoVlen(tr.c.u32At(tr.off + 4)) : 0;
        if (comp >= vlen) throw new Failure('Invalid component_idx');
      }
    } else if (k === KIND_DATASEC) {
      for (let i = 0, p = x; i < infoVlen(info); i++, p += 12) {
        const vt = r.c.u32At(p);
        const vs = r.c.u32At(p + 8);
        const d = `type_id=${vt} offset=${r.c.u32At(p + 4)} size=${vs}`;
        if (kindOf(vt) !== KIND_VAR) throw new Failure('Not a VAR kind member', d);
        visit(vt, 'tbd', depth);
        const sz = idSize(u32(vt, 8));
        if (!sz) throw new Failure('Invalid type', d);
        if (vs < sz.size) throw new Failure('Invalid size', d);
      }
    }
    state[id - raw.firstId] = 2;
  }

  /** The check_member / check_kflag_member of the member's type. */
  function checkMember(structSize: number, mt: number, raw32: number, kflag: boolean): string | undefined {
    let k = kindOf(mt);
    let id = mt;
    if (isModifier(k)) {
      const s = idSize(mt);
      if (!s) return 'Invalid member';
      id = s.id;
      k = s.kind;
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
    const s = idSize(id);
    if (!s) return 'Invalid member';
    if (k === KIND_FLOAT) {
      const alignBits = Math.min(8, s.size) * 8;
      if (bitOff % alignBits) return 'Member is not properly aligned';
      if (Math.ceil(bitOff / 8) + s.size > structSize) return 'Member exceeds struct_size';
      return undefined;
    }
    if (bitOff % 8) return 'Member is not byte aligned';
    if (structSize - bytesOff < s.size) return 'Member exceeds struct_size';
    return undefined;
  }

  function funcProtoCheck(id: number): void {
    const r = rec(id)!;
    const info = r.c.u32At(r.off + 4);
    const ret = r.c.u32At(r.off + 8);
    if (ret) {
      const rk = kindOf(ret);
      if (rk < 0 || sourceOnly(rk)) throw new Failure('Invalid return type');
      if (needsResolve(rk) && !resolved(ret)) resolve(ret, rootMode(rk), 0);
      if (!idSize(ret)) throw new Failure('Invalid return type');
    }
    let n = infoVlen(info);
    if (!n) return;
    const p0 = r.off + 12;
    if (!r.c.u32At(p0 + 8 * (n - 1) + 4)) {
      if (r.c.u32At(p0 + 8 * (n - 1))) throw new Failure(`Invalid arg#${n}`);
      n--;
    }
    for (let i = 0; i < n; i++) {
      const at = r.c.u32At(p0 + 8 * i + 4);
      const an = r.c.u32At(p0 + 8 * i);
      const ak = kindOf(at);
      if (ak < 0 || sourceOnly(ak)) throw new Failure(`Invalid arg#${i + 1}`);
      if (an && !nameValid(raw.str(an))) throw new Failure(`Invalid arg#${i + 1}`);
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
