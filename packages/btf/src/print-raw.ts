/**
 * The raw printer: the format of `bpftool btf dump file F format raw` (bpftool 7.1,
 * tools/bpf/bpftool/btf.c dump_btf_type), line for line. For split BTF only the split's own types
 * are printed, as bpftool does with `--base-btf`.
 */
import type { Btf } from './btf.js';
import { LINKAGE_NAMES, type BtfType } from './types.js';

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
  const parts: string[] = [];
  for (const t of btf.types()) parts.push(formatRawType(btf, t));
  parts.push('');
  return parts.join('\n');
}

/** Stream the raw dump in chunks (for large BTF written to a stream). */
export function* formatRawChunks(btf: Btf, chunkTypes = 4096): IterableIterator<string> {
  let parts: string[] = [];
  for (const t of btf.types()) {
    parts.push(formatRawType(btf, t));
    if (parts.length >= chunkTypes) {
      yield parts.join('\n') + '\n';
      parts = [];
    }
  }
  if (parts.length) yield parts.join('\n') + '\n';
}
