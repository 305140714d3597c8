import { describe, expect, it } from 'vitest';
import { BadDataError, UnsupportedError } from '@kbtf/binary';
import { ElfFile, SHF_ALLOC } from './elf.js';
import { checkBuildId } from './kernel.js';
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

  it('rejects what is not little-endian ELF64', () => {
    expect(() => ElfFile.fromBytes(Buffer.from('not an elf at all, really not'.padEnd(64)), 'z')).toThrow(BadDataError);
    const be = makeElf([]);
    be[5] = 2;
    expect(() => ElfFile.fromBytes(be, 'be')).toThrow(UnsupportedError);
  });

  it('rejects a truncated section table', () => {
    const bytes = makeElf([{ name: '.BTF', data: new Uint8Array(16) }]);
    expect(() => ElfFile.fromBytes(bytes.subarray(0, bytes.length - 10), 'cut')).toThrow(BadDataError);
  });
});

describe('checkBuildId', () => {
  const mk = (id?: string) => ElfFile.fromBytes(makeElf(id ? [{ name: '.note.gnu.build-id', data: buildIdNote(id), type: 7 }] : []), id ?? 'none');
  it('accepts equal build-ids', () => {
    expect(checkBuildId(mk(ID), mk(ID))).toBe(ID);
  });
  it('refuses DWARF of another build, naming both ids', () => {
    const other = ID.replace(/^72/, '00');
    expect(() => checkBuildId(mk(ID), mk(other))).toThrow(/DWARF does not match the module: build-id 001ba5.* here, 721ba5/);
  });
  it('refuses files without a build-id', () => {
    expect(() => checkBuildId(mk(), mk(ID))).toThrow(/no GNU build-id/);
    expect(() => checkBuildId(mk(ID), mk())).toThrow(/no GNU build-id/);
  });
});
