import { describe, expect, it } from 'vitest';
import { ElfFile } from '@kbtf/binary';
import { checkBuildId, onlyOptionalMissing, splitImageParts } from './debian-cache.js';
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

describe('splitImageParts', () => {
  it('names the linux-binary/-modules/-base packages a split image metapackage depends on', () => {
    // Depends of sid's linux-image-7.2.13+deb14-amd64 (7.2.13-1), as dpkg-deb -f prints it.
    const kver = '7.2.13+deb14-amd64';
    const depends = `dracut | initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool, linux-base-${kver} (= 7.2.13-1), linux-binary-${kver} (= 7.2.13-1), linux-modules-${kver} (= 7.2.13-1)`;
    expect(splitImageParts(kver, depends)).toEqual([`linux-binary-${kver}`, `linux-modules-${kver}`, `linux-base-${kver}`]);
  });
  it('names nothing for a classic image package', () => {
    // Depends of bookworm's linux-image-6.1.0-57-amd64.
    expect(splitImageParts('6.1.0-57-amd64', 'kmod, linux-base (>= 4.3~), initramfs-tools (>= 0.120+deb8u2) | linux-initramfs-tool')).toEqual([]);
    // Another kernel's parts are not this one's.
    expect(splitImageParts('7.2.13+deb14-amd64', 'linux-modules-7.2.13+deb14-cloud-amd64 (= 7.2.13-1)')).toEqual([]);
  });
});

describe('onlyOptionalMissing', () => {
  // GNU tar 1.34's stderr (exit 2) for `tar -x --no-wildcards -T LIST` when ./a/none is not in the archive.
  const stderr = 'tar: ./a/none: Not found in archive\ntar: Exiting with failure status due to previous errors\n';
  it('accepts a missing member that was optional', () => {
    expect(onlyOptionalMissing(stderr, ['./a/none'])).toBe(true);
  });
  it('refuses a missing required member, and any other complaint', () => {
    expect(onlyOptionalMissing(stderr, [])).toBe(false);
    expect(onlyOptionalMissing('tar: Unexpected EOF in archive\ntar: Exiting with failure status due to previous errors\n', ['./a/none'])).toBe(false);
    expect(onlyOptionalMissing('', ['./a/none'])).toBe(false);
  });
});
