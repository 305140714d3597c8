/**
 * Just enough ELF64 to build companions: the section table, one section's bytes, and the GNU
 * build-id note. Kernel modules are relocatable ELF64 (ET_REL) with every section placed by file
 * offset, and `-dbg` vmlinux files are 500 MB and more, so sections are read by range through a
 * `RangeReader`, never by loading the whole file.
 *
 * Layout (System V gABI, "ELF-64 Object File Format" 1.5): the 64-byte header gives e_shoff,
 * e_shentsize, e_shnum and e_shstrndx; each 64-byte section header is {sh_name u32, sh_type u32,
 * sh_flags u64, sh_addr u64, sh_offset u64, sh_size u64, sh_link u32, sh_info u32,
 * sh_addralign u64, sh_entsize u64}. e_shnum = 0 means the real count is in section 0's sh_size,
 * and e_shstrndx = SHN_XINDEX (0xffff) means it is in section 0's sh_link.
 */
import { closeSync, openSync, readSync, fstatSync } from 'node:fs';
import { BadDataError, Cursor, NotFoundError, UnsupportedError } from '@kbtf/binary';

export const ELF_HEADER_SIZE = 64;
export const SECTION_HEADER_SIZE = 64;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const SHT_NOBITS = 8;
export const SHF_ALLOC = 0x2n;
export const SHN_XINDEX = 0xffff;
/** NT_GNU_BUILD_ID in a note named "GNU". */
export const NT_GNU_BUILD_ID = 3;
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];

/** Reads `size` bytes at `offset`; returns fewer only at the end of the data. */
export type RangeReader = (offset: number, size: number) => Uint8Array;

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: bigint;
  /** sh_addr: 0 in most relocatable objects, but not in Debian 6.12's -dbg modules. */
  addr: bigint;
  offset: number;
  size: number;
}

export class ElfFile {
  private constructor(
    readonly source: string,
    private readonly read: RangeReader,
    readonly sections: readonly ElfSection[],
  ) {}

  /** An ELF image held in memory (a module, maybe just decompressed). */
  static fromBytes(bytes: Uint8Array, source: string): ElfFile {
    return ElfFile.open(source, (offset, size) => bytes.subarray(offset, Math.min(bytes.byteLength, offset + size)));
  }

  /** Parse the section table through `read`. */
  static open(source: string, read: RangeReader): ElfFile {
    const hdr = new Cursor(read(0, ELF_HEADER_SIZE), { source });
    if (hdr.length < ELF_HEADER_SIZE || ELF_MAGIC.some((b, i) => hdr.u8At(i) !== b)) {
      throw new BadDataError(source, 0, 'not an ELF file');
    }
    if (hdr.u8At(4) !== ELFCLASS64 || hdr.u8At(5) !== ELFDATA2LSB) {
      throw new UnsupportedError(`${source}: only little-endian ELF64 is supported (class ${hdr.u8At(4)}, data ${hdr.u8At(5)})`);
    }
    const shoff = hdr.u64NumberAt(0x28, 'e_shoff');
    const shentsize = hdr.u16At(0x3a);
    let shnum = hdr.u16At(0x3c);
    let shstrndx = hdr.u16At(0x3e);
    if (shoff === 0) return new ElfFile(source, read, []);
    if (shentsize < SECTION_HEADER_SIZE) throw new BadDataError(source, 0x3a, `e_shentsize ${shentsize} < ${SECTION_HEADER_SIZE}`);
    const first = new Cursor(read(shoff, SECTION_HEADER_SIZE), { source, base: shoff });
    if (shnum === 0) shnum = first.u64NumberAt(0x20, 'section count');
    if (shstrndx === SHN_XINDEX) shstrndx = first.u32At(0x28);
    const table = new Cursor(read(shoff, shnum * shentsize), { source, base: shoff });
    if (table.length < shnum * shentsize) throw new BadDataError(source, shoff, `section table truncated (${table.length} of ${shnum * shentsize} bytes)`);
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const o = i * shentsize;
      raw.push({
        nameOff: table.u32At(o),
        type: table.u32At(o + 4),
        flags: table.u64At(o + 8),
        addr: table.u64At(o + 0x10),
        offset: table.u64NumberAt(o + 0x18, 'sh_offset'),
        size: table.u64NumberAt(o + 0x20, 'sh_size'),
      });
    }
    if (shstrndx >= raw.length) throw new BadDataError(source, 0x3e, `e_shstrndx ${shstrndx} out of range (${raw.length} sections)`);
    const strtab = raw[shstrndx];
    const names = new Cursor(read(strtab.offset, strtab.size), { source, base: strtab.offset });
    const sections = raw.map((s, index) => ({
      index,
      name: s.nameOff < names.length ? names.cstringAt(s.nameOff) : '',
      type: s.type,
      flags: s.flags,
      addr: s.addr,
      offset: s.offset,
      size: s.size,
    }));
    return new ElfFile(source, read, sections);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of section `name` (empty for NOBITS); NotFoundError when there is no such section. */
  sectionBytes(name: string): Uint8Array {
    const s = this.section(name);
    if (!s) throw new NotFoundError(`${this.source}: no ${name} section`);
    if (s.type === SHT_NOBITS) return new Uint8Array(0);
    const bytes = this.read(s.offset, s.size);
    if (bytes.byteLength !== s.size) throw new BadDataError(this.source, s.offset, `section ${name} truncated (${bytes.byteLength} of ${s.size} bytes)`);
    return bytes;
  }

  /** The GNU build-id as lower-case hex, or undefined when the file has none. */
  buildId(): string | undefined {
    for (const s of this.sections) {
      if (s.name !== '.note.gnu.build-id' && !(s.type === 7 && s.name.startsWith('.note'))) continue;
      const id = findBuildIdNote(new Cursor(this.sectionBytes(s.name), { source: `${this.source} ${s.name}`, base: s.offset }));
      if (id) return id;
    }
    return undefined;
  }

  /** `.modinfo` as key → values (a key such as `depends` or `alias` may repeat). */
  modinfo(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    if (!this.section('.modinfo')) return out;
    const text = new TextDecoder().decode(this.sectionBytes('.modinfo'));
    for (const entry of text.split('\0')) {
      const eq = entry.indexOf('=');
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      out.set(key, [...(out.get(key) ?? []), entry.slice(eq + 1)]);
    }
    return out;
  }
}

/** ELF notes: {namesz u32, descsz u32, type u32, name padded to 4, desc padded to 4}. */
function findBuildIdNote(c: Cursor): string | undefined {
  let off = 0;
  while (off + 12 <= c.length) {
    const namesz = c.u32At(off);
    const descsz = c.u32At(off + 4);
    const type = c.u32At(off + 8);
    const nameOff = off + 12;
    const descOff = nameOff + align4(namesz);
    const name = c.fixedStringAt(nameOff, namesz);
    if (type === NT_GNU_BUILD_ID && name === 'GNU') return Buffer.from(c.bytesAt(descOff, descsz)).toString('hex');
    off = descOff + align4(descsz);
  }
  return undefined;
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Open an ELF file on disk reading by range; `close()` when done. */
export function openElfFile(path: string): { elf: ElfFile; close(): void } {
  const fd = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    const read: RangeReader = (offset, size) => {
      const n = Math.max(0, Math.min(size, fileSize - offset));
      const buf = new Uint8Array(n);
      let done = 0;
      while (done < n) {
        const got = readSync(fd, buf, done, n - done, offset + done);
        if (got === 0) break;
        done += got;
      }
      return buf.subarray(0, done);
    };
    return { elf: ElfFile.open(path, read), close: () => closeSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
