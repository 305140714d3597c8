// decodePage's zlib path keeps one native inflate context across pages; every page must decode as
// a fresh `inflateSync` would, and every bad page must fail with Node's own message. Synthetic
// streams: a damaged stream is an edge case no lab dump holds on purpose (the e2e suites read real
// makedumpfile pages).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync, inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { describe, expect, it } from 'vitest';
import { PAGE_ZLIB, PAGE_ZSTD, decodePage, decodePageInto, zstdDecodes, zstdToScratch } from './decompress.js';
import { ZSTD_VERSION, ZSTD_WASM_BASE64 } from './zstd-wasm.js';

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

// zstd: libzstd's decoder as WebAssembly (zstd-wasm.ts), fzstd for whatever it does not decode to a
// page. Real frames: pages of a Debian 6.12 guest as trixie's makedumpfile wrote them (testdata).
describe('decodePage zstd', () => {
  const here = dirname(fileURLToPath(import.meta.url));
  const real = (JSON.parse(readFileSync(join(here, 'testdata', 'zstd-pages.json'), 'utf8')) as { pages: { frame: string; page: string }[] }).pages.map((p) => ({
    frame: new Uint8Array(Buffer.from(p.frame, 'base64')),
    page: new Uint8Array(Buffer.from(p.page, 'base64')),
  }));

  /** What decodePage did before the WebAssembly decoder: fzstd alone, or its error message. */
  function fzstdReference(data: Uint8Array): Uint8Array | string {
    try {
      const out = zstdDecompress(data, new Uint8Array(PAGE));
      return out.byteLength === PAGE ? out : `zstd page expands to ${out.byteLength} bytes, expected ${PAGE}`;
    } catch (err) {
      return (err as Error).message;
    }
  }

  it('the vendored decoder is a module of its own: no imports, the three functions and its memory (tools/vendor/zstd-page.c)', () => {
    // The WebAssembly API (the project's TypeScript libraries do not declare it).
    type Descriptor = { name: string; kind: string };
    const { Module } = (globalThis as unknown as { WebAssembly: { Module: { new (b: Uint8Array): object; imports(m: object): Descriptor[]; exports(m: object): Descriptor[] } } }).WebAssembly;
    const m = new Module(Buffer.from(ZSTD_WASM_BASE64, 'base64'));
    expect(Module.imports(m)).toEqual([]);
    expect(Module.exports(m).map((e) => `${e.kind} ${e.name}`).sort()).toEqual(['function decode', 'function in_ptr', 'function out_ptr', 'memory memory']);
    expect(ZSTD_VERSION).toMatch(/^1\.5\.\d+$/);
  });

  it("decodes makedumpfile's frames to the pages fzstd gives, through the WebAssembly decoder, each a copy of its own", () => {
    expect(real.length).toBeGreaterThanOrEqual(4);
    const before = zstdDecodes.wasm;
    const out = real.map((r) => decodePage(PAGE_ZSTD, r.frame, PAGE));
    expect(zstdDecodes.wasm - before).toBe(real.length);
    real.forEach((r, i) => {
      expect(Buffer.from(out[i]).equals(Buffer.from(r.page))).toBe(true);
      expect(Buffer.from(zstdToScratch(r.frame, PAGE)!).equals(Buffer.from(r.page))).toBe(true);
    });
    expect(new Set(out.map((p) => p.buffer)).size).toBe(out.length);
  });

  it('a 64 KiB page (arm64 kernels with 64K pages) decodes in the WebAssembly decoder; a 128 KiB one falls back to fzstd', () => {
    // Frames of the zstd CLI (libzstd, as makedumpfile's): real compressor, synthetic memory.
    for (const size of [65536, 131072]) {
      const raw = page(11, size);
      const frame = new Uint8Array(execFileSync('zstd', ['-q', '-c', '-3'], { input: raw }));
      const before = zstdDecodes.wasm;
      expect(Buffer.from(decodePage(PAGE_ZSTD, frame, size)).equals(Buffer.from(raw))).toBe(true);
      expect(zstdDecodes.wasm - before).toBe(size <= 65536 ? 1 : 0);
    }
  });

  it('decodes into a page of a longer buffer (a long read), touching nothing around it', () => {
    const buf = new Uint8Array(3 * PAGE);
    for (const r of real) {
      buf.fill(0xa5);
      const before = zstdDecodes.wasm;
      decodePageInto(PAGE_ZSTD, r.frame, PAGE, buf, PAGE);
      expect(zstdDecodes.wasm - before).toBe(1);
      expect(Buffer.from(buf.subarray(PAGE, 2 * PAGE)).equals(Buffer.from(r.page))).toBe(true);
      expect(buf.subarray(0, PAGE).every((b) => b === 0xa5) && buf.subarray(2 * PAGE).every((b) => b === 0xa5)).toBe(true);
    }
  });

  const f = real[0].frame;
  const bad: [string, Uint8Array][] = [
    ['truncated frame', f.subarray(0, f.byteLength - 17)],
    ['wrong magic', Uint8Array.from([0x29, ...f.subarray(1)])],
    ['corrupt body', Uint8Array.from(f, (b, i) => (i > 30 && i < 60 ? b ^ 0x5a : b))],
    ['no bytes', new Uint8Array(0)],
    ['header only', f.subarray(0, 6)],
    ['a frame and trailing bytes', Uint8Array.from([...f, 1, 2, 3])],
    ['two frames (two pages)', Uint8Array.from([...real[2].frame, ...real[3].frame])],
  ];

  it.each(bad)('%s: the same result and message as fzstd alone, and the next page still decodes', (_, data) => {
    const want = fzstdReference(data);
    let got: Uint8Array | string;
    try {
      got = decodePage(PAGE_ZSTD, data, PAGE);
    } catch (err) {
      got = (err as Error).message;
    }
    if (typeof want === 'string') expect(got).toBe(want);
    else expect(Buffer.from(got as Uint8Array).equals(Buffer.from(want))).toBe(true);
    // Into a longer buffer: the same page or the same error.
    const into = new Uint8Array(2 * PAGE);
    let gotInto: Uint8Array | string;
    try {
      decodePageInto(PAGE_ZSTD, data, PAGE, into, PAGE);
      gotInto = into.subarray(PAGE);
    } catch (err) {
      gotInto = (err as Error).message;
    }
    if (typeof want === 'string') expect(gotInto).toBe(want);
    else expect(Buffer.from(gotInto as Uint8Array).equals(Buffer.from(want))).toBe(true);
    // The WebAssembly decoder gives a page only where fzstd gives the same page (a corrupt body can
    // still be a valid frame: its literals are only different bytes).
    const fast = zstdToScratch(data, PAGE);
    if (typeof want === 'string') expect(fast).toBeUndefined();
    else expect(Buffer.from(fast!).equals(Buffer.from(want))).toBe(true);
    expect(Buffer.from(decodePage(PAGE_ZSTD, real[1].frame, PAGE)).equals(Buffer.from(real[1].page))).toBe(true);
  });
});
