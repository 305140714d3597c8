/**
 * The validator against the real thing: every blob below is handed to the running kernel's BTF
 * verifier (bpf(BPF_BTF_LOAD), tools/btf-oracle/btf-load.c, compiled here with gcc) and validated
 * by kbtf in full mode with the rules of the running kernel's release (companionRules(os.release())).
 * The verdicts must agree; for a reject, kbtf's message and type id must be the kernel's log line's
 * (the text after the "[id] KIND name details" prefix). Needs root and the bpf syscall: CI runs as
 * root on the same kind of machine, so an unavailable syscall FAILS this test (it is not skipped).
 *
 * The corpus: validate.test.ts's one-blob-per-rule tables, the reference-loop shapes of btf.c's
 * resolver (modifier/typedef cycles entered from a chain, cycles through arrays/structs by value,
 * pointer loops found through a resolved modifier, loops reached from VAR/DATASEC/DECL_TAG, a loop
 * reached from a later root), the resolver's quirks (RESOLVE_QUIRKS), DECL_TAG/TYPE_TAG with and
 * without kind_flag, names per kind, member checks per member kind, a blob over BTF_MAX_SIZE,
 * seeded random type graphs, and seeded word/name mutations of small valid blobs and of the loop
 * shapes. KBTF_ORACLE_MUTATIONS=N multiplies the seeded part (N=60: 79,929 blobs agreed).
 */
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { HOST_LE } from '@kbtf/binary';
import { companionRules, validateBtf } from '@kbtf/btf';
import { K, TestBtf, rng } from '../../packages/btf/src/test-builder.js';
import { HEADER_CASES, META_CASES, RESOLVE_CASES, RESOLVE_QUIRKS, good, stringsFirst } from '../../packages/btf/src/test-validate-cases.js';

const ORACLE_SRC = resolve(__dirname, '../../tools/btf-oracle/btf-load.c');

interface Verdict {
  accepted: boolean;
  errno: number;
  log: string;
  /** The last "[id] KIND name details" line up to `log`. */
  head: string;
}

/** good() (types 1..9) plus the records `add` appends from type 10. */
function withGood(add: (b: TestBtf) => void): Uint8Array {
  const b = good();
  add(b);
  return b.build();
}

