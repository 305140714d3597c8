import { describe, expect, it } from 'vitest';
import { BadDataError } from '@kbtf/binary';
import { parseBtf } from './btf.js';
import { formatC, MAX_EMIT_NESTING } from './cformat.js';
import { nestedStructs, TestBtf, typedefChain } from './test-builder.js';

describe('C printer on deep input', () => {
  it('prints chains as deep as real BTF, in dependency order', () => {
    const c = formatC(parseBtf(typedefChain(40)));
    expect(c.indexOf('typedef int t39;')).toBeGreaterThan(0);
    expect(c.indexOf('typedef t39 t38;')).toBeGreaterThan(c.indexOf('typedef int t39;'));
    const s = formatC(parseBtf(nestedStructs(40)));
    expect(s.indexOf('struct s38 {')).toBeGreaterThan(s.indexOf('struct s39 {'));
  });

  it.each([
    ['3,000 typedefs', () => typedefChain(3000)],
    ['3,000 structs nested by value', () => nestedStructs(3000)],
  ])('%s: a BAD_DATA error naming the type, not a stack overflow', (_name, make) => {
    const btf = parseBtf(make());
    expect(() => formatC(btf)).toThrow(BadDataError);
    expect(() => formatC(btf)).toThrow(new RegExp(`nest deeper than ${MAX_EMIT_NESTING} levels`));
  });
});

describe('C printer on a cycle of anonymous structs', () => {
  it('ends at the depth cap instead of recursing until the stack runs out', () => {
    // [2] struct { [3] m; }  [3] struct { [2] m; }: both anonymous, each by value in the other
    const b = new TestBtf();
    b.int();
    b.struct('', 4, [['m', 3, 0]]);
    b.struct('', 4, [['m', 2, 0]]);
    b.typedef('t', 2);
    expect(() => formatC(parseBtf(b.build()))).not.toThrow();
  });
});

describe('C printer on anonymous structs that nest exponentially', () => {
  it('stops at the step budget with a BAD_DATA error, in seconds', () => {
    // [2] struct { [3] a; [3] b; }  [3] struct { [2] a; [2] b; }: each level doubles the text
    const b = new TestBtf();
    b.int();
    b.struct('', 8, [['a', 3, 0], ['b', 3, 32]]);
    b.struct('', 8, [['a', 2, 0], ['b', 2, 32]]);
    b.typedef('t', 2);
    const t0 = performance.now();
    expect(() => formatC(parseBtf(b.build()))).toThrow(/more than 5000000 declarator steps|exceed 67108864 characters/);
    expect(performance.now() - t0).toBeLessThan(60_000);
  });
});
