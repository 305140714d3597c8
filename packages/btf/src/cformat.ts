/**
 * The C printer: a header declaring every struct, union, enum and typedef of a BTF (base and split
 * together), in an order a C compiler accepts, like `bpftool btf dump format c` (libbpf btf_dump):
 *   1. forward declarations of every named struct and union (so pointers never need ordering);
 *   2. every named enum (enums cannot be forward-declared in C);
 *   3. typedefs and struct/union definitions, each after the types it needs complete (by-value
 *      members, array elements, typedef targets used by value), depth-first.
 * Types whose names repeat get libbpf's `___N` suffixes. Layout attributes (packing, explicit
 * padding) are not emitted: the header is for reading and compiling, not for re-deriving offsets.
 */
import { BadDataError } from '@kbtf/binary';
import type { Btf } from './btf.js';
import type { BtfType, CompositeType, EnumType, Enum64Type } from './types.js';

/** How deep printing follows typedef and by-value member chains (see CFormatter.enter). */
export const MAX_EMIT_NESTING = 1000;

/**
 * How many steps (ensure and decl calls) one header may take. vmlinux BTF of Debian 6.1 (100,750
 * types) takes a few hundred thousand; anonymous structs printed inline can nest into each other so
 * that the walk grows exponentially (a fuzzed vmlinux BTF whose string offset moved ran 11 minutes
 * and then failed with "Invalid string length"; now it stops here in well under a second).
 */
export const MAX_DECL_CALLS = 5_000_000;
/** The same bound on the text those steps build (vmlinux 6.1: a 2.8 MB header). */
export const MAX_INLINE_CHARS = 64 * 1024 * 1024;

export function formatC(btf: Btf, guard = '__KBTF_BTF_H__'): string {
  return new CPrinter(btf).print(guard);
}

class CPrinter {
  private readonly out: string[] = [];
  private readonly names = new Map<number, string>();
  private readonly state = new Map<number, number>(); // 1 in progress, 2 done
  private readonly enumerators = new Map<string, number>();

  constructor(private readonly btf: Btf) {}

  private t(id: number): BtfType {
    return this.btf.type(id);
  }

  print(guard: string): string {
    const btf = this.btf;
    const first = btf.base ? 1 : btf.firstId;
    const tagCount = new Map<string, number>();
    const ordCount = new Map<string, number>();
    const all: BtfType[] = [];
    for (let id = first; id < btf.endId; id++) all.push(this.t(id));
    // Names: struct/union/enum tags share one namespace, typedefs another.
    for (const t of all) {
      if (!t.name) continue;
      if (t.kind === 'struct' || t.kind === 'union' || t.kind === 'enum' || t.kind === 'enum64') this.names.set(t.id, unique(tagCount, t.name));
      else if (t.kind === 'typedef') this.names.set(t.id, unique(ordCount, t.name));
    }
    for (const t of all) if (t.kind === 'fwd') this.names.set(t.id, t.name);
    this.out.push(`#ifndef ${guard}`, `#define ${guard}`, '');
    for (const t of all) if ((t.kind === 'struct' || t.kind === 'union') && t.name) this.out.push(`${t.kind} ${this.names.get(t.id)};`);
    for (const t of all) if (t.kind === 'fwd' && !tagCount.has(t.name)) this.out.push(`${t.union ? 'union' : 'struct'} ${t.name};`);
    this.out.push('');
    for (const t of all) {
      // A value-less ENUM is a forward declaration (GNU C accepts `enum x;`).
      if ((t.kind === 'enum' || t.kind === 'enum64') && t.name) this.out.push(t.values.length ? `${this.enumBody(t, '')};` : `enum ${this.names.get(t.id)};`, '');
    }
    for (const t of all) {
      if (t.kind === 'typedef') this.emitTypedef(t.id);
      else if ((t.kind === 'struct' || t.kind === 'union') && t.name) this.emitComposite(t.id);
    }
    this.out.push(`#endif /* ${guard} */`, '');
    return this.out.join('\n');
  }

  /** Make sure what `id` needs is printed; `complete`: used by value. */
  private ensure(id: number, complete: boolean, depth = 0): void {
    if (id === 0 || depth > 64) return;
    this.step(id);
    const t = this.t(id);
    switch (t.kind) {
      case 'ptr':
        return this.ensure(t.type, false, depth + 1);
      case 'array':
        return this.ensure(t.type, true, depth + 1);
      case 'const':
      case 'volatile':
      case 'restrict':
      case 'type_tag':
        return this.ensure(t.type, complete, depth + 1);
      case 'typedef':
        this.emitTypedef(id);
        if (complete) this.ensure(t.type, true, depth + 1);
        return;
      case 'struct':
      case 'union':
        if (t.name) {
          if (complete) this.emitComposite(id);
        } else for (const m of t.members) this.ensure(m.type, true, depth + 1);
        return;
      case 'func_proto':
        this.ensure(t.type, false, depth + 1);
        for (const p of t.params) this.ensure(p.type, false, depth + 1);
        return;
      default:
        return;
    }
  }

  private emitTypedef(id: number): void {
    if (this.state.get(id)) return;
    this.state.set(id, 1);
    this.enter(id);
    const t = this.t(id) as { type: number };
    this.ensure(t.type, false);
    this.out.push(`typedef ${this.decl(t.type, this.names.get(id)!, '')};`, '');
    this.state.set(id, 2);
    this.nesting--;
  }

  private emitComposite(id: number): void {
    if (this.state.get(id)) return;
    this.state.set(id, 1);
    this.enter(id);
    const t = this.t(id) as CompositeType;
    for (const m of t.members) this.ensure(m.type, true);
    this.out.push(`${this.compositeBody(t, '')};`, '');
    this.state.set(id, 2);
    this.nesting--;
  }