/** Reference-loop shapes and their valid neighbours, appended to good() from type 10. */
const LOOPS: [string, (b: TestBtf) => void][] = [
  ['typedef cycle entered from a typedef', (b) => { b.typedef('a', 11); b.ref(K.CONST, 12); b.typedef('b', 11); }],
  ['const/volatile cycle entered from a chain of three', (b) => { b.typedef('a', 11); b.ref(K.VOLATILE, 12); b.ref(K.CONST, 13); b.ref(K.VOLATILE, 14); b.ref(K.CONST, 13); }],
  ['modifier cycle entered from a PTR', (b) => { b.ptr(11); b.ref(K.CONST, 12); b.typedef('t', 11); }],
  ['PTR cycle entered from a chain', (b) => { b.ref(K.CONST, 11); b.ptr(12); b.ref(K.CONST, 11); }],
  ['type_tag/volatile/const/typedef ring', (b) => { b.typeTag('user', 11); b.ref(K.VOLATILE, 12); b.ref(K.CONST, 13); b.typedef('t', 10); }],
  ['restrict/typedef ring behind type_tag', (b) => { b.typeTag('user', 11); b.ref(K.RESTRICT, 12); b.typedef('t', 11); }],
  ['struct by value through a typedef', (b) => { b.struct('A', 4, [['b', 11, 0]]); b.typedef('B_t', 12); b.struct('B', 4, [['a', 10, 0]]); }],
  ['struct by value through const and an array', (b) => { b.struct('A', 8, [['b', 11, 0]]); b.ref(K.CONST, 12); b.array(10, 1, 1); }],
  ['array of itself', (b) => b.array(10, 1, 2)],
  ['array of a typedef of itself', (b) => { b.array(11, 1, 2); b.typedef('t', 10); }],
  ['array indexed by a typedef loop', (b) => { b.array(1, 11, 2); b.typedef('i', 12); b.typedef('j', 11); }],
  ['union holding itself through volatile', (b) => { b.struct('u', 4, [['x', 11, 0]], { union: true }); b.ref(K.VOLATILE, 10); }],
  ['struct holding a pointer to itself through typedef (valid)', (b) => { b.struct('n', 8, [['next', 11, 0]]); b.typedef('np', 12); b.ptr(10); }],
  ['struct holding a typedef of a pointer to itself, pointer first (valid)', (b) => { b.ptr(11); b.struct('n', 8, [['next', 12, 0]]); b.typedef('np', 10); }],
  ['PTR loop inside struct mode', (b) => { b.struct('s', 8, [['p', 11, 0]]); b.ptr(12); b.ref(K.CONST, 11); }],
  ['PTR to a typedef of a pointer resolved earlier (valid)', (b) => { b.struct('s', 8, [['m', 11, 0]]); b.typedef('t', 12); b.ptr(1); b.ptr(11); }],
  ['loop reached from a later root after an earlier root resolved the chain head', (b) => { b.typedef('h', 1); b.ref(K.CONST, 12); b.typedef('x', 13); b.ref(K.VOLATILE, 12); }],
  ['two roots sharing a chain, the second closes a loop', (b) => { b.ref(K.CONST, 12); b.ref(K.CONST, 12); b.typedef('t', 13); b.ref(K.VOLATILE, 11); }],
  ['VAR of a typedef loop', (b) => { b.var('v', 11); b.typedef('a', 12); b.typedef('b', 11); }],
  ['DATASEC entry VAR of a const loop', (b) => { b.datasec('.bss', 8, [[11, 0, 8]]); b.var('v', 12); b.ref(K.CONST, 13); b.ref(K.VOLATILE, 12); }],
  ['DATASEC second entry VAR of a struct loop, first a pointer', (b) => { b.datasec('.bss', 16, [[11, 0, 8], [12, 8, 4]]); b.var('p', 5); b.var('s', 13); b.struct('S', 4, [['x', 14, 0]]); b.typedef('S_t', 13); }],
  ['DECL_TAG on a typedef loop', (b) => { b.declTag('tag', 11); b.typedef('a', 12); b.typedef('b', 11); }],
  ['DECL_TAG on a struct holding itself', (b) => { b.declTag('tag', 11, 0); b.struct('S', 4, [['x', 11, 0]]); }],
  ['FUNC_PROTO returning a typedef loop', (b) => { b.funcProto(11, []); b.typedef('a', 12); b.typedef('b', 11); }],
  ['modifier of a FWD (valid)', (b) => { b.ref(K.CONST, 11); b.fwd('f'); b.ptr(10); }],
  ['const void behind a typedef (valid)', (b) => { b.typedef('v', 11); b.ref(K.CONST, 0); b.ptr(10); }],
  ['typedef of a FUNC_PROTO (valid)', (b) => { b.typedef('fn', 8); b.ptr(10); }],
  ['DATASEC entry smaller than a VAR of an array sized late', (b) => { b.ptr(11); b.ref(K.CONST, 14); b.var('v', 11); b.datasec('.d', 8, [[12, 0, 8]]); b.array(3, 1, 100); }],
  ['depth 31 chain (valid)', (b) => { for (let i = 0; i < 30; i++) b.ref(K.CONST, 11 + i); b.int('x'); }],
  ['depth 32 chain', (b) => { for (let i = 0; i < 31; i++) b.ref(K.CONST, 11 + i); b.int('x'); }],
  ['depth 33 chain', (b) => { for (let i = 0; i < 32; i++) b.ref(K.CONST, 11 + i); b.int('x'); }],
  ['struct nesting 33 deep', (b) => { for (let i = 0; i < 33; i++) b.struct(`s${i}`, 4, [['m', 11 + i, 0]]); b.int('x'); }],
];

