/**
 * The two answers of `kbtf verify` (issue 18, docs/verify.md) on the lab's real dumps:
 * - the plain guests (no companion loaded, default on-demand policy): not self-contained, naming
 *   vmlinux_btf and every module's missing companion; the policy verdict complete; exit 1 by
 *   default, 0 with --exit-on policy;
 * - the companion guests: self-contained, every self-test lookup resolved, equal to the guest's own
 *   /proc records (uname -r, /proc/cmdline) and to what drgn prints with the kernel's DWARF;
 * - the bundled fixture: the same, against drgn's output recorded by test/verify/drgn-reference.py
 *   (test/fixtures/6.1-128m/drgn-selftest.json; regenerate with the command in that file).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SELF_TEST_LOOKUPS, verifyDump, type LookupResult, type VerifyReport } from '@kbtf/verify';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { companionLabKeys, labJson, labPath, labVariants, repoRoot } from '../lab.js';
import { dbgRoot, drgnValue, normalize, type DrgnOutput } from './drgn.js';

interface Truth {
  kernel: string;
  cmdline: string;
  modules: { name: string }[];
}

const fixture = join(repoRoot, 'test/fixtures/6.1-128m/dump.kdump');

describe.each(labVariants)('plain guest %s: not self-contained, policy complete', (variant) => {
  const truth = labJson<Truth>(variant, 'truth.json');
  const path = labPath(variant, 'mkd-zstd.kdump');

  it('names vmlinux_btf and every module\'s missing companion; the policy verdict is complete', () => {
    const r = verifyDump(path);
    expect(r.verdict).toBe('complete');
    expect(r.policy.mode).toBe('on-demand');
    expect(r.selfContained.verdict).toBe('not-self-contained');
    const expected = [...truth.modules.map((m) => ({ module: m.name, what: [`${m.name}_btf not loaded`] })), { module: 'vmlinux', what: ['vmlinux_btf not loaded'] }];
    const sort = (x: { module: string }[]) => [...x].sort((a, b) => a.module.localeCompare(b.module));
    expect(sort(r.selfContained.missing)).toEqual(sort(expected));
    for (const m of r.modules) expect({ name: m.name, selfContained: m.selfContained, outOfTree: m.outOfTree, state: m.companion.state, status: m.companion.status }).toEqual({ name: m.name, selfContained: false, outOfTree: false, state: 'missing', status: 'not-wanted' });
    // The kernel lookups still run; no module global is tried (no companion types one).
    expect(r.selfTest.map((l) => l.expr)).toEqual(SELF_TEST_LOOKUPS);
    expect(r.selfTest[0]).toMatchObject({ status: 'resolved', value: `(char [65])"${truth.kernel}"` });
  });

  it('CLI: exit 1 by default, 0 with --exit-on policy; the text leads with the answer', async () => {
    const r = await runCli(['verify', path]);
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toMatch(/^self-contained: NO /);
    expect(r.stdout).toMatch(/^ {2}vmlinux +vmlinux_btf not loaded$/m);
    expect(r.stdout).toMatch(/^policy: complete$/m);
    expect((await runCli(['verify', '--exit-on', 'policy', path])).code).toBe(0);
    const bad = await runCli(['verify', '--exit-on', 'nope', path]);
    expect(bad.code).toBe(2);
  });
});

/** The self-test and the guest's own records agree (uname -r and /proc/cmdline, recorded by the guest). */
function checkAgainstGuest(r: VerifyReport, truth: Truth): void {
  const byExpr = new Map(r.selfTest.map((l) => [l.expr, l]));
  expect(byExpr.get('init_uts_ns.name.release')?.value).toBe(`(char [65])"${truth.kernel}"`);
  expect(byExpr.get('saved_command_line')?.value).toMatch(new RegExp(`^\\(char \\*\\)0x[0-9a-f]+ = "${truth.cmdline.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"$`));
  // tainted_mask: the companions are out-of-tree and unsigned (O, E: bits 12 and 13).
  expect(byExpr.get('tainted_mask')?.value).toBe('(unsigned long)12288');
}

