import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { companionRules } from './rules.js';
import { validateBtf } from './validate.js';
import { K, TestBtf } from './test-builder.js';

/**
 * Every Debian kernel series the lab boots or builds companions for (docs/lab.md): bookworm's 6.1
 * (generic, rt, cloud), bookworm-backports' 6.12 (`+deb12`: generic, rt, cloud) and trixie's 6.12
 * (`+deb13`), as `uname -r` prints them (the package names linux-image-RELEASE in Debian's archive).
 */
const DEBIAN: [string, '6.1' | 'current'][] = [
  ['6.1.0-56-amd64', '6.1'],
  ['6.1.0-57-amd64', '6.1'],
  ['6.1.0-57-rt-amd64', '6.1'],
  ['6.1.0-57-cloud-amd64', '6.1'],
  ['6.12.95+deb12-amd64', '6.1'],
  ['6.12.117+deb12-rt-amd64', '6.1'],
  ['6.12.117+deb12-cloud-amd64', '6.1'],
  ['6.12.117+deb13-amd64', '6.1'],
  ['6.12.117+deb13-rt-amd64', '6.1'],
  ['6.12.117+deb13-cloud-amd64', '6.1'],
];

describe('companionRules', () => {
  it.each(DEBIAN)('%s: Linux %s rules', (release, rules) => {
    expect(companionRules(release)).toBe(rules);
  });

  it('the bundled dump\'s kernel (test/fixtures/6.1-128m) is a 6.1', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../../test/fixtures/6.1-128m/manifest.json', import.meta.url), 'utf8')) as { kernel: { kver: string } };
    expect(manifest.kernel.kver).toMatch(/^6\.1\.0-\d+-amd64$/);
    expect(companionRules(manifest.kernel.kver)).toBe('6.1');
  });

  it('releases before 6.15 (kind_flag tags) follow 6.1\'s rules; 6.15–6.19 and 7.1 do not', () => {
    for (const r of ['6.1', '6.1-rc7', '6.1.0', '6.1.158', '6.1+', '6.10.5', '6.11.0-1-amd64', '6.12', '6.14.11', '5.15.0-1-amd64']) expect(companionRules(r), r).toBe('6.1');
    for (const r of ['6.15', '6.15-rc1', '6.18.44-fc-v1045', '6.19', '7.1.0', '16.1.0', '', 'garbage']) expect(companionRules(r), r).toBe('current');
  });

  it('the answer decides validation: a kind_flag TYPE_TAG passes 6.15\'s rules, fails 6.12\'s and 6.1\'s', () => {
    const b = new TestBtf();
    const int = b.int('int', 4);
    b.rec(K.TYPE_TAG, 'user', int, [], 0, true);
    const bytes = b.build();
    expect(validateBtf(bytes, { kernel: companionRules('6.15.0') }).valid).toBe(true);
    expect(validateBtf(bytes, { kernel: companionRules('6.12.117+deb13-amd64') }).errors.map((e) => e.message)).toContain('Invalid btf_info kind_flag');
    expect(validateBtf(bytes, { kernel: companionRules('6.1.0-57-amd64') }).errors.map((e) => e.message)).toContain('Invalid btf_info kind_flag');
  });
});
