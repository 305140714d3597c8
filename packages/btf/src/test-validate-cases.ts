/**
 * The validator's per-rule blobs, one failing blob per kernel rule: used by validate.test.ts (kbtf
 * alone) and by test/btf/kernel-oracle.test.ts (the same blobs handed to the running kernel's
 * BPF_BTF_LOAD). Not part of the build.
 */
import { K, TestBtf } from './test-builder.js';

/** A valid blob: int, char, long, a struct with a pointer to itself, a var in a datasec, a func. */
export function good(): TestBtf {
  const b = new TestBtf();
  const int = b.int('int'); // 1
  b.int('char', 1, 2); // 2
  b.int('long', 8, 1); // 3
  const s = b.struct('node', 16, [['val', int, 0], ['next', 5, 64]]); // 4
  b.ptr(s); // 5
  const v = b.var('counter', int); // 6
  b.datasec('.data', 8, [[v, 0, 4]]); // 7
  const proto = b.funcProto(int, [['x', int]]); // 8
  b.func('get', proto); // 9
  return b;
}

/** Header and string-section blobs (btf_parse_hdr, btf_parse_str_sec): [name, blob, message]. */
export const HEADER_CASES: [string, () => Uint8Array, string][] = [
  ['hdr_len not found', () => new Uint8Array([0x9f, 0xeb, 1]), 'hdr_len not found'],
  ['btf_header not found', () => good().build({ hdrLen: 1 << 20 }), 'btf_header not found'],
  ['Unsupported btf_header', () => good().build({ headerExtra: [0, 0, 0, 1] }), 'Unsupported btf_header'],
  ['Invalid magic', () => good().build({ magic: 0x1234 }), 'Invalid magic'],
  ['Unsupported version', () => good().build({ version: 2 }), 'Unsupported version'],
  ['Unsupported flags', () => good().build({ flags: 1 }), 'Unsupported flags'],
  ['No data', () => new TestBtf().build({ strings: [], typeLen: 0, strLen: 0, strOff: 0 }), 'No data'],
  ['Invalid section offset', () => good().build({ strOff: 1 << 20 }), 'Invalid section offset'],
  ['Unsupported section found (gap)', () => good().build({ typeOff: 4, strOff: 4 + 9 * 12 + 100 }), 'Unsupported section found'],
  ['Section overlap found', () => { const b = good(); return b.build({ strOff: 8 }); }, 'Section overlap found'],
  ['Total section length too long', () => good().build({ strLen: 1 << 20 }), 'Total section length too long'],
  ['Unsupported section found (trailing)', () => good().build({ trailing: [0, 0, 0, 0] }), 'Unsupported section found'],
  ['Invalid string section (first byte)', () => { const b = good(); b.build(); return b.build({ strings: [1, 0] }); }, 'Invalid string section'],
  ['Invalid string section (last byte)', () => new TestBtf().build({ strings: [0, 0x61] }), 'Invalid string section'],
  // Only reachable with an empty type section placed after an odd-sized string section.
  ['Unaligned type_off', () => new TestBtf().build({ strings: [0, 0x61, 0], strOff: 0, typeOff: 3, typeLen: 0 }), 'Unaligned type_off'],
  ['No type found', () => new TestBtf().build(), 'No type found'],
];

/** A valid blob with its two sections swapped: strings first, types after. */
export function stringsFirst(): Uint8Array {
  const x = good().build();
  const dv = new DataView(x.buffer, x.byteOffset);
  const typeLen = dv.getUint32(12, true);
  const strLen = dv.getUint32(20, true);
  const y = new Uint8Array(x.length);
  y.set(x.subarray(0, 24));
  y.set(x.subarray(24 + typeLen), 24);
  y.set(x.subarray(24, 24 + typeLen), 24 + strLen);
  const dy = new DataView(y.buffer);
  dy.setUint32(8, strLen, true);
  dy.setUint32(16, 0, true);
  return y;
}

