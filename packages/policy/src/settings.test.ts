import { describe, expect, it } from 'vitest';
import { readSettings } from './settings.js';
import { decide } from './decide.js';
import { foldName, moduleNameFromPath, isCompanion, companionOf, isStrictModuleName, matchesPattern } from './names.js';
import { memTree } from './test-tree.js';

const policy = (body: string) => ({ '/etc/kbtf/policy.yaml': `version: 1\n${body}` });

describe('settings precedence: cmdline > sysctl > policy > default', () => {
  it('default is on-demand', () => {
    const s = readSettings(memTree({}));
    expect(s.mode).toEqual({ value: 'on-demand', source: { kind: 'default' } });
    expect(s.vmlinux.value).toBe(false);
  });
  it('policy over default', () => {
    const s = readSettings(memTree(policy('mode: always\n')));
    expect(s.mode).toEqual({ value: 'always', source: { kind: 'policy', file: '/etc/kbtf/policy.yaml', line: 2 } });
    expect(s.vmlinux).toEqual({ value: true, source: { kind: 'default' } });
  });
  it('sysctl over policy', () => {
    const s = readSettings(memTree({ ...policy('mode: always\n'), '/etc/sysctl.d/k.conf': 'kernel.btf_companions = off\n' }));
    expect(s.mode).toEqual({ value: 'off', source: { kind: 'sysctl', file: '/etc/sysctl.d/k.conf', line: 1 } });
  });
  it('cmdline over sysctl', () => {
    const s = readSettings(memTree({ ...policy('mode: off\n'), '/etc/sysctl.d/k.conf': 'kernel.btf_companions = off\n', '/etc/kernel/cmdline': 'btf_companions=always' }));
    expect(s.mode).toEqual({ value: 'always', source: { kind: 'cmdline', file: '/etc/kernel/cmdline', line: 1 } });
    const given = readSettings(memTree({ '/etc/kernel/cmdline': 'btf_companions=always' }), { cmdline: 'btf_companions=off' });
    expect(given.mode).toEqual({ value: 'off', source: { kind: 'cmdline', file: '--cmdline' } });
  });
  it('an invalid value is reported and the next source decides', () => {
    const s = readSettings(memTree({ ...policy('mode: off\n'), '/etc/sysctl.d/k.conf': 'kernel.btf_companions = sometimes\n' }), { cmdline: 'btf_companions=maybe' });
    expect(s.mode.value).toBe('off');
    expect(s.problems.map((p) => p.file)).toEqual(['/etc/sysctl.d/k.conf', '--cmdline']);
  });
  it('exclude: cmdline patterns then the policy\'s, each with its source', () => {
    const s = readSettings(memTree(policy('mode: always\nexclude: [snd_*]\n')), { cmdline: 'btf_companions.exclude=e1000,nf-tables' });
    expect(s.exclude.map((e) => [e.pattern, e.source.kind])).toEqual([['e1000', 'cmdline'], ['nf-tables', 'cmdline'], ['snd_*', 'policy']]);
    expect(decide(s, 'nf_tables')).toMatchObject({ load: false, reason: 'excluded', pattern: 'nf-tables', source: { kind: 'cmdline' } });
    expect(decide(s, 'snd-hda-intel')).toMatchObject({ load: false, reason: 'excluded', pattern: 'snd_*' });
    expect(decide(s, 'ext4')).toMatchObject({ load: true, reason: 'mode-always' });
  });
});

describe('decisions', () => {
  it('never for a companion; off loads nothing; on-demand loads include/required only', () => {
    const on = readSettings(memTree(policy('include: [xfs]\nrequired: [ext4]\n')));
    expect(decide(on, 'ext4-btf')).toMatchObject({ load: false, reason: 'is-companion' });
    expect(decide(on, 'xfs')).toMatchObject({ load: true, reason: 'included' });
    expect(decide(on, 'ext4')).toMatchObject({ load: true, reason: 'required', required: true });
    expect(decide(on, 'loop')).toMatchObject({ load: false, reason: 'on-demand' });
    const off = readSettings(memTree(policy('mode: off\nrequired: [ext4]\nvmlinux: true\n')));
    expect(decide(off, 'ext4')).toMatchObject({ load: false, reason: 'mode-off' });
    expect(decide(off, 'vmlinux').load).toBe(false);
    expect(off.problems[0].message).toMatch(/vmlinux: true has no effect/);
  });
  it('vmlinux follows `vmlinux:` or, by default, mode always', () => {
    expect(decide(readSettings(memTree(policy('mode: always\n'))), 'vmlinux').load).toBe(true);
    expect(decide(readSettings(memTree(policy('mode: always\nvmlinux: false\n'))), 'vmlinux').load).toBe(false);
    expect(decide(readSettings(memTree(policy('vmlinux: true\n'))), 'vmlinux')).toMatchObject({ load: true, source: { kind: 'policy', line: 2 } });
  });
});

describe('names (kmod folding)', () => {
  it('folds - to _ except inside brackets', () => {
    expect(foldName('snd-hda-intel')).toBe('snd_hda_intel');
    expect(foldName('a-[b-c]-d')).toBe('a_[b-c]_d');
  });
  it('module names from paths, companions', () => {
    expect(moduleNameFromPath('kernel/fs/ext4/ext4.ko.xz')).toBe('ext4');
    expect(moduleNameFromPath('extra/nf-tables-btf.ko.zst')).toBe('nf_tables_btf');
    expect(moduleNameFromPath('x/y.ko')).toBe('y');
    expect(moduleNameFromPath('modules.dep')).toBeUndefined();
    expect(isCompanion('ext4-btf')).toBe(true);
    expect(isCompanion('ext4_btf')).toBe(true);
    expect(isCompanion('btf')).toBe(false);
    expect(companionOf('nf-tables')).toBe('nf_tables_btf');
    expect(companionOf('x_btf')).toBeUndefined();
    expect(matchesPattern('nf-*', 'nf_tables')).toBe(true);
  });
  it('strict names', () => {
    for (const ok of ['ext4', 'nf_tables', 'snd-hda-intel', 'a'.repeat(55)]) expect(isStrictModuleName(ok)).toBe(true);
    for (const bad of ['', 'a;b', '$(id)', '../x', 'a b', 'a'.repeat(56), '-x', 'a\nb', 'pci:v*']) expect(isStrictModuleName(bad)).toBe(false);
  });
});
