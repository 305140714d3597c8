/**
 * The raw printer: the format of `bpftool btf dump file F format raw` (bpftool 7.1,
 * tools/bpf/bpftool/btf.c dump_btf_type), line for line. For split BTF only the split's own types
 * are printed, as bpftool does with `--base-btf`.
 */
import type { Btf } from './btf.js';
import { KIND_NAMES, LINKAGE_NAMES, type BtfType } from './types.js';
import type { StringTable } from './strings.js';
import {
  KIND_ARRAY, KIND_CONST, KIND_DATASEC, KIND_DECL_TAG, KIND_ENUM, KIND_ENUM64, KIND_FLOAT, KIND_FUNC,
  KIND_FUNC_PROTO, KIND_FWD, KIND_INT, KIND_PTR, KIND_RESTRICT, KIND_STRUCT, KIND_TYPEDEF, KIND_TYPE_TAG,
  KIND_UNION, KIND_VAR, KIND_VOLATILE, infoKind, infoVlen,
} from './wire.js';

const KIND_UPPER: Record<string, string> = {
  int: 'INT', ptr: 'PTR', array: 'ARRAY', struct: 'STRUCT', union: 'UNION', enum: 'ENUM', fwd: 'FWD',
  typedef: 'TYPEDEF', volatile: 'VOLATILE', const: 'CONST', restrict: 'RESTRICT', func: 'FUNC',
  func_proto: 'FUNC_PROTO', var: 'VAR', datasec: 'DATASEC', float: 'FLOAT', decl_tag: 'DECL_TAG',
  type_tag: 'TYPE_TAG', enum64: 'ENUM64',
};

const INT_ENC: Record<number, string> = { 0: '(none)', 1: 'SIGNED', 2: 'CHAR', 4: 'BOOL' };

function str(name: string, nameOff: number | undefined): string {
  return nameOff === 0 || (nameOff === undefined && name === '') ? '(anon)' : name;
}

function linkage(l: number): string {
  return LINKAGE_NAMES[l] ?? '(unknown)';
}

