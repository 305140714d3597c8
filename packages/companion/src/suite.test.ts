import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UnsupportedError, UsageError } from '@kbtf/binary';
import { debianRelease, hostDebianRelease, kernelSuite, paholeSuite } from './suite.js';
import { insideTree } from './stub.js';

describe('debianRelease', () => {
  it('reads the release from Debian ABI names', () => {
    expect(debianRelease('6.1.0-57-amd64')).toBe(12); // bookworm's own ABI
    expect(debianRelease('6.1.0-57-cloud-amd64')).toBe(12);
    expect(debianRelease('6.12.95+deb12-amd64')).toBe(12); // bookworm-backports
    expect(debianRelease('6.12.117+deb13-amd64')).toBe(13); // trixie
    expect(debianRelease('6.12.117+deb13-rt-amd64')).toBe(13);
    expect(debianRelease('6.17.8+deb14-amd64')).toBe(14);
    expect(debianRelease('6.8.0-custom')).toBeUndefined();
  });
});

describe('kernelSuite', () => {
  it('on bookworm: 6.1.0-N and +deb12 on the host, +deb13 through the trixie tree', () => {
    expect(kernelSuite('6.1.0-57-amd64', 12)).toBe('host');
    expect(kernelSuite('6.12.95+deb12-amd64', 12)).toBe('host');
    expect(kernelSuite('6.12.117+deb13-amd64', 12)).toBe('trixie');
    expect(kernelSuite('6.8.0-custom', 12)).toBe('host');
  });

  it('on trixie, a trixie kernel is the host\'s own', () => {
    expect(kernelSuite('6.12.117+deb13-amd64', 13)).toBe('host');
  });

  it('a kernel of a later release than trixie (unstable\'s +deb14) goes through the sid tree', () => {
    expect(kernelSuite('7.2.13+deb14-amd64', 12)).toBe('sid');
    expect(kernelSuite('7.2.13+deb14-rt-amd64', 13)).toBe('sid');
    expect(kernelSuite('7.2.13+deb14-amd64', 14)).toBe('host');
    expect(paholeSuite('7.2.13+deb14-amd64')).toBe(hostDebianRelease() === 14 ? 'trixie' : 'sid');
  });

  it('refuses releases it has no tree for', () => {
    expect(() => kernelSuite('6.17.8+deb14-amd64', 15)).toThrow(UnsupportedError);
    expect(() => kernelSuite('6.1.0-57-amd64', 13)).toThrow(/Debian 12 kernel and this host is Debian 13/);
  });

  it('reads the host release from os-release', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-suite-'));
    const f = join(dir, 'os-release');
    writeFileSync(f, 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_ID="12"\nID=debian\n');
    expect(hostDebianRelease(f)).toBe(12);
    writeFileSync(f, 'ID=debian\nVERSION_ID=13\n');
    expect(hostDebianRelease(f)).toBe(13);
    expect(hostDebianRelease(join(dir, 'none'))).toBeUndefined();
  });
});

describe('insideTree', () => {
  it('maps host paths under a tree to the tree\'s own, and refuses the rest', () => {
    expect(insideTree('/var/cache/kbtf/trixie', '/var/cache/kbtf/trixie/usr/src/linux-headers-x')).toBe('/usr/src/linux-headers-x');
    expect(insideTree('/var/cache/kbtf/trixie/', '/var/cache/kbtf/trixie/tmp/a')).toBe('/tmp/a');
    expect(() => insideTree('/var/cache/kbtf/trixie', '/tmp/a')).toThrow(UsageError);
    expect(() => insideTree('/var/cache/kbtf/trixie', '/var/cache/kbtf/trixie-other/a')).toThrow(UsageError);
  });
});