/** Meta-phase rules (btf_check_all_metas): [name, record(s) appended to good() as type 10, message]. */
export const META_CASES: [string, (b: TestBtf) => void, string][] = [
  ['truncated record', (b) => b.records.push([0, 0]), 'meta_left:8 meta_needed:12'],
  ['Invalid btf_info', (b) => b.raw('', 0x00010000 | (K.INT << 24), 4, 32), 'Invalid btf_info:1010000'],
  ['Invalid kind (0)', (b) => b.raw('', 0, 0), 'Invalid kind:0'],
  ['Invalid kind (20)', (b) => b.raw('', 20 << 24, 0), 'Invalid kind:20'],
  ['Invalid name_offset', (b) => b.raw(1 << 20, K.INT << 24, 4, 32), 'Invalid name_offset:1048576'],
  ['meta_needed', (b) => b.raw('s', (K.STRUCT << 24) | 3, 4), 'meta_left:0 meta_needed:36'],
  ['INT vlen != 0', (b) => b.rec(K.INT, 'i', 4, [32], 1), 'vlen != 0'],
  ['INT kind_flag', (b) => b.rec(K.INT, 'i', 4, [32], 0, true), 'Invalid btf_info kind_flag'],
  ['INT Invalid int_data', (b) => b.rec(K.INT, 'i', 4, [0x10000020]), 'Invalid int_data:10000020'],
  ['INT nr_bits exceeds 128', (b) => b.int('i', 32, 0, 129), 'nr_bits exceeds 128'],
  ['INT nr_bits exceeds type_size', (b) => b.int('i', 4, 0, 33), 'nr_bits exceeds type_size'],
  ['INT Unsupported encoding', (b) => b.int('i', 4, 3), 'Unsupported encoding'],
  ['PTR named', (b) => b.ref(K.PTR, 1, 'p'), 'Invalid name'],
  ['CONST vlen', (b) => b.rec(K.CONST, '', 1, [], 1), 'vlen != 0'],
  ['VOLATILE kind_flag', (b) => b.rec(K.VOLATILE, '', 1, [], 0, true), 'Invalid btf_info kind_flag'],
  ['RESTRICT Invalid type_id', (b) => b.ref(K.RESTRICT, 0x100000), 'Invalid type_id'],
  ['TYPEDEF without name', (b) => b.typedef('', 1), 'Invalid name'],
  ['TYPEDEF bad identifier', (b) => b.typedef('1abc', 1), 'Invalid name'],
  ['TYPE_TAG empty', (b) => b.typeTag('', 1), 'Invalid name'],
  ['FWD vlen', (b) => b.rec(K.FWD, 'f', 0, [], 1), 'vlen != 0'],
  ['FWD type != 0', (b) => b.rec(K.FWD, 'f', 1), 'type != 0'],
  ['FWD without name', (b) => b.fwd(''), 'Invalid name'],
  ['ARRAY named', (b) => b.rec(K.ARRAY, 'a', 0, [1, 1, 2]), 'Invalid name'],
  ['ARRAY vlen', (b) => b.rec(K.ARRAY, '', 0, [1, 1, 2], 1), 'vlen != 0'],
  ['ARRAY kind_flag', (b) => b.rec(K.ARRAY, '', 0, [1, 1, 2], 0, true), 'Invalid btf_info kind_flag'],
  ['ARRAY size != 0', (b) => b.rec(K.ARRAY, '', 4, [1, 1, 2]), 'size != 0'],
  ['ARRAY Invalid elem', (b) => b.array(0, 1, 2), 'Invalid elem'],
  ['ARRAY Invalid index', (b) => b.array(1, 0, 2), 'Invalid index'],
  ['STRUCT bad name', (b) => b.struct('a-b', 4, []), 'Invalid name'],
  ['STRUCT member name_offset', (b) => b.rec(K.STRUCT, 's', 4, [1 << 20, 1, 0], 1), 'Invalid member name_offset:1048576'],
  ['STRUCT member bad name', (b) => b.struct('s', 4, [['a b', 1, 0]]), 'Invalid name'],
  ['STRUCT member void', (b) => b.struct('s', 4, [['a', 0, 0]]), 'Invalid type_id'],
  ['UNION member offset', (b) => b.struct('u', 8, [['a', 1, 32]], { union: true }), 'Invalid member bits_offset'],
  ['STRUCT offsets decrease', (b) => b.struct('s', 8, [['a', 1, 32], ['b', 1, 0]]), 'Invalid member bits_offset'],
  ['STRUCT offset beyond size', (b) => b.struct('s', 4, [['a', 1, 64]]), 'Member bits_offset exceeds its struct size'],
  ['ENUM size', (b) => b.enum('e', 3, [['A', 1]]), 'Unexpected size'],
  ['ENUM bad name', (b) => b.enum('e e', 4, [['A', 1]]), 'Invalid name'],
  ['ENUM value without name', (b) => b.enum('e', 4, [['', 1]]), 'Invalid name'],
  ['ENUM64 size', (b) => b.enum64('e', 16, [['A', 1n]]), 'Unexpected size'],
  ['FUNC_PROTO named', (b) => b.rec(K.FUNC_PROTO, 'p', 1), 'Invalid name'],
  ['FUNC_PROTO kind_flag', (b) => b.rec(K.FUNC_PROTO, '', 1, [], 0, true), 'Invalid btf_info kind_flag'],
  ['FUNC no name', (b) => b.func('', 8), 'Invalid name'],
  ['FUNC linkage', (b) => b.func('f', 8, 2), 'Invalid func linkage'],
  ['FUNC kind_flag', (b) => b.rec(K.FUNC, 'f', 8, [], 0, true), 'Invalid btf_info kind_flag'],
  ['VAR vlen', (b) => b.rec(K.VAR, 'v', 1, [1], 1), 'vlen != 0'],
  ['VAR kind_flag', (b) => b.rec(K.VAR, 'v', 1, [1], 0, true), 'Invalid btf_info kind_flag'],
  ['VAR no name', (b) => b.var('', 1), 'Invalid name'],
  ['VAR void', (b) => b.var('v', 0), 'Invalid type_id'],
  ['VAR extern', (b) => b.var('v', 1, 2), 'Linkage not supported'],
  ['DATASEC size 0', (b) => b.datasec('.d', 0, []), 'size == 0'],
  ['DATASEC kind_flag', (b) => b.rec(K.DATASEC, '.d', 4, [], 0, true), 'Invalid btf_info kind_flag'],
  ['DATASEC no name', (b) => b.datasec('', 4, []), 'Invalid name'],
  ['DATASEC entry void', (b) => b.datasec('.d', 8, [[0, 0, 4]]), 'Invalid type_id'],
  ['DATASEC overlapping offsets (pahole duplicate)', (b) => b.datasec('.d', 8, [[6, 0, 4], [6, 0, 4]]), 'Invalid offset'],
  ['DATASEC offset beyond size', (b) => b.datasec('.d', 8, [[6, 8, 4]]), 'Invalid offset'],
  ['DATASEC entry size 0', (b) => b.datasec('.d', 8, [[6, 0, 0]]), 'Invalid size'],
  ['DATASEC offset+size', (b) => b.datasec('.d', 8, [[6, 6, 4]]), 'Invalid offset+size'],
  ['FLOAT vlen', (b) => b.rec(K.FLOAT, 'f', 4, [], 1), 'vlen != 0'],
  ['FLOAT kind_flag', (b) => b.rec(K.FLOAT, 'f', 4, [], 0, true), 'Invalid btf_info kind_flag'],
  ['FLOAT size', (b) => b.float('f', 3), 'Invalid type_size'],
  ['DECL_TAG empty value', (b) => b.declTag('', 4), 'Invalid value'],
  ['DECL_TAG vlen', (b) => b.rec(K.DECL_TAG, 't', 4, [-1], 1), 'vlen != 0'],
  ['DECL_TAG component < -1', (b) => b.declTag('t', 4, -2), 'Invalid component_idx'],
];

