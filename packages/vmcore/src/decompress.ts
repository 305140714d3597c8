/**
 * Page decompression by kdump page_desc flags (makedumpfile diskdump_mod.h):
 *   0x1 zlib (compress2: zlib-wrapped deflate), 0x2 lzo (LZO1X-1), 0x4 snappy (raw, not framed),
 *   0x20 zstd (one frame); no flag = stored raw.
 * Every page must expand to exactly one page; anything else is bad data.
 */
import { Inflate, constants as zlibConstants, inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { uncompress as snappyUncompress } from 'snappyjs';
import { lzo1xDecompress } from './lzo.js';
import { ZSTD_WASM_BASE64 } from './zstd-wasm.js';

export const PAGE_ZLIB = 0x1;
export const PAGE_LZO = 0x2;
export const PAGE_SNAPPY = 0x4;
export const PAGE_ZSTD = 0x20;

export function compressionName(flags: number): string {
  if (flags & PAGE_ZLIB) return 'zlib';
  if (flags & PAGE_LZO) return 'lzo';
  if (flags & PAGE_SNAPPY) return 'snappy';
  if (flags & PAGE_ZSTD) return 'zstd';
  return 'none';
}

/**
 * One zlib inflate context for every page. `inflateSync` builds a whole stream object (a Duplex
 * with its state, a native context and a 32 KiB window) for each call and closes it after: on a
 * dump verify decodes ~4,000 pages, and that setup cost more than inflating them. This keeps one
 * native handle, resets it per page and inflates into one scratch buffer, the way Node's own
 * `processChunkSync` drives it (`handle.writeSync` with the stream's `_writeState`).
 *
 * Those are Node internals (the same since Node 10, and in 18, 20 and 22); when they are not there,
 * or a page does not inflate to exactly one page, `inflateSync` decodes it again, so every error
 * and its message are Node's own.
 */
interface PageInflater {
  readonly handle: { reset(): void; writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void; close(): void };
  /** [avail_out, avail_in] after the last write. */
  readonly state: Uint32Array;
  readonly scratch: Uint8Array;
  failed: boolean;
}

let inflater: PageInflater | null | undefined;

function pageInflater(pageSize: number): PageInflater | null {
  if (inflater !== undefined && (inflater === null || inflater.scratch.byteLength === pageSize + 64)) return inflater;
  // A context for another page size (a second dump) is closed, not left to the collector.
  if (inflater) closeQuietly(inflater);
  inflater = null;
  try {
    const stream = new Inflate({ chunkSize: pageSize + 64 }) as unknown as { _handle?: Record<string, unknown>; _writeState?: unknown };
    const handle = stream._handle;
    const state = stream._writeState;
    if (handle && typeof handle.writeSync === 'function' && typeof handle.reset === 'function' && typeof handle.close === 'function' && state instanceof Uint32Array && state.length >= 2) {
      const z: PageInflater = { handle: handle as unknown as PageInflater['handle'], state, scratch: new Uint8Array(pageSize + 64), failed: false };
      // The native side reports an error by calling onerror, synchronously, inside writeSync;
      // the stream's own handler would destroy the stream.
      handle.onerror = (): void => {
        z.failed = true;
      };
      inflater = z;
    }
  } catch {
    inflater = null;
  }
  return inflater;
}

function closeQuietly(z: PageInflater): void {
  try {
    z.handle.close();
  } catch {
    // closing is best effort
  }
}

/**
 * `data` inflated to exactly `pageSize` bytes, or undefined when the fast path cannot say. The
 * bytes are the shared scratch buffer's: valid until the next page is inflated.
 */
function inflateToScratch(data: Uint8Array, pageSize: number): Uint8Array | undefined {
  const z = pageInflater(pageSize);
  if (!z) return undefined;
  try {
    z.failed = false;
    z.handle.reset();
    z.handle.writeSync(zlibConstants.Z_FINISH, data, 0, data.byteLength, z.scratch, 0, z.scratch.byteLength);
  } catch {
    z.failed = true;
  }
  if (z.failed) {
    // A fresh context for the next page rather than trusting this one after an error.
    inflater = undefined;
    closeQuietly(z);
    return undefined;
  }
  // With Z_FINISH and room left over, no error means the stream ended: zlib turns a stream that
  // needs more input into Z_BUF_ERROR, which Node reports as "unexpected end of file".
  if (z.scratch.byteLength - z.state[0] !== pageSize) return undefined;
  return z.scratch.subarray(0, pageSize);
}

/**
 * The page as a shared buffer's bytes (valid until the next page of its compression) when a fast
 * decoder gives exactly one page: zlib through the shared inflate context, zstd through zstd's
 * own decoder. Undefined otherwise: decodeSlow then decodes it again, with its errors.
 */
function fastPage(flags: number, data: Uint8Array, pageSize: number): Uint8Array | undefined {
  const kind = compressionName(flags);
  return kind === 'zlib' ? inflateToScratch(data, pageSize) : kind === 'zstd' ? zstdToScratch(data, pageSize) : undefined;
}

/** Decode one stored page; throws Error (message says why) when it is not a valid page. */
export function decodePage(flags: number, data: Uint8Array, pageSize: number): Uint8Array {
  const fast = fastPage(flags, data, pageSize);
  return fast ? fast.slice() : decodeSlow(flags, data, pageSize);
}

/**
 * Decode one stored page into `dest` at `at` (a multi-page read: no page of its own is made).
 * Throws what decodePage throws; `dest` is then partly written.
 */
export function decodePageInto(flags: number, data: Uint8Array, pageSize: number, dest: Uint8Array, at: number): void {
  // LZO decodes straight into the destination (a new 4 KiB array per page cost more than the
  // decoding); what it rejects throws as decodePage's would.
  if (compressionName(flags) === 'lzo' && at + pageSize <= dest.byteLength) {
    lzo1xDecompress(data, pageSize, dest.subarray(at, at + pageSize));
    return;
  }
  dest.set(fastPage(flags, data, pageSize) ?? decodeSlow(flags, data, pageSize), at);
}

/** decodePage without the fast decoders: what they could not decode, and every other compression. */
function decodeSlow(flags: number, data: Uint8Array, pageSize: number): Uint8Array {
  let page: Uint8Array;
  if (flags & PAGE_ZLIB) {
    // chunkSize just over a page: one output buffer of that size (the default is 16 KiB, and an
    // exact page would make zlib allocate a second one to see the end of the stream).
    const b = inflateSync(data, { maxOutputLength: pageSize, chunkSize: pageSize + 64 });
    page = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } else if (flags & PAGE_LZO) {
    page = lzo1xDecompress(data, pageSize);
  } else if (flags & PAGE_SNAPPY) {
    page = snappyUncompress(data, pageSize);
  } else if (flags & PAGE_ZSTD) {
    page = zstdDecompress(data, new Uint8Array(pageSize));
  } else {
    page = data;
  }
  if (page.byteLength !== pageSize) throw new Error(`${compressionName(flags)} page expands to ${page.byteLength} bytes, expected ${pageSize}`);
  return page;
}

/**
 * zstd's own decoder (libzstd's decompressor as WebAssembly, zstd-wasm.ts, built by
 * tools/vendor/zstd-wasm.mjs), made once, synchronously, on the first zstd page: ~5× faster per
 * page than fzstd, and ready at once where fzstd's JavaScript runs cold (a zstd dump of a 6.12 guest
 * decodes ~4,600 pages: ~480 ms with fzstd, ~75 ms here). Its decompression context and a largest
 * page's input and output live in its static memory (zstd-page.c).
 */
interface ZstdWasm {
  /** The instance's memory (it never grows). */
  readonly memory: { readonly buffer: ArrayBuffer };
  readonly input: number;
  readonly output: number;
  /** decode(size, capacity): the decoded size, or negative (not a frame of at most capacity bytes). */
  decode(size: number, capacity: number): number;
}

/** The largest page (and frame) the decoder's buffers hold (zstd-page.c PAGE_MAX). */
const ZSTD_PAGE_MAX = 65536;

let zstdWasm: ZstdWasm | null | undefined;

/** zstd pages zstd's own decoder gave (a count for tests and diagnostics). */
export const zstdDecodes = { wasm: 0 };

/** The WebAssembly API (the project's TypeScript libraries do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}

function zstdDecoder(): ZstdWasm | null {
  if (zstdWasm !== undefined) return zstdWasm;
  zstdWasm = null;
  try {
    const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm) return zstdWasm;
    const exports = new wasm.Instance(new wasm.Module(Buffer.from(ZSTD_WASM_BASE64, 'base64')), {}).exports;
    zstdWasm = {
      memory: exports.memory as ZstdWasm['memory'],
      input: (exports.in_ptr as () => number)(),
      output: (exports.out_ptr as () => number)(),
      decode: exports.decode as ZstdWasm['decode'],
    };
  } catch {
    zstdWasm = null;
  }
  return zstdWasm;
}

/**
 * `data` (one zstd frame) decoded to exactly `pageSize` bytes, as the decoder's memory (valid until
 * the next zstd page), or undefined when zstd's decoder says anything else (an error, another
 * size, no WebAssembly): fzstd then decodes the page again, so an error and its message stay
 * fzstd's. The decoder writes nothing outside its own memory. Exported for its test
 * (decompress.test.ts); decodePage is the API.
 */
export function zstdToScratch(data: Uint8Array, pageSize: number): Uint8Array | undefined {
  if (data.byteLength > ZSTD_PAGE_MAX || pageSize > ZSTD_PAGE_MAX) return undefined;
  const z = zstdDecoder();
  if (!z) return undefined;
  new Uint8Array(z.memory.buffer, z.input, data.byteLength).set(data);
  let n: number;
  try {
    n = z.decode(data.byteLength, pageSize);
  } catch {
    // A trap leaves the module's stack pointer where it was: the next page gets a new instance.
    zstdWasm = undefined;
    return undefined;
  }
  if (n !== pageSize) return undefined;
  zstdDecodes.wasm++;
  return new Uint8Array(z.memory.buffer, z.output, pageSize);
}