/** DECL_TAG and TYPE_TAG with and without kind_flag, on each target kind. */
const TAGS: [string, (b: TestBtf) => void][] = [
  ['TYPE_TAG', (b) => { b.typeTag('user', 1); b.ptr(10); }],
  ['TYPE_TAG kind_flag', (b) => { b.rec(K.TYPE_TAG, 'user', 1, [], 0, true); b.ptr(10); }],
  ['TYPE_TAG kind_flag on a pointer', (b) => b.rec(K.TYPE_TAG, 'attr', 5, [], 0, true)],
  ['TYPE_TAG after const', (b) => { b.ref(K.CONST, 11); b.typeTag('user', 1); }],
  ['TYPE_TAG kind_flag after const', (b) => { b.ref(K.CONST, 11); b.rec(K.TYPE_TAG, 'user', 1, [], 0, true); }],
  ['DECL_TAG on struct', (b) => b.declTag('t', 4)],
  ['DECL_TAG on struct member', (b) => b.declTag('t', 4, 1)],
  ['DECL_TAG on func', (b) => b.declTag('t', 9)],
  ['DECL_TAG on func arg', (b) => b.declTag('t', 9, 0)],
  ['DECL_TAG on var', (b) => b.declTag('t', 6)],
  ['DECL_TAG on typedef', (b) => { b.declTag('t', 11); b.typedef('td', 1); }],
  ['DECL_TAG kind_flag on struct', (b) => b.rec(K.DECL_TAG, 'a', 4, [-1], 0, true)],
  ['DECL_TAG kind_flag on struct member', (b) => b.rec(K.DECL_TAG, 'a', 4, [1], 0, true)],
  ['DECL_TAG kind_flag on func', (b) => b.rec(K.DECL_TAG, 'a', 9, [-1], 0, true)],
  ['DECL_TAG kind_flag on func arg', (b) => b.rec(K.DECL_TAG, 'a', 9, [0], 0, true)],
  ['DECL_TAG kind_flag on var', (b) => b.rec(K.DECL_TAG, 'a', 6, [-1], 0, true)],
  ['DECL_TAG kind_flag on typedef', (b) => { b.rec(K.DECL_TAG, 'a', 11, [-1], 0, true); b.typedef('td', 1); }],
  ['DECL_TAG kind_flag on int', (b) => b.rec(K.DECL_TAG, 'a', 1, [-1], 0, true)],
  ['DECL_TAG kind_flag component_idx -2', (b) => b.rec(K.DECL_TAG, 'a', 4, [-2], 0, true)],
  ['DECL_TAG kind_flag and vlen', (b) => b.rec(K.DECL_TAG, 'a', 4, [-1], 1, true)],
];

