/**
 * C expressions for `kbtf print` and `verify --lookup`, as one types them at drgn's prompt (drgn's
 * Object operators are the reference: C's usual arithmetic conversions, pointer arithmetic scaled by
 * the target's size, casts by value for integers and pointers):
 *   init_uts_ns.name.release     jiffies_64 + 100     modules.next->next     ext4:ext4_fs_type.name
 *   *(struct module *)0xffffffffc0a1a000     ((struct module *)0x…)->name     __per_cpu_offset[1 + 1]
 *   &init_uts_ns     (unsigned long)&jiffies_64 - 8     sizeof(struct task_struct)     &ext4_init_fs_context
 *   per_cpu(runqueues, 1).nr_running     container_of(modules.next, struct module, list)->name
 * Grammar (C's precedence; every operand is a typed object, types from BTF in the dump):
 *   expr     := or
 *   or       := and { '||' and }                 and := bitor { '&&' bitor }
 *   bitor    := bitxor { '|' bitxor }            bitxor := bitand { '^' bitand }
 *   bitand   := equality { '&' equality }        equality := relation { ('=='|'!=') relation }
 *   relation := shift { ('<'|'>'|'<='|'>=') shift }
 *   shift    := additive { ('<<'|'>>') additive }
 *   additive := multiplicative { ('+'|'-') multiplicative }
 *   multiplicative := unary { ('*'|'/'|'%') unary }
 *   unary    := ('*'|'&'|'-'|'+'|'~'|'!') unary | '(' typename ')' unary
 *             | 'sizeof' '(' typename ')' | 'sizeof' unary | postfix
 *   postfix  := primary { '.' ident | '->' ident | '[' expr ']' }
 *   primary  := integer | identifier (a global or a function) | MODULE ':' identifier
 *             | '(' expr ')' | 'per_cpu' '(' expr ',' expr ')' | 'per_cpu_ptr' '(' expr ',' expr ')'
 *             | 'container_of' '(' expr ',' typename ',' member { '.' member | '[' integer ']' } ')'
 *   typename := a C type: `struct module *`, `unsigned long`, `const char *`, `u64` (vmlinux BTF,
 *               then the loaded modules' BTF)
 */
import { KbtfError, NotFoundError, UsageError } from '@kbtf/binary';
import { kindNumber, type Btf } from '@kbtf/btf';
import { moduleVarAddress, type Kernel } from './kernel.js';
import { KObject, containerOf } from './object.js';
import { btfType, findTypeId, parseTypeName, pointerTo, shape, sizeOfType, type KType, type Shape } from './ktype.js';
import { asciiBytes, type KernelModule } from './modules.js';

type Token = { kind: 'ident' | 'number' | 'punct' | 'module'; text: string; pos: number };

const TYPE_WORDS = new Set(['struct', 'union', 'enum', 'unsigned', 'signed', 'const', 'volatile', 'void']);
const QUALIFIERS = new Set(['const', 'volatile', 'restrict']);

/**
 * Limits on what one expression may be: C compilers nest parentheses and declarators a few hundred
 * deep (C11 asks for 63 and 12), drgn's prompt is typed by people. Past these an expression is
 * refused with a USAGE error, not followed until the stack runs out.
 */
export const MAX_EXPR_LENGTH = 4096;
export const MAX_EXPR_NESTING = 256;

const PUNCT = /->|<<|>>|<=|>=|==|!=|&&|\|\||[*&().,[\]+\-/%~!<>|^]/y;

