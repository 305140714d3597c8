/**
 * Questions about types: size, alignment, what a typedef chain resolves to, where a member lives.
 * The rules follow libbpf (btf__resolve_size, btf__align_of) and the kernel: a chain of more than
 * MAX_RESOLVE_DEPTH modifiers or arrays is treated as a loop (BadDataError).
 */
import { BadDataError, NotFoundError, UnsupportedError, UsageError } from '@kbtf/binary';
import { MODIFIER_KINDS, type BtfType, type CompositeType, type Member } from './types.js';

/** What these questions read of a Btf (btf.ts's class; declared here so the files do not import each other). */
export interface TypeTable {
  readonly source: string;
  type(id: number): BtfType;
}

/** libbpf's MAX_RESOLVE_DEPTH. */
export const MAX_RESOLVE_DEPTH = 32;
/** x86_64 (and every 64-bit kernel BTF kbtf reads). */
export const POINTER_SIZE = 8;

function loop(btf: TypeTable, id: number, what: string): BadDataError {
  return new BadDataError(btf.source, undefined, `type [${id}]: ${what}: reference chain longer than ${MAX_RESOLVE_DEPTH} (loop?)`);
}

/** Follow typedef/const/volatile/restrict/type_tag to the underlying type id (0 for void). */
export function resolveId(btf: TypeTable, id: number): number {
  let cur = id;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    if (cur === 0) return 0;
    const t = btf.type(cur);
    if (!MODIFIER_KINDS.has(t.kind)) return cur;
    cur = (t as { type: number }).type;
  }
  throw loop(btf, id, 'resolve');
}

/** Size in bytes of a type (void, FUNC, FUNC_PROTO and FWD have none: UnsupportedError). */
export function sizeOf(btf: TypeTable, id: number): number {
  let cur = id;
  let mult = 1;
  for (let depth = 0; depth <= MAX_RESOLVE_DEPTH; depth++) {
    if (cur === 0) throw new UnsupportedError(`${btf.source}: type [${id}] resolves to void, which has no size`);
    const t = btf.type(cur);
    switch (t.kind) {
      case 'int':
      case 'struct':
      case 'union':
      case 'enum':
      case 'enum64':
      case 'float':
      case 'datasec':
        return mult * t.size;
      case 'ptr':
        return mult * POINTER_SIZE;
      case 'array':
        mult *= t.nelems;
        cur = t.type;
        break;
      case 'typedef':
      case 'volatile':
      case 'const':
      case 'restrict':
      case 'type_tag':
      case 'var':
        cur = t.type;
        break;
      default:
        throw new UnsupportedError(`${btf.source}: type [${id}] (${t.kind}) has no size`);
    }
  }
  throw loop(btf, id, 'sizeof');
}

/** Alignment in bytes (libbpf btf__align_of: packed structs align to 1). */
export function alignOf(btf: TypeTable, id: number, depth = 0): number {
  if (depth > MAX_RESOLVE_DEPTH) throw loop(btf, id, 'alignof');
  if (id === 0) throw new UnsupportedError(`${btf.source}: void has no alignment`);
  const t = btf.type(id);
  switch (t.kind) {
    case 'int':
    case 'enum':
    case 'enum64':
    case 'float':
      return Math.min(POINTER_SIZE, t.size) || 1;
    case 'ptr':
      return POINTER_SIZE;
    case 'array':
    case 'typedef':
    case 'volatile':
    case 'const':
    case 'restrict':
    case 'type_tag':
    case 'var':
      return alignOf(btf, t.type, depth + 1);
    case 'struct':
    case 'union': {
      let max = 1;
      for (const m of t.members) {
        const a = alignOf(btf, m.type, depth + 1);
        if (m.bitfieldSize === 0 && m.bitOffset % (8 * a) !== 0) return 1; // packed
        max = Math.max(max, a);
      }
      if (t.size % max !== 0) return 1;
      return max;
    }
    default:
      throw new UnsupportedError(`${btf.source}: type [${id}] (${t.kind}) has no alignment`);
  }
}

export interface MemberLocation {
  /** Byte offset from the start of the outer type (floor of bitOffset / 8). */
  byteOffset: number;
  /** Bit offset from the start of the outer type. */
  bitOffset: number;
  /** Width in bits: the bitfield size, or 8 × the member's size. */
  bitSize: number;
  /** Whether the member is a bitfield. */
  bitfield: boolean;
  /** The member's type id (unresolved: may be a typedef). */
  typeId: number;
}

