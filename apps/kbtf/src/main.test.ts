import { describe, expect, it } from 'vitest';
import { runCli } from './cli/test-io.js';
import { VERSION } from './version.js';

describe('kbtf CLI conventions', () => {
  it('lists the commands with --help', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Usage: kbtf <command>/);
    expect(r.stdout).toMatch(/\bversion\b/);
  });

  it('prints the version', async () => {
    const r = await runCli(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it('exits 2 with a one-line error on an unknown command', async () => {
    const r = await runCli(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^kbtf: USAGE: unknown command 'frobnicate'/);
  });

  it('exits 2 on an unknown option', async () => {
    const r = await runCli(['version', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/USAGE/);
  });

  it('emits exactly one JSON document with --json', async () => {
    const r = await runCli(['version', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).kbtf).toBe(VERSION);
    expect(r.stderr).toBe('');
  });
});
