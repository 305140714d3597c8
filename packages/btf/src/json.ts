/** The json printer: `{ "types": [ ...the model of each type... ] }`, 64-bit enum values as strings. */
import type { Btf } from './btf.js';

export function formatJson(btf: Btf): string {
  const types = [];
  for (const t of btf.types()) types.push(t);
  return JSON.stringify({ firstId: btf.firstId, count: btf.count, types }, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 1) + '\n';
}
