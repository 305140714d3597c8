// `kbtf hook` end to end through the CLI, with a fake `modprobe` first on PATH that records every
// call: hostile names must exit 2 and run nothing.
import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtempSync, writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';

let dir: string;
let log: string;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kbtf-hook-'));
  log = join(dir, 'calls.log');
  const fake = join(dir, 'modprobe');
  writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexit 0\n`);
  chmodSync(fake, 0o755);
  env = { PATH: `${dir}:/usr/bin:/bin`, NO_COLOR: '1' };
});

const calls = () => (existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : []);

describe('kbtf hook (CLI, fake modprobe on PATH)', () => {
  const hostile = ['loop;touch /tmp/pwned', '$(reboot)', '`id`', '../../../tmp/evil', 'loop ext4', 'A'.repeat(4096)];
  for (const name of hostile) {
    it(`exit 2 and nothing run for ${JSON.stringify(name.slice(0, 24))}`, async () => {
      const before = calls().length;
      const r = await runCli(['hook', name], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/kbtf: USAGE: hook: refusing module name/);
      expect(calls().length).toBe(before);
    });
  }
  it('a valid name runs modprobe --ignore-install through execFile', async () => {
    const before = calls().length;
    const r = await runCli(['hook', 'loop', 'max_loop=8'], env);
    expect(r.code).toBe(0);
    expect(calls().slice(before)[0]).toBe('--ignore-install -- loop max_loop=8');
  });
});