/** Split `a.b[3].c` (or `[2].x`) into names and indexes. */
export function parseMemberPath(path: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /\s*(?:\.?\s*([A-Za-z_][A-Za-z0-9_]*)|\[\s*(\d+)\s*\])/y;
  let pos = 0;
  while (pos < path.length) {
    re.lastIndex = pos;
    const m = re.exec(path);
    if (!m || m[0].length === 0) throw new UsageError(`bad member path '${path}' at ${pos}`);
    out.push(m[1] !== undefined ? m[1] : Number(m[2]));
    pos = re.lastIndex;
  }
  return out;
}

/** Find `name` among `t`'s members, searching anonymous struct/union members too. */
export function findMember(btf: TypeTable, t: CompositeType, name: string, depth = 0): { member: Member; bitOffset: number } | undefined {
  if (depth > MAX_RESOLVE_DEPTH) throw loop(btf, t.id, 'member lookup');
  for (const m of t.members) {
    if (m.name === name) return { member: m, bitOffset: m.bitOffset };
  }
  for (const m of t.members) {
    if (m.name !== '') continue;
    const inner = btf.type(resolveId(btf, m.type));
    if (inner.kind !== 'struct' && inner.kind !== 'union') continue;
    const hit = findMember(btf, inner, name, depth + 1);
    if (hit) return { member: hit.member, bitOffset: m.bitOffset + hit.bitOffset };
  }
  return undefined;
}

/** Where `path` (`a.b[3].c`) lives inside type `typeId`. */
export function memberPath(btf: TypeTable, typeId: number, path: string): MemberLocation {
  const parts = parseMemberPath(path);
  let bit = 0;
  let cur = typeId;
  let bitfieldSize = 0;
  for (const part of parts) {
    const t: BtfType = btf.type(resolveId(btf, cur));
    if (typeof part === 'number') {
      if (t.kind !== 'array') throw new UsageError(`${btf.source}: '${path}': [${part}] on ${t.kind} [${t.id}], not an array`);
      bit += part * sizeOf(btf, t.type) * 8;
      cur = t.type;
      bitfieldSize = 0;
      continue;
    }
    if (t.kind !== 'struct' && t.kind !== 'union') throw new UsageError(`${btf.source}: '${path}': .${part} on ${t.kind} [${t.id}], not a struct or union`);
    const hit = findMember(btf, t, part);
    if (!hit) throw new NotFoundError(`${btf.source}: '${path}': ${t.kind} ${t.name || '(anon)'} [${t.id}] has no member '${part}'`);
    bit += hit.bitOffset;
    cur = hit.member.type;
    bitfieldSize = hit.member.bitfieldSize;
  }
  return {
    byteOffset: Math.floor(bit / 8),
    bitOffset: bit,
    bitSize: bitfieldSize || sizeOf(btf, cur) * 8,
    bitfield: bitfieldSize !== 0,
    typeId: cur,
  };
}

/** The name of `value` in enum type `typeId` (typedefs resolved), or undefined. */
export function enumName(btf: TypeTable, typeId: number, value: number | bigint): string | undefined {
  const t = btf.type(resolveId(btf, typeId));
  if (t.kind === 'enum') {
    const v = Number(value);
    for (const e of t.values) if (e.value === v || (e.value >>> 0) === (v >>> 0)) return e.name;
    return undefined;
  }
  if (t.kind === 'enum64') {
    const v = BigInt(value);
    for (const e of t.values) if (e.value === v || BigInt.asUintN(64, e.value) === BigInt.asUintN(64, v)) return e.name;
    return undefined;
  }
  throw new UsageError(`${btf.source}: type [${typeId}] is ${t.kind}, not an enum`);
}

/** Element type, element size and count of an array type (typedefs resolved). */
export function arrayInfo(btf: TypeTable, typeId: number): { elemType: number; elemSize: number; count: number } {
  const t = btf.type(resolveId(btf, typeId));
  if (t.kind !== 'array') throw new UsageError(`${btf.source}: type [${typeId}] is ${t.kind}, not an array`);
  return { elemType: t.type, elemSize: sizeOf(btf, t.type), count: t.nelems };
}
