import { describe, expect, it } from 'vitest';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsupportedError } from '@kbtf/binary';
import { BTF_FEATURES, checkPaholeVersion, debianMirror, parsePaholeVersion, probePahole } from './pahole.js';

function fakePahole(version: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-pahole-'));
  const p = join(dir, 'pahole');
  writeFileSync(p, `#!/bin/sh\necho ${version}\n`);
  chmodSync(p, 0o755);
  return p;
}

describe('pahole version', () => {
  it('parses pahole --version', () => {
    expect(parsePaholeVersion('v1.30\n')).toEqual([1, 30]);
    expect(parsePaholeVersion('v1.24-dirty')).toEqual([1, 24]);
    expect(parsePaholeVersion('garbage')).toBeUndefined();
  });
  it('refuses pahole older than 1.28 with a clear message', () => {
    expect(() => checkPaholeVersion('v1.24', '/usr/bin/pahole')).toThrow(UnsupportedError);
    expect(() => checkPaholeVersion('v1.24', '/usr/bin/pahole')).toThrow(/pahole 1\.24, too old: companion BTF needs pahole >= 1\.28/);
    expect(() => checkPaholeVersion('v1.27', 'p')).toThrow(/too old/);
    expect(() => checkPaholeVersion('v1.28', 'p')).not.toThrow();
    expect(() => checkPaholeVersion('v2.0', 'p')).not.toThrow();
  });
  it('probes a pahole binary', async () => {
    await expect(probePahole([fakePahole('v1.24')])).rejects.toThrow(/too old/);
    expect((await probePahole([fakePahole('v1.30')])).version).toBe('v1.30');
  });
  it('asks for global variables', () => {
    expect(BTF_FEATURES).toContain('global_var');
  });
});

describe('debianMirror', () => {
  it('takes the first /debian URI of deb822 or one-line sources, not debian-security', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-apt-'));
    const a = join(dir, 'a.sources');
    const b = join(dir, 'b.list');
    writeFileSync(a, 'Types: deb\nURIs: http://security.debian.org/debian-security\nSuites: bookworm-security\n');
    writeFileSync(b, '# comment\ndeb [arch=amd64] http://mirror.example/debian/ bookworm main\n');
    expect(debianMirror([a, b])).toBe('http://mirror.example/debian');
    expect(debianMirror([a])).toBe('http://deb.debian.org/debian');
  });
});