/** Names per kind (btf_name_valid_identifier, KSYM_NAME_LEN; section names). */
const NAMES: [string, (b: TestBtf) => void][] = [
  ['DATASEC name with a dash', (b) => b.datasec('.data.a-b', 4, [[6, 0, 4]])],
  ['DATASEC name with a question mark', (b) => b.datasec('?.bss', 4, [[6, 0, 4]])],
  ['DATASEC name with a slash', (b) => b.datasec('.data/x', 4, [[6, 0, 4]])],
  ['DATASEC name with a space', (b) => b.datasec('.data x', 4, [[6, 0, 4]])],
  ['DATASEC name starting with a digit', (b) => b.datasec('1data', 4, [[6, 0, 4]])],
  ['DATASEC name with a Latin-1 letter', (b) => b.datasec('.caf\xe9', 4, [[6, 0, 4]])],
  ['DATASEC name with DEL', (b) => b.datasec('.d\x7f', 4, [[6, 0, 4]])],
  ['DATASEC name with a C1 control byte', (b) => b.datasec('.d\x85', 4, [[6, 0, 4]])],
  ['DATASEC name starting with a control byte', (b) => b.datasec('\x01d', 4, [[6, 0, 4]])],
  ['DATASEC name of 512 characters', (b) => b.datasec('d'.repeat(512), 4, [[6, 0, 4]])],
  ['DATASEC name of 513 characters', (b) => b.datasec('d'.repeat(513), 4, [[6, 0, 4]])],
  ['TYPEDEF name with a Latin-1 letter', (b) => b.typedef('caf\xe9', 1)],
  ['TYPEDEF name starting with a Latin-1 letter', (b) => b.typedef('\xe9t\xe9', 1)],
  ['TYPEDEF name with a multiplication sign', (b) => b.typedef('a\xd7b', 1)],
  ['TYPEDEF name with a division sign', (b) => b.typedef('a\xf7', 1)],
  ['STRUCT member name with a no-break space', (b) => b.struct('s', 4, [['a\xa0b', 1, 0]])],
  ['VAR name with a dot', (b) => b.var('a.b', 1)],
  ['VAR name with a dash', (b) => b.var('a-b', 1)],
  ['FUNC name with a dot', (b) => b.func('f.isra.0', 8)],
  ['FUNC name with a dollar', (b) => b.func('f$x', 8)],
  ['STRUCT name with a dot', (b) => b.struct('s.t', 4, [])],
  ['TYPEDEF name of 511 characters', (b) => b.typedef('t'.repeat(511), 1)],
  ['TYPEDEF name of 512 characters', (b) => b.typedef('t'.repeat(512), 1)],
  ['TYPEDEF name of 513 characters', (b) => b.typedef('t'.repeat(513), 1)],
  ['FUNC_PROTO argument name of 513 characters', (b) => b.funcProto(1, [['a'.repeat(513), 1]])],
  ['ENUM value name with a dot', (b) => b.enum('e', 4, [['A.B', 1]])],
  ['FWD name with a dash', (b) => b.fwd('a-b')],
  ['TYPE_TAG value with spaces and symbols', (b) => b.typeTag('a b(c)-"d"', 1)],
  ['DECL_TAG value with spaces and symbols', (b) => b.declTag('a b(c)-"d"', 4)],
];


/** Word values a mutation writes: ids near the blob's, small sizes, kinds in the info word. */
const WORDS = [0, 1, 2, 3, 4, 5, 8, 10, 11, 12, 13, 0xffffffff, 0x80000000, 32, 64];

/**
 * Seeded mutations of the type and string sections (the header stays valid, so the verdict comes
 * from the string, per-type and resolve rules): a word replaced by an id or size, an info word's
 * kind or kind_flag changed, a bit flipped, a name byte replaced.
 */
function mutations(src: Uint8Array, count: number, seed: number): Uint8Array[] {
  const r = rng(seed);
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const typeLen = dv.getUint32(12, true);
  const out: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const b = src.slice();
    const v = new DataView(b.buffer);
    const edits = 1 + Math.floor(r() * 3);
    for (let e = 0; e < edits; e++) {
      const at = 24 + (Math.floor(r() * (typeLen / 4)) << 2);
      const op = r();
      if (op < 0.1) {
        b[24 + typeLen + 1 + Math.floor(r() * (b.length - 25 - typeLen))] = Math.floor(r() * 256); // a name byte
        continue;
      }
      if (op < 0.5) v.setUint32(at, WORDS[Math.floor(r() * WORDS.length)], true);
      else if (op < 0.7) v.setUint32(at, ((1 + Math.floor(r() * 19)) << 24) | (v.getUint32(at, true) & 0x8000ffff), true);
      else if (op < 0.8) v.setUint32(at, v.getUint32(at, true) ^ 0x80000000, true);
      else v.setUint32(at, v.getUint32(at, true) ^ (1 << Math.floor(r() * 32)), true);
    }
    out.push(b);
  }
  return out;
}

/** Small valid blobs to mutate: good(), and a blob dense in references (modifiers, arrays, tags). */
function dense(): Uint8Array {
  const b = new TestBtf();
  const int = b.int('int'); // 1
  const td = b.typedef('u32', int); // 2
  const c = b.ref(K.CONST, td); // 3
  const p = b.ptr(c); // 4
  const arr = b.array(td, int, 4); // 5
  const s = b.struct('s', 32, [['a', arr, 0], ['p', p, 128], ['n', 7, 192]]); // 6
  b.ptr(s); // 7
  b.typeTag('user', 9); // 8
  b.ref(K.VOLATILE, int); // 9
  const v = b.var('g', s); // 10
  b.datasec('.bss', 32, [[v, 0, 32]]); // 11
  b.declTag('tag', s, 1); // 12
  const proto = b.funcProto(p, [['x', 8], ['y', arr]]); // 13
  b.func('f', proto); // 14
  return b.build();
}

