/**
 * The public model of BTF types. A type carries its id (in its BTF, or in the base for split BTF),
 * its kind name, its name (empty for anonymous types) and kind-specific fields. References to other
 * types are ids. The same objects feed the writer: a list of types, each referring to others by id,
 * is a complete type graph.
 */

export type Kind =
  | 'int'
  | 'ptr'
  | 'array'
  | 'struct'
  | 'union'
  | 'enum'
  | 'fwd'
  | 'typedef'
  | 'volatile'
  | 'const'
  | 'restrict'
  | 'func'
  | 'func_proto'
  | 'var'
  | 'datasec'
  | 'float'
  | 'decl_tag'
  | 'type_tag'
  | 'enum64';

/** Kind names by wire number (index 0 is "unknown"). */
export const KIND_NAMES: readonly (Kind | 'unknown')[] = [
  'unknown', 'int', 'ptr', 'array', 'struct', 'union', 'enum', 'fwd', 'typedef', 'volatile', 'const',
  'restrict', 'func', 'func_proto', 'var', 'datasec', 'float', 'decl_tag', 'type_tag', 'enum64',
];

export function kindNumber(kind: Kind): number {
  return KIND_NAMES.indexOf(kind);
}

interface Common {
  /** The type id (0 is void and is never a type object). */
  id: number;
  name: string;
  /** Offset of the name in the string table as read (0 for anonymous); the writer ignores it. */
  nameOff?: number;
  /** The kind_flag bit as read; the writer derives it from the kind's fields. */
  kindFlag?: boolean;
}

export interface IntType extends Common {
  kind: 'int';
  size: number;
  /** BTF_INT_ENCODING bits: 1 signed, 2 char, 4 bool. */
  encoding: number;
  bitsOffset: number;
  bits: number;
}
/** PTR, TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG: a named or anonymous reference. */
export interface RefType extends Common {
  kind: 'ptr' | 'typedef' | 'volatile' | 'const' | 'restrict' | 'type_tag';
  type: number;
}
export interface ArrayType extends Common {
  kind: 'array';
  type: number;
  indexType: number;
  nelems: number;
}
export interface Member {
  name: string;
  nameOff?: number;
  type: number;
  /** Offset in bits from the start of the struct. */
  bitOffset: number;
  /** Bitfield size in bits; 0 when not a bitfield. Only encodable with kindFlag (kind_flag=1). */
  bitfieldSize: number;
}
export interface CompositeType extends Common {
  kind: 'struct' | 'union';
  size: number;
  members: Member[];
  /** kind_flag: member offsets carry bitfield sizes (bits 24-31). */
  bitfields: boolean;
}
export interface EnumValue {
  name: string;
  nameOff?: number;
  /** ENUM: a number (i32 or u32 per `signed`); ENUM64: a bigint. */
  value: number;
}
export interface Enum64Value {
  name: string;
  nameOff?: number;
  value: bigint;
}
export interface EnumType extends Common {
  kind: 'enum';
  size: number;
  /** kind_flag (6.0+): values are signed. */
  signed: boolean;
  values: EnumValue[];
}
export interface Enum64Type extends Common {
  kind: 'enum64';
  size: number;
  signed: boolean;
  values: Enum64Value[];
}
export interface FwdType extends Common {
  kind: 'fwd';
  /** kind_flag: a forward-declared union rather than a struct. */
  union: boolean;
}
export const LINKAGE_STATIC = 0;
export const LINKAGE_GLOBAL = 1;
export const LINKAGE_EXTERN = 2;
export const LINKAGE_NAMES = ['static', 'global', 'extern'];

export interface FuncType extends Common {
  kind: 'func';
  /** The FUNC_PROTO. */
  type: number;
  /** Linkage, stored in vlen: 0 static, 1 global, 2 extern. */
  linkage: number;
}
export interface Param {
  name: string;
  nameOff?: number;
  /** 0 for the last parameter of a variadic function (with an empty name). */
  type: number;
}
export interface FuncProtoType extends Common {
  kind: 'func_proto';
  /** Return type (0 = void). */
  type: number;
  params: Param[];
}
export interface VarType extends Common {
  kind: 'var';
  type: number;
  /** 0 static, 1 global, 2 extern. */
  linkage: number;
}
export interface VarSecInfo {
  /** The VAR (or FUNC for extern ksyms). */
  type: number;
  offset: number;
  size: number;
}
export interface DatasecType extends Common {
  kind: 'datasec';
  size: number;
  vars: VarSecInfo[];
}
export interface FloatType extends Common {
  kind: 'float';
  size: number;
}
export interface DeclTagType extends Common {
  kind: 'decl_tag';
  type: number;
  /** -1 for the type itself, else the member or parameter index. */
  componentIdx: number;
}

export type BtfType =
  | IntType
  | RefType
  | ArrayType
  | CompositeType
  | EnumType
  | Enum64Type
  | FwdType
  | FuncType
  | FuncProtoType
  | VarType
  | DatasecType
  | FloatType
  | DeclTagType;

export type TypeOfKind<K extends Kind> = BtfType extends infer T ? (T extends { kind: infer TK } ? (K extends TK ? T : never) : never) : never;

/** Kinds that only qualify or rename another type: `resolve` skips them. */
export const MODIFIER_KINDS: ReadonlySet<Kind> = new Set(['typedef', 'volatile', 'const', 'restrict', 'type_tag']);
