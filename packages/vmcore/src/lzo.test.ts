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
