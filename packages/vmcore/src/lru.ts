/**
 * A bounded cache that keeps recently used entries: two generations of at most capacity/2 each.
 * New and re-used entries go to the young generation; when it is full it becomes the old one and
 * the previous old generation is dropped. A hit in the young generation costs one Map lookup and
 * moves nothing (a strict LRU's delete + re-insert on every hit was a tenth of `kbtf verify`'s
 * page reads); an entry used at least once per capacity/2 insertions is never dropped.
 */
export class LruCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly half: number;
  hits = 0;
  misses = 0;
  constructor(readonly capacity: number) {
    this.half = Math.max(1, Math.ceil(capacity / 2));
  }

  get(key: K): V | undefined {
    let v = this.young.get(key);
    if (v !== undefined) {
      this.hits++;
      return v;
    }
    v = this.old.get(key);
    if (v === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.old.delete(key);
    this.put(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.old.delete(key);
    this.put(key, value);
  }

  private put(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }

  clear(): void {
    this.young.clear();
    this.old.clear();
  }
}
