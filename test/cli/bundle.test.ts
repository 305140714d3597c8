/**
 * The installed CLI as users run it: apps/kbtf/bin/kbtf.js over the build (dist/kbtf.cjs, the
 * bundled program, with its V8 code cache; dist/worker.js for --jobs). Needs `npm run build`;
 * CI builds before the tests. Each result is compared with the same command run in-process from
 * source, so a bundling mistake (a module left out, a path that moved) cannot pass.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'apps/kbtf/bin/kbtf.js');
const bundle = join(root, 'apps/kbtf/dist/kbtf.cjs');
const fixture = join(root, 'test/fixtures/6.1-128m/dump.kdump');
const cacheDir = mkdtempSync(join(tmpdir(), 'kbtf-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

function kbtf(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, KBTF_COMPILE_CACHE: cacheDir, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A verify report without its timings (the only part that differs between runs). */
function untimed(json: string): unknown {
  const r = JSON.parse(json) as Record<string, unknown>;
  delete r.timings;
  return r;
}

describe('the built CLI (bundle + code cache)', () => {
  it('is built', () => {
    expect(existsSync(bundle), 'apps/kbtf/dist/kbtf.cjs: run npm run build').toBe(true);
    expect(existsSync(join(root, 'apps/kbtf/dist/worker.js'))).toBe(true);
  });

  it('verify: the same report as in-process, and the second run uses the code cache it wrote', async () => {
    const args = ['verify', '--json', '--lookup', 'init_uts_ns.name.release', fixture];
    const mine = await runCli(args);
    const first = kbtf(args);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(mine.code);
    expect(untimed(first.stdout)).toEqual(untimed(mine.stdout));
    const files = readdirSync(cacheDir).filter((f) => f.startsWith('compile-verify-'));
    expect(files).toHaveLength(1);
    const written = statSync(join(cacheDir, files[0])).mtimeMs;
    const second = kbtf(args);
    expect(second.code).toBe(mine.code);
    expect(untimed(second.stdout)).toEqual(untimed(mine.stdout));
    // An accepted cache is not written again.
    expect(statSync(join(cacheDir, files[0])).mtimeMs).toBe(written);
  });

  it('a corrupt cache file is rejected by V8 and replaced, with the same output', async () => {
    const { writeFileSync } = await import('node:fs');
    const file = readdirSync(cacheDir).find((f) => f.startsWith('compile-verify-'))!;
    writeFileSync(join(cacheDir, file), Buffer.alloc(4096, 0x5a));
    const r = kbtf(['verify', '--json', fixture]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).verdict).toBe('complete');
    expect(statSync(join(cacheDir, file)).size).toBeGreaterThan(10_000);
  });

  it('a cache file others can write is not used (and is replaced)', async () => {
    const { chmodSync } = await import('node:fs');
    const file = join(cacheDir, readdirSync(cacheDir).find((f) => f.startsWith('compile-verify-'))!);
    chmodSync(file, 0o666);
    const r = kbtf(['verify', '--json', fixture]);
    expect(r.code).toBe(0);
    // Not accepted, so rewritten: owner-only again.
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('KBTF_COMPILE_CACHE=0 writes nothing; unset, the cache is in $XDG_CACHE_HOME/kbtf', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-nocache-'));
    try {
      const r = kbtf(['symbols', '--json', fixture], { KBTF_COMPILE_CACHE: '0', HOME: dir, XDG_CACHE_HOME: dir });
      expect(r.code).toBe(0);
      expect(readdirSync(dir)).toEqual([]);
      // Unset, the cache goes under $XDG_CACHE_HOME/kbtf.
      expect(kbtf(['symbols', '--json', fixture], { KBTF_COMPILE_CACHE: '', HOME: dir, XDG_CACHE_HOME: dir }).code).toBe(0);
      expect(readdirSync(join(dir, 'kbtf')).filter((f) => f.startsWith('compile-symbols-'))).toHaveLength(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('verify --jobs 2 runs the bundled worker: JSON Lines equal to the one-by-one reports', async () => {
    const dumps = [fixture, fixture];
    const r = kbtf(['verify', '--json', '--jobs', '2', ...dumps]);
    expect(r.code).toBe(0);
    expect(r.stderr.trim()).toBe('2 dumps: 2 self-contained, 0 not self-contained, 0 unreadable (policy: 2 complete, 0 incomplete)');
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    const one = await runCli(['verify', '--json', fixture]);
    for (const line of lines) expect(untimed(line)).toEqual(untimed(one.stdout));
  });

  it('a large output through a slow pipe arrives whole (the early exit waits for it)', async () => {
    const mine = await runCli(['symbols', '--json', fixture]);
    const r = spawnSync('sh', ['-c', `"${process.execPath}" "${bin}" symbols --json "${fixture}" | (sleep 1; wc -c)`], { encoding: 'utf8', env: { ...process.env, KBTF_COMPILE_CACHE: cacheDir } });
    expect(Number(r.stdout.trim())).toBe(Buffer.byteLength(mine.stdout));
    expect(Buffer.byteLength(mine.stdout)).toBeGreaterThan(1 << 20);
  });

  it('usage errors and unreadable input keep their exit codes', () => {
    expect(kbtf(['no-such-command']).code).toBe(2);
    const r = kbtf(['verify', join(root, 'package.json')]);
    expect(r.code).toBe(2);
  });
});