/** Each self-test value equals drgn's, up to the formatting differences docs/verify.md lists. */
function checkAgainstDrgn(selfTest: LookupResult[], drgn: DrgnOutput): void {
  expect(drgn.values.map((v) => v.expr)).toEqual(selfTest.map((l) => l.expr));
  for (const [i, l] of selfTest.entries()) {
    const d = drgn.values[i];
    expect(d.error, `drgn on ${l.expr}`).toBeUndefined();
    if (d.address) expect(l.address, l.expr).toBe(d.address);
    expect(normalize(l.value!), l.expr).toBe(normalize(d.value!));
  }
}

describe.each(companionLabKeys)('companion guest %s: self-contained', (key) => {
  const truth = labJson<Truth>(key, 'truth.json');
  const path = labPath(key, 'mkd-zstd.kdump');
  let report: VerifyReport | undefined;
  const get = () => (report ??= verifyDump(path));

  it('self-contained, every module and vmlinux_btf present, every self-test lookup resolved', () => {
    const r = get();
    expect(r.selfContained).toEqual({ verdict: 'self-contained', missing: [], reasons: [] });
    expect(r.verdict).toBe('complete');
    expect(r.modules.every((m) => m.selfContained && m.companion.state === 'ok')).toBe(true);
    // The five kernel lookups, then one global of each module's companion.
    const parents = truth.modules.map((m) => m.name).filter((n) => !n.endsWith('_btf'));
    expect(r.selfTest.map((l) => l.expr.split(':')[0])).toEqual([...SELF_TEST_LOOKUPS, ...r.modules.map((m) => m.name)]);
    expect(r.modules.map((m) => m.name).sort()).toEqual(parents.sort());
    for (const l of r.selfTest) expect({ expr: l.expr, status: l.status }).toEqual({ expr: l.expr, status: 'resolved' });
    checkAgainstGuest(r, truth);
  });

  // Never skipped: tools/test.sh installs python3-drgn, and the companion build of this guest's
  // kernel extracted its -dbg vmlinux (the DWARF vmlinux-btf.ko is made from).
  it(`equal to drgn with DWARF (python3-drgn, ${truth.kernel}-dbg)`, () => {
    const root = dbgRoot(truth.kernel);
    expect(root, `/var/cache/kbtf/kernels/${truth.kernel}/dbg (the companion build extracts it)`).toBeDefined();
    expect(drgnInstalled(), 'python3-drgn (tools/test.sh installs it)').toBe(true);
    const r = get();
    checkAgainstDrgn(r.selfTest, drgnValue(path, root!, r.selfTest.map((l) => ({ expr: l.expr, address: l.address }))));
  }, 120_000);
});

describe('bundled fixture: self-contained, equal to drgn\'s recorded output', () => {
  const recorded = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/6.1-128m/drgn-selftest.json'), 'utf8')) as DrgnOutput;
  const truth = JSON.parse(readFileSync(join(repoRoot, 'test/fixtures/6.1-128m/truth.json'), 'utf8')) as Truth;

  it('every self-test lookup equals drgn 0.0.22 with the 6.1.0-56-amd64 DWARF', async () => {
    const r = verifyDump(fixture);
    expect(r.selfContained.verdict).toBe('self-contained');
    expect(recorded.tool).toBe('drgn 0.0.22');
    checkAgainstGuest(r, truth);
    checkAgainstDrgn(r.selfTest, recorded);
    const cli = await runCli(['verify', '--json', fixture]);
    expect(cli.code).toBe(0);
    expect(JSON.parse(cli.stdout).selfContained.verdict).toBe('self-contained');
  });

  it('a --lookup that fails makes both answers negative', () => {
    const r = verifyDump(fixture, { lookups: ['no_such_global_anywhere'] });
    expect(r.selfContained.verdict).toBe('not-self-contained');
    expect(r.selfContained.reasons).toEqual([expect.stringMatching(/^lookup no_such_global_anywhere: no type for global/)]);
    expect(r.verdict).toBe('incomplete');
  });
});

function drgnInstalled(): boolean {
  return spawnSync('/usr/bin/python3', ['-c', 'import drgn'], { stdio: 'ignore' }).status === 0;
}