/**
 * Seeded random type graphs that pass the per-type checks by construction, so the verdict is the
 * resolver's: after good()'s nine types, 4–12 records of reference kinds (modifiers, PTR, ARRAY,
 * STRUCT/UNION, VAR, DATASEC, DECL_TAG, FUNC, FUNC_PROTO) pointing at random ids of the blob; every
 * other graph `roomy`.
 */
/** Member checks per member type (check_member / check_kflag_member), appended from type 10. */
const MEMBERS: [string, (b: TestBtf) => void][] = [
  ['ENUM member, kind_flag, no bitfield', (b) => { b.struct('s', 8, [['e', 11, 0, 0]], { kflag: true }); b.enum('e', 4, [['A', 1]]); }],
  ['ENUM member, kind_flag, bitfield 3 at bit 5', (b) => { b.struct('s', 4, [['e', 11, 5, 3]], { kflag: true }); b.enum('e', 4, [['A', 1]]); }],
  ['ENUM member, kind_flag, bitfield 33', (b) => { b.struct('s', 8, [['e', 11, 0, 33]], { kflag: true }); b.enum('e', 4, [['A', 1]]); }],
  ['ENUM member, kind_flag, unaligned without bitfield', (b) => { b.struct('s', 8, [['e', 11, 3, 0]], { kflag: true }); b.enum('e', 4, [['A', 1]]); }],
  ['ENUM member exceeding the struct', (b) => { b.struct('s', 2, [['e', 11, 0]]); b.enum('e', 4, [['A', 1]]); }],
  ['ENUM64 member, kind_flag, no bitfield', (b) => { b.struct('s', 8, [['e', 11, 0, 0]], { kflag: true }); b.enum64('e', 8, [['A', 1n]]); }],
  ['ENUM64 member, kind_flag, no bitfield, struct of 4', (b) => { b.struct('s', 4, [['e', 11, 0, 0]], { kflag: true }); b.enum64('e', 8, [['A', 1n]]); }],
  ['ENUM64 member, kind_flag, bitfield 40', (b) => { b.struct('s', 8, [['e', 11, 0, 40]], { kflag: true }); b.enum64('e', 8, [['A', 1n]]); }],
  ['ENUM64 member, kind_flag, bitfield 20 at 40', (b) => { b.struct('s', 8, [['e', 11, 40, 20]], { kflag: true }); b.enum64('e', 8, [['A', 1n]]); }],
  ['FLOAT member misaligned', (b) => { b.struct('s', 16, [['f', 11, 16]]); b.float('double', 8); }],
  ['FLOAT member aligned to 8', (b) => { b.struct('s', 16, [['f', 11, 64]]); b.float('double', 8); }],
  ['FLOAT long double at 8', (b) => { b.struct('s', 32, [['f', 11, 64]]); b.float('ld', 16); }],
  ['FLOAT member exceeding the struct', (b) => { b.struct('s', 12, [['f', 11, 64]]); b.float('double', 8); }],
  ['FLOAT member with a bitfield', (b) => { b.struct('s', 16, [['f', 11, 0, 8]], { kflag: true }); b.float('double', 8); }],
  ['INT member with int offset', (b) => { b.struct('s', 4, [['i', 11, 0]]); b.int('i4', 4, 0, 8, 4); }],
  ['INT member with int offset past the struct', (b) => { b.struct('s', 1, [['i', 11, 4]]); b.int('i4', 4, 0, 8, 4); }],
  ['INT 128 member at bit 1', (b) => { b.struct('s', 32, [['i', 11, 1]]); b.int('i128', 16, 0, 128); }],
  ['INT member, kind_flag, bitfield 1 at bit 127', (b) => { b.struct('s', 16, [['i', 1, 127, 1]], { kflag: true }); }],
  ['typedef of INT member, kind_flag, bitfield 3', (b) => { b.struct('s', 4, [['i', 11, 0, 3]], { kflag: true }); b.typedef('u', 1); }],
  ['typedef of ENUM member, kind_flag, bitfield 3', (b) => { b.struct('s', 4, [['e', 11, 0, 3]], { kflag: true }); b.typedef('et', 12); b.enum('e', 4, [['A', 1]]); }],
  ['const of struct member, kind_flag, bitfield 3', (b) => { b.struct('s', 32, [['n', 11, 0, 3]], { kflag: true }); b.ref(K.CONST, 4); }],
  ['array member, kind_flag, no bitfield', (b) => { b.struct('s', 32, [['a', 11, 0, 0]], { kflag: true }); b.array(1, 1, 8); }],
  ['array member exceeding the struct', (b) => { b.struct('s', 16, [['a', 11, 0]]); b.array(1, 1, 8); }],
  ['pointer member exceeding the struct', (b) => { b.struct('s', 4, [['p', 5, 0]]); }],
  ['union of two structs', (b) => { b.struct('u', 16, [['a', 4, 0], ['b', 3, 0]], { union: true }); }],
  ['empty struct of size 0', (b) => { b.struct('e', 0, []); b.struct('s', 4, [['e', 10, 0], ['x', 1, 0]]); }],
  ['array of a zero-size struct', (b) => { b.struct('e', 0, []); b.array(10, 1, 4); }],
  ['array of 0 elements of a huge array', (b) => { b.array(3, 1, 0x10000000); b.array(10, 1, 0); }],
  ['array of arrays overflowing', (b) => { b.array(3, 1, 0x10000); b.array(10, 1, 0x10000); }],
  ['array indexed by a typedef of int', (b) => { b.array(1, 11, 2); b.typedef('idx', 1); }],
  ['array indexed by an enum', (b) => { b.array(1, 11, 2); b.enum('e', 4, [['A', 1]]); }],
  ['array indexed by a 16-byte int', (b) => { b.array(1, 11, 2); b.int('i128', 16, 0, 128); }],
  ['array of a bool', (b) => { b.array(11, 1, 2); b.int('bool', 1, 4, 8); }],
  ['DATASEC entry of a VAR of FWD-typed pointer', (b) => { b.var('v', 11); b.ptr(12); b.fwd('f'); b.datasec('.d', 8, [[10, 0, 8]]); }],
  ['DATASEC entry larger than its VAR', (b) => b.datasec('.d', 16, [[6, 0, 16]])],
  ['VAR of a void pointer typedef', (b) => { b.var('v', 11); b.typedef('vp', 12); b.ptr(0); }],
  ['VAR of const void', (b) => { b.var('v', 11); b.ref(K.CONST, 0); }],
  ['FUNC_PROTO returning a FUNC', (b) => b.funcProto(9, [])],
  ['FUNC_PROTO argument void in the middle', (b) => b.funcProto(1, [['a', 0], ['b', 1]])],
  ['FUNC_PROTO only vararg', (b) => b.funcProto(1, [['', 0]])],
  ['FUNC_PROTO argument a FUNC_PROTO', (b) => b.funcProto(1, [['a', 8]])],
  ['FUNC of a FUNC_PROTO with a vararg', (b) => { b.func('f', 11); b.funcProto(1, [['a', 1], ['', 0]]); }],
];

