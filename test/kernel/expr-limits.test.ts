/**
 * `kbtf print` on expressions built to exhaust the parser (issue 19): each ends with one USAGE line
 * and exit 2, quickly; ordinary nesting still evaluates. On the bundled real dump.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';

const fixture = join(import.meta.dirname, '..', 'fixtures/6.1-128m/dump.kdump');

describe('kbtf print: expression limits', () => {
  it('ordinary nesting evaluates', async () => {
    const r = await runCli(['print', fixture, '((((init_uts_ns)).name)).release', '*&*&jiffies_64']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('6.1.0-56-amd64');
  });

  it.each([
    ['2,000 nested parentheses', `${'('.repeat(2000)}jiffies_64${')'.repeat(2000)}`, /nested deeper than 256 levels/],
    ['1,000 nested parentheses', `${'('.repeat(1000)}jiffies_64${')'.repeat(1000)}`, /nested deeper than 256 levels/],
    ['3,000 dereferences', `${'*'.repeat(3000)}jiffies_64`, /nested deeper than 256 levels/],
    ['a cast to a type with 1,000 *', `(int ${'*'.repeat(1000)})jiffies_64`, /more than 256 '\*'/],
    ['an expression of 30,000 characters', `${'('.repeat(15000)}x${')'.repeat(15000)}`, /30001 characters: longer than 4096/],
  ])('%s: one USAGE line, exit 2', async (_name, expr, why) => {
    const t0 = performance.now();
    const r = await runCli(['print', fixture, expr]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^kbtf: USAGE: /);
    expect(lines[0]).toMatch(why);
    expect(performance.now() - t0).toBeLessThan(10_000);
  });
});
