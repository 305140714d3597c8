// Edge cases of the kdump facts that the real trees (test/policy/check-kdump.test.ts) do not reach.
import { describe, expect, it } from 'vitest';
import { BadDataError } from '@kbtf/binary';
import { memTree } from './test-tree.js';
import { parseMakedumpfileArgs, readKdump, readKdumpctl, kdumpToolsCollector, readKdumpTools } from './kdump.js';
import { makedumpfileLatest, kernelVersionOf, firstSupporting } from './makedumpfile-versions.js';
import { cmdlineFromString } from './cmdline.js';

describe('makedumpfile version table', () => {
  it('reads releases as get_kernel_version does, and versions between or beyond releases', () => {
    expect(kernelVersionOf('6.12.117+deb13-amd64')).toEqual([6, 12, 117]);
    expect(kernelVersionOf('7.0-rc1')).toEqual([7, 0, 0]);
    expect(makedumpfileLatest('1.7.6', '6.11.4')).toEqual({ release: '1.7.6', latestKernel: '6.11.4', supported: true });
    expect(makedumpfileLatest('1.7.6', '6.11.5').supported).toBe(false);
    // A development build after 1.7.9 ("1.7.9++") is 1.7.9; a release after the table is unknown past its last kernel.
    expect(makedumpfileLatest('1.7.9++', '7.0.0').supported).toBe(true);
    expect(makedumpfileLatest('1.8.0', '7.1.0')).toEqual({ release: '1.7.9', latestKernel: '7.0.0', supported: undefined });
    expect(makedumpfileLatest('1.4.4', '3.0.0').supported).toBe(false);
    expect(firstSupporting('6.12.117')).toEqual(['1.7.7', '6.14.2']);
    expect(firstSupporting('9.0.0')).toBeUndefined();
  });
});

describe('makedumpfile command lines', () => {
  it('clusters, attached arguments, long options by prefix and with =', () => {
    expect(parseMakedumpfileArgs(['-cd31', '-F'])).toMatchObject({ dumpLevel: 31, compression: 'zlib', flattened: true, invalid: [] });
    expect(parseMakedumpfileArgs(['-l', '--message-level=7', '-d', '1,31'])).toMatchObject({ dumpLevel: 1, compression: 'lzo', invalid: [] });
    expect(parseMakedumpfileArgs(['--dump-d'])).toMatchObject({ noVmcore: 'writes only the kernel log (--dump-dmesg)' });
    // --s is ambiguous (split, splitblock-size, show-stats).
    expect(parseMakedumpfileArgs(['--s', '-d'])).toMatchObject({ invalid: ['--s', '-d'] });
    expect(parseMakedumpfileArgs(['-d', '99']).dumpLevelInvalid).toBe(true);
    expect(parseMakedumpfileArgs(['-E', '--eppic', 'x.c']).filters).toEqual(['--eppic x.c']);
  });
});

describe('kdump configuration files', () => {
  it('kdump-tools: the last assignment, quotes and $VAR; -F added; a runaway expansion names the file and line', () => {
    const t = memTree({ '/etc/default/kdump-tools': 'USE_KDUMP=0\nUSE_KDUMP="1"\nA="-c"\nMAKEDUMP_ARGS="$A -d 17"\n' });
    const cfg = readKdumpTools(t)!;
    expect(cfg.useKdump).toBe(true);
    expect(kdumpToolsCollector(cfg)).toMatchObject({ configured: true, line: 4, command: 'makedumpfile -c -d 17 -F' });
    const bomb = memTree({ '/etc/default/kdump-tools': `A=xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n${Array.from({ length: 20 }, () => 'A="$A$A"').join('\n')}\n` });
    expect(() => readKdumpTools(bomb)).toThrow(BadDataError);
    expect(() => readKdumpTools(bomb)).toThrow(/\/etc\/default\/kdump-tools:\d+/);
  });

  it('kdump.conf: trailing comments, duplicates, two dump targets', () => {
    const t = memTree({ '/etc/kdump.conf': 'path /var/crash # where\next4 UUID=1\nxfs LABEL=x\ncore_collector makedumpfile -c -d 31\ncore_collector cp\n' });
    const c = readKdumpctl(t)!;
    expect(c.directives[0]).toEqual({ key: 'path', value: '/var/crash', line: 1 });
    expect(c.duplicates.map((d) => d.key)).toEqual(['xfs', 'core_collector']);
  });

  it('not armed without an enabled unit; crashkernel is recorded from the command line', () => {
    const t = memTree({ '/etc/default/kdump-tools': 'USE_KDUMP=1\n', '/usr/lib/systemd/system/kdump-tools.service': '[Install]\nWantedBy=basic.target\n' });
    const line = cmdlineFromString('ro crashkernel=384M', { kind: 'cmdline', file: '/etc/kernel/cmdline' });
    expect(readKdump(t, line, '6.12.0')).toMatchObject({ configured: false, crashkernel: { value: '384M' } });
    const on = memTree({ '/etc/default/kdump-tools': 'USE_KDUMP=1\n', '/usr/lib/systemd/system/kdump-tools.service': '[Install]\nWantedBy=basic.target\n' }, { '/etc/systemd/system/basic.target.wants/kdump-tools.service': '/usr/lib/systemd/system/kdump-tools.service' });
    expect(readKdump(on, line, '6.12.0')).toMatchObject({ configured: true, makedumpfile: {} });
  });
});
