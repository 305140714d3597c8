/**
 * Types of kernel objects. Almost every type is a BTF type (a Btf and an id: vmlinux, or a module's
 * split BTF whose ids continue vmlinux's); a pointer to or an array of a BTF type that the BTF does
 * not itself contain (`(struct module *)0x…` when no `struct module *` exists, `unsigned long [N]`
 * for a bootstrap declaration) is synthesized. `shape()` flattens typedefs and qualifiers into the
 * one view every operation works on.
 */
import { NotFoundError, UsageError } from '@kbtf/binary';
import { kindNumber, type Btf, type BtfType, type Kind, type Member } from '@kbtf/btf';

export type KType =
  | { kind: 'btf'; btf: Btf; id: number }
  | { kind: 'pointer'; target: KType }
  | { kind: 'array'; elem: KType; count: number };

export function btfType(btf: Btf, id: number): KType {
  return { kind: 'btf', btf, id };
}
export function pointerTo(target: KType): KType {
  return { kind: 'pointer', target };
}
export function arrayOf(elem: KType, count: number): KType {
  return { kind: 'array', elem, count };
}

/** The resolved view of a type (typedefs and qualifiers skipped). */
export type Shape =
  | { kind: 'void' }
  | { kind: 'int'; size: number; signed: boolean; char: boolean; bool: boolean }
  | { kind: 'float'; size: number }
  | { kind: 'pointer'; target: KType }
  | { kind: 'array'; elem: KType; count: number }
  | { kind: 'struct' | 'union'; size: number; members: { name: string; type: KType; bitOffset: number; bitfieldSize: number }[]; btf: Btf; id: number }
  | { kind: 'enum'; size: number; signed: boolean; values: { name: string; value: bigint }[] }
  | { kind: 'func' }
  | { kind: 'fwd' };

const MODIFIERS = new Set(['typedef', 'volatile', 'const', 'restrict', 'type_tag', 'var']);
const MAX_DEPTH = 64;

/** Skip typedefs and qualifiers; return the underlying BTF type (undefined for void). */
function underlying(btf: Btf, id: number): BtfType | undefined {
  let cur = id;
  for (let i = 0; i < MAX_DEPTH && cur !== 0; i++) {
    const t = btf.type(cur);
    if (!MODIFIERS.has(t.kind)) return t;
    cur = (t as { type: number }).type;
  }
  return undefined;
}

/** Shapes of BTF types, per Btf: a struct's member list is built once, not on every access. */
const shapeCache = new WeakMap<Btf, Map<number, Shape>>();

export function shape(t: KType): Shape {
  if (t.kind === 'pointer') return { kind: 'pointer', target: t.target };
  if (t.kind === 'array') return { kind: 'array', elem: t.elem, count: t.count };
  let cache = shapeCache.get(t.btf);
  if (!cache) shapeCache.set(t.btf, (cache = new Map<number, Shape>()));
  let s = cache.get(t.id);
  if (!s) cache.set(t.id, (s = btfShape(t.btf, t.id)));
  return s;
}

function btfShape(btf: Btf, id: number): Shape {
  const t = { btf, id };
  const u = underlying(btf, t.id);
  if (!u) return { kind: 'void' };
  switch (u.kind) {
    case 'int':
      return { kind: 'int', size: u.size, signed: (u.encoding & 1) !== 0, char: (u.encoding & 2) !== 0 || u.name.endsWith('char'), bool: (u.encoding & 4) !== 0 };
    case 'float':
      return { kind: 'float', size: u.size };
    case 'ptr':
      return { kind: 'pointer', target: btfType(btf, u.type) };
    case 'array':
      return { kind: 'array', elem: btfType(btf, u.type), count: u.nelems };
    case 'struct':
    case 'union':
      return { kind: u.kind, size: u.size, btf, id: u.id, members: u.members.map((m: Member) => ({ name: m.name, type: btfType(btf, m.type), bitOffset: m.bitOffset, bitfieldSize: m.bitfieldSize })) };
    case 'enum':
      return { kind: 'enum', size: u.size, signed: u.signed, values: u.values.map((v) => ({ name: v.name, value: BigInt(v.value) })) };
    case 'enum64':
      return { kind: 'enum', size: u.size, signed: u.signed, values: u.values.map((v) => ({ name: v.name, value: v.value })) };
    case 'func':
    case 'func_proto':
      return { kind: 'func' };
    case 'fwd':
      return { kind: 'fwd' };
    default:
      throw new UsageError(`type [${u.id}] is a ${u.kind}, not a type of an object`);
  }
}

export function sizeOfType(t: KType): number {
  const s = shape(t);
  switch (s.kind) {
    case 'int':
    case 'float':
    case 'struct':
    case 'union':
    case 'enum':
      return s.size;
    case 'pointer':
      return 8;
    case 'array':
      return s.count * sizeOfType(s.elem);
    default:
      throw new UsageError(`${typeName(t)} has no size`);
  }
}

/** The C spelling of a type, as drgn prints it: `struct list_head *`, `char [65]`, `u64`. */
export function typeName(t: KType): string {
  return declarator(t, '');
}