/** One type in bpftool's raw format (may span lines; no trailing newline). */
export function formatRawType(btf: Btf, t: BtfType): string {
  let s = `[${t.id}] ${KIND_UPPER[t.kind]} '${str(t.name, t.nameOff)}'`;
  switch (t.kind) {
    case 'int':
      return s + ` size=${t.size} bits_offset=${t.bitsOffset} nr_bits=${t.bits} encoding=${INT_ENC[t.encoding] ?? 'UNKN'}`;
    case 'ptr':
    case 'const':
    case 'volatile':
    case 'restrict':
    case 'typedef':
    case 'type_tag':
      return s + ` type_id=${t.type}`;
    case 'array':
      return s + ` type_id=${t.type} index_type_id=${t.indexType} nr_elems=${t.nelems}`;
    case 'struct':
    case 'union':
      s += ` size=${t.size} vlen=${t.members.length}`;
      for (const m of t.members) {
        s += `\n\t'${str(m.name, m.nameOff)}' type_id=${m.type} bits_offset=${m.bitOffset}`;
        if (m.bitfieldSize) s += ` bitfield_size=${m.bitfieldSize}`;
      }
      return s;
    case 'enum':
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t'${str(v.name, v.nameOff)}' val=${t.signed ? v.value | 0 : v.value >>> 0}`;
      return s;
    case 'enum64':
      s += ` encoding=${t.signed ? 'SIGNED' : 'UNSIGNED'} size=${t.size} vlen=${t.values.length}`;
      for (const v of t.values) s += `\n\t'${str(v.name, v.nameOff)}' val=${t.signed ? `${BigInt.asIntN(64, v.value)}LL` : `${BigInt.asUintN(64, v.value)}ULL`}`;
      return s;
    case 'fwd':
      return s + ` fwd_kind=${t.union ? 'union' : 'struct'}`;
    case 'func':
      return s + ` type_id=${t.type} linkage=${linkage(t.linkage)}`;
    case 'func_proto':
      s += ` ret_type_id=${t.type} vlen=${t.params.length}`;
      for (const p of t.params) s += `\n\t'${str(p.name, p.nameOff)}' type_id=${p.type}`;
      return s;
    case 'var':
      return s + ` type_id=${t.type}, linkage=${linkage(t.linkage)}`;
    case 'datasec':
      s += ` size=${t.size} vlen=${t.vars.length}`;
      for (const v of t.vars) {
        s += `\n\ttype_id=${v.type} offset=${v.offset} size=${v.size}`;
        if (v.type < btf.endId && v.type >= 1) {
          s += ` (${KIND_UPPER[btf.kindOf(v.type)]} '${str(btf.nameOf(v.type), nameOffOf(btf, v.type))}')`;
        } else if (v.type === 0) {
          s += ` (UNKNOWN '(anon)')`;
        }
      }
      return s;
    case 'float':
      return s + ` size=${t.size}`;
    case 'decl_tag':
      return s + ` type_id=${t.type} component_idx=${t.componentIdx}`;
  }
}

function nameOffOf(btf: Btf, id: number): number {
  return btf.type(id).nameOff ?? 1;
}

/** Every type of `btf` (the split part only for split BTF), bpftool raw format, newline-terminated. */
export function formatRaw(btf: Btf): string {
  let out = '';
  for (const chunk of formatRawChunks(btf)) out += chunk;
  return out;
}

/**
 * Stream the raw dump in chunks of about `chunkBytes` (1 MiB: a few large writes, not one per
 * type), as strings. See formatRawBytes; each byte chunk becomes one latin1 string (ASCII: the
 * same bytes once encoded), and BTF with other names goes through formatRawType per type.
 */
export function* formatRawChunks(btf: Btf, chunkBytes = 1 << 20): IterableIterator<string> {
  const longest = longestAsciiName(btf.strings);
  if (longest < 0) {
    yield* formatRawChunksDecoded(btf, chunkBytes);
    return;
  }
  for (const b of rawByteChunks(btf, chunkBytes, longest)) yield Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * The raw dump as UTF-8 bytes, in chunks of about `chunkBytes` (each a new array: a stream may
 * keep it). When every name is ASCII (every kernel's BTF) the records are read straight from the
 * type section and the text is built as bytes — names copied from the string section, numbers
 * written as digits: no BtfType objects, no type cache, no string per name, nothing for stdout to
 * encode. Otherwise each type goes through formatRawType. Both give the same text
 * (test/btf/raw-paths.test.ts; raw-bpftool.test.ts compares with bpftool).
 */
export function* formatRawBytes(btf: Btf, chunkBytes = 1 << 20): IterableIterator<Uint8Array> {
  const longest = longestAsciiName(btf.strings);
  if (longest >= 0) yield* rawByteChunks(btf, chunkBytes, longest);
  else for (const s of formatRawChunksDecoded(btf, chunkBytes)) yield Buffer.from(s, 'utf8');
}

function* rawByteChunks(btf: Btf, chunkBytes: number, longest: number): IterableIterator<Uint8Array> {
  const w = new RawWriter(btf, chunkBytes, longest + LINE);
  for (let id = btf.firstId; id < btf.endId; id++) {
    w.type(id);
    if (w.pos >= chunkBytes) yield w.take();
  }
  if (w.pos) yield w.take();
}

/** The object path: formatRawType per type (any names), chunks of about `chunkBytes` characters. */
export function* formatRawChunksDecoded(btf: Btf, chunkBytes = 1 << 20): IterableIterator<string> {
  let out = '';
  for (const t of btf.types()) {
    out += formatRawType(btf, t) + '\n';
    if (out.length >= chunkBytes) {
      yield out;
      out = '';
    }
  }
  if (out.length) yield out;
}

/** The length of the longest name when every name of `strings` (and its bases) is ASCII, else -1. */
function longestAsciiName(strings: StringTable | undefined): number {
  let longest = 0;
  for (let t = strings; t; t = t.base) {
    const b = t.bytes;
    let start = 0;
    for (let i = 0; i < b.length; i++) {
      const c = b[i];
      if (c >= 0x80) return -1;
      if (c === 0) {
        if (i - start > longest) longest = i - start;
        start = i + 1;
      }
    }
    if (b.length - start > longest) longest = b.length - start;
  }
  return longest;
}

/** `] KIND ` of each kind number, as bytes. */
const KIND_PREFIX: Uint8Array[] = KIND_NAMES.map((k) => Buffer.from(`] ${KIND_UPPER[k] ?? ''} `, 'latin1'));
/** Room for one line of the dump but its name: the longest is a datasec entry's or an enum64 value's. */
const LINE = 96;
const NL = 0x0a;
const TAB = 0x09;
const QUOTE = 0x27;

/** bpftool's raw text of one type at a time, as bytes, into a growing buffer. */
class RawWriter {
  buf: Uint8Array;
  pos = 0;
  private readonly dv: DataView;
  private readonly le: boolean;

  /**
   * `line`: bytes of room one line needs at most (the longest name + LINE); `ensure(line)` once per
   * line, the writes within a line are not checked again.
   */
  constructor(
    private readonly btf: Btf,
    private readonly size: number,
    private readonly line: number,
  ) {
    this.buf = new Uint8Array(size + 4096);
    const c = btf.typeCursor;
    // eslint-disable-next-line no-restricted-syntax -- hot path: every record of vmlinux BTF (100,000+ types); indexTypes bounds-checked each record at parse
    this.dv = new DataView(c.bytes.buffer, c.bytes.byteOffset, c.bytes.byteLength);
    this.le = btf.littleEndian;
  }

  /** The text so far; writing goes on in a new buffer. */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.pos);
    this.buf = new Uint8Array(this.size + 4096);
    this.pos = 0;
    return out;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.pos + n));
    b.set(this.buf.subarray(0, this.pos));
    this.buf = b;
  }

  private ascii(s: string): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  private put(a: Uint8Array): void {
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < a.length; i++) b[p++] = a[i];
    this.pos = p;
  }

  private byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  /** A new line (tab-indented): room for it first. */
  private newLine(): void {
    this.ensure(this.line);
    this.buf[this.pos++] = NL;
    this.buf[this.pos++] = TAB;
  }

  /** A u32 (or a negative i32) in decimal. */
  private num(v: number): void {
    const b = this.buf;
    if (v < 0) {
      b[this.pos++] = 0x2d;
      v = -v;
    }
    if (v < 10) {
      b[this.pos++] = 0x30 + v;
      return;
    }
    const digits = v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    let p = this.pos + digits;
    this.pos = p;
    do {
      const q = (v / 10) >>> 0;
      b[--p] = 0x30 + v - q * 10;
      v = q;
    } while (v > 0);
  }

  /** `'name'` for a combined string offset; `'(anon)'` for 0; BadDataError as StringTable.get. */
  private name(off: number): void {
    if (off === 0) {
      this.ascii("'(anon)'");
      return;
    }
    let t: StringTable | undefined = this.btf.strings;
    while (t && off < t.start && t.base) t = t.base;
    const rel = off - t.start;
    if (rel < 0 || rel >= t.bytes.length) {
      this.btf.strings.get(off); // throws the reader's BadDataError
      return;
    }
    const end = t.bytes.indexOf(0, rel); // the section ends with NUL (checked at parse)
    const b = this.buf;
    let p = this.pos;
    b[p++] = QUOTE;
    if (end - rel > 64) {
      b.set(t.bytes.subarray(rel, end), p);
      p += end - rel;
    } else for (let i = rel, src = t.bytes; i < end; i++) b[p++] = src[i];
    b[p++] = QUOTE;
    this.pos = p;
  }

  private u32(off: number): number {
    return this.dv.getUint32(off, this.le);
  }

  // eslint-disable-next-line max-lines-per-function -- one switch over the BTF kinds, as formatRawType
  type(id: number): void {
    const off = this.btf.recordOffset(id);
    const info = this.u32(off + 4);
    const kind = infoKind(info);
    const vlen = infoVlen(info);
    const kflag = info >>> 31 === 1;
    const st = this.u32(off + 8);
    const x = off + 12;
    this.ensure(this.line);
    this.byte(0x5b);
    this.num(id);
    this.put(KIND_PREFIX[kind]);
    this.name(this.u32(off));
    switch (kind) {
      case KIND_INT: {
        const v = this.u32(x);
        this.ascii(' size=');
        this.num(st);
        this.ascii(' bits_offset=');
        this.num((v >>> 16) & 0xff);
        this.ascii(' nr_bits=');
        this.num(v & 0xff);
        this.ascii(` encoding=${INT_ENC[(v >>> 24) & 0x0f] ?? 'UNKN'}`);
        break;
      }
      case KIND_PTR:
      case KIND_CONST:
      case KIND_VOLATILE:
      case KIND_RESTRICT:
      case KIND_TYPEDEF:
      case KIND_TYPE_TAG:
        this.ascii(' type_id=');
        this.num(st);
        break;
      case KIND_ARRAY:
        this.ascii(' type_id=');
        this.num(this.u32(x));
        this.ascii(' index_type_id=');
        this.num(this.u32(x + 4));
        this.ascii(' nr_elems=');
        this.num(this.u32(x + 8));
        break;
      case KIND_STRUCT:
      case KIND_UNION:
        this.ascii(' size=');
        this.num(st);
        this.ascii(' vlen=');
        this.num(vlen);
        for (let i = 0, p = x; i < vlen; i++, p += 12) {
          const o = this.u32(p + 8);
          this.newLine();
          this.name(this.u32(p));
          this.ascii(' type_id=');
          this.num(this.u32(p + 4));
          this.ascii(' bits_offset=');
          this.num(kflag ? o & 0xffffff : o);
          if (kflag && o >>> 24) {
            this.ascii(' bitfield_size=');
            this.num(o >>> 24);
          }
        }
        break;
      case KIND_ENUM:
      case KIND_ENUM64:
        this.ascii(kflag ? ' encoding=SIGNED size=' : ' encoding=UNSIGNED size=');
        this.num(st);
        this.ascii(' vlen=');
        this.num(vlen);
        for (let i = 0, p = x; i < vlen; i++, p += kind === KIND_ENUM ? 8 : 12) {
          this.newLine();
          this.name(this.u32(p));
          this.ascii(' val=');
          if (kind === KIND_ENUM) this.num(kflag ? this.dv.getInt32(p + 4, this.le) : this.u32(p + 4));
          else {
            const raw = (BigInt(this.u32(p + 8)) << 32n) | BigInt(this.u32(p + 4));
            this.ascii(kflag ? `${BigInt.asIntN(64, raw)}LL` : `${raw}ULL`);
          }
        }
        break;
      case KIND_FWD:
        this.ascii(kflag ? ' fwd_kind=union' : ' fwd_kind=struct');
        break;
      case KIND_FUNC:
        this.ascii(' type_id=');
        this.num(st);
        this.ascii(` linkage=${linkage(vlen)}`);
        break;
      case KIND_FUNC_PROTO:
        this.ascii(' ret_type_id=');
        this.num(st);
        this.ascii(' vlen=');
        this.num(vlen);
        for (let i = 0, p = x; i < vlen; i++, p += 8) {
          this.newLine();
          this.name(this.u32(p));
          this.ascii(' type_id=');
          this.num(this.u32(p + 4));
        }
        break;
      case KIND_VAR:
        this.ascii(' type_id=');
        this.num(st);
        this.ascii(`, linkage=${linkage(this.u32(x))}`);
        break;
      case KIND_DATASEC:
        this.ascii(' size=');
        this.num(st);
        this.ascii(' vlen=');
        this.num(vlen);
        for (let i = 0, p = x; i < vlen; i++, p += 12) {
          const type = this.u32(p);
          this.newLine();
          this.ascii('type_id=');
          this.num(type);
          this.ascii(' offset=');
          this.num(this.u32(p + 4));
          this.ascii(' size=');
          this.num(this.u32(p + 8));
          const btf = this.btf;
          if (type < btf.endId && type >= 1) this.ascii(` (${KIND_UPPER[btf.kindOf(type)]} '${str(btf.nameOf(type), nameOffOf(btf, type))}')`);
          else if (type === 0) this.ascii(" (UNKNOWN '(anon)')");
        }
        break;
      case KIND_FLOAT:
        this.ascii(' size=');
        this.num(st);
        break;
      case KIND_DECL_TAG:
        this.ascii(' type_id=');
        this.num(st);
        this.ascii(' component_idx=');
        this.num(this.dv.getInt32(x, this.le));
        break;
    }
    this.byte(NL);
  }
}
