/**
 * The names of a BTF blob as the kernel checks them (kernel/bpf/btf.c: btf_name_offset_valid,
 * btf_name_valid_identifier, btf_name_valid_section), on the bytes of the string section.
 * nameValid/sectionNameValid say the same of a decoded string (validate-names.test.ts compares).
 */
import { BTF_MAX_NAME_OFFSET } from './wire.js';
import type { StringTable } from './strings.js';

/**
 * KSYM_NAME_LEN (include/linux/kallsyms.h): 512 since Linux 6.1, 128 before; the one definition in
 * kbtf (kallsyms and module symbols bound their names by it too). btf_name_valid_identifier/_section
 * look at most this many characters and then want the NUL: a name may be KSYM_NAME_LEN characters long.
 */
export const KSYM_NAME_LEN = 512;

/**
 * Byte classes of a valid name (btf_name_valid_identifier: __btf_name_char_ok with the kernel's
 * Latin-1 ctype, where 0xc0–0xff but for × and ÷ are letters): 1 may start a name, 2 may continue it.
 */
const IDENT_FIRST = /[A-Za-z_.\xc0-\xd6\xd8-\xf6\xf8-\xff]/;
const NAME_CHAR = new Uint8Array(256);
for (let ch = 0; ch < 256; ch++) {
  const c = String.fromCharCode(ch);
  if (IDENT_FIRST.test(c)) NAME_CHAR[ch] = 3;
  else if (/[0-9]/.test(c)) NAME_CHAR[ch] = 2;
}

/**
 * The kernel's isprint (lib/ctype.c, Latin-1): 0x20–0x7e and 0xa0–0xff. Used for DATASEC names
 * (btf_name_valid_section), bit 4 of NAME_CHAR.
 */
for (let ch = 0; ch < 256; ch++) if ((ch >= 0x20 && ch <= 0x7e) || ch >= 0xa0) NAME_CHAR[ch] |= 4;

/**
 * A valid name starts at b[i], at most KSYM_NAME_LEN characters, NUL-ended if `mustEnd`:
 * identifier (btf_name_valid_identifier) [A-Za-z_.][A-Za-z0-9_.]*; section
 * (btf_name_valid_section) printable characters.
 */
function scanName(b: Uint8Array, i: number, mustEnd: boolean, section = false): boolean {
  if (!(NAME_CHAR[b[i]] & (section ? 4 : 1))) return false;
  const first = i;
  const n = b.length;
  const ok = section ? 4 : 3;
  for (i++; i < n; i++) {
    const ch = b[i];
    if (ch === 0) return i - first <= KSYM_NAME_LEN;
    if (!(NAME_CHAR[ch] & ok)) return false;
  }
  return !mustEnd && i - first <= KSYM_NAME_LEN;
}

/**
 * The string space of the blob being checked: its own section after the base's (split BTF).
 * `nameOk` and `nonEmpty` answer from the bytes what `nameValid(str(off))` and `!!str(off)` would.
 */
export class Names {
  constructor(
    private readonly own: Uint8Array,
    private readonly start: number,
    private readonly base: StringTable | undefined,
  ) {}
  /** btf_name_offset_valid. */
  valid(off: number): boolean {
    return off <= BTF_MAX_NAME_OFFSET && (off < this.start || off - this.start < this.own.length);
  }
  /** The string at `off` (up to its NUL or the section end), undefined when the offset is invalid. */
  str(off: number): string | undefined {
    if (!this.valid(off)) return undefined;
    if (off < this.start) return this.base?.tryGet(off);
    const rel = off - this.start;
    const e = this.own.indexOf(0, rel);
    return Buffer.from(this.own.buffer, this.own.byteOffset + rel, (e < 0 ? this.own.length : e) - rel).toString('latin1');
  }
  /** `nameValid(str(off))`: a C identifier (dots allowed) of at most KSYM_NAME_LEN characters. */
  nameOk(off: number): boolean {
    return this.scan(off, false);
  }
  /** btf_name_valid_section (DATASEC names): `sectionNameValid(str(off))`. */
  sectionOk(off: number): boolean {
    return this.scan(off, true);
  }
  private scan(off: number, section: boolean): boolean {
    if (!this.valid(off)) return false;
    if (off >= this.start) return scanName(this.own, off - this.start, false, section);
    let t = this.base;
    while (t && off < t.start) t = t.base;
    if (!t || off - t.start >= t.bytes.length) return false;
    return scanName(t.bytes, off - t.start, true, section); // tryGet: a base string needs its NUL
  }
  /** `!!str(off)`: a valid offset of a non-empty string. */
  nonEmpty(off: number): boolean {
    if (!this.valid(off)) return false;
    if (off >= this.start) return this.own[off - this.start] !== 0;
    return !!this.base?.tryGet(off);
  }
}

/** btf_name_valid_identifier on a decoded (latin1) string. */
export function nameValid(s: string | undefined): boolean {
  if (s === undefined || s.length === 0 || s.length > KSYM_NAME_LEN) return false;
  return /^[A-Za-z_.\xc0-\xd6\xd8-\xf6\xf8-\xff][A-Za-z0-9_.\xc0-\xd6\xd8-\xf6\xf8-\xff]*$/.test(s);
}

/** btf_name_valid_section on a decoded (latin1) string. */
export function sectionNameValid(s: string | undefined): boolean {
  if (s === undefined || s.length === 0 || s.length > KSYM_NAME_LEN) return false;
  return /^[\x20-\x7e\xa0-\xff]+$/.test(s);
}
