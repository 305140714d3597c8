import { describe, expect, it } from 'vitest';
import { configuredSysctl, readBtfSysctl, sysctlFiles, normalizeSysctlKey, parseSysctlFile } from './sysctl.js';
import { memTree } from './test-tree.js';

const K = 'kernel.btf_companions';

describe('sysctl.d precedence', () => {
  it('later basename wins per key, across directories', () => {
    const root = memTree({
      '/usr/lib/sysctl.d/10-a.conf': 'kernel.btf_companions = off\n',
      '/etc/sysctl.d/20-b.conf': 'kernel.btf_companions = on-demand\n',
      '/run/sysctl.d/30-c.conf': '# nothing\n',
    });
    expect(configuredSysctl(root, K)).toMatchObject({ value: 'on-demand', source: { file: '/etc/sysctl.d/20-b.conf', line: 1 } });
  });
  it('a basename in a higher directory replaces the lower one (/etc > /run > /usr/local/lib > /usr/lib > /lib)', () => {
    const root = memTree({
      '/lib/sysctl.d/50-k.conf': `${K}=off`,
      '/usr/lib/sysctl.d/50-k.conf': `${K}=on-demand`,
      '/usr/local/lib/sysctl.d/50-k.conf': `${K}=always`,
    });
    expect(configuredSysctl(root, K)?.source.file).toBe('/usr/local/lib/sysctl.d/50-k.conf');
    const root2 = memTree({ '/usr/lib/sysctl.d/50-k.conf': `${K}=on-demand`, '/run/sysctl.d/50-k.conf': `${K}=off`, '/etc/sysctl.d/50-k.conf': '# empty override\n' });
    expect(configuredSysctl(root2, K)).toBeUndefined();
    expect(sysctlFiles(root2).overridden.map((o) => o.path).sort()).toEqual(['/run/sysctl.d/50-k.conf', '/usr/lib/sysctl.d/50-k.conf']);
  });
  it('a /dev/null symlink masks the basename', () => {
    const root = memTree({ '/usr/lib/sysctl.d/50-k.conf': `${K}=always` }, { '/etc/sysctl.d/50-k.conf': '/dev/null' });
    expect(configuredSysctl(root, K)).toBeUndefined();
    expect(sysctlFiles(root).masked).toEqual(['/etc/sysctl.d/50-k.conf']);
  });
  it('/etc/sysctl.conf applies last; only *.conf files count', () => {
    const root = memTree({ '/etc/sysctl.d/99-z.conf': `${K}=off`, '/etc/sysctl.conf': `${K}=always`, '/etc/sysctl.d/zz.conf.disabled': `${K}=on-demand` });
    expect(configuredSysctl(root, K)).toMatchObject({ value: 'always', source: { file: '/etc/sysctl.conf' } });
  });
  it('comments, -key, / separators and glob keys', () => {
    const text = '# c\n; c\n-kernel/btf_companions = always\nnot a line\n';
    const warnings: { file: string; line: number; message: string }[] = [];
    expect(parseSysctlFile(text, 'f', warnings)).toEqual([{ key: K, value: 'always', ignoreFailure: true, source: { kind: 'sysctl', file: 'f', line: 3 } }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0].line).toBe(4);
    expect(normalizeSysctlKey('net/ipv4/conf/eth0.100/rp_filter')).toBe('net.ipv4.conf.eth0/100.rp_filter');
    const root = memTree({ '/etc/sysctl.d/a.conf': `${K}=off\nkernel.btf_*=always\n` });
    expect(configuredSysctl(root, K)?.value).toBe('always');
  });
  it('live /proc/sys wins on the running system only', () => {
    const live = memTree({ '/proc/sys/kernel/btf_companions': 'off\n', '/etc/sysctl.d/a.conf': `${K}=always` }, {}, '/');
    expect(readBtfSysctl(live)).toMatchObject({ value: 'off', source: { file: '/proc/sys/kernel/btf_companions' } });
    const liveNoKnob = memTree({ '/etc/sysctl.d/a.conf': `${K}=always` }, {}, '/');
    expect(readBtfSysctl(liveNoKnob)?.value).toBe('always');
    const tree = memTree({ '/proc/sys/kernel/btf_companions': 'off\n', '/etc/sysctl.d/a.conf': `${K}=always` });
    expect(readBtfSysctl(tree)?.value).toBe('always');
  });
});
