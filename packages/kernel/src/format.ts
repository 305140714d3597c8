/**
 * Printing objects the way drgn prints them (libdrgn/language_c.c): `(type)value` at the top,
 * structs one member per line with tabs, `.member = (type)value,`; arrays on one line when they fit
 * in 80 columns, trailing zero elements left out; char arrays and char pointers as C strings;
 * pointers in hex; enums by enumerator name.
 */
import { FaultError, hex } from '@kbtf/binary';
import { KObject } from './object.js';
import { shape, typeName, type KType } from './types.js';

const COLUMNS = 80;
const MAX_STRING = 4096;

/** drgn's `str(obj)`. */
export function formatObject(obj: KObject): string {
  // Read the object once and format from its bytes (a bitfield stays a reference).
  const value = obj.bitfield || obj.address === undefined ? obj : new KObject(obj.mem, obj.type, undefined, obj.bytes());
  return `(${typeName(obj.type)})${formatValue(value, 0)}`;
}

function formatValue(obj: KObject, depth: number): string {
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
      return formatPointer(obj, s.target);
    case 'array':
      return isChar(s.elem) ? cString(obj.string()) : formatArray(obj, s.count, depth);
    case 'struct':
    case 'union':
      return formatComposite(obj, depth);
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

function formatPointer(obj: KObject, target: KType): string {
  const v = obj.value();
  const text = hex(v);
  if (!isChar(target) || v === 0n) return text;
  try {
    return `${text} = ${cString(obj.mem.cstring(v, MAX_STRING))}`;
  } catch (err) {
    if (err instanceof FaultError) return text;
    throw err;
  }
}

function formatArray(obj: KObject, count: number, depth: number): string {
  const elems: string[] = [];
  let last = -1;
  for (let i = 0; i < count; i++) {
    const e = obj.index(i);
    elems.push(formatValue(e, depth + 1));
    if (!isZero(e)) last = i;
  }
  const shown = elems.slice(0, last + 1);
  if (shown.length === 0) return '{}';
  const one = `{ ${shown.join(', ')} }`;
  const indent = '\t'.repeat(depth);
  if (!one.includes('\n') && one.length + depth * 8 <= COLUMNS) return one;
  return `{\n${shown.map((e) => `${indent}\t${e},`).join('\n')}\n${indent}}`;
}

function formatComposite(obj: KObject, depth: number): string {
  const s = obj.shape;
  if (s.kind !== 'struct' && s.kind !== 'union') return '';
  if (s.members.length === 0) return '{}';
  const indent = '\t'.repeat(depth + 1);
  const lines = s.members.map((m) => {
    const child = obj.memberAt(m.bitOffset, m.type, m.bitfieldSize);
    const body = `(${typeName(m.type)})${formatValue(child, depth + 1)}`;
    return m.name === '' ? `${indent}${body},` : `${indent}.${m.name} = ${body},`;
  });
  return `{\n${lines.join('\n')}\n${'\t'.repeat(depth)}}`;
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
