/**
 * btf_check_all_types (kernel/bpf/btf.c; the same in Linux 6.1 and 6.18): resolve every type that
 * refers to others, ported function by function so that the verdict and the reason are the kernel's,
 * quirks included (test/btf/kernel-oracle.test.ts compares them with the running kernel).
 *
 * The kernel walks references depth-first with an explicit stack of at most MAX_RESOLVE_DEPTH (32)
 * vertices; each kind's resolve function runs again from the start (structs and datasecs from their
 * next member) each time a type it pushed has been resolved. What is followed depends on one
 * resolve mode per btf_resolve call, set by the first PTR (RESOLVE_PTR: only modifiers and
 * pointers are followed) or struct/union/array (RESOLVE_STRUCT_OR_ARRAY: modifiers, arrays and
 * structs; pointers are sinks) pushed while it is still RESOLVE_TBD; a DATASEC sets it back to TBD.
 * Pushing any type that is on the stack (VISITED) is "Loop detected", logged on the root.
 *
 * Quirks that follow from this and that the kernel really has:
 * - sizes come from resolved_ids/resolved_sizes: a modifier or VAR not yet resolved has no size,
 *   an array not yet resolved has size 0 (btf_type_id_size), so a struct member that is a const of
 *   an array only resolved later is not checked against the struct's size;
 * - a PTR (or VAR) whose target is a modifier resolved earlier to a pointer (in struct mode, where
 *   pointers are sinks) pushes that pointer: a pointer loop through it is found there;
 * - "const FUNC" passes when the FUNC is already resolved: btf_type_id_resolve gives its proto;
 * - a DATASEC entry whose VAR had to be resolved first is not size-checked (the DATASEC resumes
 *   at the next entry).
 */
/**
 * What the resolver reads of the types being checked: validate.ts's RawTypes (declared here, not
 * imported, so that the two files do not import each other).
 */
export interface RawTypes {
  readonly firstId: number;
  readonly endId: number;
  readonly names: { nameOk(off: number): boolean };
  has(id: number): boolean;
  u32(id: number, o: number): number;
  i32(id: number, o: number): number;
  kind(id: number): number;
  str(off: number): string | undefined;
}
import {
  KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC, KIND_FUNC_PROTO,
  KIND_FWD, KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG, KIND_UNION, KIND_VAR,
  KIND_VOLATILE, infoKindFlag, infoVlen,
} from './wire.js';

const MAX_RESOLVE_DEPTH = 32;
const U32_MAX = 0xffffffff;
const TBD = 0;
const PTR_MODE = 1;
const STRUCT_MODE = 2;
const NOT_VISITED = 0;
const VISITED = 1;
const RESOLVED = 2;
/** env_stack_push's results. */
const E2BIG = -7;
const EEXIST = -17;

const isModifier = (k: number) => k === KIND_TYPEDEF || k === KIND_VOLATILE || k === KIND_CONST || k === KIND_RESTRICT || k === KIND_TYPE_TAG;
const isStruct = (k: number) => k === KIND_STRUCT || k === KIND_UNION;
const needsResolve = (k: number) => isModifier(k) || k === KIND_PTR || isStruct(k) || k === KIND_ARRAY || k === KIND_VAR || k === KIND_FUNC || k === KIND_DECL_TAG || k === KIND_DATASEC;
const sourceOnly = (k: number) => k === KIND_VAR || k === KIND_DECL_TAG || k === KIND_DATASEC;
/** btf_type_nosize_or_null: out of range (-1), void (0), FWD, FUNC, FUNC_PROTO. */
const noSize = (k: number) => k <= 0 || k === KIND_FWD || k === KIND_FUNC || k === KIND_FUNC_PROTO;
const hasSize = (k: number) => k === KIND_INT || isStruct(k) || k === KIND_ENUM || k === KIND_DATASEC || k === KIND_FLOAT || k === KIND_ENUM64;

const memberDetail = (raw: RawTypes, nameOff: number) => `member '${raw.str(nameOff) || '(anon)'}'`;
const secDetail = (type: number, offset: number, size: number) => `type_id=${type} offset=${offset} size=${size}`;

class Failure {
  constructor(
    readonly id: number,
    readonly message: string,
    readonly detail?: string,
  ) {}
}

