/**
 * Aligned file blocks in an LRU cache, for formats whose pages are stored raw (ELF). A chunk never
 * crosses a block boundary, so a page read is one or two cached blocks.
 */
import { LruCache } from './lru.js';
import type { ByteSource } from './source.js';

export class BlockCache {
  private readonly cache: LruCache<number, Uint8Array>;
  constructor(
    private readonly source: ByteSource,
    readonly blockSize = 4096,
    capacity = 1024,
  ) {
    this.cache = new LruCache(capacity);
  }

  /** Up to `maxLen` bytes at `offset`, not crossing a block boundary (at least 1 byte). */
  chunk(offset: number, maxLen: number): Uint8Array {
    const index = Math.floor(offset / this.blockSize);
    let block = this.cache.get(index);
    if (!block) {
      const start = index * this.blockSize;
      block = this.source.read(start, Math.min(this.blockSize, this.source.size - start), 'block');
      this.cache.set(index, block);
    }
    const at = offset - index * this.blockSize;
    if (at >= block.byteLength) return this.source.read(offset, 1, 'block'); // throws: past end
    return block.subarray(at, Math.min(block.byteLength, at + maxLen));
  }
}
