import { describe, expect, it } from 'vitest';
import { ElfFile } from '@kbtf/binary';
import { checkBuildId } from './debian-cache.js';
import { buildIdNote, makeElf } from '../../../packages/binary/src/test-elf.js';

const ID = '721ba523aee7021d40001edd1e3ff5ceb9541d86';

describe('checkBuildId', () => {
  const mk = (id?: string) => ElfFile.fromBytes(makeElf(id ? [{ name: '.note.gnu.build-id', data: buildIdNote(id), type: 7 }] : []), id ?? 'none', { littleEndian64: true });
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
