// decodePage's zlib path keeps one native inflate context across pages; every page must decode as
// a fresh `inflateSync` would, and every bad page must fail with Node's own message. Synthetic
// streams: a damaged stream is an edge case no lab dump holds on purpose (the e2e suites read real
// makedumpfile pages).
import { deflateSync, inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { PAGE_ZLIB, decodePage } from './decompress.js';

const PAGE = 4096;

function page(seed: number, size = PAGE): Uint8Array {
  const p = new Uint8Array(size);
  let x = seed * 2654435761;
  for (let i = 0; i < size; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    // Runs and noise, like memory: compressible but not trivially.
    p[i] = i % 512 < 200 ? 0 : (x >>> 24) & (seed % 2 ? 0xff : 0x0f);
  }
  return p;
}

/** What decodePage did before the shared context: inflateSync per page, or its error message. */
function reference(data: Uint8Array): Uint8Array | string {
  try {
    const b = inflateSync(data, { maxOutputLength: PAGE, chunkSize: PAGE + 64 });
    const out = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return out.byteLength === PAGE ? out : `zlib page expands to ${out.byteLength} bytes, expected ${PAGE}`;
  } catch (err) {
    return (err as Error).message;
  }
}

function decoded(data: Uint8Array): Uint8Array | string {
  try {
    return decodePage(PAGE_ZLIB, data, PAGE);
  } catch (err) {
    return (err as Error).message;
  }
}

describe('decodePage zlib', () => {
  const good = [1, 2, 3, 4].map((s) => ({ raw: page(s), z: new Uint8Array(deflateSync(page(s))) }));

  it('decodes a run of pages to the bytes that were compressed, each a copy of its own', () => {
    const out = good.map((g) => decodePage(PAGE_ZLIB, g.z, PAGE));
    good.forEach((g, i) => expect(Buffer.from(out[i]).equals(Buffer.from(g.raw))).toBe(true));
    // No page shares memory with the next one decoded.
    expect(new Set(out.map((p) => p.buffer)).size).toBe(out.length);
  });

  const bad: [string, Uint8Array][] = [
    ['truncated stream', good[0].z.subarray(0, good[0].z.byteLength - 9)],
    ['missing adler32', good[0].z.subarray(0, good[0].z.byteLength - 4)],
    ['wrong header', Uint8Array.from([0x12, 0x34, ...good[1].z.subarray(2)])],
    ['corrupt body', Uint8Array.from(good[2].z, (b, i) => (i > 20 && i < 40 ? b ^ 0x5a : b))],
    ['bad checksum', Uint8Array.from(good[3].z, (b, i) => (i === good[3].z.length - 1 ? b ^ 1 : b))],
    ['more than a page', new Uint8Array(deflateSync(page(5, PAGE + 1)))],
    ['less than a page', new Uint8Array(deflateSync(page(6, PAGE - 100)))],
    ['empty stream', new Uint8Array(deflateSync(new Uint8Array(0)))],
    ['no bytes', new Uint8Array(0)],
    ['a page and trailing bytes', Uint8Array.from([...good[0].z, 1, 2, 3])],
  ];

  it.each(bad)('%s: the same result and message as inflateSync, and the next page still decodes', (_, data) => {
    const want = reference(data);
    const got = decoded(data);
    if (typeof want === 'string') expect(got).toBe(want);
    else expect(Buffer.from(got as Uint8Array).equals(Buffer.from(want))).toBe(true);
    // After a failure the shared context must not leak state into the next page.
    expect(Buffer.from(decodePage(PAGE_ZLIB, good[1].z, PAGE)).equals(Buffer.from(good[1].raw))).toBe(true);
  });

  it('the bad ones do fail (the cases above are not all accepted)', () => {
    const failures = bad.filter(([, d]) => typeof reference(d) === 'string').length;
    expect(failures).toBeGreaterThanOrEqual(bad.length - 1);
  });

  it('a 64 KiB page size gets its own context', () => {
    const big = page(7, 65536);
    expect(Buffer.from(decodePage(PAGE_ZLIB, new Uint8Array(deflateSync(big)), 65536)).equals(Buffer.from(big))).toBe(true);
    expect(Buffer.from(decodePage(PAGE_ZLIB, good[0].z, PAGE)).equals(Buffer.from(good[0].raw))).toBe(true);
  });
});
