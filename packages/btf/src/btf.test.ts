import { describe, expect, it } from 'vitest';
import { BadDataError } from '@kbtf/binary';
import { parseBtf } from './btf.js';
import { TestBtf } from './test-builder.js';

describe('parseBtf: string section', () => {
  it('refuses a string section that does not end with NUL (as btf_parse_str_sec does), base or split', () => {
    const b = new TestBtf();
    b.int('int');
    const ok = b.build();
    expect(parseBtf(ok).type(1).name).toBe('int');
    const strings = [0, ...Buffer.from('int')]; // no final NUL
    const bad = b.build({ strings });
    expect(() => parseBtf(bad)).toThrow(BadDataError);
    expect(() => parseBtf(bad)).toThrow(/string section does not end with NUL/);
    // A split BTF on that base is never reached: loading the base fails first.
    const base = parseBtf(ok);
    const split = new TestBtf(2, 5);
    split.typedef('t', 1);
    expect(parseBtf(split.build({ strings: [...Buffer.from('t'), 0] }), { base }).type(2).kind).toBeDefined();
  });
});
