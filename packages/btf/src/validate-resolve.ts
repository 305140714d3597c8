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

/** The first error of the walk (thrown to end it, caught in resolveAll). */
class Failure extends Error {
  constructor(
    readonly id: number,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** btf_check_all_types: resolve every type of `raw`; the first error goes to `fail` and ends the walk. */
export function resolveAll(raw: RawTypes, fail: (id: number, message: string, detail?: string) => void): void {
  const r = new Resolver(raw);
  for (let id = raw.firstId; id < raw.endId; id++) {
    try {
      r.checkType(id);
    } catch (e) {
      if (!(e instanceof Failure)) throw e;
      fail(e.id, e.message, e.detail);
      return;
    }
  }
}

/**
 * The state of btf_check_all_types (the kernel's btf_verifier_env): the visit states, resolved ids
 * and sizes of the types being checked, the resolve stack and mode. Methods are btf.c's functions.
 */
class Resolver {
  private readonly first: number;
  private readonly visit: Uint8Array;
  private readonly resolvedIds: Uint32Array;
  private readonly resolvedSizes: Float64Array;
  private readonly stackId = new Uint32Array(MAX_RESOLVE_DEPTH);
  private readonly stackNext = new Uint32Array(MAX_RESOLVE_DEPTH);
  private top = 0;
  private mode = TBD;
  // The base (split BTF) was resolved when it loaded: its resolved ids and sizes are computed on
  // demand, following modifiers (bounded: a base is not re-validated here).
  private readonly baseIds = new Map<number, number>();
  private readonly baseSizes = new Map<number, number>();
  /** The size found by the last idSize call that returned non-zero. */
  private sizeOut = 0;

  constructor(private readonly raw: RawTypes) {
    this.first = raw.firstId;
    const own = raw.endId - raw.firstId;
    this.visit = new Uint8Array(own);
    this.resolvedIds = new Uint32Array(own);
    this.resolvedSizes = new Float64Array(own);
  }

  /** btf_check_all_types' loop body for one type: resolve it if it needs it; check a FUNC_PROTO. */
  checkType(id: number): void {
    const k = this.kindOf(id);
    if (needsResolve(k) && !this.isResolved(id)) this.resolve(id);
    if (k === KIND_FUNC_PROTO) this.funcProtoCheck(id);
  }

  private kindOf(id: number): number {
    return this.raw.kind(id);
  }
  private u32(id: number, o: number): number {
    return this.raw.u32(id, o);
  }
  /** env_type_is_resolved: the base's types count as resolved. */
  private isResolved(id: number): boolean {
    return id < this.first || this.visit[id - this.first] === RESOLVED;
  }

  private baseResolvedId(id: number): number {
    const hit = this.baseIds.get(id);
    if (hit !== undefined) return hit;
    // resolved_ids is set only for what btf_resolve ran on; a base FUNC_PROTO, FWD, INT, struct…
    // keeps 0 (btf_check_all_types, kernel/bpf/btf.c), so a PTR to a base FUNC_PROTO sees void.
    const k = this.kindOf(id);
    if (!isModifier(k) && k !== KIND_VAR && k !== KIND_PTR) {
      this.baseIds.set(id, 0);
      return 0;
    }
    let t = this.u32(id, 8);
    for (let i = 0; i <= MAX_RESOLVE_DEPTH && isModifier(this.kindOf(t)); i++) t = this.u32(t, 8);
    this.baseIds.set(id, t);
    return t;
  }
  private baseArraySize(id: number, depth: number): number {
    const hit = this.baseSizes.get(id);
    if (hit !== undefined) return hit;
    let size = 0;
    if (depth <= MAX_RESOLVE_DEPTH && this.idSize(this.u32(id, 12), depth + 1)) size = this.sizeOut * this.u32(id, 20);
    if (size > U32_MAX) size = 0;
    this.baseSizes.set(id, size);
    return size;
  }
  /** btf_type_id_resolve: one step through resolved_ids. */
  private resolvedId(id: number): number {
    return id === 0 ? 0 : id < this.first ? this.baseResolvedId(id) : this.resolvedIds[id - this.first];
  }
  private resolvedSize(id: number, depth: number): number {
    return id < this.first ? this.baseArraySize(id, depth) : this.resolvedSizes[id - this.first];
  }

  /** btf_type_id_size: the sized type `id` stands for (0: none), its size in sizeOut. */
  private idSize(id: number, depth = 0): number {
    let k = this.kindOf(id);
    if (noSize(k)) return 0;
    if (!hasSize(k) && k !== KIND_ARRAY && k !== KIND_PTR) {
      if (!isModifier(k) && k !== KIND_VAR) return 0;
      id = this.resolvedId(id);
      k = this.kindOf(id);
      if (noSize(k)) return 0;
    }
    if (hasSize(k)) this.sizeOut = this.u32(id, 8);
    else if (k === KIND_ARRAY) this.sizeOut = this.resolvedSize(id, depth);
    else if (k === KIND_PTR) this.sizeOut = 8;
    else return 0;
    return id;
  }
  private intRegular(id: number): boolean {
    const d = this.u32(id, 12);
    const bits = d & 0xff;
    const bytes = Math.ceil(bits / 8);
    return bits % 8 === 0 && ((d >>> 16) & 0xff) === 0 && (bytes === 1 || bytes === 2 || bytes === 4 || bytes === 8 || bytes === 16);
  }

  /** env_type_is_resolve_sink. */
  private isSink(k: number): boolean {
    if (this.mode === TBD) return !needsResolve(k);
    if (this.mode === PTR_MODE) return !isModifier(k) && k !== KIND_PTR;
    return !isModifier(k) && k !== KIND_ARRAY && !isStruct(k);
  }
  /** Whether `id` (of kind `k`) is to be pushed: not a sink and not resolved. */
  private follow(id: number, k: number): boolean {
    return !this.isSink(k) && !this.isResolved(id);
  }

  /** env_stack_push: 0, E2BIG or EEXIST (any type already VISITED or RESOLVED, or of the base). */
  private push(id: number): number {
    if (this.top === MAX_RESOLVE_DEPTH) return E2BIG;
    if (id < this.first || this.visit[id - this.first] !== NOT_VISITED) return EEXIST;
    this.visit[id - this.first] = VISITED;
    this.stackId[this.top] = id;
    this.stackNext[this.top] = 0;
    this.top++;
    if (this.mode === TBD) {
      const k = this.kindOf(id);
      if (k === KIND_PTR) this.mode = PTR_MODE;
      else if (isStruct(k) || k === KIND_ARRAY) this.mode = STRUCT_MODE;
    }
    return 0;
  }
  /** env_stack_pop_resolved. */
  private popResolved(resolvedType: number, size: number): void {
    const id = this.stackId[--this.top];
    this.visit[id - this.first] = RESOLVED;
    this.resolvedIds[id - this.first] = resolvedType;
    this.resolvedSizes[id - this.first] = size;
  }
  /** env_stack_set_next_member: resume the vertex on top at member `next`, then push `id`. */
  private pushFromMember(next: number, id: number): number {
    this.stackNext[this.top - 1] = next;
    return this.push(id);
  }

  /** btf_modifier_resolve and btf_ptr_resolve (isPtr): 0 or a push error. */
  private resolveRef(id: number, isPtr: boolean): number {
    let next = this.u32(id, 8);
    let nk = this.kindOf(next);
    if (nk < 0 || sourceOnly(nk)) throw new Failure(id, 'Invalid type_id');
    if (this.follow(next, nk)) return this.push(next);
    if (isPtr && isModifier(nk)) {
      const r = this.resolvedId(next);
      if (this.kindOf(r) === KIND_PTR && this.follow(r, KIND_PTR)) return this.push(r);
    }
    const sized = this.idSize(next);
    if (!sized) {
      if (this.isResolved(next)) {
        next = this.resolvedId(next);
        nk = this.kindOf(next);
      }
      if (nk !== 0 && nk !== KIND_FWD && nk !== KIND_FUNC_PROTO) throw new Failure(id, 'Invalid type_id');
    } else next = sized;
    this.popResolved(next, 0);
    return 0;
  }

  /** btf_var_resolve. */
  private resolveVar(id: number): number {
    const next = this.u32(id, 8);
    const nk = this.kindOf(next);
    if (nk < 0 || sourceOnly(nk)) throw new Failure(id, 'Invalid type_id');
    if (this.follow(next, nk)) return this.push(next);
    if (isModifier(nk)) {
      const r = this.resolvedId(next);
      if (this.kindOf(r) === KIND_PTR && this.follow(r, KIND_PTR)) return this.push(r);
    }
    const sized = this.idSize(next);
    if (!sized) throw new Failure(id, 'Invalid type_id');
    this.popResolved(sized, 0);
    return 0;
  }

  /** btf_array_resolve. */
  private resolveArray(id: number): number {
    const index = this.u32(id, 16);
    const ik = this.kindOf(index);
    if (noSize(ik) || sourceOnly(ik)) throw new Failure(id, 'Invalid index');
    if (this.follow(index, ik)) return this.push(index);
    const is = this.idSize(index);
    if (!is || this.kindOf(is) !== KIND_INT || !this.intRegular(is)) throw new Failure(id, 'Invalid index');
    const elem = this.u32(id, 12);
    const ek = this.kindOf(elem);
    if (noSize(ek) || sourceOnly(ek)) throw new Failure(id, 'Invalid elem');
    if (this.follow(elem, ek)) return this.push(elem);
    const es = this.idSize(elem);
    if (!es) throw new Failure(id, 'Invalid elem');
    const esize = this.sizeOut;
    if (this.kindOf(es) === KIND_INT && !this.intRegular(es)) throw new Failure(id, 'Invalid array of int');
    const nelems = this.u32(id, 20);
    if (nelems && esize > Math.floor(U32_MAX / nelems)) throw new Failure(id, 'Array size overflows U32_MAX');
    this.popResolved(es, esize * nelems);
    return 0;
  }

  /** btf_struct_resolve, resuming at member `from`. */
  private resolveStruct(id: number, from: number): number {
    const info = this.u32(id, 4);
    const kflag = infoKindFlag(info);
    const size = this.u32(id, 8);
    if (from) {
      const p = 12 + 12 * (from - 1);
      const msg = this.checkMember(size, this.u32(id, p + 4), this.u32(id, p + 8), kflag);
      if (msg) throw new Failure(id, msg, memberDetail(this.raw, this.u32(id, p)));
    }
    const vlen = infoVlen(info);
    for (let i = from, p = 12 + 12 * from; i < vlen; i++, p += 12) {
      const mt = this.u32(id, p + 4);
      const mk = this.kindOf(mt);
      if (noSize(mk) || sourceOnly(mk)) throw new Failure(id, 'Invalid member', memberDetail(this.raw, this.u32(id, p)));
      if (this.follow(mt, mk)) return this.pushFromMember(i + 1, mt);
      const msg = this.checkMember(size, mt, this.u32(id, p + 8), kflag);
      if (msg) throw new Failure(id, msg, memberDetail(this.raw, this.u32(id, p)));
    }
    this.popResolved(0, 0);
    return 0;
  }

  /** btf_datasec_resolve, resuming at entry `from`. */
  private resolveDatasec(id: number, from: number): number {
    this.mode = TBD;
    const vlen = infoVlen(this.u32(id, 4));
    for (let i = from, p = 12 + 12 * from; i < vlen; i++, p += 12) {
      const vt = this.u32(id, p);
      const vs = this.u32(id, p + 8);
      if (this.kindOf(vt) !== KIND_VAR) throw new Failure(id, 'Not a VAR kind member', secDetail(vt, this.u32(id, p + 4), vs));
      if (this.follow(vt, KIND_VAR)) return this.pushFromMember(i + 1, vt);
      if (!this.idSize(this.u32(vt, 8))) throw new Failure(id, 'Invalid type', secDetail(vt, this.u32(id, p + 4), vs));
      if (vs < this.sizeOut) throw new Failure(id, 'Invalid size', secDetail(vt, this.u32(id, p + 4), vs));
    }
    this.popResolved(0, 0);
    return 0;
  }

  /** btf_func_resolve. */
  private resolveFunc(id: number): number {
    const proto = this.u32(id, 8);
    if (this.kindOf(proto) !== KIND_FUNC_PROTO) throw new Failure(id, 'Invalid type_id');
    const n = infoVlen(this.u32(proto, 4));
    for (let i = 0, p = 12; i < n; i++, p += 8) {
      if (!this.u32(proto, p) && this.u32(proto, p + 4)) throw new Failure(id, `Invalid arg#${i + 1}`);
    }
    this.popResolved(proto, 0);
    return 0;
  }

  /** btf_decl_tag_resolve. */
  private resolveDeclTag(id: number): number {
    const next = this.u32(id, 8);
    const nk = this.kindOf(next);
    if (!(nk === KIND_FUNC || isStruct(nk) || nk === KIND_VAR || nk === KIND_TYPEDEF)) throw new Failure(id, 'Invalid type_id');
    if (this.follow(next, nk)) return this.push(next);
    const comp = this.raw.i32(id, 12);
    if (comp !== -1) {
      if (nk === KIND_VAR || nk === KIND_TYPEDEF) throw new Failure(id, 'Invalid component_idx');
      const target = isStruct(nk) ? next : this.u32(next, 8);
      const vlen = this.raw.has(target) ? infoVlen(this.u32(target, 4)) : 0;
      if (comp >>> 0 >= vlen) throw new Failure(id, 'Invalid component_idx');
    }
    this.popResolved(next, 0);
    return 0;
  }

  /** One step of the vertex on top of the stack (the kind's ops->resolve). */
  private step(): number {
    const id = this.stackId[this.top - 1];
    const k = this.kindOf(id);
    if (isModifier(k)) return this.resolveRef(id, false);
    if (k === KIND_PTR) return this.resolveRef(id, true);
    if (k === KIND_VAR) return this.resolveVar(id);
    if (k === KIND_ARRAY) return this.resolveArray(id);
    if (isStruct(k)) return this.resolveStruct(id, this.stackNext[this.top - 1]);
    if (k === KIND_DATASEC) return this.resolveDatasec(id, this.stackNext[this.top - 1]);
    if (k === KIND_FUNC) return this.resolveFunc(id);
    if (k === KIND_DECL_TAG) return this.resolveDeclTag(id);
    throw new Failure(id, 'Unsupported resolve');
  }

  /** btf_resolve: resolve `root` and everything it needs; loops and depth are logged on the root. */
  private resolve(root: number): void {
    this.mode = TBD;
    this.top = 0;
    this.push(root);
    let err = 0;
    while (!err && this.top) err = this.step();
    if (err === E2BIG) throw new Failure(root, `Exceeded max resolving depth:${MAX_RESOLVE_DEPTH}`);
    if (err === EEXIST) throw new Failure(root, 'Loop detected');
  }

  /** The check_member / check_kflag_member of the member's type (modifiers: of the type they size to). */
  private checkMember(structSize: number, mt: number, raw32: number, kflag: boolean): string | undefined {
    let k = this.kindOf(mt);
    let id = mt;
    if (isModifier(k)) {
      id = this.idSize(mt);
      if (!id) return 'Invalid member';
      k = this.kindOf(id);
    }
    const bitOff = kflag ? raw32 & 0xffffff : raw32;
    const bitfield = kflag ? raw32 >>> 24 : 0;
    if (k === KIND_INT) return kflag ? this.checkIntKflag(structSize, id, bitOff, bitfield) : this.checkInt(structSize, id, bitOff);
    if (k === KIND_ENUM || k === KIND_ENUM64) {
      if (kflag) return checkEnumKflag(structSize, bitOff, bitfield);
    } else if (bitfield) return 'Invalid member bitfield_size';
    // Struct, union, enum, float: their own size; PTR: 8; ARRAY: its resolved size (0 until resolved).
    if (!this.idSize(id)) return 'Invalid member';
    const size = this.sizeOut;
    if (k === KIND_FLOAT) {
      const alignBits = Math.min(8, size) * 8;
      if (bitOff % alignBits) return 'Member is not properly aligned';
      if (Math.floor(bitOff / 8) + size > structSize) return 'Member exceeds struct_size';
      return undefined;
    }
    if (bitOff % 8) return 'Member is not byte aligned';
    if (structSize - Math.floor(bitOff / 8) < size) return 'Member exceeds struct_size';
    return undefined;
  }

  /** btf_int_check_member. */
  private checkInt(structSize: number, id: number, bitOff: number): string | undefined {
    const d = this.u32(id, 12);
    const intBits = d & 0xff;
    const intOff = (d >>> 16) & 0xff;
    if (U32_MAX - bitOff < intOff) return 'bits_offset exceeds U32_MAX';
    const off = bitOff + intOff;
    const copy = intBits + (off % 8);
    if (copy > 128) return 'nr_copy_bits exceeds 128';
    const bo = Math.floor(off / 8);
    if (structSize < bo || structSize - bo < Math.ceil(copy / 8)) return 'Member exceeds struct_size';
    return undefined;
  }

  /** btf_int_check_kflag_member. */
  private checkIntKflag(structSize: number, id: number, bitOff: number, bitfield: number): string | undefined {
    const intBits = this.u32(id, 12) & 0xff;
    if (!this.intRegular(id)) return 'Invalid member base type';
    let nr = bitfield;
    if (!nr) {
      if (bitOff % 8) return 'Invalid member offset';
      nr = intBits;
    } else if (nr > intBits) return 'Invalid member bitfield_size';
    const copy = nr + (bitOff % 8);
    const bytesOff = Math.floor(bitOff / 8);
    if (copy > 128) return 'nr_copy_bits exceeds 128';
    if (structSize < bytesOff || structSize - bytesOff < Math.ceil(copy / 8)) return 'Member exceeds struct_size';
    return undefined;
  }

  /** btf_func_proto_check: return and argument types resolve (each its own btf_resolve) and have sizes. */
  private funcProtoCheck(id: number): void {
    const ret = this.u32(id, 8);
    if (ret) {
      const rk = this.kindOf(ret);
      if (rk < 0 || sourceOnly(rk)) throw new Failure(id, 'Invalid return type');
      if (needsResolve(rk) && !this.isResolved(ret)) this.resolve(ret);
      if (!this.idSize(ret)) throw new Failure(id, 'Invalid return type');
    }
    let n = infoVlen(this.u32(id, 4));
    if (!n) return;
    const p0 = 12;
    if (!this.u32(id, p0 + 8 * (n - 1) + 4)) {
      if (this.u32(id, p0 + 8 * (n - 1))) throw new Failure(id, `Invalid arg#${n}`);
      n--;
    }
    for (let i = 0; i < n; i++) {
      const at = this.u32(id, p0 + 8 * i + 4);
      const an = this.u32(id, p0 + 8 * i);
      const ak = this.kindOf(at);
      if (ak < 0 || sourceOnly(ak)) throw new Failure(id, `Invalid arg#${i + 1}`);
      if (an && !this.raw.names.nameOk(an)) throw new Failure(id, `Invalid arg#${i + 1}`);
      if (needsResolve(ak) && !this.isResolved(at)) this.resolve(at);
      if (!this.idSize(at)) throw new Failure(id, `Invalid arg#${i + 1}`);
    }
  }
}

/** btf_enum_check_kflag_member. */
function checkEnumKflag(structSize: number, bitOff: number, bitfield: number): string | undefined {
  let nr = bitfield;
  if (!nr) {
    if (bitOff % 8) return 'Member is not byte aligned';
    nr = 32;
  } else if (nr > 32) return 'Invalid member bitfield_size';
  if (structSize < Math.ceil((bitOff + nr) / 8)) return 'Member exceeds struct_size';
  return undefined;
}
