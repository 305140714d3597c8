import { describe, expect, it } from 'vitest';
import { LruCache } from './lru.js';

describe('LruCache', () => {
  it('never holds more than its capacity', () => {
    const c = new LruCache<number, number>(10);
    for (let i = 0; i < 1000; i++) {
      c.set(i, i);
      expect(c.size).toBeLessThanOrEqual(10);
    }
    expect(c.get(999)).toBe(999);
    expect(c.get(0)).toBeUndefined();
  });

  it('keeps an entry that is used at least once per capacity/2 insertions', () => {
    const c = new LruCache<number, string>(8);
    c.set(-1, 'hot');
    for (let i = 0; i < 100; i++) {
      c.set(i, 'cold');
      if (i % 4 === 3) expect(c.get(-1)).toBe('hot');
    }
    expect(c.get(-1)).toBe('hot');
  });

  it('drops an entry not used for capacity insertions, and counts hits and misses', () => {
    const c = new LruCache<string, number>(4);
    c.set('a', 1);
    for (let i = 0; i < 4; i++) c.set(`k${i}`, i);
    expect(c.get('a')).toBeUndefined();
    expect(c.get('k3')).toBe(3);
    expect([c.hits, c.misses]).toEqual([1, 1]);
  });

  it('set replaces a value in either generation', () => {
    const c = new LruCache<number, number>(4);
    c.set(1, 1);
    c.set(2, 2);
    c.set(3, 3); // 1 and 2 are now old
    c.set(1, 10);
    expect(c.get(1)).toBe(10);
    expect(c.size).toBe(3);
  });
});
