import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BadDataError, UnsupportedError } from './errors.js';
import { EM_X86_64, ElfFile, MAX_SECTIONS, SHF_ALLOC, SHT_NOBITS, parseModinfo } from './elf.js';
import { buildIdNote, makeElf, modinfo } from './test-elf.js';

const ID = '721ba523aee7021d40001edd1e3ff5ceb9541d86';

describe('ElfFile', () => {
  it('reads the section table, a section, the build-id and .modinfo', () => {
    const elf = ElfFile.fromBytes(
      makeElf([
        { name: '.note.gnu.build-id', data: buildIdNote(ID), type: 7, flags: SHF_ALLOC },
        { name: '.modinfo', data: modinfo({ name: 'ext4_btf', btf_companion_of: 'ext4', depends: '' }), flags: SHF_ALLOC },
        { name: '.BTF', data: Uint8Array.from([1, 2, 3]) },
      ]),
      'x.ko',
    );
    expect(elf.sections.map((s) => s.name)).toEqual(['', '.note.gnu.build-id', '.modinfo', '.BTF', '.shstrtab']);
    expect(elf.buildId()).toBe(ID);
    expect([...elf.sectionBytes('.BTF')]).toEqual([1, 2, 3]);
    expect(elf.section('.BTF')!.flags & SHF_ALLOC).toBe(0n);
    expect(elf.modinfo().get('btf_companion_of')).toEqual(['ext4']);
    expect(elf.modinfo().get('depends')).toEqual(['']);
    expect(() => elf.sectionBytes('.nope')).toThrow(/no \.nope section/);
  });

  it('has no build-id when there is no note', () => {
    expect(ElfFile.fromBytes(makeElf([{ name: '.text', data: new Uint8Array(4) }]), 'y').buildId()).toBeUndefined();
  });

  it('rejects what is not little-endian ELF64 when asked to (the companion builder)', () => {
    expect(() => ElfFile.fromBytes(Buffer.from('not an elf at all, really not'.padEnd(64)), 'z', { littleEndian64: true })).toThrow(BadDataError);
    const be = makeElf([]);
    be[5] = 2;
    expect(() => ElfFile.fromBytes(be, 'be', { littleEndian64: true })).toThrow(UnsupportedError);
  });

  it('rejects a truncated section table', () => {
    const bytes = makeElf([{ name: '.BTF', data: new Uint8Array(16) }]);
    expect(() => ElfFile.fromBytes(bytes.subarray(0, bytes.length - 10), 'cut')).toThrow(BadDataError);
  });
});

/**
 * Real files in the three layouts the reader knows, against readelf's view of each (testdata/
 * make-elf.sh made both): little-endian ELF64 and ELF32 shared objects built by gcc from
 * module-like.c (with a module's .modinfo), and Debian bookworm's big-endian s390x libacl.so.1.
 */
