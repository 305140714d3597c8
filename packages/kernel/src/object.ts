/**
 * Typed kernel objects, in the manner of drgn's `drgn.Object`: a type plus either an address in
 * kernel memory (a reference, read on demand) or a value (bytes held here). Integers come back as
 * bigint, pointers as addresses, enums by name, bitfields extracted; members by name or path,
 * array indexes, pointer dereference, `container_of` and `list_for_each_entry` as in the kernel.
 */
import { Cursor, NotFoundError, UsageError, hex } from '@kbtf/binary';
import { parseMemberPath } from '@kbtf/btf';
import type { KernelMemory } from './memory.js';
import { pointerTo, shape, sizeOfType, typeName, type KType, type Shape } from './ktype.js';

const MAX_STRING = 1 << 20;

export interface Bitfield {
  /** Bit offset from `address` (0–7 plus whole bytes already folded into the address). */
  bitOffset: number;
  bitSize: number;
}

export class KObject {
  constructor(
    readonly mem: KernelMemory,
    readonly type: KType,
    /** Where the object lives; undefined for a value. */
    readonly address: bigint | undefined,
    /** The value's bytes, little-endian (when not a reference). */
    private readonly valueBytes?: Uint8Array,
    readonly bitfield?: Bitfield,
  ) {}

  /** A value object of `type` holding `value` (integers and pointers). */
  static fromValue(mem: KernelMemory, type: KType, value: bigint): KObject {
    const size = sizeOfType(type);
    const b = new Uint8Array(size);
    let v = BigInt.asUintN(size * 8, value);
    for (let i = 0; i < size; i++, v >>= 8n) b[i] = Number(v & 0xffn);
    return new KObject(mem, type, undefined, b);
  }

  get shape(): Shape {
    return shape(this.type);
  }

  get typeName(): string {
    return typeName(this.type);
  }

  get size(): number {
    return sizeOfType(this.type);
  }

  /** The object's bytes. */
  bytes(): Uint8Array {
    if (this.valueBytes) return this.valueBytes;
    if (this.address === undefined) throw new UsageError('object has neither an address nor a value');
    if (this.bitfield) {
      const nbytes = Math.ceil((this.bitfield.bitOffset + this.bitfield.bitSize) / 8);
      return this.mem.read(this.address, nbytes);
    }
    return this.mem.read(this.address, this.size);
  }

  /** Integer, pointer, enum or bool value as a bigint (sign-extended for signed types). */
  value(): bigint {
    const s = this.shape;
    let size: number;
    let signed = false;
    if (s.kind === 'int' || s.kind === 'enum') {
      size = s.size;
      signed = s.signed;
    } else if (s.kind === 'pointer') size = 8;
    else throw new UsageError(`cannot read a ${s.kind} (${this.typeName}) as an integer`);
    const b = this.bytes();
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    let bits = size * 8;
    if (this.bitfield) {
      v = (v >> BigInt(this.bitfield.bitOffset)) & ((1n << BigInt(this.bitfield.bitSize)) - 1n);
      bits = this.bitfield.bitSize;
    }
    return signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v);
  }

  /** A float or double member, as a JS number. */
  float(): number {
    const s = this.shape;
    if (s.kind !== 'float') throw new UsageError(`${this.typeName} is not a floating type`);
    const c = new Cursor(this.bytes(), { source: this.typeName, littleEndian: true });
    return s.size === 4 ? c.f32At(0) : c.f64At(0);
  }

  /** The enumerator's name, or undefined when the value has none. */
  enumName(): string | undefined {
    const s = this.shape;
    if (s.kind !== 'enum') throw new UsageError(`${this.typeName} is not an enum`);
    const v = this.value();
    return s.values.find((e) => e.value === v || BigInt.asUintN(s.size * 8, e.value) === BigInt.asUintN(s.size * 8, v))?.name;
  }

  /** A member by name (anonymous structs and unions searched), following a pointer like drgn. */
  member(name: string): KObject {
    const s = this.shape;
    if (s.kind === 'pointer') return this.deref().member(name);
    if (s.kind !== 'struct' && s.kind !== 'union') throw new UsageError(`${this.typeName} has no members (looking for '${name}')`);
    const hit = findMember(s, name);
    if (!hit) throw new NotFoundError(`${this.typeName} has no member '${name}'`);
    return this.memberAt(hit.bitOffset, hit.type, hit.bitfieldSize);
  }

  /** `a.b[3].c` relative to this object. */
  path(path: string): KObject {
    return parseMemberPath(path).reduce<KObject>((o, part) => (typeof part === 'number' ? o.index(part) : o.member(part)), this);
  }

  /** Element `i` of an array, or of the array a pointer points into. */
  index(i: number | bigint): KObject {
    const s = this.shape;
    if (s.kind === 'array') return this.memberAt(Number(BigInt(i) * BigInt(sizeOfType(s.elem)) * 8n), s.elem, 0);
    if (s.kind === 'pointer') return new KObject(this.mem, s.target, BigInt.asUintN(64, this.value() + BigInt(i) * BigInt(sizeOfType(s.target))));
    throw new UsageError(`cannot index ${this.typeName}`);
  }

  /** `*ptr`. */
  deref(): KObject {
    const s = this.shape;
    if (s.kind === 'array') return this.index(0);
    if (s.kind !== 'pointer') throw new UsageError(`cannot dereference ${this.typeName}`);
    return new KObject(this.mem, s.target, this.value());
  }

  /** `&obj`, a pointer value. */
  addressOf(): KObject {
    if (this.address === undefined || this.bitfield) throw new UsageError(`cannot take the address of a ${this.address === undefined ? 'value' : 'bitfield'}`);
    return KObject.fromValue(this.mem, pointerTo(this.type), this.address);
  }

  /** The same memory (or value) seen as another type; an integer or pointer casts by value. */
  cast(type: KType): KObject {
    const to = shape(type);
    if (to.kind === 'pointer' || to.kind === 'int' || to.kind === 'enum') return KObject.fromValue(this.mem, type, this.value());
    if (this.address === undefined) throw new UsageError(`cannot cast a value to ${typeName(type)}`);
    return new KObject(this.mem, type, this.address);
  }

  /** The C string in a char array (up to its length) or at a char pointer. */
  string(max = MAX_STRING): Uint8Array {
    const s = this.shape;
    if (s.kind === 'array') {
      const b = this.bytes();
      const nul = b.indexOf(0);
      return nul < 0 ? b : b.subarray(0, nul);
    }
    if (s.kind === 'pointer') return this.mem.cstring(this.value(), max);
    throw new UsageError(`${this.typeName} is not a string`);
  }

  /** The member of `type` at `bitOffset` bits into this object (a bitfield when `bitfieldSize` > 0). */
  memberAt(bitOffset: number, type: KType, bitfieldSize = 0): KObject {
    const byte = Math.floor(bitOffset / 8);
    const bit = bitOffset % 8;
    const bitfield = bitfieldSize > 0 ? { bitOffset: bit, bitSize: bitfieldSize } : undefined;
    if (this.address !== undefined) return new KObject(this.mem, type, this.address + BigInt(byte), undefined, bitfield);
    const size = bitfield ? Math.ceil((bit + bitfieldSize) / 8) : sizeOfType(type);
    return new KObject(this.mem, type, undefined, this.bytes().subarray(byte, byte + size), bitfield);
  }

  toString(): string {
    return `(${this.typeName})${this.address !== undefined ? `*${hex(this.address)}` : 'value'}`;
  }
}

