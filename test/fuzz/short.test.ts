/**
 * A short run of the fuzz harness (tools/fuzz/fuzz.mjs, `npm run fuzz`) on every landing: mutated
 * copies of the bundled dump, this host's vmlinux BTF and a policy root, through every reading
 * command, in-process and as a process. Fails on an INTERNAL error, a stack trace, an exit code
 * outside 0/1/2, more than 10 s or 1 GiB for one command. The seed is fixed, so a landing is
 * judged on the same inputs every time; `npm run fuzz` (a new seed each run) explores, and what it
 * finds becomes a regression test beside the code it breaks.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('fuzz (short run)', () => {
  it('no input reaches an INTERNAL error, a stack trace, a bad exit code or a limit', () => {
    const seed = '20261201';
    const r = spawnSync(process.execPath, [join(root, 'tools/fuzz/fuzz.mjs'), '--count', '80', '--seconds', '150', '--seed', seed, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout) as { inputs: number; failed: number; failures: unknown[] };
    expect(summary.inputs).toBeGreaterThan(10);
    expect(summary.failures, `seed ${seed}`).toEqual([]);
    expect(r.status).toBe(0);
  }, 400_000);
});