function tokenize(text: string): Token[] {
  if (text.length > MAX_EXPR_LENGTH) throw new UsageError(`expression of ${text.length} characters: longer than ${MAX_EXPR_LENGTH}`);
  const out: Token[] = [];
  const re = /\s*(?:([A-Za-z0-9_][A-Za-z0-9_-]*):(?=[A-Za-z_])|(0x[0-9a-fA-F]+|\d+)(?![A-Za-z0-9_])|([A-Za-z_][A-Za-z0-9_]*))/y;
  const space = /\s*/y;
  let pos = 0;
  while (pos < text.length) {
    space.lastIndex = pos;
    space.test(text);
    pos = space.lastIndex;
    if (pos >= text.length) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (m) {
      if (m[1] !== undefined) out.push({ kind: 'module', text: m[1], pos });
      else if (m[2] !== undefined) out.push({ kind: 'number', text: m[2], pos });
      else out.push({ kind: 'ident', text: m[3], pos });
      pos = re.lastIndex;
      continue;
    }
    PUNCT.lastIndex = pos;
    const p = PUNCT.exec(text);
    if (!p) throw new UsageError(`cannot parse '${text}' at column ${pos + 1}`);
    out.push({ kind: 'punct', text: p[0], pos });
    pos = PUNCT.lastIndex;
  }
  return out;
}

