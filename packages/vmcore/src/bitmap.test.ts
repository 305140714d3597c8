import { describe, expect, it } from 'vitest';
import { Bitmap } from './bitmap.js';

describe('Bitmap', () => {
  const bytes = new Uint8Array(300);
  let seed = 7;
  for (let i = 0; i < bytes.length; i++) bytes[i] = (seed = (seed * 69069 + 1) >>> 0) >>> 24;
  const bm = new Bitmap(bytes, 2300);
  it('rank equals a linear count at every bit', () => {
    let n = 0;
    for (let bit = 0; bit <= 2300; bit++) {
      expect(bm.rank(bit)).toBe(n);
      if (bm.test(bit)) n++;
    }
    expect(bm.count()).toBe(n);
  });
  it('is LSB first and ignores bits past the end', () => {
    const b = new Bitmap(new Uint8Array([0b00000101]), 3);
    expect([0, 1, 2, 3].map((i) => b.test(i))).toEqual([true, false, true, false]);
    expect(b.next(1, true)).toBe(2);
    expect(b.next(3, true)).toBe(3);
  });
  it('next finds runs', () => {
    for (let bit = 0; bit < 2300; bit += 37) {
      const want = bm.test(bit);
      let j = bit;
      while (j < 2300 && bm.test(j) === want) j++;
      expect(bm.next(bit, !want)).toBe(j);
    }
  });
});
