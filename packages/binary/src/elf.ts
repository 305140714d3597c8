/**
 * The one ELF file reader (not vmcores: @kbtf/vmcore reads ELF cores by program header): section
 * table, section bytes, notes, symbols and a module's `.modinfo`, for vmlinux, object files and
 * kernel modules (.ko). ELF32 and ELF64, both byte orders; every read goes through a Cursor, so a
 * bad offset is a BadDataError naming the file and the offset.
 *
 * Files are read by range through a `RangeReader`, never whole: Debian's `-dbg` vmlinux is 500 MB
 * and more. `ElfFile.fromBytes` wraps bytes already in memory (a module, maybe just decompressed).
 *
 * Layout (System V gABI 4.1, "ELF-64 Object File Format" 1.5): the header gives e_shoff,
 * e_shentsize, e_shnum and e_shstrndx; a section header is {sh_name u32, sh_type u32, sh_flags,
 * sh_addr, sh_offset, sh_size (word-sized), sh_link u32, sh_info u32, sh_addralign, sh_entsize}.
 * e_shnum = 0 means the real count is in section 0's sh_size, and e_shstrndx = SHN_XINDEX (0xffff)
 * means it is in section 0's sh_link.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { Cursor } from './cursor.js';
import { BadDataError, NotFoundError, UnsupportedError } from './errors.js';

export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const SHT_SYMTAB = 2;
export const SHT_NOTE = 7;
export const SHT_NOBITS = 8;
export const SHF_ALLOC = 0x2n;
export const SHF_COMPRESSED = 0x800n;
export const SHN_XINDEX = 0xffff;
/** NT_GNU_BUILD_ID in a note named "GNU". */
export const NT_GNU_BUILD_ID = 3;
/** e_machine values of the kernels kbtf reads and builds for. */
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

/**
 * Caps on counts a hostile header could make huge. A Debian 6.12 -dbg vmlinux has 78 sections and
 * ~190,000 symbols; modules have under 100 sections (thousands with -ffunction-sections).
 */
export const MAX_SECTIONS = 1 << 20;
export const MAX_SYMBOLS = 1 << 24;
export const MAX_NOTES = 1 << 16;

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
  link: number;
  info: number;
}

export interface ElfNote {
  name: string;
  type: number;
  desc: Uint8Array;
  /** Absolute file offset of the note header. */
  offset: number;
}

export interface ElfSymbol {
  name: string;
  value: bigint;
  size: bigint;
  /** STT_* (st_info & 0xf). */
  type: number;
  /** STB_* (st_info >> 4). */
  bind: number;
  shndx: number;
}

/** `.modinfo` as key → values (a key such as `depends` or `alias` may repeat). */
export type Modinfo = Map<string, string[]>;

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

export interface ElfOpenOptions {
  /** Refuse (UnsupportedError) anything but little-endian ELF64 before reading further. */
  littleEndian64?: boolean;
}

export class ElfFile {
  private constructor(
    readonly source: string,
    private readonly read: RangeReader,
    readonly is64: boolean,
    readonly littleEndian: boolean,
    readonly sections: readonly ElfSection[],
    /** e_machine (EM_X86_64, EM_AARCH64, …). */
    readonly machine: number,
  ) {}

  /** An ELF image held in memory (zero-copy: section bytes are views of `bytes`). */
  static fromBytes(bytes: Uint8Array, source: string, options: ElfOpenOptions = {}): ElfFile {
    return ElfFile.open(source, (offset, size) => bytes.subarray(offset, Math.min(bytes.byteLength, offset + size)), options);
  }

