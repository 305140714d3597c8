import { describe, expect, it } from 'vitest';
import { Cursor } from '@kbtf/binary';
import { Names, nameValid, sectionNameValid } from './validate-names.js';
import { StringTable } from './strings.js';

/** A string section from strings: NUL first, each string NUL-terminated; offsets of each. */
function section(strs: string[], terminateLast = true): { bytes: Uint8Array; offs: number[] } {
  const parts: number[] = [0];
  const offs: number[] = [];
  strs.forEach((s, i) => {
    offs.push(parts.length);
    for (const ch of Buffer.from(s, 'latin1')) parts.push(ch);
    if (terminateLast || i < strs.length - 1) parts.push(0);
  });
  return { bytes: Uint8Array.from(parts), offs };
}

const SAMPLES = [
  '', 'a', '_', '.', '.text', 'task_struct', 'x86_64', '9lives', 'a-b', 'a b', 'ä', 'naïve', 'A'.repeat(511), 'A'.repeat(512),
  'B'.repeat(1500), '$x', 'foo.bar_1', '\x7f', 'z9', '0', 'A'.repeat(513), '.data.a-b', '?.bss', 'x\x80y', 'x\x9f', '\x01ab', 'caf\xe9',
];

describe('Names: byte-level checks agree with the string rules', () => {
  it('own section: nameOk = nameValid(str), nonEmpty = !!str, for every offset', () => {
    const { bytes } = section(SAMPLES);
    const n = new Names(bytes, 0, undefined);
    for (let off = 0; off <= bytes.length + 1; off++) {
      expect(n.nameOk(off), `off ${off}`).toBe(nameValid(n.str(off)));
      expect(n.sectionOk(off), `off ${off}`).toBe(sectionNameValid(n.str(off)));
      expect(n.nonEmpty(off), `off ${off}`).toBe(!!n.str(off));
    }
    expect(n.nameOk(0x01000000)).toBe(false);
    // KSYM_NAME_LEN characters are allowed, one more is not; DATASEC names take printable bytes.
    expect([nameValid('A'.repeat(512)), nameValid('A'.repeat(513))]).toEqual([true, false]);
    expect([sectionNameValid('.data.a-b'), sectionNameValid('\x01ab'), sectionNameValid('x\x7f'), sectionNameValid('caf\xe9')]).toEqual([true, false, false, true]);
    // Identifiers: the kernel's ctype makes Latin-1 letters alpha (é yes, × no).
    expect([nameValid('caf\xe9'), nameValid('\xe9t\xe9'), nameValid('a\xd7b'), nameValid('a\xf7')]).toEqual([true, true, false, false]);
  });
  it('split: offsets below the split start are the base strings (unterminated base tail rejected)', () => {
    const base = section([...SAMPLES, 'tail_ok'], false);
    const table = new StringTable(new Cursor(base.bytes));
    const own = section(['own_name', '1bad']);
    const n = new Names(own.bytes, table.end, table);
    for (let off = 0; off <= table.end + own.bytes.length + 1; off++) {
      expect(n.nameOk(off), `off ${off}`).toBe(nameValid(n.str(off)));
      expect(n.sectionOk(off), `off ${off}`).toBe(sectionNameValid(n.str(off)));
      expect(n.nonEmpty(off), `off ${off}`).toBe(!!n.str(off));
    }
    const last = base.offs[base.offs.length - 1];
    expect(n.str(last)).toBeUndefined(); // 'tail_ok' without its NUL
    expect(n.nameOk(last)).toBe(false);
    expect(n.nameOk(table.end + own.offs[0])).toBe(true);
  });
});