function randomGraph(r: () => number, roomy = false): Uint8Array {
  const b = good();
  const n = 4 + Math.floor(r() * 9);
  const end = 10 + n;
  const any = () => Math.floor(r() * end);
  // Roomy graphs point mostly at reference kinds (ids 10+) or sized types and give structs and
  // sections room, so that more of them resolve and the loops and depth decide the verdict.
  const some = () => (roomy && r() < 0.7 ? 10 + Math.floor(r() * n) : roomy ? [1, 3, 4, 5][Math.floor(r() * 4)] : 1 + Math.floor(r() * (end - 1)));
  for (let i = 0; i < n; i++) {
    const pick = Math.floor(r() * 13);
    if (pick === 0) b.ref(K.CONST, any());
    else if (pick === 1) b.ref(K.VOLATILE, any());
    else if (pick === 2) b.typedef(`t${i}`, any());
    else if (pick === 3) b.typeTag('tag', any());
    else if (pick <= 5) b.ptr(any());
    else if (pick === 6) b.array(some(), r() < 0.8 ? 1 : some(), Math.floor(r() * 4));
    else if (pick === 7) {
      const m = 1 + Math.floor(r() * 3);
      const size = roomy ? 4096 : 8 * (m + Math.floor(r() * 3));
      b.struct(`s${i}`, size, Array.from({ length: m }, (_, j) => [`m${j}`, some(), j * 64] as [string, number, number]), { union: r() < 0.2 && m === 1 });
    } else if (pick === 8) b.var(`v${i}`, some());
    else if (pick === 9) b.datasec(`.d${i}`, roomy ? 8192 : 64, [[roomy ? 6 : some(), 0, roomy ? 8192 : 8 * (1 + Math.floor(r() * 4))]]);
    else if (pick === 10) b.declTag('dt', roomy ? [4, 6, 9][Math.floor(r() * 3)] : some(), r() < 0.7 ? -1 : Math.floor(r() * 2));
    else if (pick === 11) b.func(`f${i}`, roomy ? 8 : some());
    else b.funcProto(any(), [['a', some()]]);
  }
  return b.build();
}

