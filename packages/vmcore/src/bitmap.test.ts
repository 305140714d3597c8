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
  it('rank in any order (runs of neighbours and jumps) equals the linear count', () => {
    const linear = [0];
    for (let bit = 0; bit < 2300; bit++) linear.push(linear[bit] + (bm.test(bit) ? 1 : 0));
    const fresh = new Bitmap(bytes, 2300);
    let r = 11;
    for (let k = 0; k < 3000; k++) {
      r = (r * 69069 + 1) >>> 0;
      const bit = k % 3 ? Math.min(2300, (r >>> 8) % 2301) : Math.min(2300, k % 2301);
      expect(fresh.rank(bit)).toBe(linear[bit]);
      if (bit < 2300) expect(fresh.rank(bit + 1)).toBe(linear[bit + 1]);
    }
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