  /**
   * A typedef or a struct used by value must be printed before what uses it, so printing recurses
   * along such chains. Real BTF nests a few dozen deep (vmlinux 6.12: under 30); a blob whose chain
   * is longer (3,000 typedefs naming each other's successor, ~60 KB) is refused, not followed until
   * the stack runs out.
   */
  private nesting = 0;
  /** Declarator steps so far (see MAX_DECL_CALLS). */
  private declCalls = 0;
  /** Characters of struct and union bodies built so far, inline ones counted at every level. */
  private inlineChars = 0;
  private enter(id: number): void {
    if (++this.nesting > MAX_EMIT_NESTING) {
      throw new BadDataError('BTF', undefined, `type [${id}]: typedefs and by-value members nest deeper than ${MAX_EMIT_NESTING} levels; not printed as C`);
    }
  }

  /** `depth`: how deep in anonymous structs printed inline this body is (a cycle of them in bad BTF ends at the cap). */
  private compositeBody(t: CompositeType, indent: string, depth = 0): string {
    const head = t.name ? `${t.kind} ${this.names.get(t.id)} {` : `${t.kind} {`;
    const lines = [head];
    for (const m of t.members) {
      const bf = m.bitfieldSize ? `: ${m.bitfieldSize}` : '';
      lines.push(`${indent}\t${this.decl(m.type, m.name, indent + '\t', depth + 1)}${bf};`);
    }
    lines.push(`${indent}}`);
    const text = lines.join('\n');
    this.inlineChars += text.length;
    if (this.inlineChars > MAX_INLINE_CHARS) {
      throw new BadDataError('BTF', undefined, `type [${t.id}]: struct and union bodies printed as C exceed ${MAX_INLINE_CHARS} characters (anonymous types nested into an exponential header); not printed`);
    }
    return text;
  }

  private enumBody(t: EnumType | Enum64Type, indent: string): string {
    const head = t.name ? `enum ${this.names.get(t.id)} {` : 'enum {';
    const lines = [head];
    for (const v of t.values) {
      const name = unique(this.enumerators, v.name);
      const val = typeof v.value === 'bigint' ? (t.signed ? `${v.value}LL` : `${BigInt.asUintN(64, v.value)}ULL`) : t.signed ? String(v.value | 0) : `${v.value >>> 0}${v.value >>> 0 > 0x7fffffff ? 'U' : ''}`;
      lines.push(`${indent}\t${name} = ${val},`);
    }
    lines.push(`${indent}}`);
    return lines.join('\n');
  }

  /** A C declaration of `name` with type `id`. */
  /** One step of the walk over types (ensure, decl); anonymous types can nest exponentially. */
  private step(id: number): void {
    if (++this.declCalls > MAX_DECL_CALLS) {
      throw new BadDataError('BTF', undefined, `type [${id}]: printing as C takes more than ${MAX_DECL_CALLS} declarator steps (anonymous types nested into an exponential header); not printed`);
    }
  }

  private decl(id: number, name: string, indent: string, depth = 0): string {
    this.step(id);
    const sp = (s: string) => (s ? ` ${s}` : '');
    if (id === 0) return `void${sp(name)}`;
    if (depth > 64) return `void${sp(name)}`;
    const t = this.t(id);
    switch (t.kind) {
      case 'int':
      case 'float':
        return `${t.name}${sp(name)}`;
      case 'typedef':
        return `${this.names.get(id)}${sp(name)}`;
      case 'struct':
      case 'union':
        return `${t.name ? `${t.kind} ${this.names.get(id)}` : this.compositeBody(t, indent, depth)}${sp(name)}`;
      case 'enum':
      case 'enum64':
        return `${t.name ? `enum ${this.names.get(id)}` : this.enumBody(t, indent)}${sp(name)}`;
      case 'fwd':
        return `${t.union ? 'union' : 'struct'} ${t.name}${sp(name)}`;
      case 'ptr': {
        const target = t.type === 0 ? undefined : this.t(t.type);
        const paren = target && (target.kind === 'array' || target.kind === 'func_proto');
        return this.decl(t.type, paren ? `(*${name})` : `*${name}`, indent, depth + 1);
      }
      case 'array':
        return this.decl(t.type, `${name}[${t.nelems}]`, indent, depth + 1);
      case 'const':
      case 'volatile':
      case 'restrict': {
        const target = t.type === 0 ? undefined : this.t(t.type);
        if (target?.kind === 'ptr') {
          const pt = target.type === 0 ? undefined : this.t(target.type);
          const inner = `* ${t.kind}${sp(name)}`;
          const paren = pt && (pt.kind === 'array' || pt.kind === 'func_proto');
          return this.decl(target.type, paren ? `(${inner})` : inner, indent, depth + 2);
        }
        if (t.kind === 'restrict') return this.decl(t.type, name, indent, depth + 1);
        if (target?.kind === 'array') return this.decl(t.type, name, indent, depth + 1);
        return `${t.kind} ${this.decl(t.type, name, indent, depth + 1)}`;
      }
      case 'type_tag':
        return this.decl(t.type, name, indent, depth + 1);
      case 'func_proto': {
        const params = t.params.map((p) => (p.type === 0 ? '...' : this.decl(p.type, '', indent, depth + 1)));
        return this.decl(t.type, `${name}(${params.length ? params.join(', ') : 'void'})`, indent, depth + 1);
      }
      default:
        return `void${sp(name)}`;
    }
  }
}

function unique(counts: Map<string, number>, name: string): string {
  const n = (counts.get(name) ?? 0) + 1;
  counts.set(name, n);
  return n === 1 ? name : `${name}___${n}`;
}
