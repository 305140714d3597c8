/**
 * Printing objects the way drgn prints them (libdrgn/language_c.c): `(type)value` at the top,
 * structs one member per line with tabs, `.member = (type)value,`, the members of anonymous structs
 * and unions shown in their parent's place; arrays on one line when they fit in 80 columns,
 * trailing zero elements left out; char arrays and char pointers as C strings; pointers in hex,
 * with the symbol they point to when the caller can name it (`sym+0x0 = 0x…`); enums by name.
 */
import { FaultError, hex } from '@kbtf/binary';
import { KObject } from './object.js';
import { shape, typeName, type KType } from './ktype.js';

const COLUMNS = 80;
const MAX_STRING = 4096;

export interface FormatOptions {
  /** The symbol at exactly `address` (e.g. from kallsyms), or undefined: printed before pointers. */
  symbolize?: (address: bigint) => string | undefined;
}

/** drgn's `str(obj)`. */
export function formatObject(obj: KObject, options: FormatOptions = {}): string {
  // Read the object once and format from its bytes (a bitfield stays a reference).
  const value = obj.bitfield || obj.address === undefined ? obj : new KObject(obj.mem, obj.type, undefined, obj.bytes());
  return `(${typeName(obj.type)})${formatValue(value, 0, options)}`;
}

function formatValue(obj: KObject, depth: number, o: FormatOptions): string {
  const s = obj.shape;
  switch (s.kind) {
    case 'int':
      if (s.bool) return obj.value() !== 0n ? 'true' : 'false';
      return obj.value().toString();
    case 'enum':
      return obj.enumName() ?? obj.value().toString();
    case 'float':
      return String(obj.float());
    case 'pointer':
      return formatPointer(obj, s.target, o);
    case 'array':
      return isChar(s.elem) ? cString(obj.string()) : formatArray(obj, s.count, depth, o);
    case 'struct':
    case 'union':
      return formatComposite(obj, depth, o);
    case 'void':
    case 'func':
    case 'fwd':
      return obj.address !== undefined ? `<${s.kind} at ${hex(obj.address)}>` : `<${s.kind}>`;
  }
}

function isChar(t: KType): boolean {
  const s = shape(t);
  return s.kind === 'int' && s.char && s.size === 1;
}

function formatPointer(obj: KObject, target: KType, o: FormatOptions): string {
  const v = obj.value();
  const sym = v !== 0n ? o.symbolize?.(v) : undefined;
  const text = sym ? `${sym}+0x0 = ${hex(v)}` : hex(v);
  if (!isChar(target) || v === 0n) return text;
  try {
    return `${text} = ${cString(obj.mem.cstring(v, MAX_STRING))}`;
  } catch (err) {
    if (err instanceof FaultError) return text;
    throw err;
  }
}

function formatArray(obj: KObject, count: number, depth: number, o: FormatOptions): string {
  const elems: string[] = [];
  let last = -1;
  for (let i = 0; i < count; i++) {
    const e = obj.index(i);
    elems.push(formatValue(e, depth + 1, o));
    if (!isZero(e)) last = i;
  }
  const shown = elems.slice(0, last + 1);
  if (shown.length === 0) return '{}';
  const one = `{ ${shown.join(', ')} }`;
  const indent = '\t'.repeat(depth);
  if (!one.includes('\n') && one.length + depth * 8 <= COLUMNS) return one;
  return `{\n${shown.map((e) => `${indent}\t${e},`).join('\n')}\n${indent}}`;
}

function formatComposite(obj: KObject, depth: number, o: FormatOptions): string {
  const s = obj.shape;
  if (s.kind !== 'struct' && s.kind !== 'union') return '';
  const indent = '\t'.repeat(depth + 1);
  const lines = flatMembers(s.members, 0, 0).map((m) => {
    const child = obj.memberAt(m.bitOffset, m.type, m.bitfieldSize);
    const body = `(${typeName(m.type)})${formatValue(child, depth + 1, o)}`;
    return m.name === '' ? `${indent}${body},` : `${indent}.${m.name} = ${body},`;
  });
  if (lines.length === 0) return '{}';
  return `{\n${lines.join('\n')}\n${'\t'.repeat(depth)}}`;
}

type Member = { name: string; bitOffset: number; type: KType; bitfieldSize: number };

/** Members with those of anonymous structs and unions in their place, as drgn prints them. */
function flatMembers(members: readonly Member[], base: number, level: number): Member[] {
  const out: Member[] = [];
  for (const m of members) {
    const inner = m.name === '' && level < 32 ? shape(m.type) : undefined;
    if (inner && (inner.kind === 'struct' || inner.kind === 'union')) out.push(...flatMembers(inner.members, base + m.bitOffset, level + 1));
    else out.push({ ...m, bitOffset: base + m.bitOffset });
  }
  return out;
}

function isZero(obj: KObject): boolean {
  const b = obj.bytes();
  for (const x of b) if (x !== 0) return false;
  return true;
}

/** A C string literal, escaped as drgn escapes it. */
export function cString(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) {
    if (b === 0x22) out += '\\"';
    else if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  return out + '"';
}