const BINARY_LEVELS: string[][] = [['||'], ['&&'], ['|'], ['^'], ['&'], ['==', '!='], ['<', '>', '<=', '>='], ['<<', '>>'], ['+', '-'], ['*', '/', '%']];

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly kernel: Kernel,
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  parse(): KObject {
    const v = this.expr();
    if (this.i < this.tokens.length) this.fail(`unexpected '${this.tokens[this.i].text}'`);
    return v;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private eat(text: string): boolean {
    const t = this.peek();
    if (t?.kind === 'punct' && t.text === text) {
      this.i++;
      return true;
    }
    return false;
  }

  private expect(text: string): void {
    if (!this.eat(text)) this.fail(`expected '${text}'`);
  }

  private fail(message: string): never {
    const t = this.peek();
    throw new UsageError(`'${this.text}': ${message}${t ? ` at column ${t.pos + 1}` : ' at the end'}`);
  }

  /** Every recursion goes through here: the nesting cap holds for any mix of operators. */
  private nested<T>(f: () => T): T {
    if (++this.depth > MAX_EXPR_NESTING) this.fail(`nested deeper than ${MAX_EXPR_NESTING} levels`);
    try {
      return f();
    } finally {
      this.depth--;
    }
  }

  private expr(): KObject {
    return this.nested(() => this.binary(0));
  }

  private binary(level: number): KObject {
    if (level === BINARY_LEVELS.length) return this.unary();
    let left = this.binary(level + 1);
    for (;;) {
      const t = this.peek();
      if (t?.kind !== 'punct' || !BINARY_LEVELS[level].includes(t.text)) return left;
      this.i++;
      const right = this.binary(level + 1);
      left = this.wrap(() => binaryOp(this.kernel, t.text, left, right));
    }
  }

  /** Errors of an operation name the expression. */
  private wrap<T>(f: () => T): T {
    try {
      return f();
    } catch (err) {
      if (err instanceof UsageError && !err.message.startsWith(`'${this.text}'`)) throw new UsageError(`'${this.text}': ${err.message}`);
      throw err;
    }
  }

  private unary(): KObject {
    return this.nested(() => this.unaryInner());
  }

  private unaryInner(): KObject {
    if (this.eat('*')) return this.unary().deref();
    if (this.eat('&')) return this.unary().addressOf();
    for (const op of ['-', '+', '~', '!']) if (this.eat(op)) return this.wrap(() => unaryOp(this.kernel, op, this.unary()));
    const t = this.peek();
    if (t?.kind === 'ident' && t.text === 'sizeof') {
      this.i++;
      let size: number;
      if (this.peek()?.text === '(' && this.isTypeName(1)) {
        this.i++;
        size = sizeOfType(this.typeName(')'));
        this.expect(')');
      } else size = this.unary().size;
      return KObject.fromValue(this.kernel.memory, sizeType(this.kernel), BigInt(size));
    }
    if (t?.text === '(' && this.isTypeName(1)) {
      this.i++;
      const type = this.typeName(')');
      this.expect(')');
      const v = this.unary();
      return this.wrap(() => decay(v).cast(type));
    }
    return this.postfix();
  }

  /** `( struct …`, `( u64 )`, `( char * )`: a type, not a parenthesized expression. */
  private isTypeName(offset: number): boolean {
    const t = this.peek(offset);
    if (!t || t.kind !== 'ident') return false;
    if (TYPE_WORDS.has(t.text)) return true;
    const next = this.peek(offset + 1);
    if (next?.text !== ')' && next?.text !== '*') return false;
    return findTypeId(this.kernel.btf, t.text, ['typedef', 'int']) !== undefined;
  }

  /** The type name up to `end` (at nesting 0), parsed against BTF. */
  private typeName(end: string): KType {
    const start = this.i;
    while (this.peek() && this.peek()!.text !== end) this.i++;
    const words = this.tokens.slice(start, this.i).map((t) => t.text);
    if (words.filter((w) => w === '*').length > MAX_EXPR_NESTING) this.fail(`a type with more than ${MAX_EXPR_NESTING} '*'`);
    if (words.length === 0) this.fail('expected a type name');
    return parseAnyType(this.kernel, words.filter((w) => !QUALIFIERS.has(w)).join(' '));
  }

  private postfix(): KObject {
    let v = this.primary();
    for (;;) {
      if (this.eat('.')) v = v.member(this.ident());
      else if (this.eat('->')) {
        const name = this.ident();
        v = this.wrap(() => v.deref().member(name));
      } else if (this.eat('[')) {
        const index = this.expr();
        this.expect(']');
        const base = v;
        v = this.wrap(() => base.index(integer(index)));
      } else return v;
    }
  }

  private ident(): string {
    const t = this.peek();
    if (t?.kind !== 'ident') this.fail('expected a member name');
    this.i++;
    return t.text;
  }

  private primary(): KObject {
    const t = this.peek();
    if (!t) this.fail('expected an expression');
    if (this.eat('(')) {
      const v = this.expr();
      this.expect(')');
      return v;
    }
    this.i++;
    if (t.kind === 'module') return moduleGlobal(this.kernel, t.text, this.ident());
    if (t.kind === 'number') return literal(this.kernel, BigInt(t.text));
    if (t.kind === 'ident' && this.peek()?.text === '(') {
      if (t.text === 'per_cpu' || t.text === 'per_cpu_ptr') {
        this.expect('(');
        const v = this.expr();
        this.expect(',');
        const cpu = Number(integer(this.expr()));
        this.expect(')');
        if (t.text === 'per_cpu') return this.kernel.perCpu(v, cpu);
        // per_cpu_ptr(ptr, cpu): the pointer moved by the CPU's offset, as the kernel's macro.
        const target = v.shape.kind === 'pointer' ? v.shape.target : this.fail('per_cpu_ptr needs a pointer');
        const obj = this.kernel.perCpu(new KObject(this.kernel.memory, target, v.value()), cpu);
        return obj.addressOf();
      }
      if (t.text === 'container_of') {
        this.expect('(');
        const ptr = this.expr();
        this.expect(',');
        const type = this.typeName(',');
        this.expect(',');
        let member = this.ident();
        for (;;) {
          if (this.eat('.')) member += `.${this.ident()}`;
          else if (this.eat('[')) {
            const n = this.peek();
            if (n?.kind !== 'number') this.fail('expected an integer index');
            this.i++;
            this.expect(']');
            member += `[${n.text}]`;
          } else break;
        }
        this.expect(')');
        return this.wrap(() => containerOf(decay(ptr), type, member));
      }
    }
    if (t.kind === 'ident') return globalOrFunction(this.kernel, t.text);
    return this.fail(`unexpected '${t.text}'`);
  }
}

/** Evaluate `text` against the kernel in the dump. */
export function evaluate(kernel: Kernel, text: string): KObject {
  return new Parser(kernel, text, tokenize(text)).parse();
}

/** `size_t` as the kernel defines it (unsigned long when its BTF has no such typedef). */
function sizeType(kernel: Kernel): KType {
  return namedOr(kernel, 'size_t', 'unsigned long');
}

