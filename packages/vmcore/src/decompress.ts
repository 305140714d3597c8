/**
 * Page decompression by kdump page_desc flags (makedumpfile diskdump_mod.h):
 *   0x1 zlib (compress2: zlib-wrapped deflate), 0x2 lzo (LZO1X-1), 0x4 snappy (raw, not framed),
 *   0x20 zstd (one frame); no flag = stored raw.
 * Every page must expand to exactly one page; anything else is bad data.
 */
import { inflateSync } from 'node:zlib';
import { decompress as zstdDecompress } from 'fzstd';
import { uncompress as snappyUncompress } from 'snappyjs';
import { lzo1xDecompress } from './lzo.js';

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

/** Decode one stored page; throws Error (message says why) when it is not a valid page. */
export function decodePage(flags: number, data: Uint8Array, pageSize: number): Uint8Array {
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
