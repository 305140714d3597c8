import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BadDataError, UsageError } from '@kbtf/binary';
import {
  changelogDate, debFileName, debTimestamp, packageName, renderChangelog, renderControl, renderCopyright, renderMaintainerScript, targetDir,
} from './package.js';

const KVER = '6.12.117+deb13-amd64';

/** Parses a deb822 paragraph: field → value (continuation lines joined with \n). */
function fields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let last = '';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith(' ')) out.set(last, `${out.get(last)}\n${line}`);
    else {
      const i = line.indexOf(':');
      last = line.slice(0, i);
      expect(out.has(last), `duplicate field ${last}`).toBe(false);
      out.set(last, line.slice(i + 1).trim());
    }
  }
  return out;
}

describe('names', () => {
  it('package and file names follow dpkg (name_version_arch.deb, epoch dropped)', () => {
    expect(packageName(KVER)).toBe('kbtf-companions-6.12.117+deb13-amd64');
    expect(debFileName('6.1.0-57-amd64', '0.1.0')).toBe('kbtf-companions-6.1.0-57-amd64_0.1.0_amd64.deb');
    expect(debFileName('6.1.0-57-amd64', '1:0.2.0-1')).toBe('kbtf-companions-6.1.0-57-amd64_0.2.0-1_amd64.deb');
    // an arm64 kernel's companions are arm64 modules: an arm64 package, wherever it was built
    expect(debFileName('6.1.0-57-arm64', '0.1.0')).toBe('kbtf-companions-6.1.0-57-arm64_0.1.0_arm64.deb');
    expect(fields(renderControl({ kver: '6.1.0-57-arm64', version: '0.1.0', imageVersion: '6.1.192-3', installedSizeKiB: 1, modules: ['ext4'] })).get('Architecture')).toBe('arm64');
    expect(targetDir(KVER)).toBe(`lib/modules/${KVER}/updates/kbtf`);
  });

  it('refuses a release that makes no package name', () => {
    expect(() => packageName('6.1.0-57-AMD64')).toThrow(UsageError);
    expect(() => packageName('6.1 x')).toThrow(UsageError);
  });
});

describe('renderControl', () => {
  const base = { kver: KVER, version: '0.1.0', imageVersion: '6.12.117-1', installedSizeKiB: 1234, modules: ['virtio_blk', 'vmlinux', 'ext4'] };

  it('depends on exactly the image version, with every field dpkg and lintian need', () => {
    const f = fields(renderControl(base));
    expect(f.get('Package')).toBe(`kbtf-companions-${KVER}`);
    expect(f.get('Version')).toBe('0.1.0');
    expect(f.get('Architecture')).toBe('amd64');
    expect(f.get('Depends')).toBe(`linux-image-${KVER} (= 6.12.117-1)`);
    expect(f.get('Installed-Size')).toBe('1234');
    expect(f.get('Section')).toBe('kernel');
    expect(f.get('Priority')).toBe('optional');
    expect(f.get('Maintainer')).toMatch(/^.+ <[^@\s]+@[^@\s]+\.[a-z]+>$/);
    const desc = f.get('Description')!.split('\n');
    expect(desc[0]).toBe(`BTF companion modules for Linux ${KVER}`);
    expect(desc.length).toBeGreaterThan(3);
    for (const l of desc.slice(1)) expect(l.length).toBeLessThanOrEqual(80);
    // vmlinux first, then the modules by name.
    expect(desc.at(-1)).toBe(' vmlinux, ext4, virtio_blk');
  });

  it('takes the image package name and the maintainer when given', () => {
    const f = fields(renderControl({ ...base, imagePackage: `linux-image-${KVER}-unsigned`, maintainer: 'A B <a@b.org>' }));
    expect(f.get('Depends')).toBe(`linux-image-${KVER}-unsigned (= 6.12.117-1)`);
    expect(f.get('Maintainer')).toBe('A B <a@b.org>');
  });

  it('wraps a long module list into description lines under 80 columns', () => {
    const modules = Array.from({ length: 300 }, (_, i) => `module_number_${i}`);
    const lines = renderControl({ ...base, modules }).split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
    expect(lines.filter((l) => l.includes('module_number_')).join(' ').match(/module_number_\d+/g)).toHaveLength(300);
  });

  it('refuses versions dpkg would not take', () => {
    expect(() => renderControl({ ...base, imageVersion: '6.12 117' })).toThrow(UsageError);
    expect(() => renderControl({ ...base, version: 'v0.1.0' })).toThrow(UsageError);
  });

  it('ends with a newline and has no blank line inside the paragraph', () => {
    const text = renderControl(base);
    expect(text.endsWith('\n')).toBe(true);
    expect(text.trimEnd()).not.toMatch(/\n\n/);
  });
});