/** BTF_MAX_SIZE (16 MiB) + 4 bytes: good() with its string section padded with NULs. */
function tooLarge(): Uint8Array {
  const small = good().build();
  const out = new Uint8Array((16 << 20) + 4);
  out.set(small);
  const dv = new DataView(out.buffer);
  dv.setUint32(20, dv.getUint32(20, true) + out.length - small.length, true);
  return out;
}

interface Case {
  name: string;
  bytes: Uint8Array;
}

function corpus(): Case[] {
  const cases: Case[] = [{ name: 'good', bytes: good().build() }, { name: 'dense', bytes: dense() }];
  for (const [name, make] of HEADER_CASES) cases.push({ name: `header: ${name}`, bytes: make() });
  cases.push({ name: 'header: strings first', bytes: stringsFirst() });
  cases.push({ name: 'header: BTF too large', bytes: tooLarge() });
  for (const [name, add] of META_CASES) cases.push({ name: `meta: ${name}`, bytes: withGood(add) });
  for (const [name, add] of RESOLVE_CASES) cases.push({ name: `resolve: ${name}`, bytes: withGood(add) });
  for (const [name, add] of RESOLVE_QUIRKS) cases.push({ name: `quirk: ${name}`, bytes: withGood(add) });
  for (const [name, add] of LOOPS) cases.push({ name: `loop: ${name}`, bytes: withGood(add) });
  for (const [name, add] of TAGS) cases.push({ name: `tag: ${name}`, bytes: withGood(add) });
  for (const [name, add] of NAMES) cases.push({ name: `name: ${name}`, bytes: withGood(add) });
  for (const [name, add] of MEMBERS) cases.push({ name: `member: ${name}`, bytes: withGood(add) });
  const n = Number(process.env.KBTF_ORACLE_MUTATIONS ?? 1);
  mutations(good().build(), 200 * n, 1).forEach((bytes, i) => cases.push({ name: `mutation good #${i}`, bytes }));
  mutations(dense(), 300 * n, 2).forEach((bytes, i) => cases.push({ name: `mutation dense #${i}`, bytes }));
  const r = rng(3);
  for (let i = 0; i < 500 * n; i++) cases.push({ name: `random graph #${i}`, bytes: randomGraph(r, i % 2 === 1) });
  // Mutations of the loop and quirk shapes: ids moved into and out of cycles.
  [...RESOLVE_QUIRKS, ...LOOPS].forEach(([name, add], j) => {
    mutations(withGood(add), 8 * n, 100 + j).forEach((bytes, i) => cases.push({ name: `mutation of ${name} #${i}`, bytes }));
  });
  return cases;
}

