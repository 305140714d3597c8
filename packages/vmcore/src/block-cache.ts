/**
 * Raw pages of an ELF core in an LRU cache. A piece is the part of one physical page that one
 * PT_LOAD stores (usually the whole page), read with one positioned read and keyed by its
 * physical start; QEMU's segments are not page-aligned in the file, so caching by file block
 * would read two blocks per page.
 */
import { LruCache } from './lru.js';
import type { ByteSource } from './source.js';

export class PieceCache {
  private readonly cache: LruCache<bigint, Uint8Array>;
  constructor(
    private readonly source: ByteSource,
    capacity = 1024,
  ) {
    this.cache = new LruCache(capacity);
  }

  /** The piece starting at physical `start`, `length` bytes stored at file `offset`. */
  piece(start: bigint, offset: number, length: number): Uint8Array {
    let p = this.cache.get(start);
    if (!p) {
      p = this.source.read(offset, length, 'page');
      this.cache.set(start, p);
    }
    return p;
  }
}