type Composite = Extract<Shape, { kind: 'struct' | 'union' }>;

function findMember(s: Composite, name: string, depth = 0): { bitOffset: number; type: KType; bitfieldSize: number } | undefined {
  for (const m of s.members) if (m.name === name) return m;
  if (depth > 32) return undefined;
  for (const m of s.members) {
    if (m.name !== '') continue;
    const inner = shape(m.type);
    if (inner.kind !== 'struct' && inner.kind !== 'union') continue;
    const hit = findMember(inner, name, depth + 1);
    if (hit) return { ...hit, bitOffset: m.bitOffset + hit.bitOffset };
  }
  return undefined;
}

/** Byte offset of `path` (`list`, `mem[1].base`) inside `type`. */
export function offsetOf(type: KType, path: string): number {
  let bit = 0;
  let cur = type;
  for (const part of parseMemberPath(path)) {
    const s = shape(cur);
    if (typeof part === 'number') {
      if (s.kind !== 'array') throw new UsageError(`offsetof: [${part}] on ${typeName(cur)}`);
      bit += part * sizeOfType(s.elem) * 8;
      cur = s.elem;
      continue;
    }
    if (s.kind !== 'struct' && s.kind !== 'union') throw new UsageError(`offsetof: .${part} on ${typeName(cur)}`);
    const hit = findMember(s, part);
    if (!hit) throw new NotFoundError(`${typeName(cur)} has no member '${part}'`);
    bit += hit.bitOffset;
    cur = hit.type;
  }
  return Math.floor(bit / 8);
}

/** `container_of(ptr, type, member)`: a pointer to the enclosing `type`. */
export function containerOf(ptr: KObject, type: KType, member: string): KObject {
  const addr = ptr.shape.kind === 'pointer' ? ptr.value() : ptr.address;
  if (addr === undefined) throw new UsageError('container_of needs a pointer or an object in memory');
  return KObject.fromValue(ptr.mem, pointerTo(type), BigInt.asUintN(64, addr - BigInt(offsetOf(type, member))));
}

/** Bound on list length, against corrupt (cyclic) lists that never return to the head. */
const MAX_LIST = 1_000_000;

/**
 * `list_for_each_entry(pos, head, member)`: pointers to each `type` whose `member` (a list_head) is
 * linked into the list at `head` (a `struct list_head` object or a pointer to one).
 */
export function listForEachEntry(head: KObject, type: KType, member: string): Generator<KObject> {
  return walkList(head, type, member, 'next');
}

/** `list_for_each_entry_reverse`: the same list from the tail, through `prev`. */
export function listForEachEntryReverse(head: KObject, type: KType, member: string): Generator<KObject> {
  return walkList(head, type, member, 'prev');
}

function* walkList(head: KObject, type: KType, member: string, link: 'next' | 'prev'): Generator<KObject> {
  const h = head.shape.kind === 'pointer' ? head.deref() : head;
  if (h.address === undefined) throw new UsageError('list_for_each_entry needs a list head in memory');
  let node = h.member(link).value();
  for (let n = 0; node !== h.address; n++) {
    if (n >= MAX_LIST) throw new UsageError(`list at ${hex(h.address)} longer than ${MAX_LIST} entries (corrupt?)`);
    if (node === 0n) throw new NotFoundError(`list at ${hex(h.address)}: NULL ${link} pointer after ${n} entries`);
    const nodeObj = new KObject(h.mem, h.type, node);
    yield containerOf(nodeObj, type, member);
    node = nodeObj.member(link).value();
  }
}
