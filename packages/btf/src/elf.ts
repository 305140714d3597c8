/**
 * A minimal ELF section reader, enough to take `.BTF` out of a vmlinux, an object file or a module
 * (.ko). ELF32 and ELF64, both byte orders. (Vmcores have their own ELF core reader in
 * @kbtf/vmcore; this one only knows section headers.)
 */
import { Cursor, UnsupportedError } from '@kbtf/binary';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const SHT_NOBITS = 8;
const SHF_COMPRESSED = 0x800;

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

export interface ElfSectionHeader {
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
}

/** All section headers of an ELF file. */
export function elfSections(bytes: Uint8Array, source = 'ELF'): ElfSectionHeader[] {
  const c0 = new Cursor(bytes, { source });
  if (!isElf(bytes)) throw c0.error(0, 'not an ELF file');
  const cls = c0.u8At(4);
  const data = c0.u8At(5);
  if (cls !== 1 && cls !== 2) throw c0.error(4, `bad ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw c0.error(5, `bad ELF data encoding ${data}`);
  const is64 = cls === 2;
  const c = new Cursor(bytes, { source, littleEndian: data === 1 });
  const shoff = is64 ? c.u64NumberAt(0x28, 'e_shoff') : c.u32At(0x20);
  const shentsize = c.u16At(is64 ? 0x3a : 0x2e);
  let shnum = c.u16At(is64 ? 0x3c : 0x30);
  let shstrndx = c.u16At(is64 ? 0x3e : 0x32);
  if (shoff === 0) return [];
  const minEnt = is64 ? 64 : 40;
  if (shentsize < minEnt) throw c.error(is64 ? 0x3a : 0x2e, `bad e_shentsize ${shentsize}`);
  const raw = (i: number) => {
    const o = shoff + i * shentsize;
    c.check(o, minEnt, 'section header');
    return is64
      ? { nameOff: c.u32At(o), type: c.u32At(o + 4), flags: Number(c.u64At(o + 8) & 0xffffffffn), offset: c.u64NumberAt(o + 24, 'sh_offset'), size: c.u64NumberAt(o + 32, 'sh_size'), link: c.u32At(o + 40), info: c.u32At(o + 44) }
      : { nameOff: c.u32At(o), type: c.u32At(o + 4), flags: c.u32At(o + 8), offset: c.u32At(o + 16), size: c.u32At(o + 20), link: c.u32At(o + 24), info: c.u32At(o + 28) };
  };
  // Extended numbering: e_shnum 0 / e_shstrndx 0xffff keep the real values in section 0.
  if (shnum === 0) shnum = raw(0).size;
  if (shstrndx === 0xffff) shstrndx = raw(0).link;
  if (shnum * shentsize > bytes.length) throw c.error(shoff, `${shnum} section headers do not fit in the file`);
  const headers = Array.from({ length: shnum }, (_, i) => raw(i));
  const strtab = headers[shstrndx];
  if (!strtab) throw c.error(is64 ? 0x3e : 0x32, `bad e_shstrndx ${shstrndx}`);
  const names = c.sub(strtab.offset, strtab.size, source);
  return headers.map((h) => ({ name: h.nameOff < names.length ? names.cstringAt(h.nameOff) : '', type: h.type, flags: h.flags, offset: h.offset, size: h.size }));
}

/** The bytes of section `name`, or undefined if the file has none (zero-copy). */
export function elfSection(bytes: Uint8Array, name: string, source = 'ELF'): Uint8Array | undefined {
  const s = elfSections(bytes, source).find((h) => h.name === name);
  if (!s) return undefined;
  if (s.type === SHT_NOBITS) return new Uint8Array(0);
  if (s.flags & SHF_COMPRESSED) throw new UnsupportedError(`${source}: section ${name} is compressed`);
  return new Cursor(bytes, { source }).bytesAt(s.offset, s.size);
}
