/** verify --report through writeFileAtomic, in-process on the bundled real dump. */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../cli/test-io.js';

const fixture = join(import.meta.dirname, '../../../../test/fixtures/6.1-128m/dump.kdump');
const dir = mkdtempSync(join(tmpdir(), 'kbtf-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('kbtf verify --report', () => {
  it('replaces an old report whole; an unwritable one is a USAGE error (exit 2) that leaves nothing behind', async () => {
    const file = join(dir, 'r.json');
    writeFileSync(file, 'old\n');
    const r = await runCli(['verify', '--report', file, fixture]);
    expect(r.code, r.stderr).toBeLessThan(2);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { verdict: string }).verdict).toMatch(/^(complete|incomplete)$/);
    expect(readdirSync(dir)).toEqual(['r.json']);

    const taken = join(dir, 'taken');
    mkdirSync(join(taken, 'inside'), { recursive: true });
    const b = await runCli(['verify', '--report', taken, fixture]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(new RegExp(`^kbtf: USAGE: verify: cannot write --report ${taken}: `));
    expect(readdirSync(dir).sort()).toEqual(['r.json', 'taken']);
    expect(readdirSync(taken)).toEqual(['inside']);
  });
});
