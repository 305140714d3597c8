import { describe, expect, it } from 'vitest';
import { parseAddress } from './address.js';
import { UsageError } from './errors.js';

describe('parseAddress', () => {
  it('reads 0x hex (any case) and decimal, with _ separators', () => {
    expect(parseAddress('0x9600000', 'ADDR')).toBe(0x9600000n);
    expect(parseAddress('0XFFFFFFFF81000000', 'ADDR')).toBe(0xffffffff81000000n);
    expect(parseAddress('0xffff_ffff_8100_0000', 'ADDR')).toBe(0xffffffff81000000n);
    expect(parseAddress(' 4096 ', 'LEN')).toBe(4096n);
    expect(parseAddress('0xffffffffffffffff', 'ADDR')).toBe((1n << 64n) - 1n);
  });
  it('refuses junk, negatives and more than 64 bits, naming the argument', () => {
    for (const bad of ['0xzz', '', '-1', '1e3', '0x', '12abc', '0o17']) {
      expect(() => parseAddress(bad, 'ADDR')).toThrow(UsageError);
    }
    expect(() => parseAddress('0xzz', 'read: ADDR')).toThrow("read: ADDR '0xzz' is not a number (0x hex or decimal)");
    expect(() => parseAddress(`0x1${'0'.repeat(16)}`, 'ADDR')).toThrow(/^ADDR '0x10{16}' does not fit in 64 bits$/);
    expect(() => parseAddress('18446744073709551616', 'LEN')).toThrow(/64 bits/);
  });
});
