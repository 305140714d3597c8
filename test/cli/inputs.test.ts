/**
 * What users point kbtf at by mistake, and how output ends when its reader goes away. Each case
 * must end with one `kbtf: CODE: message` line naming the path, exit 2, and no stack trace
 * (issues 15 and 19); a closed pipe ends quietly with the command's own exit code.
 * The pipe cases run the built CLI (apps/kbtf/bin/kbtf.js; CI builds before the tests).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';

const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'apps/kbtf/bin/kbtf.js');
const fixture = join(root, 'test/fixtures/6.1-128m/dump.kdump');
const tmp = mkdtempSync(join(tmpdir(), 'kbtf-inputs-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function oneLine(stderr: string, code: string, path: string): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^kbtf: ${code}: `));
  expect(lines[0]).toContain(path);
  expect(stderr).not.toMatch(/INTERNAL|\n\s+at /);
}

describe('inputs that are not what a command reads', () => {
  it.each([
    ['info', 'a directory'],
    ['symbols', 'a directory'],
    ['verify', 'a directory'],
  ])('%s on a directory: USAGE, exit 2', async (cmd, kind) => {
    const r = await runCli([cmd, tmp]);
    expect(r.code).toBe(2);
    oneLine(r.stderr, 'USAGE', tmp);
    expect(r.stderr).toContain(kind);
  });

  it('btf dump /dev/zero is refused at once (not read until memory runs out)', async () => {
    const r = await runCli(['btf', 'dump', '/dev/zero']);
    expect(r.code).toBe(2);
    oneLine(r.stderr, 'USAGE', '/dev/zero');
    expect(r.stderr).toContain('a character device');
  });

  it('- as the dump: a vmcore needs a regular file', async () => {
    const r = await runCli(['info', '-']);
    expect(r.code).toBe(2);
    oneLine(r.stderr, 'USAGE', '-');
  });

  it('a missing dump or BTF file: NOT_FOUND naming it', async () => {
    for (const argv of [['info', join(tmp, 'nope.kdump')], ['btf', 'stats', join(tmp, 'nope.btf')], ['verify', fixture, '--vmlinux-btf', join(tmp, 'nope.btf')]]) {
      const r = await runCli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      oneLine(r.stderr, 'NOT_FOUND', join(tmp, 'nope'));
    }
  });

  it('--policy naming a missing file: NOT_FOUND naming it, exit 2', async () => {
    const missing = join(tmp, 'missing.yaml');
    const r = await runCli(['verify', fixture, '--policy', missing]);
    expect(r.code).toBe(2);
    oneLine(r.stderr, 'NOT_FOUND', missing);
  });

  it('an unreadable file: USAGE naming it', async () => {
    if (process.getuid?.() === 0) {
      // root reads everything; a directory component that is a file gives the same class of error
      const file = join(tmp, 'plain');
      writeFileSync(file, 'x');
      const r = await runCli(['info', join(file, 'dump')]);
      expect(r.code).toBe(2);
      oneLine(r.stderr, 'USAGE', file);
      return;
    }
    const file = join(tmp, 'secret.kdump');
    writeFileSync(file, 'x', { mode: 0o000 });
    const r = await runCli(['info', file]);
    expect(r.code).toBe(2);
    oneLine(r.stderr, 'USAGE', file);
  });
});

/** Run the built CLI, close its stdout after the first chunk (as `| head -1` does), return its exit and stderr. */
function closeAfterFirstChunk(args: string[]): Promise<{ code: number | null; stderr: string; got: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KBTF_COMPILE_CACHE: '0' } });
    let stderr = '';
    let got = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.once('data', (d: Buffer) => {
      got = d.toString('utf8').split('\n')[0];
      child.stdout.destroy();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, got }));
  });
}

describe('a reader that goes away (kbtf … | head -1)', () => {
  it.each([
    [['symbols', fixture], 0],
    [['read', fixture, '--virt', '0xffffffffafffb000', '65536'], 0],
    [['btf', 'dump', '/sys/kernel/btf/vmlinux', '--format', 'raw'], 0],
  ] as [string[], number][])('%j ends quietly with its own exit code', async (args, code) => {
    const whole = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, KBTF_COMPILE_CACHE: '0' } });
    expect(whole.status, whole.stderr).toBe(code);
    const r = await closeAfterFirstChunk(args);
    expect(r.got).toBe(whole.stdout.split('\n')[0]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(code);
  });
});