/** Resolve-phase rules (btf_check_all_types): [name, records appended to good() from type 10, message]. */
export const RESOLVE_CASES: [string, (b: TestBtf) => void, string][] = [
  ['Loop detected (typedef cycle)', (b) => { b.typedef('a', 11); b.typedef('b', 10); }, 'Loop detected'],
  ['Loop detected (struct contains itself)', (b) => b.struct('s', 8, [['self', 10, 0]]), 'Loop detected'],
  ['Loop detected (const ptr to itself)', (b) => { b.ptr(11); b.ref(K.CONST, 10); }, 'Loop detected'],
  ['Exceeded max resolving depth', (b) => { for (let i = 0; i < 40; i++) b.ref(K.CONST, 11 + i); b.int('x'); }, 'Exceeded max resolving depth:32'],
  ['modifier to out-of-range id', (b) => b.ref(K.CONST, 500), 'Invalid type_id'],
  ['modifier to VAR', (b) => b.ref(K.CONST, 6), 'Invalid type_id'],
  ['PTR to a FUNC not yet resolved', (b) => { b.ptr(11); b.func('g', 8); }, 'Invalid type_id'],
  ['VAR of FWD', (b) => { b.var('v', 11); b.fwd('f'); }, 'Invalid type_id'],
  ['VAR of VAR', (b) => b.var('v', 6), 'Invalid type_id'],
  ['ARRAY index not int', (b) => b.array(1, 4, 2), 'Invalid index'],
  ['ARRAY index bitfield int', (b) => { b.array(1, 11, 2); b.int('i3', 1, 0, 3); }, 'Invalid index'],
  ['ARRAY elem FUNC_PROTO', (b) => b.array(8, 1, 2), 'Invalid elem'],
  ['ARRAY of irregular int', (b) => { b.array(11, 1, 2); b.int('i3', 1, 0, 3); }, 'Invalid array of int'],
  ['ARRAY too big', (b) => { b.array(3, 1, 0x20000000); }, 'Array size overflows U32_MAX'],
  ['STRUCT member FWD', (b) => { b.struct('s', 8, [['f', 11, 0]]); b.fwd('f'); }, 'Invalid member'],
  ['STRUCT member VAR', (b) => b.struct('s', 8, [['v', 6, 0]]), 'Invalid member'],
  ['STRUCT member exceeds size', (b) => b.struct('s', 4, [['l', 3, 0]]), 'Member exceeds struct_size'],
  ['STRUCT member not byte aligned', (b) => b.struct('s', 32, [['n', 4, 4]]), 'Member is not byte aligned'],
  ['STRUCT bitfield larger than int', (b) => b.struct('s', 8, [['b', 1, 0, 33]], { kflag: true }), 'Invalid member bitfield_size'],
  ['STRUCT bitfield on pointer', (b) => b.struct('s', 8, [['p', 5, 0, 3]], { kflag: true }), 'Invalid member bitfield_size'],
  ['STRUCT kflag member unaligned', (b) => b.struct('s', 8, [['x', 1, 3, 0]], { kflag: true }), 'Invalid member offset'],
  ['STRUCT bitfield of irregular int', (b) => { b.struct('s', 8, [['x', 11, 0, 2]], { kflag: true }); b.int('i3', 1, 0, 3); }, 'Invalid member base type'],
  ['DATASEC entry not a VAR', (b) => b.datasec('.d', 8, [[1, 0, 4]]), 'Not a VAR kind member'],
  ['DATASEC entry smaller than its (resolved) VAR', (b) => { b.var('big', 3); b.datasec('.d', 8, [[10, 0, 4]]); }, 'Invalid size'],
  ['FUNC of non-proto', (b) => b.func('f', 1), 'Invalid type_id'],
  ['FUNC with unnamed arg', (b) => { b.func('f', 11); b.funcProto(1, [['', 1]]); }, 'Invalid arg#1'],
  ['FUNC_PROTO return VAR', (b) => b.funcProto(6, []), 'Invalid return type'],
  ['FUNC_PROTO return FWD', (b) => { b.funcProto(11, []); b.fwd('f'); }, 'Invalid return type'],
  ['FUNC_PROTO named vararg', (b) => b.funcProto(1, [['x', 1], ['rest', 0]]), 'Invalid arg#2'],
  ['FUNC_PROTO arg out of range', (b) => b.funcProto(1, [['x', 999]]), 'Invalid arg#1'],
  ['FUNC_PROTO arg bad name', (b) => b.funcProto(1, [['x y', 1]]), 'Invalid arg#1'],
  ['DECL_TAG on INT', (b) => b.declTag('t', 1), 'Invalid type_id'],
  ['DECL_TAG component on VAR', (b) => b.declTag('t', 6, 0), 'Invalid component_idx'],
  ['DECL_TAG component out of range', (b) => b.declTag('t', 4, 2), 'Invalid component_idx'],
];

