/**
 * The kernel commands' edges on the committed fixture (test/fixtures/6.1-128m): usage errors, bad
 * expressions, faults, --btf FILE, --module and the human output.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { repoRoot } from '../lab.js';

const dir = join(repoRoot, 'test/fixtures/6.1-128m');
const dump = ['mkd-zlib.kdump', 'dump.kdump'].map((f) => join(dir, f)).find((p) => existsSync(p)) ?? join(dir, 'dump.kdump');
const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as { kernel: string; modules: { name: string }[] };
const tmp = mkdtempSync(join(tmpdir(), 'kbtf-kernel-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('kbtf symbols / modules / print / read --virt on the fixture', () => {
  it('rejects bad usage with exit 2 and one diagnostic line', async () => {
    for (const argv of [['symbols'], ['modules'], ['print', dump], ['symbols', dump, '--module', 'no_such_module']]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(/^kbtf: USAGE: .*\n$/);
    }
  });

  it('reports bad expressions, unknown globals and unmapped memory as errors, not output', async () => {
    const cases: [string, RegExp][] = [
      ['init_uts_ns.', /USAGE: 'init_uts_ns\.': expected a member name at the end/],
      ['init_uts_ns.name.nope', /NOT_FOUND: .*has no member 'nope'/],
      ['no_such_global_anywhere', /NOT_FOUND: /],
      ['*(struct module *)0x10', /FAULT: virtual address 0x10: not-mapped/],
      ['(struct no_such_struct *)0', /NOT_FOUND: .*no struct no_such_struct/],
    ];
    for (const [expr, want] of cases) {
      const r = await runCli(['print', dump, expr]);
      expect(r.code, expr).toBe(2);
      expect(r.stdout, expr).toBe('');
      expect(r.stderr, expr).toMatch(want);
    }
  });

  it('takes vmlinux BTF from a file with --btf, and refuses a file that is not BTF', async () => {
    const k = openKernel(dump);
    const btfFile = join(tmp, 'vmlinux.btf');
    writeFileSync(btfFile, k.vmlinuxBtfBytes());
    k.close();
    const ok = await runCli(['print', dump, 'init_uts_ns.name.release', '--btf', btfFile]);
    expect(ok.stdout).toBe(`(char [65])${JSON.stringify(truth.kernel)}\n`);
    const junk = join(tmp, 'junk.btf');
    writeFileSync(junk, 'not BTF at all, just text');
    const bad = await runCli(['print', dump, 'init_uts_ns.name.release', '--btf', junk]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^kbtf: BAD_DATA: /);
  });

  it('lists one module with --module, and modules as a table', async () => {
    const name = truth.modules[0].name;
    const one = await runCli(['symbols', dump, '--module', name]);
    expect(one.code).toBe(0);
    const lines = one.stdout.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(new RegExp(`^[0-9a-f]{16} [a-zA-Z] \\S+\\t\\[${name}\\]$`));
    const table = await runCli(['modules', dump]);
    expect(table.stdout.split('\n')[0]).toMatch(/^name +state +struct module +base +size +btf +btf sha256 +symbols$/);
    expect(table.stdout.trimEnd().split('\n')).toHaveLength(truth.modules.length + 1);
  });

  it('read --virt fails on an unmapped address naming the level', async () => {
    const r = await runCli(['read', dump, '--virt', '0xffffffffc0000000', '16']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/FAULT: virtual address 0xffffffffc0000000: not-mapped \((pgd|p4d|pud|pmd|pte) entry not present\)/);
  });
});
