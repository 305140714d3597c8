/**
 * The BTF string section: NUL-terminated names addressed by byte offset. In split BTF the offsets
 * continue after the base's string section: an offset below `start` is the base's
 * (libbpf `start_str_off`, kernel `btf->start_str_off`, Linux 5.11).
 */
import { Cursor, NotFoundError, latin1OrUtf8 } from '@kbtf/binary';

export class StringTable {
  readonly bytes: Uint8Array;
  readonly base: StringTable | undefined;
  /** Offset of this table's first byte in the combined (base + split) string space. */
  readonly start: number;
  private readonly cursor: Cursor;
  private cache: Map<number, string> | undefined;
  private view: Buffer | undefined;
  private reverse: Map<string, number> | undefined;

  constructor(cursor: Cursor, base?: StringTable) {
    this.cursor = cursor;
    this.bytes = cursor.bytes;
    this.base = base;
    this.start = base ? base.start + base.bytes.length : 0;
  }

  /** Total size of the combined string space (base + this table). */
  get end(): number {
    return this.start + this.bytes.length;
  }

  /** The string at combined offset `off`; throws BadDataError when out of range or unterminated. */
  get(off: number): string {
    if (off < this.start) {
      if (this.base) return this.base.get(off);
    }
    const rel = off - this.start;
    if (rel < 0 || rel >= this.bytes.length) throw this.cursor.error(Math.max(0, rel), `string offset ${off} out of range (strings ${this.start}..${this.end})`);
    return this.decode(rel);
  }

  /** Like `get`, but undefined for an invalid offset. */
  tryGet(off: number): string | undefined {
    if (off < this.start) return this.base?.tryGet(off);
    const rel = off - this.start;
    if (rel >= this.bytes.length) return undefined;
    if (this.bytes.indexOf(0, rel) < 0) return undefined;
    return this.decode(rel);
  }

  /** The table (this one or a base) whose bytes hold combined offset `off`, or undefined. */
  tableOf(off: number): StringTable | undefined {
    if (off < this.start) return this.base?.tableOf(off);
    return off - this.start < this.bytes.length ? this : undefined;
  }

  /** Whether `off` points at a string (combined offset). */
  valid(off: number): boolean {
    if (off < this.start) return this.base?.valid(off) ?? false;
    return off - this.start < this.bytes.length;
  }

  private decode(rel: number): string {
    const b = this.bytes;
    if (b[rel] === 0) return '';
    let end = rel;
    let ascii = true;
    const n = b.length;
    while (end < n && b[end] !== 0) {
      if (b[end] >= 0x80) ascii = false;
      end++;
    }
    if (end >= n) throw this.cursor.error(rel, 'unterminated string');
    // ASCII (every kernel name): one native call (Buffer's latin1 slice), cheaper than a cache
    // lookup, and nothing kept: a companion's 30,000 VAR names are each read once. Other bytes
    // (UTF-8, or latin-1 when not valid UTF-8) are decoded once and kept.
    if (ascii) return (this.view ??= Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('latin1', rel, end);
    const cached = this.cache?.get(rel);
    if (cached !== undefined) return cached;
    const s = latin1OrUtf8(b.subarray(rel, end));
    (this.cache ??= new Map()).set(rel, s);
    return s;
  }

  /** Combined offset of the first occurrence of `s` (base first), or undefined. Builds an index once. */
  offsetOf(s: string): number | undefined {
    const inBase = this.base?.offsetOf(s);
    if (inBase !== undefined) return inBase;
    if (!this.reverse) {
      this.reverse = new Map();
      const b = this.bytes;
      let i = 0;
      while (i < b.length) {
        let e = b.indexOf(0, i);
        if (e < 0) e = b.length;
        const str = latin1OrUtf8(b.subarray(i, e));
        if (!this.reverse.has(str)) this.reverse.set(str, this.start + i);
        i = e + 1;
      }
    }
    return this.reverse.get(s);
  }

  /** Whether the string at combined offset `off` is exactly the bytes `s` (no string decoded). */
  equals(off: number, s: Uint8Array): boolean {
    if (off < this.start) return this.base ? this.base.equals(off, s) : false;
    const { start, bytes: b } = this;
    const rel = off - start;
    if (rel < 0 || rel + s.length >= b.length) return false;
    for (let k = 0; k < s.length; k++) if (b[rel + k] !== s[k]) return false;
    return b[rel + s.length] === 0;
  }

  /** The offset of `s`, or NotFoundError. */
  require(s: string): number {
    const off = this.offsetOf(s);
    if (off === undefined) throw new NotFoundError(`string '${s}' not in BTF string table`);
    return off;
  }
}
