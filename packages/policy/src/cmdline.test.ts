import { describe, expect, it } from 'vitest';
import { parseCmdline, lastParam, readCmdline, configuredCmdline, shellWord } from './cmdline.js';
import { memTree } from './test-tree.js';

describe('parseCmdline (lib/cmdline.c next_arg rules)', () => {
  it('splits words, keeps flags, strips value quotes', () => {
    expect(parseCmdline('ro  quiet btf_companions=always foo="a b c" "bar=x y"')).toEqual([
      { name: 'ro', value: undefined },
      { name: 'quiet', value: undefined },
      { name: 'btf_companions', value: 'always' },
      { name: 'foo', value: 'a b c' },
      { name: 'bar', value: 'x y' },
    ]);
  });
  it('stops at -- (the rest is for init)', () => {
    const p = parseCmdline('a=1 -- btf_companions=off');
    expect(p.map((x) => x.name)).toEqual(['a']);
  });
  it('splits at the first = only and keeps later ones', () => {
    expect(parseCmdline('root=UUID=abc=d')[0]).toEqual({ name: 'root', value: 'UUID=abc=d' });
  });
  it('last occurrence wins, - and _ compare equal in names', () => {
    const p = parseCmdline('btf_companions=off btf-companions=always');
    expect(lastParam(p, 'btf_companions')?.value).toBe('always');
  });
});

describe('configured command line of a root tree', () => {
  const grub = 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet"\nGRUB_CMDLINE_LINUX="crashkernel=384M-:256M btf_companions=always"\n';
  it('reads /etc/default/grub (LINUX then LINUX_DEFAULT) with grub.d snippets applied after it', () => {
    const root = memTree({ '/etc/default/grub': grub, '/etc/default/grub.d/kdump.cfg': 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX nmi_watchdog=1"\n' });
    const c = configuredCmdline(root)!;
    expect(c.line).toBe('crashkernel=384M-:256M btf_companions=always nmi_watchdog=1 quiet');
    expect(c.source.file).toBe('/etc/default/grub');
    expect(c.source.line).toBe(2);
  });
  it('a value doubled 30 times is refused with its file and line, not expanded until memory runs out', () => {
    const doubling = Array.from({ length: 30 }, () => 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX"').join('\n');
    const root = memTree({ '/etc/default/grub': grub, '/etc/default/grub.d/x.cfg': doubling + '\n' });
    expect(() => configuredCmdline(root)).toThrow(/^\/etc\/default\/grub\.d\/x\.cfg:1\d: GRUB_CMDLINE_LINUX expands to more than 65536 characters$/);
    // one word with thousands of expansions: the same
    const wide = memTree({ '/etc/default/grub': `A=xxxxxxxxxxxxxxxx\nB="${'$A'.repeat(10000)}"\n` });
    expect(() => configuredCmdline(wide)).toThrow(/grub:2: B expands to more than/);
  });

  it('prefers /etc/kernel/cmdline over grub, and BLS entries over both', () => {
    const root = memTree({ '/etc/default/grub': grub, '/etc/kernel/cmdline': '# comment\nroot=/dev/sda1 btf_companions=off\n' });
    expect(configuredCmdline(root)).toMatchObject({ line: 'root=/dev/sda1 btf_companions=off', source: { file: '/etc/kernel/cmdline', line: 2 } });
    const bls = memTree({
      '/etc/kernel/cmdline': 'x=1',
      '/boot/loader/entries/a-6.1.conf': 'title A\nversion 6.1\noptions root=/dev/a btf_companions=on-demand\n',
      '/boot/loader/entries/b-6.12.conf': 'title B\nversion 6.12\noptions root=/dev/b\noptions crashkernel=256M\n',
    });
    expect(configuredCmdline(bls)).toMatchObject({ line: 'root=/dev/b crashkernel=256M', source: { file: '/boot/loader/entries/b-6.12.conf', line: 3 } });
    expect(configuredCmdline(bls, '6.1')!.line).toBe('root=/dev/a btf_companions=on-demand');
  });
  it('reads /proc/cmdline on the live root only', () => {
    const live = memTree({ '/proc/cmdline': 'btf_companions=always\n', '/etc/kernel/cmdline': 'btf_companions=off' }, {}, '/');
    expect(readCmdline(live)).toMatchObject({ line: 'btf_companions=always', source: { file: '/proc/cmdline' } });
    const tree = memTree({ '/proc/cmdline': 'btf_companions=always\n', '/etc/kernel/cmdline': 'btf_companions=off' });
    expect(readCmdline(tree)!.line).toBe('btf_companions=off');
    expect(readCmdline(memTree({}))).toBeUndefined();
  });
  it('shellWord handles quotes, escapes and expansions', () => {
    const vars: Record<string, string> = { A: 'x y' };
    expect(shellWord(`"$A z" # c`, (n) => vars[n] ?? '')).toBe('x y z');
    expect(shellWord(`'$A'"\\"q"`, (n) => vars[n] ?? '')).toBe('$A"q');
    expect(shellWord('${A}b', (n) => vars[n] ?? '')).toBe('x yb');
  });
});
