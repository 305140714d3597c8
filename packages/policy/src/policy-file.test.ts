import { describe, expect, it } from 'vitest';
import { parsePolicy, readPolicy } from './policy-file.js';
import { memTree } from './test-tree.js';

describe('policy file', () => {
  it('parses a version 1 policy and records key lines', () => {
    const p = parsePolicy('version: 1\nmode: always\nexclude:\n  - "snd_*"\nvmlinux: false\nrequired: [ext4]\n', 'p.yaml');
    expect(p.data).toEqual({ version: 1, mode: 'always', exclude: ['snd_*'], vmlinux: false, required: ['ext4'] });
    expect(p.lines).toMatchObject({ version: 1, mode: 2, exclude: 3, vmlinux: 5, required: 6 });
  });
  const bad: [string, RegExp][] = [
    ['version: 1\nmode: sometimes\n', /p\.yaml:2: mode: /],
    ['version: 1\n\nmodes: always\n', /p\.yaml:3: policy: unknown key 'modes'/],
    ['version: 1\nexclude:\n  - ok\n  - "bad name;"\n', /p\.yaml:4: exclude\.1: /],
    ['mode: always\n', /p\.yaml:1: version: /],
    ['version: 1\nvmlinux: yes please\n', /p\.yaml:2: vmlinux: /],
    ['version: 1\nmode: [always\n', /p\.yaml:\d: YAML: /],
    ['', /p\.yaml:1: empty policy/],
  ];
  for (const [text, re] of bad) {
    it(`rejects ${JSON.stringify(text)} naming file and line`, () => {
      expect(() => parsePolicy(text, 'p.yaml')).toThrow(re);
    });
  }
  it('reports an unsupported version as UNSUPPORTED with its line', () => {
    expect(() => parsePolicy('# x\nversion: 2\n', 'p.yaml')).toThrow(expect.objectContaining({ code: 'UNSUPPORTED', message: expect.stringMatching(/p\.yaml:2: policy version 2/) }));
  });
  it('first found wins: /etc, then /run, then /usr/lib; /dev/null masks', () => {
    const files = { '/usr/lib/kbtf/policy.yaml': 'version: 1\nmode: off\n', '/run/kbtf/policy.yaml': 'version: 1\nmode: always\n' };
    expect(readPolicy(memTree(files))?.file).toBe('/run/kbtf/policy.yaml');
    expect(readPolicy(memTree({ ...files, '/etc/kbtf/policy.yaml': 'version: 1\n' }))?.file).toBe('/etc/kbtf/policy.yaml');
    expect(readPolicy(memTree({ '/usr/lib/kbtf/policy.yaml': 'version: 1\nmode: off\n' }))?.data.mode).toBe('off');
    expect(readPolicy(memTree(files, { '/etc/kbtf/policy.yaml': '/dev/null' }))).toBeUndefined();
    expect(readPolicy(memTree({}))).toBeUndefined();
  });

  it('a document with more than 100 alias expansions is a BAD_DATA naming the file, not a ReferenceError', () => {
    const text = `version: 1\nmode: always\nx: &a [ext4]\nexclude: [${Array(101).fill('*a').join(', ')}]\n`;
    expect(() => parsePolicy(text, 'p.yaml')).toThrow(/^p\.yaml:1: YAML: Excessive alias count/);
  });
});
