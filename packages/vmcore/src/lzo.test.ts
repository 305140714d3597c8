import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { lzo1xDecompress, LzoError } from './lzo.js';

// Fixtures: pages compressed by liblzo2's lzo1x_1_compress (python3-lzo, level 1, no header;
// testdata/make-testdata.mjs) —
// the compressor makedumpfile -l uses. Real makedumpfile LZO pages are checked in test/vmcore.
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`./testdata/${name}`, import.meta.url)));

describe('lzo1xDecompress', () => {
  for (const kind of ['text', 'mixed', 'fill', 'random', 'long']) {
    it(`decodes liblzo2 LZO1X-1 output (${kind})`, () => {
      const out = lzo1xDecompress(fixture(`lzo-${kind}.lzo`), 4096);
      expect(Buffer.from(out).equals(Buffer.from(fixture(`lzo-${kind}.page`)))).toBe(true);
    });
  }

  it('decodes into a page of a longer buffer that held other bytes, touching nothing around it', () => {
    const buf = new Uint8Array(3 * 4096).fill(0xa5);
    for (const kind of ['text', 'mixed', 'fill', 'random', 'long']) {
      buf.fill(0xa5);
      lzo1xDecompress(fixture(`lzo-${kind}.lzo`), 4096, buf.subarray(4096, 8192));
      expect(Buffer.from(buf.subarray(4096, 8192)).equals(Buffer.from(fixture(`lzo-${kind}.page`))), kind).toBe(true);
      expect(buf.subarray(0, 4096).every((b) => b === 0xa5) && buf.subarray(8192).every((b) => b === 0xa5), kind).toBe(true);
    }
  });

  it("decodes the kernel's lzo-rle zero runs, also into a buffer that held other bytes", () => {
    // Hand-assembled by lib/lzo/lzo1x_decompress_safe.c's rules (no tool here writes lzo-rle): the
    // header 17 + bitstream version 1; one literal (first byte 18: 1 literal); two zero runs, M4
    // with distance 0xfffc (t & 7 | next byte << 3) + 4 = 2048 and 2047 bytes; the end marker.
    const rle = Uint8Array.from([0x11, 0x01, 18, 0x41, 0x1c, 0xfc, 0xff, 0xff, 0x1b, 0xfc, 0xff, 0xff, 0x11, 0x00, 0x00]);
    const want = new Uint8Array(4096);
    want[0] = 0x41;
    expect(Buffer.from(lzo1xDecompress(rle, 4096)).equals(Buffer.from(want))).toBe(true);
    const buf = new Uint8Array(3 * 4096).fill(0xa5);
    lzo1xDecompress(rle, 4096, buf.subarray(4096, 8192));
    expect(Buffer.from(buf.subarray(4096, 8192)).equals(Buffer.from(want))).toBe(true);
    expect(buf.subarray(0, 4096).every((b) => b === 0xa5) && buf.subarray(8192).every((b) => b === 0xa5)).toBe(true);
    // Version 0 (plain LZO1X) has no zero runs: the same bytes are a distance-0xfffc match before the start.
    expect(() => lzo1xDecompress(Uint8Array.from([0x11, 0x00, ...rle.subarray(2)]), 4096)).toThrow(LzoError);
  });

  it('bounds the output', () => {
    expect(() => lzo1xDecompress(fixture('lzo-fill.lzo'), 4095)).toThrow(LzoError);
    expect(() => lzo1xDecompress(fixture('lzo-text.lzo'), 4097)).toThrow(/expected 4097/);
  });

  it('rejects truncated input at every length without hanging', () => {
    const full = fixture('lzo-mixed.lzo');
    for (let n = 0; n < full.length; n++) expect(() => lzo1xDecompress(full.subarray(0, n), 4096)).toThrow(LzoError);
  });

  it('rejects a look-behind before the start', () => {
    // literal run of 1 byte (18 = 17 + 1), then an M2 match reaching 8 bytes back.
    expect(() => lzo1xDecompress(new Uint8Array([18, 0x41, 0x7c, 0x01, 0x11, 0, 0]), 4096)).toThrow(/look-behind/);
  });

  it('survives random garbage', () => {
    let seed = 1;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    for (let i = 0; i < 500; i++) {
      const junk = Uint8Array.from({ length: 1 + (rnd() % 64) }, rnd);
      try {
        const out = lzo1xDecompress(junk, 4096);
        expect(out.length).toBe(4096);
      } catch (err) {
        expect(err).toBeInstanceOf(LzoError);
      }
    }
  });
});