  /** Parse the header and the section table through `read`. */
  static open(source: string, read: RangeReader, options: ElfOpenOptions = {}): ElfFile {
    const ident = read(0, 16);
    if (ident.length < 16 || !isElf(ident)) throw new BadDataError(source, 0, 'not an ELF file');
    const cls = ident[4];
    const data = ident[5];
    if (options.littleEndian64 && (cls !== ELFCLASS64 || data !== ELFDATA2LSB)) {
      throw new UnsupportedError(`${source}: only little-endian ELF64 is supported (class ${cls}, data ${data})`);
    }
    if (cls !== ELFCLASS32 && cls !== ELFCLASS64) throw new BadDataError(source, 4, `bad ELF class ${cls}`);
    if (data !== ELFDATA2LSB && data !== ELFDATA2MSB) throw new BadDataError(source, 5, `bad ELF data encoding ${data}`);
    const is64 = cls === ELFCLASS64;
    const le = data === ELFDATA2LSB;
    const at = (offset: number, size: number, what: string): Cursor => {
      const bytes = read(offset, size);
      if (bytes.byteLength < size) throw new BadDataError(source, offset, `${what} truncated (${bytes.byteLength} of ${size} bytes)`);
      return new Cursor(bytes, { source, littleEndian: le, base: offset });
    };
    const hdr = at(0, is64 ? 64 : 52, 'ELF header');
    const machine = hdr.u16At(0x12);
    const shoff = is64 ? hdr.u64NumberAt(0x28, 'e_shoff') : hdr.u32At(0x20);
    const shentsize = hdr.u16At(is64 ? 0x3a : 0x2e);
    let shnum = hdr.u16At(is64 ? 0x3c : 0x30);
    let shstrndx = hdr.u16At(is64 ? 0x3e : 0x32);
    if (shoff === 0) return new ElfFile(source, read, is64, le, [], machine);
    const minEnt = is64 ? 64 : 40;
    if (shentsize < minEnt) throw new BadDataError(source, is64 ? 0x3a : 0x2e, `e_shentsize ${shentsize} < ${minEnt}`);
    const header = (c: Cursor, o: number) =>
      is64
        ? { nameOff: c.u32At(o), type: c.u32At(o + 4), flags: c.u64At(o + 8), addr: c.u64At(o + 0x10), offset: c.u64NumberAt(o + 0x18, 'sh_offset'), size: c.u64NumberAt(o + 0x20, 'sh_size'), link: c.u32At(o + 0x28), info: c.u32At(o + 0x2c) }
        : { nameOff: c.u32At(o), type: c.u32At(o + 4), flags: BigInt(c.u32At(o + 8)), addr: BigInt(c.u32At(o + 12)), offset: c.u32At(o + 16), size: c.u32At(o + 20), link: c.u32At(o + 24), info: c.u32At(o + 28) };
    // Extended numbering: e_shnum 0 / e_shstrndx 0xffff keep the real values in section 0.
    if (shnum === 0 || shstrndx === SHN_XINDEX) {
      const first = header(at(shoff, minEnt, 'section header 0'), 0);
      if (shnum === 0) shnum = first.size;
      if (shstrndx === SHN_XINDEX) shstrndx = first.link;
    }
    if (shnum > MAX_SECTIONS) throw new BadDataError(source, shoff, `${shnum} sections, more than ${MAX_SECTIONS}`);
    const table = at(shoff, shnum * shentsize, 'section table');
    const raw = Array.from({ length: shnum }, (_, i) => header(table, i * shentsize));
    if (shstrndx >= raw.length) throw new BadDataError(source, is64 ? 0x3e : 0x32, `e_shstrndx ${shstrndx} out of range (${raw.length} sections)`);
    const strtab = raw[shstrndx];
    const names = at(strtab.offset, strtab.size, 'section name table');
    const sections = raw.map((s, index) => ({
      index,
      name: s.nameOff < names.length ? names.cstringAt(s.nameOff) : '',
      type: s.type,
      flags: s.flags,
      addr: s.addr,
      offset: s.offset,
      size: s.size,
      link: s.link,
      info: s.info,
    }));
    return new ElfFile(source, read, is64, le, sections, machine);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The bytes of section `name` (empty for NOBITS); NotFoundError when there is no such section. */
  sectionBytes(name: string): Uint8Array {
    const s = this.section(name);
    if (!s) throw new NotFoundError(`${this.source}: no ${name} section`);
    return this.bytesOf(s);
  }

  /** The bytes of a section (empty for NOBITS); UnsupportedError for SHF_COMPRESSED. */
  bytesOf(s: ElfSection): Uint8Array {
    if (s.type === SHT_NOBITS) return new Uint8Array(0);
    if (s.flags & SHF_COMPRESSED) throw new UnsupportedError(`${this.source}: section ${s.name} is compressed`);
    const bytes = this.read(s.offset, s.size);
    if (bytes.byteLength !== s.size) throw new BadDataError(this.source, s.offset, `section ${s.name} truncated (${bytes.byteLength} of ${s.size} bytes)`);
    return bytes;
  }

  /** A Cursor over a section, in the file's byte order, offsets absolute in the file. */
  cursorOf(s: ElfSection): Cursor {
    return new Cursor(this.bytesOf(s), { source: `${this.source} ${s.name}`, littleEndian: this.littleEndian, base: s.offset });
  }

  /** The notes of a note section: {namesz u32, descsz u32, type u32, name and desc each padded to 4}. */
  notes(s: ElfSection): ElfNote[] {
    const c = this.cursorOf(s);
    const out: ElfNote[] = [];
    let off = 0;
    while (off + 12 <= c.length) {
      if (out.length >= MAX_NOTES) throw c.error(off, `more than ${MAX_NOTES} notes`);
      const namesz = c.u32At(off);
      const descsz = c.u32At(off + 4);
      const type = c.u32At(off + 8);
      const nameOff = off + 12;
      const descOff = nameOff + align4(namesz);
      out.push({ name: c.fixedStringAt(nameOff, namesz), type, desc: c.bytesAt(descOff, descsz), offset: c.base + off });
      off = descOff + align4(descsz);
    }
    return out;
  }

  /** The GNU build-id as lower-case hex, or undefined when the file has none. */
  buildId(): string | undefined {
    for (const s of this.sections) {
      if (s.name !== '.note.gnu.build-id' && !(s.type === SHT_NOTE && s.name.startsWith('.note'))) continue;
      const note = this.notes(s).find((n) => n.type === NT_GNU_BUILD_ID && n.name === 'GNU');
      if (note) return Buffer.from(note.desc).toString('hex');
    }
    return undefined;
  }

  /** The symbols of `.symtab` (or another SHT_SYMTAB/SHT_DYNSYM section), names from its sh_link. */
  symbols(table = this.section('.symtab')): ElfSymbol[] {
    if (!table) return [];
    const strtab = this.sections[table.link];
    if (!strtab) throw new BadDataError(this.source, table.offset, `${table.name}: sh_link ${table.link} names no section`);
    const c = this.cursorOf(table);
    const names = this.cursorOf(strtab);
    const entsize = this.is64 ? 24 : 16;
    const count = Math.floor(c.length / entsize);
    if (count > MAX_SYMBOLS) throw c.error(0, `${count} symbols, more than ${MAX_SYMBOLS}`);
    const out: ElfSymbol[] = [];
    for (let i = 0, o = 0; i < count; i++, o += entsize) {
      const info = c.u8At(this.is64 ? o + 4 : o + 12);
      const sym = this.is64
        ? { value: c.u64At(o + 8), size: c.u64At(o + 16), shndx: c.u16At(o + 6) }
        : { value: BigInt(c.u32At(o + 4)), size: BigInt(c.u32At(o + 8)), shndx: c.u16At(o + 14) };
      out.push({ name: names.cstringAt(c.u32At(o)), type: info & 0xf, bind: info >> 4, ...sym });
    }
    return out;
  }

  /** `.modinfo` (include/linux/moduleparam.h `__MODULE_INFO`); empty when there is none. */
  modinfo(): Modinfo {
    const s = this.section('.modinfo');
    return s ? parseModinfo(this.bytesOf(s)) : new Map<string, string[]>();
  }
}

/**
 * A `.modinfo` section: NUL-terminated `key=value` strings with NUL padding between them. An entry
 * with no `=` or an empty key is skipped.
 */
export function parseModinfo(section: Uint8Array): Modinfo {
  const info: Modinfo = new Map();
  const dec = new TextDecoder();
  let start = 0;
  for (let i = 0; i <= section.length; i++) {
    if (i < section.length && section[i] !== 0) continue;
    if (i > start) {
      const s = dec.decode(section.subarray(start, i));
      const eq = s.indexOf('=');
      if (eq > 0) {
        const k = s.slice(0, eq);
        const list = info.get(k) ?? [];
        list.push(s.slice(eq + 1));
        info.set(k, list);
      }
    }
    start = i + 1;
  }
  return info;
}

/** All section headers of an ELF image in memory. */
export function elfSections(bytes: Uint8Array, source = 'ELF'): readonly ElfSection[] {
  return ElfFile.fromBytes(bytes, source).sections;
}

/** The bytes of section `name` of an ELF image in memory, or undefined if it has none (zero-copy). */
export function elfSection(bytes: Uint8Array, name: string, source = 'ELF'): Uint8Array | undefined {
  const elf = ElfFile.fromBytes(bytes, source);
  const s = elf.section(name);
  return s && elf.bytesOf(s);
}

/** n rounded up to 4, for any u32 (no 32-bit wrap-around). */
function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** Open an ELF file on disk reading by range; `close()` when done. */
export function openElfFile(path: string, options: ElfOpenOptions = {}): { elf: ElfFile; close: () => void } {
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
    return { elf: ElfFile.open(path, read, options), close: () => closeSync(fd) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