describe('ElfFile on real files, against readelf', () => {
  const STT = ['NOTYPE', 'OBJECT', 'FUNC', 'SECTION', 'FILE', 'COMMON', 'TLS'];
  const SHN: Record<string, number> = { UND: 0, ABS: 0xfff1, COM: 0xfff2 };
  const load = (name: string) => {
    const at = (f: string) => new URL(`./testdata/${f}`, import.meta.url);
    return { elf: ElfFile.fromBytes(new Uint8Array(readFileSync(at(name))), name), readelf: readFileSync(at(`${name}.readelf`), 'utf8') };
  };
  /** readelf -S rows: [index, name, type, offset, size]. */
  const sectionRows = (text: string) =>
    [...text.matchAll(/^ {2}\[ *(\d+)\] (\S*) +(\S+) +[0-9a-f]+ ([0-9a-f]+) ([0-9a-f]+) /gm)].map((m) => ({ index: Number(m[1]), name: m[2], type: m[3], offset: parseInt(m[4], 16), size: parseInt(m[5], 16) }));
  /** readelf -s rows of one table. */
  const symbolRows = (text: string, table: string) => {
    const part = text.split(/^Symbol table '/m).find((p) => p.startsWith(`${table}'`));
    if (!part) return [];
    return [...part.matchAll(/^ +\d+: ([0-9a-f]+) +(\d+|0x[0-9a-f]+) (\S+) +(\S+) +\S+ +(\S+) ?(\S*)/gm)].map((m) => ({ value: BigInt(`0x${m[1]}`), size: BigInt(m[2]), type: m[3], bind: m[4], shndx: SHN[m[5]] ?? Number(m[5]), name: m[6].split('@')[0] }));
  };

  for (const [file, layout] of [['elf64-x86_64.so', [true, true]], ['elf32-i386.so', [false, true]], ['elf64-s390x-libacl.so', [true, false]]] as const) {
    it(`${file}: sections, symbols, build-id as readelf shows them`, () => {
      const { elf, readelf } = load(file);
      expect([elf.is64, elf.littleEndian]).toEqual(layout);
      expect(elf.machine).toBe({ 'elf64-x86_64.so': EM_X86_64, 'elf32-i386.so': 3, 'elf64-s390x-libacl.so': 22 }[file]); // EM_386, EM_S390
      const rows = sectionRows(readelf);
      expect(rows.length).toBeGreaterThan(10);
      expect(elf.sections.map((s) => ({ index: s.index, name: s.name, offset: s.offset, size: s.size }))).toEqual(rows.map(({ type: _t, ...r }) => r));
      expect(elf.sections.filter((s) => s.type === SHT_NOBITS).map((s) => s.name)).toEqual(rows.filter((r) => r.type === 'NOBITS').map((r) => r.name));
      for (const table of ['.symtab', '.dynsym']) {
        const want = symbolRows(readelf, table);
        const got = elf.symbols(elf.section(table)).map((s) => ({ value: s.value, size: s.size, type: STT[s.type] ?? String(s.type), bind: ['LOCAL', 'GLOBAL', 'WEAK'][s.bind], shndx: s.shndx, name: s.type === 3 ? '' : s.name }));
        expect(got, table).toEqual(want.map((w) => ({ ...w, name: w.type === 'SECTION' ? '' : w.name })));
      }
      expect(symbolRows(readelf, '.symtab').length + symbolRows(readelf, '.dynsym').length).toBeGreaterThan(10);
      expect(elf.buildId()).toBe(/Build ID: ([0-9a-f]+)/.exec(readelf)![1]);
    });
  }

  for (const file of ['elf64-x86_64.so', 'elf32-i386.so']) {
    it(`${file}: .modinfo as readelf -p .modinfo prints it, repeated keys in file order`, () => {
      const { elf, readelf } = load(file);
      const strings = [...readelf.split("String dump of section '.modinfo':")[1].split('\n\n')[0].matchAll(/^ {2}\[ *[0-9a-f]+\] {2}(.*)$/gm)].map((m) => m[1]);
      expect(strings.length).toBe(5);
      const want = new Map<string, string[]>();
      for (const s of strings) want.set(s.slice(0, s.indexOf('=')), [...(want.get(s.slice(0, s.indexOf('='))) ?? []), s.slice(s.indexOf('=') + 1)]);
      expect(elf.modinfo()).toEqual(want);
      expect(elf.modinfo().get('btf_companion_of')).toEqual(['ext4']);
    });
  }

  it('the companion builder refuses the big-endian file before reading it', () => {
    const { elf } = load('elf64-s390x-libacl.so');
    expect(elf.sections.length).toBeGreaterThan(0);
    const bytes = new Uint8Array(readFileSync(new URL('./testdata/elf64-s390x-libacl.so', import.meta.url)));
    expect(() => ElfFile.fromBytes(bytes, 'acl', { littleEndian64: true })).toThrow(/only little-endian ELF64 is supported \(class 2, data 2\)/);
  });
});

describe('ElfFile on hostile headers: typed errors naming the offset', () => {
  const good = () => makeElf([{ name: '.modinfo', data: modinfo({ a: 'b' }) }, { name: '.note.x', data: buildIdNote(ID), type: 7 }]);
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const shoff = (b: Uint8Array) => Number(dv(b).getBigUint64(0x28, true));

  it('a section count past the cap (extended numbering in section 0)', () => {
    const b = good();
    dv(b).setUint16(0x3c, 0, true);
    dv(b).setBigUint64(shoff(b) + 0x20, 1n << 40n, true);
    expect(() => ElfFile.fromBytes(b, 'big')).toThrow(new RegExp(`big: offset 0x${shoff(b).toString(16)}: 1099511627776 sections, more than ${MAX_SECTIONS}`));
  });

  it('a section past the end of the file', () => {
    const b = good();
    dv(b).setBigUint64(shoff(b) + 64 + 0x20, 1n << 20n, true); // .modinfo's sh_size
    expect(() => ElfFile.fromBytes(b, 'cut').sectionBytes('.modinfo')).toThrow(BadDataError);
    expect(() => ElfFile.fromBytes(b, 'cut').sectionBytes('.modinfo')).toThrow(/cut: offset 0x40: section \.modinfo truncated/);
  });

  it('a note whose descsz runs past its section', () => {
    const b = good();
    const noteAt = Number(dv(b).getBigUint64(shoff(b) + 128 + 0x18, true));
    dv(b).setUint32(noteAt + 4, 0xfffffff0, true);
    expect(() => ElfFile.fromBytes(b, 'note').buildId()).toThrow(BadDataError);
  });

  it('a bad class, a bad byte order, e_shstrndx out of range', () => {
    const bad = (patch: (b: Uint8Array) => void, re: RegExp) => {
      const b = good();
      patch(b);
      expect(() => ElfFile.fromBytes(b, 'h')).toThrow(re);
    };
    bad((b) => (b[4] = 3), /h: offset 0x4: bad ELF class 3/);
    bad((b) => (b[5] = 0), /h: offset 0x5: bad ELF data encoding 0/);
    bad((b) => dv(b).setUint16(0x3e, 99, true), /h: offset 0x3e: e_shstrndx 99 out of range/);
  });
});

describe('parseModinfo', () => {
  it('skips padding, entries without "=" and empty keys; keeps empty values', () => {
    const m = parseModinfo(Buffer.from('\0\0a=1\0noeq\0=x\0a=2\0depends=\0\0'));
    expect(m).toEqual(new Map([['a', ['1', '2']], ['depends', ['']]]));
  });
});
