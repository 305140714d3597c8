/**
 * A small C expression language for `kbtf print`, enough for what one types at drgn's prompt:
 *   init_uts_ns.name.release     jiffies_64     modules.next->next
 *   *(struct module *)0xffffffffc0a1a000     ((struct module *)0x…)->name     __per_cpu_offset[1]
 *   &init_uts_ns     (unsigned long)jiffies_64     per_cpu(runqueues, 1).nr_running
 * Grammar:
 *   unary   := '*' unary | '&' unary | '(' typename ')' unary | postfix
 *   postfix := primary { '.' ident | '->' ident | '[' integer ']' }
 *   primary := identifier (a global) | integer | '(' unary ')' | 'per_cpu' '(' unary ',' integer ')'
 */
import { UsageError } from '@kbtf/binary';
import type { Kernel } from './kernel.js';
import { KObject } from './object.js';
import { findTypeId, parseTypeName } from './types.js';

type Token = { kind: 'ident' | 'number' | 'punct'; text: string; pos: number };

const TYPE_WORDS = new Set(['struct', 'union', 'enum', 'unsigned', 'signed', 'const', 'volatile', 'void']);

/**
 * Limits on what one expression may be: C compilers nest parentheses and declarators a few hundred
 * deep (C11 asks for 63 and 12), drgn's prompt is typed by people. Past these an expression is
 * refused with a USAGE error, not followed until the stack runs out.
 */
export const MAX_EXPR_LENGTH = 4096;
export const MAX_EXPR_NESTING = 256;

function tokenize(text: string): Token[] {
  if (text.length > MAX_EXPR_LENGTH) throw new UsageError(`expression of ${text.length} characters: longer than ${MAX_EXPR_LENGTH}`);
  const out: Token[] = [];
  const re = /\s*(?:(0x[0-9a-fA-F]+|\d+)|([A-Za-z_][A-Za-z0-9_]*)|(->|[*&().,[\]]))/y;
  const rest = /\s*$/y;
  let pos = 0;
  while (pos < text.length) {
    rest.lastIndex = pos;
    if (rest.test(text)) break;
    re.lastIndex = pos;
    const m = re.exec(text);
    if (!m) throw new UsageError(`cannot parse '${text}' at column ${pos + 1}`);
    const at = re.lastIndex - m[0].trimStart().length;
    if (m[1] !== undefined) out.push({ kind: 'number', text: m[1], pos: at });
    else if (m[2] !== undefined) out.push({ kind: 'ident', text: m[2], pos: at });
    else out.push({ kind: 'punct', text: m[3], pos: at });
    pos = re.lastIndex;
  }
  return out;
}

class Parser {
  private i = 0;
  constructor(
    private readonly kernel: Kernel,
    private readonly text: string,
    private readonly tokens: Token[],
  ) {}

  parse(): KObject {
    const v = this.unary();
    if (this.i < this.tokens.length) this.fail(`unexpected '${this.tokens[this.i].text}'`);
    return v;
  }

  private peek(offset = 0): Token | undefined {
    return this.tokens[this.i + offset];
  }

  private eat(text: string): boolean {
    if (this.peek()?.text === text && this.peek()?.kind === 'punct') {
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

  private depth = 0;

  private unary(): KObject {
    if (++this.depth > MAX_EXPR_NESTING) this.fail(`nested deeper than ${MAX_EXPR_NESTING} levels`);
    try {
      return this.unaryInner();
    } finally {
      this.depth--;
    }
  }

  private unaryInner(): KObject {
    if (this.eat('*')) return this.unary().deref();
    if (this.eat('&')) return this.unary().addressOf();
    if (this.peek()?.text === '(' && this.isTypeName(1)) {
      this.i++;
      const start = this.i;
      while (this.peek() && this.peek()!.text !== ')') this.i++;
      const typeTokens = this.tokens.slice(start, this.i);
      if (typeTokens.filter((t) => t.text === '*').length > MAX_EXPR_NESTING) this.fail(`a type with more than ${MAX_EXPR_NESTING} '*'`);
      this.expect(')');
      return this.unary().cast(parseTypeName(this.kernel.btf, typeTokens.map((t) => t.text).join(' ')));
    }
    return this.postfix();
  }

  /** `( struct …`, `( u64 )`, `( char * )`: a cast, not a parenthesized expression. */
  private isTypeName(offset: number): boolean {
    const t = this.peek(offset);
    if (!t || t.kind !== 'ident') return false;
    if (TYPE_WORDS.has(t.text)) return true;
    const next = this.peek(offset + 1);
    if (next?.text !== ')' && next?.text !== '*') return false;
    const btf = this.kernel.btf;
    return findTypeId(btf, t.text, ['typedef', 'int']) !== undefined;
  }

  private postfix(): KObject {
    let v = this.primary();
    for (;;) {
      if (this.eat('.')) v = v.member(this.ident());
      else if (this.eat('->')) v = v.deref().member(this.ident());
      else if (this.eat('[')) {
        const t = this.peek();
        if (t?.kind !== 'number') this.fail('expected an integer index');
        this.i++;
        this.expect(']');
        v = v.index(BigInt(t.text));
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
      const v = this.unary();
      this.expect(')');
      return v;
    }
    this.i++;
    if (t.kind === 'ident' && t.text === 'per_cpu' && this.peek()?.text === '(') {
      this.expect('(');
      const v = this.unary();
      this.expect(',');
      const cpu = this.peek();
      if (cpu?.kind !== 'number') this.fail('expected a CPU number');
      this.i++;
      this.expect(')');
      return this.kernel.perCpu(v, Number(cpu.text));
    }
    if (t.kind === 'number') return KObject.fromValue(this.kernel.memory, this.kernel.type('unsigned long'), BigInt(t.text));
    if (t.kind === 'ident') return this.kernel.global(t.text);
    return this.fail(`unexpected '${t.text}'`);
  }
}

/** Evaluate `text` against the kernel in the dump. */
export function evaluate(kernel: Kernel, text: string): KObject {
  return new Parser(kernel, text, tokenize(text)).parse();
}
