/**
 * A short run of the fuzz harness (tools/fuzz/fuzz.mjs, `npm run fuzz`) on every landing: mutated
 * copies of the bundled dump, this host's vmlinux BTF and a policy root, through every reading
 * command, in-process and as a process. Fails on an INTERNAL error, a stack trace, an exit code
 * outside 0/1/2, more than 10 s or 1 GiB for one command. The seed changes daily, so successive
 * landings cover different inputs; a failure prints the seed to reproduce it.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('fuzz (short run)', () => {
  it('no input reaches an INTERNAL error, a stack trace, a bad exit code or a limit', () => {
    const seed = String(Math.floor(Date.now() / 86_400_000));
    const r = spawnSync(process.execPath, [join(root, 'tools/fuzz/fuzz.mjs'), '--count', '80', '--seconds', '150', '--seed', seed, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(r.stderr).toBe('');
    const summary = JSON.parse(r.stdout) as { inputs: number; failed: number; failures: unknown[] };
    expect(summary.inputs).toBeGreaterThan(10);
    expect(summary.failures, `seed ${seed}`).toEqual([]);
    expect(r.status).toBe(0);
  }, 400_000);
});