/** The kernel's verdicts, in corpus order. */
function kernelVerdicts(cases: Case[]): Verdict[] {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-btf-oracle-'));
  try {
    const exe = join(dir, 'btf-load');
    execFileSync('gcc', ['-O1', '-Wall', '-o', exe, ORACLE_SRC]);
    const files = cases.map((c, i) => {
      const f = join(dir, `${i}.btf`);
      writeFileSync(f, c.bytes);
      return f;
    });
    const r = spawnSync(exe, [], { input: files.join('\n') + '\n', encoding: 'utf8', maxBuffer: 1 << 30 });
    if (r.error) throw r.error;
    if (r.status === 3) {
      throw new Error(`the kernel's BTF verifier is not reachable (${r.stderr.trim()}): this test needs root and bpf(2); CI runs as root`);
    }
    if (r.status !== 0) throw new Error(`btf-load failed (${r.status}): ${r.stderr}`);
    return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Verdict);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Where kbtf's words differ from the kernel's on purpose: kbtf message → the kernel log line's
 * ending.
 */
const WORDING: Record<string, string> = {
  // bpf_btf_load refuses a blob over BTF_MAX_SIZE with E2BIG before the verifier logs anything.
  'BTF too large': '',
};

/**
 * Messages the kernel logs without a type id (btf_verifier_log, not btf_verifier_log_type): kbtf
 * names the type where the check failed.
 */
const NO_ID = new Set(["Type tags don't precede modifiers", 'Max chain length or cycle detected']);

/**
 * Whether the kernel's last log line is the message kbtf gives, for the type id kbtf names: the id
 * of the line itself, or for a member or DATASEC entry line ("\t…") or a line cut by a newline byte
 * in a name, of the last "[id]" line above it.
 */
function sameReason(k: Verdict, typeId: number, message: string): boolean {
  const want = WORDING[message] ?? message;
  const log = k.log;
  if (!(log === want || log.endsWith(` ${want}`))) return false;
  if (NO_ID.has(message)) return log === want;
  // A member/entry line, or the rest of a line cut by a newline byte in a name: the id is above.
  const id = /^\[(\d+)\]/.exec(log.startsWith('[') ? log : k.head);
  return id ? Number(id[1]) === typeId : typeId === 0;
}

describe('validator vs the running kernel (BPF_BTF_LOAD)', () => {
  it(`every corpus blob: same verdict and reason as the kernel (${release()}: ${companionRules(release())} rules)`, () => {
    const cases = corpus();
    const kernel = kernelVerdicts(cases);
    expect(kernel.length).toBe(cases.length);
    const rules = companionRules(release());
    const diffs: string[] = [];
    let accepted = 0;
    for (let i = 0; i < cases.length; i++) {
      const k = kernel[i];
      const r = validateBtf(cases[i].bytes, { mode: 'full', kernel: rules, littleEndian: HOST_LE });
      const e = r.errors[0];
      if (k.accepted) accepted++;
      if (k.accepted !== r.valid) {
        diffs.push(`${cases[i].name}: kernel ${k.accepted ? 'accepts' : `rejects (${k.log})`}, kbtf ${r.valid ? 'accepts' : `rejects ([${e.typeId}] ${e.message})`}`);
      } else if (!k.accepted && !sameReason(k, e.typeId, e.message)) {
        diffs.push(`${cases[i].name}: kernel "${k.log}", kbtf "[${e.typeId}] ${e.message}"`);
      }
    }
    console.info(`kernel oracle: ${cases.length} blobs, ${accepted} accepted, ${cases.length - accepted} rejected`);
    expect(diffs).toEqual([]);
    // The corpus exercises both verdicts.
    expect(accepted).toBeGreaterThan(20);
    expect(cases.length - accepted).toBeGreaterThan(200);
  });
});
