/**
 * Just enough ELF64 to find a relocatable module's sections (`.modinfo`, `.BTF`): the file header,
 * the section header table and the section-name string table. Little-endian x86_64 modules are the
 * target; a big-endian or 32-bit file is reported as unsupported. All reads go through Cursor.
 */
import { Cursor, BadDataError, UnsupportedError } from '@kbtf/binary';

const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const SHT_NOBITS = 8;
const SHDR_SIZE = 64;

export interface ElfSection {
  name: string;
  type: number;
  offset: number;
  size: number;
}

export function elfSections(bytes: Uint8Array, source: string): ElfSection[] {
  const c = new Cursor(bytes, { source });
  c.check(0, 64, 'ELF header');
  if (c.u32At(0) !== 0x464c457f) throw new BadDataError(source, 0, 'not an ELF file');
  if (c.u8At(4) !== ELFCLASS64) throw new UnsupportedError(`${source}: ELF class ${c.u8At(4)} (only 64-bit modules)`);
  if (c.u8At(5) !== ELFDATA2LSB) throw new UnsupportedError(`${source}: big-endian ELF`);
  const shoff = num(c.u64At(0x28), c, 0x28);
  const shentsize = c.u16At(0x3a);
  let shnum = c.u16At(0x3c);
  let shstrndx = c.u16At(0x3e);
  if (shoff === 0) return [];
  if (shentsize !== SHDR_SIZE) throw new BadDataError(source, 0x3a, `e_shentsize ${shentsize}, expected ${SHDR_SIZE}`);
  if (shnum === 0) shnum = num(c.u64At(shoff + 0x20), c, shoff + 0x20); // section 0's sh_size
  if (shstrndx === SHN_XINDEX) shstrndx = c.u32At(shoff + 0x28); // section 0's sh_link
  if (shnum * SHDR_SIZE > bytes.length - shoff) throw new BadDataError(source, shoff, `${shnum} section headers do not fit in the file`);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * SHDR_SIZE;
    raw.push({ nameOff: c.u32At(at), type: c.u32At(at + 4), offset: num(c.u64At(at + 0x18), c, at + 0x18), size: num(c.u64At(at + 0x20), c, at + 0x20) });
  }
  if (shstrndx === SHN_UNDEF || shstrndx >= shnum) throw new BadDataError(source, 0x3e, `bad e_shstrndx ${shstrndx}`);
  const strtab = raw[shstrndx];
  c.check(strtab.offset, strtab.size, 'section name table');
  const names = bytes.subarray(strtab.offset, strtab.offset + strtab.size);
  return raw.map((s, i) => {
    if (s.nameOff >= names.length) throw new BadDataError(source, shoff + i * SHDR_SIZE, `section ${i}: name offset ${s.nameOff} outside the name table`);
    const end = names.indexOf(0, s.nameOff);
    return { name: new TextDecoder().decode(names.subarray(s.nameOff, end < 0 ? names.length : end)), type: s.type, offset: s.offset, size: s.type === SHT_NOBITS ? 0 : s.size };
  });
}

/** The bytes of a named section (a view, not a copy); undefined when absent. */
export function elfSection(bytes: Uint8Array, name: string, source: string): Uint8Array | undefined {
  const s = elfSections(bytes, source).find((x) => x.name === name);
  if (!s) return undefined;
  new Cursor(bytes, { source }).check(s.offset, s.size, `section ${name}`);
  return bytes.subarray(s.offset, s.offset + s.size);
}

function num(v: bigint, c: Cursor, at: number): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw c.error(at, `value ${v} too large`);
  return Number(v);
}