function declarator(t: KType, inner: string): string {
  const join = (base: string, d: string): string => (d === '' ? base : `${base} ${d}`);
  if (t.kind === 'pointer') return declarator(t.target, `*${inner}`);
  if (t.kind === 'array') return declarator(t.elem, `${wrap(inner)}[${t.count}]`);
  const bt = t.id === 0 ? undefined : t.btf.type(t.id);
  if (!bt) return join('void', inner);
  switch (bt.kind) {
    case 'ptr':
      return declarator(btfType(t.btf, bt.type), `*${inner}`);
    case 'array':
      return declarator(btfType(t.btf, bt.type), `${wrap(inner)}[${bt.nelems}]`);
    case 'const':
    case 'volatile':
    case 'restrict': {
      // `const char *` (qualified base) but `char *const` (qualified pointer), as drgn writes them.
      const target = bt.type === 0 ? undefined : t.btf.type(bt.type);
      if (target?.kind === 'ptr') return declarator(btfType(t.btf, bt.type), inner === '' ? bt.kind : `${bt.kind} ${inner}`);
      // A qualified array of qualified elements (`const u16 [256]` as pahole emits it) says it once.
      const rest = declarator(btfType(t.btf, bt.type), inner);
      return rest.startsWith(`${bt.kind} `) ? rest : `${bt.kind} ${rest}`;
    }
    case 'int':
      return join(C_INT_NAMES[bt.name] ?? bt.name, inner);
    case 'type_tag':
    case 'var':
      return declarator(btfType(t.btf, bt.type), inner);
    case 'func_proto': {
      // Parameter names where BTF has them (a function's own prototype), as drgn prints DWARF's.
      const params = bt.params.map((p) => (p.type === 0 ? '...' : declarator(btfType(t.btf, p.type), p.name ?? ''))).join(', ') || 'void';
      return declarator(btfType(t.btf, bt.type), `${wrap(inner)}(${params})`);
    }
    case 'struct':
    case 'union':
    case 'enum':
      return join(bt.name ? `${bt.kind} ${bt.name}` : `${bt.kind} <anonymous>`, inner);
    case 'enum64':
      return join(bt.name ? `enum ${bt.name}` : 'enum <anonymous>', inner);
    case 'fwd':
      return join(`${bt.union ? 'union' : 'struct'} ${bt.name}`, inner);
    default:
      return join(bt.name || `<${bt.kind}>`, inner);
  }
}

/** DWARF/BTF spell integer types `long unsigned int`; drgn (and C programmers) write `unsigned long`. */
const C_INT_NAMES: Record<string, string> = {
  'long int': 'long',
  'long unsigned int': 'unsigned long',
  'long long int': 'long long',
  'long long unsigned int': 'unsigned long long',
  'short int': 'short',
  'short unsigned int': 'unsigned short',
};

function wrap(inner: string): string {
  return inner.startsWith('*') ? `(${inner})` : inner;
}

/**
 * Parse a C type name against BTF: `struct module *`, `unsigned long`, `char [65]`, `u64`,
 * `enum module_state`. Pointers to types BTF lacks a pointer for are synthesized.
 */
export function parseTypeName(btf: Btf, text: string): KType {
  const m = /^\s*((?:(?:struct|union|enum)\s+)?[A-Za-z_][A-Za-z0-9_]*(?:\s+(?:long|int|char|short))*)\s*((?:\*\s*)*)(?:\[\s*(\d+)\s*\])?\s*$/.exec(text);
  if (!m) throw new UsageError(`cannot parse type name '${text}'`);
  let t = baseType(btf, m[1].replace(/\s+/g, ' '));
  for (let i = 0; i < (m[2].match(/\*/g)?.length ?? 0); i++) t = pointerTo(t);
  if (m[3] !== undefined) t = arrayOf(t, Number(m[3]));
  return t;
}

const INT_ALIASES: Record<string, string> = {
  'unsigned': 'unsigned int',
  'long': 'long int',
  'unsigned long': 'long unsigned int',
  'long unsigned': 'long unsigned int',
  'long long': 'long long int',
  'unsigned long long': 'long long unsigned int',
  'short': 'short int',
  'unsigned short': 'short unsigned int',
  'unsigned char': 'unsigned char',
  'signed char': 'signed char',
};

function baseType(btf: Btf, name: string): KType {
  if (name === 'void') return btfType(btf, 0);
  const tagged = /^(struct|union|enum) (\S+)$/.exec(name);
  if (tagged) {
    const kinds: Kind[] = tagged[1] === 'enum' ? ['enum', 'enum64'] : [tagged[1] as Kind];
    const id = findTypeId(btf, tagged[2], kinds);
    if (id === undefined) throw new NotFoundError(`${btf.source}: no ${name} in BTF`);
    return btfType(btf, id);
  }
  const id = findTypeId(btf, INT_ALIASES[name] ?? name, ['int', 'typedef', 'float']);
  if (id === undefined) throw new NotFoundError(`${btf.source}: no type named '${name}' in BTF`);
  return btfType(btf, id);
}

/**
 * The first type named `name` of one of `kinds` (earlier kinds first), searching split BTF's base
 * too (Btf.firstOfKindNamed: a scan of the kinds column, names compared as bytes).
 */
export function findTypeId(btf: Btf, name: string, kinds: Kind[]): number | undefined {
  const want = new TextEncoder().encode(name);
  for (const kind of kinds) {
    const k = kindNumber(kind);
    for (let b: Btf | undefined = btf; b; b = b.base) {
      const id = b.firstOfKindNamed(k, want);
      if (id !== undefined) return id;
    }
  }
  return undefined;
}