/** A typedef the kernel defines (`size_t`, `ptrdiff_t`), else the C type it stands for. */
function namedOr(kernel: Kernel, name: string, fallback: string): KType {
  try {
    return kernel.type(name);
  } catch (err) {
    if (err instanceof NotFoundError) return kernel.type(fallback);
    throw err;
  }
}

/** An integer literal as C types it: int, else long, else unsigned long. */
function literal(kernel: Kernel, v: bigint): KObject {
  const type = v <= 0x7fffffffn ? 'int' : v <= 0x7fffffffffffffffn ? 'long' : 'unsigned long';
  if (v > 0xffffffffffffffffn) throw new UsageError(`integer ${v} does not fit in 64 bits`);
  return KObject.fromValue(kernel.memory, kernel.type(type), v);
}

/** An array used as a value becomes a pointer to its first element (C's array decay). */
function decay(v: KObject): KObject {
  const s = v.shape;
  if (s.kind !== 'array' || v.address === undefined) return v;
  return KObject.fromValue(v.mem, pointerTo(s.elem), v.address);
}

function integer(v: KObject): bigint {
  const s = v.shape;
  if (s.kind !== 'int' && s.kind !== 'enum' && s.kind !== 'pointer') throw new UsageError(`${v.typeName} is not an integer`);
  return v.value();
}

type IntInfo = { size: number; signed: boolean };

function intInfo(s: Shape): IntInfo | undefined {
  if (s.kind === 'int' || s.kind === 'enum') return { size: s.size, signed: s.signed };
  return undefined;
}

/** The C type an integer of `info` promotes to, as drgn names it. */
function intType(kernel: Kernel, info: IntInfo): KType {
  if (info.size < 4) return kernel.type('int');
  if (info.size === 4) return kernel.type(info.signed ? 'int' : 'unsigned int');
  return kernel.type(info.signed ? 'long' : 'unsigned long');
}

/** C's usual arithmetic conversions on two integer operands. */
function common(a: IntInfo, b: IntInfo): IntInfo {
  const pa = a.size < 4 ? { size: 4, signed: true } : a;
  const pb = b.size < 4 ? { size: 4, signed: true } : b;
  if (pa.size !== pb.size) return pa.size > pb.size ? pa : pb;
  return { size: pa.size, signed: pa.signed && pb.signed };
}

/**
 * The result of an integer operation, as drgn types it: the type of an operand that needed no
 * promotion and is the common type keeps its name (`jiffies_64 + 1` is a u64), else the C type.
 */
