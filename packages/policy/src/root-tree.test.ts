import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Root } from './root-tree.js';
import { writeIfChanged } from './render.js';

describe('Root paths', () => {
  it('a tree joins in-tree paths onto its directory', () => {
    expect(new Root('/tree').path('/etc/modprobe.d/kbtf.conf')).toBe('/tree/etc/modprobe.d/kbtf.conf');
  });
  it("the host's root takes a relative path from the working directory (--output etc/x.conf), not from /", () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-fs-'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const host = new Root('/');
      expect(host.path('etc/modprobe.d/kbtf.conf')).toBe(join(dir, 'etc/modprobe.d/kbtf.conf'));
      expect(host.path('/etc/modprobe.d/kbtf.conf')).toBe('/etc/modprobe.d/kbtf.conf');
      expect(writeIfChanged(host, 'etc/modprobe.d/kbtf.conf', 'softdep loop post: loop-btf\n')).toBe('written');
      expect(readFileSync(join(dir, 'etc/modprobe.d/kbtf.conf'), 'utf8')).toBe('softdep loop post: loop-btf\n');
    } finally {
      process.chdir(cwd);
    }
  });
});
