import { describe, expect, it } from 'vitest';
import { UsageError } from '@kbtf/binary';
import { checkModuleName, companionName, isCompanionName, stubSource } from './stub.js';
import { parseSoftdeps, softdepConfig } from './softdep.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('stub module', () => {
  it('carries btf_companion_of and no code', () => {
    const src = stubSource('nf_tables');
    expect(src).toMatch(/^MODULE_INFO\(btf_companion_of, "nf_tables"\);$/m);
    expect(src).toMatch(/^MODULE_LICENSE\("GPL"\);$/m);
    expect(src).not.toMatch(/module_init|\(void\)/);
  });
  it('names companions M-btf and never builds a companion of a companion', () => {
    expect(companionName('ext4')).toBe('ext4-btf');
    expect(isCompanionName('ext4-btf')).toBe(true);
    expect(isCompanionName('ext4_btf')).toBe(true);
    expect(isCompanionName('btrfs')).toBe(false);
    expect(() => checkModuleName('ext4_btf')).toThrow(/itself a companion/);
  });
  it('refuses names that are not module names (they end up in C and make)', () => {
    for (const bad of ['', 'a"b', 'x y', '../ext4', 'a'.repeat(52)]) expect(() => stubSource(bad)).toThrow(UsageError);
    expect(() => stubSource('snd-hda-intel')).not.toThrow();
  });
});

describe('softdep lines', () => {
  const own = 'softdep btrfs pre: blake2b-256\nsoftdep btrfs pre: sha256\nsoftdep libcrc32c pre: crc32c\n# x\nsoftdep nf-foo post: bar\n';
  it('merge every modules.softdep line of a module (kmod uses only the first match)', () => {
    expect(parseSoftdeps(own).get('btrfs')).toEqual({ pre: ['blake2b-256', 'sha256'], post: [] });
    expect(parseSoftdeps(own).get('nf_foo')).toEqual({ pre: [], post: ['bar'] });
  });
  it('keep the module\'s own softdeps beside the companion, and skip vmlinux', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-softdep-'));
    writeFileSync(join(dir, 'modules.softdep'), own);
    const lines = softdepConfig(['xfs', 'libcrc32c', 'btrfs', 'vmlinux'], dir).split('\n').filter((l) => l.startsWith('softdep'));
    expect(lines).toEqual([
      'softdep btrfs pre: blake2b-256 sha256 post: btrfs-btf',
      'softdep libcrc32c pre: crc32c post: libcrc32c-btf',
      'softdep xfs post: xfs-btf',
    ]);
  });
});