function fit(kernel: Kernel, info: IntInfo, v: bigint, operands: KObject[] = []): KObject {
  const size = Math.max(4, info.size);
  const bits = size * 8;
  const same = operands.find((o) => {
    const i = intInfo(o.shape);
    return o.shape.kind === 'int' && i && i.size === size && i.signed === info.signed;
  });
  const type = same ? unqualified(same.type) : intType(kernel, { size, signed: info.signed });
  return KObject.fromValue(kernel.memory, type, info.signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
}

/** A type without its const/volatile (the value of `const int` arithmetic is an int). */
function unqualified(t: KType): KType {
  if (t.kind !== 'btf') return t;
  let id = t.id;
  for (let i = 0; i < 16 && id !== 0; i++) {
    const bt = t.btf.type(id);
    if (!QUALIFIERS.has(bt.kind)) break;
    id = (bt as { type: number }).type;
  }
  return btfType(t.btf, id);
}

function unaryOp(kernel: Kernel, op: string, v: KObject): KObject {
  const info = intInfo(v.shape);
  if (op === '!') {
    if (!info && v.shape.kind !== 'pointer') throw new UsageError(`'!' on ${v.typeName}`);
    return KObject.fromValue(kernel.memory, kernel.type('int'), v.value() === 0n ? 1n : 0n);
  }
  if (!info) throw new UsageError(`'${op}' needs an integer, not ${v.typeName}`);
  const p = common(info, info);
  const x = v.value();
  return fit(kernel, p, op === '-' ? -x : op === '~' ? ~x : x, [v]);
}

/** The size pointer arithmetic scales by: the target's, 1 for void and functions (as GNU C and drgn). */
function stride(target: KType): bigint {
  const s = shape(target);
  return s.kind === 'void' || s.kind === 'func' ? 1n : BigInt(sizeOfType(target));
}

function binaryOp(kernel: Kernel, op: string, left: KObject, right: KObject): KObject {
  const a = decay(left);
  const b = decay(right);
  const sa = a.shape;
  const sb = b.shape;
  const ia = intInfo(sa);
  const ib = intInfo(sb);
  const bool = (x: boolean) => KObject.fromValue(kernel.memory, kernel.type('int'), x ? 1n : 0n);
  if (op === '&&' || op === '||') {
    const x = integer(a) !== 0n;
    const y = integer(b) !== 0n;
    return bool(op === '&&' ? x && y : x || y);
  }
  if (sa.kind === 'pointer' || sb.kind === 'pointer') {
    if (op === '+' || op === '-') {
      if (sa.kind === 'pointer' && ib) return KObject.fromValue(kernel.memory, a.type, BigInt.asUintN(64, a.value() + (op === '+' ? 1n : -1n) * b.value() * stride(sa.target)));
      if (op === '+' && sb.kind === 'pointer' && ia) return KObject.fromValue(kernel.memory, b.type, BigInt.asUintN(64, b.value() + a.value() * stride(sb.target)));
      if (op === '-' && sa.kind === 'pointer' && sb.kind === 'pointer') {
        return KObject.fromValue(kernel.memory, namedOr(kernel, 'ptrdiff_t', 'long'), (BigInt.asIntN(64, a.value()) - BigInt.asIntN(64, b.value())) / stride(sa.target));
      }
    }
    if (['==', '!=', '<', '>', '<=', '>='].includes(op) && (sa.kind === 'pointer' || ia) && (sb.kind === 'pointer' || ib)) return bool(compare(op, a.value(), b.value()));
    throw new UsageError(`'${op}' on ${a.typeName} and ${b.typeName}`);
  }
  if (!ia || !ib) throw new UsageError(`'${op}' on ${a.typeName} and ${b.typeName}: not integers`);
  const info = op === '<<' || op === '>>' ? common(ia, ia) : common(ia, ib);
  const bits = info.size * 8;
  const norm = (v: bigint) => (info.signed ? BigInt.asIntN(bits, v) : BigInt.asUintN(bits, v));
  const x = norm(a.value());
  const y = op === '<<' || op === '>>' ? b.value() : norm(b.value());
  switch (op) {
    case '+':
      return fit(kernel, info, x + y, [a, b]);
    case '-':
      return fit(kernel, info, x - y, [a, b]);
    case '*':
      return fit(kernel, info, x * y, [a, b]);
    case '/':
    case '%':
      if (y === 0n) throw new UsageError('division by zero');
      return fit(kernel, info, op === '/' ? x / y : x % y, [a, b]);
    case '<<':
    case '>>':
      if (y < 0n || y >= BigInt(bits)) throw new UsageError(`shift by ${y}: outside 0..${bits - 1}`);
      return fit(kernel, info, op === '<<' ? x << y : x >> y, [a]);
    case '&':
      return fit(kernel, info, x & y, [a, b]);
    case '|':
      return fit(kernel, info, x | y, [a, b]);
    case '^':
      return fit(kernel, info, x ^ y, [a, b]);
    default:
      return bool(compare(op, x, y));
  }
}

function compare(op: string, x: bigint, y: bigint): boolean {
  switch (op) {
    case '==':
      return x === y;
    case '!=':
      return x !== y;
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    default:
      return x >= y;
  }
}

/** A type by C name: vmlinux BTF first, then each loaded module's own BTF and its companion's. */
export function parseAnyType(kernel: Kernel, text: string): KType {
  try {
    return parseTypeName(kernel.btf, text);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    for (const btf of moduleBtfs(kernel)) {
      try {
        return parseTypeName(btf, text);
      } catch (inner) {
        if (!(inner instanceof NotFoundError)) throw inner;
      }
    }
    throw new NotFoundError(`${err.message} (nor in any loaded module's BTF)`);
  }
}

function moduleBtfs(kernel: Kernel): Btf[] {
  const out: Btf[] = [];
  let modules;
  try {
    modules = kernel.modules();
  } catch (err) {
    if (err instanceof KbtfError) return out;
    throw err;
  }
  for (const m of modules) {
    try {
      const b = m.btf();
      if (b) out.push(b);
    } catch (err) {
      if (!(err instanceof KbtfError)) throw err;
    }
  }
  return out;
}

/** A global by name; else a function (a FUNC in vmlinux or a module's BTF) at its symbol's address. */
function globalOrFunction(kernel: Kernel, name: string): KObject {
  try {
    return kernel.global(name);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    // A data symbol (kallsyms type d, b, r or v: data, bss, rodata, weak object) is no function:
    // the FUNCs of every module's BTF are not parsed and scanned to find that out.
    const i = kernel.kallsyms.indexOf(name);
    if (i !== undefined && /^[dbrv]$/i.test(kernel.kallsyms.typeOf(i))) throw err;
    const want = new TextEncoder().encode(name);
    for (const btf of [kernel.btf, ...moduleBtfs(kernel)]) {
      const id = btf.firstOfKindNamed(kindNumber('func'), want);
      if (id === undefined) continue;
      const proto = (btf.type(id) as unknown as { type: number }).type;
      return new KObject(kernel.memory, btfType(btf, proto), kernel.symbolAddress(name));
    }
    throw err;
  }
}

/** `MODULE:name`: module MODULE's global, typed by its companion MODULE_btf (docs/verify.md). */
export function moduleGlobal(kernel: Kernel, moduleName: string, name: string): KObject {
  const fold = (n: string) => n.replace(/-/g, '_');
  const folded = fold(moduleName);
  const mods = kernel.modules();
  const mod = mods.find((x) => fold(x.name) === folded);
  if (!mod) throw new NotFoundError(`module ${moduleName} is not loaded`);
  const companion = mods.find((x) => fold(x.name) === `${folded}_btf`);
  if (!companion) throw new NotFoundError(`${moduleName}: companion ${folded}_btf is not loaded: no type for '${name}'`);
  if (!companion.btfBytes) throw new NotFoundError(`${moduleName}: companion ${folded}_btf has no BTF in btf_modules`);
  const btf = companion.btf()!; // parsed once per dump (KernelModule caches it)
  // The companion's own types only (a scan of its kinds column), not vmlinux's 100,000 below it.
  const varId = btf.firstOfKindNamed(kindNumber('var'), new TextEncoder().encode(name));
  if (varId === undefined) throw new NotFoundError(`${folded}_btf has no variable '${name}'`);
  // Without data symbols in the module's kallsyms (no CONFIG_KALLSYMS_ALL), its section's address + the DATASEC offset.
  const address = moduleSymbolNamed(mod, name) ?? moduleVarAddress(mods, moduleName, name, btf, varId);
  if (address === undefined) throw new NotFoundError(`${moduleName} has no symbol '${name}'`);
  const v = btf.type(varId) as unknown as { type: number };
  return new KObject(kernel.memory, btfType(btf, v.type), address);
}

/**
 * The value of the module's first symbol named `name`: an ASCII name through the symtab's name
 * index (no symbol objects made), any other by the decoded names.
 */
function moduleSymbolNamed(mod: KernelModule, name: string): bigint | undefined {
  const bytes = asciiBytes(name);
  if (!bytes) return mod.symbols.find((s) => s.name === name)?.value;
  const i = mod.symtab.indexOf(bytes, 0, bytes.length);
  return i < 0 ? undefined : mod.symtab.value(i);
}
