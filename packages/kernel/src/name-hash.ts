/**
 * Symbol names by hash: the name hash kallsyms and the module symtabs share, and the open-addressing
 * index (linear probing) that finds the symbols of a hash.
 */

/** The name hash: h = h × HASH_P + byte over the name's bytes, mod 2^32 (signed). */
export const HASH_P = 0x01000193;

/** The name hash of bytes[start, end), one byte a character (nameHash of their latin1 string). */
export function bytesHash(bytes: Uint8Array, start: number, end: number): number {
  let h = 0;
  for (let q = start; q < end; q++) h = (Math.imul(h, HASH_P) + bytes[q]) | 0;
  return h;
}

/** Symbols kallsyms indexes by name at most (kernels have ~200,000): past it, lookups stay scans. */
export const MAX_INDEXED = 1 << 21;

/**
 * A name hash's first slot in a table of 2^(32 − shift) slots: its top bits after a multiply by
 * 2^32/φ (Fibonacci hashing). The name hash is a polynomial, so names that differ in their last
 * character (foo_1, foo_2: kallsyms is full of them) hash to neighbours; taken as the slot itself
 * (h & mask) they formed long runs for linear probing: 27 probes per insert on Debian 6.1's
 * kallsyms against 4 this way (most of those 4 are names that repeat, up to 405 times).
 */
export function hashSlot(h: number, shift: number): number {
  return Math.imul(h, 0x9e3779b1) >>> shift;
}

/** The hash of a name as its latin1 bytes (one byte per UTF-16 unit, as Buffer.from(name, 'latin1') gives), with no buffer made. */
export function nameHash(name: string): number {
  let h = 0;
  for (let q = 0; q < name.length; q++) h = (Math.imul(h, HASH_P) + (name.charCodeAt(q) & 0xff)) | 0;
  return h;
}

/**
 * A name index: table index + 1 of each symbol by its name hash's slot, open addressing with
 * linear probing. Symbols go in in table order, so the ones of one hash are met in that order.
 */
export interface NameIndex {
  readonly slots: Int32Array;
  /** 32 − log2(slots.length), for hashSlot. */
  readonly shift: number;
  add(h: number, i: number): void;
}

/** An empty name index for `count` symbols, at most half full, of at least `minSize` slots (a power of 2). */
export function nameIndex(count: number, minSize = 1024): NameIndex {
  let size = minSize;
  while (size < count * 2) size *= 2;
  const slots = new Int32Array(size);
  const mask = size - 1;
  const shift = Math.clz32(size) + 1;
  return {
    slots,
    shift,
    add(h: number, i: number): void {
      let k = hashSlot(h, shift);
      while (slots[k] !== 0) k = (k + 1) & mask;
      slots[k] = i + 1;
    },
  };
}