/**
 * Where the kernel's resolver (btf_check_all_types) gives a verdict that a simpler reading of the
 * rules would not: [name, records appended to good() from type 10, the kernel's message and the
 * type it names, or undefined when the kernel accepts]. Each one was checked on the running kernel
 * (test/btf/kernel-oracle.test.ts); validate-resolve.ts says why each happens.
 */
export const RESOLVE_QUIRKS: [string, (b: TestBtf) => void, [string, number] | undefined][] = [
  // Issue 15: pointer loops closed through a typedef that a struct resolved first (pointers are
  // sinks in struct mode), found when a later PTR or VAR pushes the typedef's resolved pointer.
  ['PTR loop through a typedef resolved in struct mode', (b) => { b.struct('s', 8, [['m', 11, 0]]); b.typedef('t', 12); b.ptr(13); b.ref(K.CONST, 11); }, ['Loop detected', 12]],
  ['VAR reaching a PTR loop through a typedef resolved in struct mode', (b) => { b.struct('s', 8, [['m', 11, 0]]); b.typedef('t', 13); b.var('v', 11); b.ptr(14); b.ref(K.CONST, 11); }, ['Loop detected', 12]],
  // Loops and resolve errors are logged on the type btf_resolve started from, or on the vertex.
  ['FUNC_PROTO argument a PTR loop: logged on the argument type', (b) => { b.funcProto(1, [['x', 11]]); b.ptr(12); b.ref(K.CONST, 11); }, ['Loop detected', 11]],
  ['an error in a chain is logged on the type that has it', (b) => { b.typeTag('user', 11); b.ref(K.VOLATILE, 500); }, ['Invalid type_id', 11]],
  // btf_type_id_size reads resolved_ids/resolved_sizes: an array not resolved yet has size 0.
  ['struct member a const array sized before the array resolves (accepted)', (b) => { b.ptr(11); b.ref(K.CONST, 13); b.struct('s', 8, [['a', 11, 0]]); b.array(3, 1, 100); }, undefined],
  ['struct member a const array resolved first', (b) => { b.array(3, 1, 100); b.ref(K.CONST, 10); b.struct('s', 8, [['a', 11, 0]]); }, ['Member exceeds struct_size', 12]],
  // A modifier of a resolved FUNC stands for its FUNC_PROTO (btf_type_id_resolve).
  ['const of a resolved FUNC (accepted)', (b) => b.ref(K.CONST, 9), undefined],
  ['PTR to a resolved FUNC (accepted)', (b) => b.ptr(9), undefined],
  // A DATASEC resumes after the VAR it pushed: that entry's size is not checked.
  ['DATASEC entry smaller than a VAR resolved for it (accepted)', (b) => { b.datasec('.d', 8, [[11, 0, 4]]); b.var('big', 3); }, undefined],
];