// eslint-disable-next-line max-lines-per-function -- temporary: split into a class next (issue 14)
export function resolveAll(raw: RawTypes, fail: (id: number, message: string, detail?: string) => void): void {
  const first = raw.firstId;
  const own = raw.endId - first;
  const visit = new Uint8Array(own);
  const resolvedIds = new Uint32Array(own);
  const resolvedSizes = new Float64Array(own);
  const stackId = new Uint32Array(MAX_RESOLVE_DEPTH);
  const stackNext = new Uint32Array(MAX_RESOLVE_DEPTH);
  let top = 0;
  let mode = TBD;
  const kindOf = (id: number): number => raw.kind(id);
  const u32 = (id: number, o: number) => raw.u32(id, o);
  /** env_type_is_resolved: the base's types count as resolved. */
  const isResolved = (id: number) => id < first || visit[id - first] === RESOLVED;

  // The base (split BTF) was resolved when it loaded: its resolved ids and sizes are computed on
  // demand, following modifiers (bounded: a base is not re-validated here).
  const baseIds = new Map<number, number>();
  const baseSizes = new Map<number, number>();
  function baseResolvedId(id: number): number {
    const hit = baseIds.get(id);
    if (hit !== undefined) return hit;
    let t = u32(id, 8);
    for (let i = 0; i <= MAX_RESOLVE_DEPTH && isModifier(kindOf(t)); i++) t = u32(t, 8);
    baseIds.set(id, t);
    return t;
  }
  function baseArraySize(id: number, depth: number): number {
    const hit = baseSizes.get(id);
    if (hit !== undefined) return hit;
    let size = 0;
    if (depth <= MAX_RESOLVE_DEPTH && idSize(u32(id, 12), depth + 1)) size = sizeOut * u32(id, 20);
    if (size > U32_MAX) size = 0;
    baseSizes.set(id, size);
    return size;
  }
  const resolvedId = (id: number) => (id === 0 ? 0 : id < first ? baseResolvedId(id) : resolvedIds[id - first]);
  const resolvedSize = (id: number, depth: number) => (id < first ? baseArraySize(id, depth) : resolvedSizes[id - first]);

  /** The size found by the last idSize call that returned non-zero. */
  let sizeOut = 0;
  /** btf_type_id_size: the sized type `id` stands for (0: none), its size in sizeOut. */
  function idSize(id: number, depth = 0): number {
    let k = kindOf(id);
    if (noSize(k)) return 0;
    if (!hasSize(k) && k !== KIND_ARRAY && k !== KIND_PTR) {
      if (!isModifier(k) && k !== KIND_VAR) return 0;
      id = resolvedId(id);
      k = kindOf(id);
      if (noSize(k)) return 0;
    }
    if (hasSize(k)) sizeOut = u32(id, 8);
    else if (k === KIND_ARRAY) sizeOut = resolvedSize(id, depth);
    else if (k === KIND_PTR) sizeOut = 8;
    else return 0;
    return id;
  }
  /** btf_type_id_resolve: one step through resolved_ids. */
  const idResolve = (id: number) => resolvedId(id);
  function intRegular(id: number): boolean {
    const d = u32(id, 12);
    const bits = d & 0xff;
    const bytes = Math.ceil(bits / 8);
    return bits % 8 === 0 && ((d >>> 16) & 0xff) === 0 && (bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16);
  }

  /** env_type_is_resolve_sink. */
  function isSink(k: number): boolean {
    if (mode === TBD) return !needsResolve(k);
    if (mode === PTR_MODE) return !isModifier(k) && k !== KIND_PTR;
    return !isModifier(k) && k !== KIND_ARRAY && !isStruct(k);
  }
  /** Whether `id` (of kind `k`) is to be pushed: not a sink and not resolved. */
  const follow = (id: number, k: number) => !isSink(k) && !isResolved(id);

  /** env_stack_push: 0, E2BIG or EEXIST (any type already VISITED or RESOLVED, or of the base). */
  function push(id: number): number {
    if (top === MAX_RESOLVE_DEPTH) return E2BIG;
    if (id < first || visit[id - first] !== NOT_VISITED) return EEXIST;
    visit[id - first] = VISITED;
    stackId[top] = id;
    stackNext[top] = 0;
    top++;
    if (mode === TBD) {
      const k = kindOf(id);
      if (k === KIND_PTR) mode = PTR_MODE;
      else if (isStruct(k) || k === KIND_ARRAY) mode = STRUCT_MODE;
    }
    return 0;
  }
  function popResolved(resolvedType: number, size: number): void {
    const id = stackId[--top];
    visit[id - first] = RESOLVED;
    resolvedIds[id - first] = resolvedType;
    resolvedSizes[id - first] = size;
  }

  /** btf_modifier_resolve and btf_ptr_resolve (isPtr): 0 or a push error. */
  function resolveRef(id: number, isPtr: boolean): number {
    let next = u32(id, 8);
    let nk = kindOf(next);
    if (nk < 0 || sourceOnly(nk)) throw new Failure(id, 'Invalid type_id');
    if (follow(next, nk)) return push(next);
    if (isPtr && isModifier(nk)) {
      const r = idResolve(next);
      if (kindOf(r) === KIND_PTR && follow(r, KIND_PTR)) return push(r);
    }
    const sized = idSize(next);
    if (!sized) {
      if (isResolved(next)) {
        next = idResolve(next);
        nk = kindOf(next);
      }
      if (nk !== 0 && nk !== KIND_FWD && nk !== KIND_FUNC_PROTO) throw new Failure(id, 'Invalid type_id');
    } else next = sized;
    popResolved(next, 0);
    return 0;
  }

  function resolveVar(id: number): number {
    const next = u32(id, 8);
    const nk = kindOf(next);
    if (nk < 0 || sourceOnly(nk)) throw new Failure(id, 'Invalid type_id');
    if (follow(next, nk)) return push(next);
    if (isModifier(nk)) {
      const r = idResolve(next);
      if (kindOf(r) === KIND_PTR && follow(r, KIND_PTR)) return push(r);
    }
    const sized = idSize(next);
    if (!sized) throw new Failure(id, 'Invalid type_id');
    popResolved(sized, 0);
    return 0;
  }

  function resolveArray(id: number): number {
    const index = u32(id, 16);
    const ik = kindOf(index);
    if (noSize(ik) || sourceOnly(ik)) throw new Failure(id, 'Invalid index');
    if (follow(index, ik)) return push(index);
    const is = idSize(index);
    if (!is || kindOf(is) !== KIND_INT || !intRegular(is)) throw new Failure(id, 'Invalid index');
    const elem = u32(id, 12);
    const ek = kindOf(elem);
    if (noSize(ek) || sourceOnly(ek)) throw new Failure(id, 'Invalid elem');
    if (follow(elem, ek)) return push(elem);
    const es = idSize(elem);
    if (!es) throw new Failure(id, 'Invalid elem');
    const esize = sizeOut;
    if (kindOf(es) === KIND_INT && !intRegular(es)) throw new Failure(id, 'Invalid array of int');
    const nelems = u32(id, 20);
    if (nelems && esize > Math.floor(U32_MAX / nelems)) throw new Failure(id, 'Array size overflows U32_MAX');
    popResolved(es, esize * nelems);
    return 0;
  }

  function resolveStruct(id: number, from: number): number {
    const info = u32(id, 4);
    const kflag = infoKindFlag(info);
    const size = u32(id, 8);
    if (from) {
      const p = 12 + 12 * (from - 1);
      const msg = checkMember(size, u32(id, p + 4), u32(id, p + 8), kflag);
      if (msg) throw new Failure(id, msg, memberDetail(raw, u32(id, p)));
    }
    const vlen = infoVlen(info);
    for (let i = from, p = 12 + 12 * from; i < vlen; i++, p += 12) {
      const mt = u32(id, p + 4);
      const mk = kindOf(mt);
      if (noSize(mk) || sourceOnly(mk)) throw new Failure(id, 'Invalid member', memberDetail(raw, u32(id, p)));
      if (follow(mt, mk)) {
        stackNext[top - 1] = i + 1;
        return push(mt);
      }
      const msg = checkMember(size, mt, u32(id, p + 8), kflag);
      if (msg) throw new Failure(id, msg, memberDetail(raw, u32(id, p)));
    }
    popResolved(0, 0);
    return 0;
  }

  function resolveDatasec(id: number, from: number): number {
    mode = TBD;
    const vlen = infoVlen(u32(id, 4));
    for (let i = from, p = 12 + 12 * from; i < vlen; i++, p += 12) {
      const vt = u32(id, p);
      const vs = u32(id, p + 8);
      if (kindOf(vt) !== KIND_VAR) throw new Failure(id, 'Not a VAR kind member', secDetail(vt, u32(id, p + 4), vs));
      if (follow(vt, KIND_VAR)) {
        stackNext[top - 1] = i + 1;
        return push(vt);
      }
      if (!idSize(u32(vt, 8))) throw new Failure(id, 'Invalid type', secDetail(vt, u32(id, p + 4), vs));
      if (vs < sizeOut) throw new Failure(id, 'Invalid size', secDetail(vt, u32(id, p + 4), vs));
    }
    popResolved(0, 0);
    return 0;
  }

  function resolveFunc(id: number): number {
    const proto = u32(id, 8);
    if (kindOf(proto) !== KIND_FUNC_PROTO) throw new Failure(id, 'Invalid type_id');
    const n = infoVlen(u32(proto, 4));
    for (let i = 0, p = 12; i < n; i++, p += 8) {
      if (!u32(proto, p) && u32(proto, p + 4)) throw new Failure(id, `Invalid arg#${i + 1}`);
    }
    popResolved(proto, 0);
    return 0;
  }

  function resolveDeclTag(id: number): number {
    const next = u32(id, 8);
    const nk = kindOf(next);
    if (!(nk === KIND_FUNC || isStruct(nk) || nk === KIND_VAR || nk === KIND_TYPEDEF)) throw new Failure(id, 'Invalid type_id');
    if (follow(next, nk)) return push(next);
    const comp = raw.i32(id, 12);
    if (comp !== -1) {
      if (nk === KIND_VAR || nk === KIND_TYPEDEF) throw new Failure(id, 'Invalid component_idx');
      const target = isStruct(nk) ? next : u32(next, 8);
      const vlen = raw.has(target) ? infoVlen(u32(target, 4)) : 0;
      if (comp >>> 0 >= vlen) throw new Failure(id, 'Invalid component_idx');
    }
    popResolved(next, 0);
    return 0;
  }

  /** One step of the vertex on top of the stack. */
  function step(): number {
    const id = stackId[top - 1];
    const k = kindOf(id);
    if (isModifier(k)) return resolveRef(id, false);
    if (k === KIND_PTR) return resolveRef(id, true);
    if (k === KIND_VAR) return resolveVar(id);
    if (k === KIND_ARRAY) return resolveArray(id);
    if (isStruct(k)) return resolveStruct(id, stackNext[top - 1]);
    if (k === KIND_DATASEC) return resolveDatasec(id, stackNext[top - 1]);
    if (k === KIND_FUNC) return resolveFunc(id);
    if (k === KIND_DECL_TAG) return resolveDeclTag(id);
    throw new Failure(id, 'Unsupported resolve');
  }

  /** btf_resolve: resolve `root` and everything it needs; loops and depth are logged on the root. */
  function resolve(root: number): void {
    mode = TBD;
    top = 0;
    push(root);
    let err = 0;
    while (!err && top) err = step();
    if (err === E2BIG) throw new Failure(root, `Exceeded max resolving depth:${MAX_RESOLVE_DEPTH}`);
    if (err === EEXIST) throw new Failure(root, 'Loop detected');
  }

  /** The check_member / check_kflag_member of the member's type (modifiers: of the type they size to). */
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
    // Struct, union, enum, float: their own size; PTR: 8; ARRAY: its resolved size (0 until resolved).
    if (!idSize(id)) return 'Invalid member';
    const size = sizeOut;
    if (k === KIND_FLOAT) {
      const alignBits = Math.min(8, size) * 8;
      if (bitOff % alignBits) return 'Member is not properly aligned';
      if (Math.floor(bitOff / 8) + size > structSize) return 'Member exceeds struct_size';
      return undefined;
    }
    if (bitOff % 8) return 'Member is not byte aligned';
    if (structSize - bytesOff < size) return 'Member exceeds struct_size';
    return undefined;
  }

  /** btf_func_proto_check: return and argument types resolve (each its own btf_resolve) and have sizes. */
  function funcProtoCheck(id: number): void {
    const info = u32(id, 4);
    const ret = u32(id, 8);
    if (ret) {
      const rk = kindOf(ret);
      if (rk < 0 || sourceOnly(rk)) throw new Failure(id, 'Invalid return type');
      if (needsResolve(rk) && !isResolved(ret)) resolve(ret);
      if (!idSize(ret)) throw new Failure(id, 'Invalid return type');
    }
    let n = infoVlen(info);
    if (!n) return;
    const p0 = 12;
    if (!u32(id, p0 + 8 * (n - 1) + 4)) {
      if (u32(id, p0 + 8 * (n - 1))) throw new Failure(id, `Invalid arg#${n}`);
      n--;
    }
    for (let i = 0; i < n; i++) {
      const at = u32(id, p0 + 8 * i + 4);
      const an = u32(id, p0 + 8 * i);
      const ak = kindOf(at);
      if (ak < 0 || sourceOnly(ak)) throw new Failure(id, `Invalid arg#${i + 1}`);
      if (an && !raw.names.nameOk(an)) throw new Failure(id, `Invalid arg#${i + 1}`);
      if (needsResolve(ak) && !isResolved(at)) resolve(at);
      if (!idSize(at)) throw new Failure(id, `Invalid arg#${i + 1}`);
    }
  }

  for (let id = first; id < raw.endId; id++) {
    const k = kindOf(id);
    try {
      if (needsResolve(k) && !isResolved(id)) resolve(id);
      if (k === KIND_FUNC_PROTO) funcProtoCheck(id);
    } catch (e) {
      if (!(e instanceof Failure)) throw e;
      fail(e.id, e.message, e.detail);
      return;
    }
  }
}