describe('maintainer scripts', () => {
  it('run depmod for the package kernel only when its module tree is there, and never fail', () => {
    for (const kind of ['postinst', 'postrm'] as const) {
      const s = renderMaintainerScript(kind, KVER);
      expect(s.startsWith('#!/bin/sh\nset -e\n')).toBe(true);
      expect(s).toContain(`KVER="${KVER}"`);
      expect(s).toContain('MODDIR="$DPKG_ROOT/lib/modules/$KVER"');
      expect(s).toContain('[ -e "$MODDIR/modules.dep" ] || [ -e "$MODDIR/modules.order" ]');
      expect(s).toContain('depmod ${DPKG_ROOT:+-b "$DPKG_ROOT"} -a "$KVER" ||');
      expect(s.trimEnd().endsWith('exit 0')).toBe(true);
    }
    expect(renderMaintainerScript('postinst', KVER)).toMatch(/^configure\|/m);
    expect(renderMaintainerScript('postrm', KVER)).toMatch(/^remove\|purge\|/m);
  });
});

describe('maintainer scripts, run', () => {
  /** Runs a script under sh with DPKG_ROOT=root and a fake depmod that records its arguments. */
  function runScript(kind: 'postinst' | 'postrm', arg: string, root: string, depmodExit = 0) {
    const bin = mkdtempSync(join(tmpdir(), 'kbtf-pkg-bin-'));
    const log = join(bin, 'depmod.log');
    writeFileSync(join(bin, 'depmod'), `#!/bin/sh\necho "$@" >> ${log}\nexit ${depmodExit}\n`, { mode: 0o755 });
    const script = join(bin, kind);
    writeFileSync(script, renderMaintainerScript(kind, KVER), { mode: 0o755 });
    const r = spawnSync('sh', [script, arg], { encoding: 'utf8', env: { PATH: `${bin}:/usr/bin:/bin`, DPKG_ROOT: root } });
    return { code: r.status, stderr: r.stderr, calls: existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n') : [] };
  }

  it('without the kernel, do nothing and succeed', () => {
    const root = mkdtempSync(join(tmpdir(), 'kbtf-pkg-root-'));
    expect(runScript('postinst', 'configure', root)).toEqual({ code: 0, stderr: '', calls: [] });
    expect(runScript('postrm', 'remove', root)).toEqual({ code: 0, stderr: '', calls: [] });
  });

  it('with the kernel\'s module tree, run depmod for that kernel in DPKG_ROOT; a failing depmod fails nothing', () => {
    const root = mkdtempSync(join(tmpdir(), 'kbtf-pkg-root-'));
    mkdirSync(join(root, 'lib/modules', KVER), { recursive: true });
    writeFileSync(join(root, 'lib/modules', KVER, 'modules.order'), '');
    expect(runScript('postinst', 'configure', root).calls).toEqual([`-b ${root} -a ${KVER}`]);
    expect(runScript('postrm', 'purge', root).calls).toEqual([`-b ${root} -a ${KVER}`]);
    expect(runScript('postinst', 'triggered', root).calls).toEqual([]);
    const failed = runScript('postinst', 'configure', root, 1);
    expect(failed.code).toBe(0);
    expect(failed.stderr).toMatch(/depmod -a .* failed/);
  });
});

describe('changelog and copyright', () => {
  it('dates the changelog in RFC 2822, UTC', () => {
    expect(changelogDate(0)).toBe('Thu, 01 Jan 1970 00:00:00 +0000');
    expect(changelogDate(1764621000)).toBe('Mon, 01 Dec 2025 20:30:00 +0000');
  });

  it('has a changelog entry for this version and a DEP-5 copyright', () => {
    const c = renderChangelog({ kver: KVER, version: '0.1.0', imageVersion: '6.12.117-1' }, 1764621000).split('\n');
    expect(c[0]).toBe(`kbtf-companions-${KVER} (0.1.0) unstable; urgency=medium`);
    for (const l of c.filter((x) => x.startsWith('  '))) expect(l.length, l).toBeLessThanOrEqual(80); // lintian: debian-changelog-line-too-long (body lines)
    expect(c.find((l) => l.startsWith(' -- '))).toMatch(/^ -- .+ <.+> {2}Mon, 01 Dec 2025 20:30:00 \+0000$/);
    const cp = renderCopyright(1764621000);
    expect(cp).toMatch(/^Copyright: 1991-2025 Linus Torvalds/m);
    expect(cp).toMatch(/^Format: https:\/\/www\.debian\.org\/doc\/packaging-manuals\/copyright-format\/1\.0\/\n/);
    expect(cp).toContain('License: GPL-2\n');
    expect(cp).toContain('/usr/share/common-licenses/GPL-2');
  });
});

describe('debTimestamp', () => {
  it('reads the ar timestamp of the first member', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-pkg-'));
    const f = join(dir, 'x.deb');
    const header = 'debian-binary   ' + '1764621000'.padEnd(12) + '0     0     100644  4         `\n';
    writeFileSync(f, `!<arch>\n${header}2.0\n`);
    expect(debTimestamp(f)).toBe(1764621000);
    writeFileSync(f, 'not a deb at all, no, not at all..........................................');
    expect(() => debTimestamp(f)).toThrow(BadDataError);
  });
});
