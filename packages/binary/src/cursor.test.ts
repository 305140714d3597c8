import { describe, expect, it } from 'vitest';
import { Cursor } from './cursor.js';
import { ByteWriter } from './writer.js';
import { BadDataError, FaultError, KbtfError, withContext } from './errors.js';

describe('Cursor', () => {
  const bytes = Uint8Array.from([0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x88, 0x00]);

  it('reads little-endian values', () => {
    const c = new Cursor(bytes);
    expect(c.u16At(0)).toBe(0x0201);
    expect(c.u32At(0)).toBe(0x04030201);
    expect(c.u64At(0)).toBe(0x8807060504030201n);
    expect(c.i64At(0)).toBe(BigInt.asIntN(64, 0x8807060504030201n));
  });

  it('reads big-endian values', () => {
    const c = new Cursor(bytes, { littleEndian: false });
    expect(c.u16At(0)).toBe(0x0102);
    expect(c.u32At(0)).toBe(0x01020304);
    expect(c.u64At(0)).toBe(0x0102030405060788n);
    expect(c.u64At(1)).toBe(0x0203040506078800n);
  });

  it('keeps 64-bit values exact beyond 2^53', () => {
    const w = new ByteWriter();
    w.u64(0xffffffff81000000n).i64(-27262976n);
    const c = new Cursor(w.finish());
    expect(c.u64()).toBe(0xffffffff81000000n);
    expect(c.i64()).toBe(-27262976n);
    expect(() => new Cursor(new ByteWriter().u64(1n << 60n).finish()).u64NumberAt(0)).toThrow(BadDataError);
  });

  it('fails on truncation, naming source and absolute offset', () => {
    const c = new Cursor(bytes, { source: 'x.btf', base: 0x100 });
    expect(() => c.u64At(2)).toThrow(BadDataError);
    expect(() => c.u32At(6)).toThrow(/x\.btf: offset 0x106: truncated/);
    expect(() => c.u16At(8)).toThrow(BadDataError);
    expect(() => c.u8At(9)).toThrow(BadDataError);
    expect(() => c.u8At(-1)).toThrow(BadDataError);
    expect(() => c.bytesAt(4, 6)).toThrow(BadDataError);
    expect(() => c.seek(10)).toThrow(BadDataError);
    expect(() => c.sub(8, 2)).toThrow(BadDataError);
    const seq = new Cursor(bytes.subarray(0, 3));
    seq.u16();
    expect(() => seq.u16()).toThrow(BadDataError);
    expect(seq.pos).toBe(2);
  });

  it('reads sub-cursors with absolute offsets in errors', () => {
    const c = new Cursor(bytes, { source: 'core' });
    const s = c.sub(4, 4);
    expect(s.u8At(0)).toBe(5);
    expect(() => s.u32At(2)).toThrow(/offset 0x6/);
  });

  it('reads C strings and refuses unterminated ones', () => {
    const c = new Cursor(new TextEncoder().encode('abc\0de'));
    expect(c.cstringAt(0)).toBe('abc');
    expect(() => c.cstringAt(4)).toThrow(/unterminated/);
    expect(c.fixedStringAt(0, 3)).toBe('abc');
  });
});

describe('errors', () => {
  it('keeps class and code when context is added', () => {
    const e = new FaultError('virtual', 0xffffffff81000000n, 'not-mapped', 'PMD');
    const w = withContext(e, 'read jiffies');
    expect(w).toBeInstanceOf(FaultError);
    expect((w as KbtfError).code).toBe('FAULT');
    expect((w as Error).message).toBe('read jiffies: virtual address 0xffffffff81000000: not-mapped (PMD)');
  });
});

describe('ByteWriter', () => {
  it('round-trips through Cursor in both byte orders', () => {
    for (const littleEndian of [true, false]) {
      const w = new ByteWriter({ littleEndian, capacity: 1 });
      w.u8(7).u16(0xbeef).u32(0xdeadbeef).u64(0x0123456789abcdefn).cstring('hi').align(8);
      const c = new Cursor(w.finish(), { littleEndian });
      expect([c.u8(), c.u16(), c.u32(), c.u64()]).toEqual([7, 0xbeef, 0xdeadbeef, 0x0123456789abcdefn]);
      expect(c.cstringAt(c.pos)).toBe('hi');
      expect(c.length % 8).toBe(0);
    }
  });
});
