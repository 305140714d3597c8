// The policy commands through the CLI on a real directory tree.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'kbtf-cli-'));
  const files: Record<string, string> = {
    'lib/modules/6.1.0-56-amd64/modules.dep': 'kernel/fs/ext4/ext4.ko:\nextra/ext4-btf.ko:\nkernel/drivers/block/loop.ko:\n',
    'etc/kbtf/policy.yaml': 'version: 1\nmode: on-demand\ninclude: [ext4]\n',
    'etc/sysctl.d/50-kbtf.conf': 'kernel.btf_companions = always\n',
  };
  for (const [p, t] of Object.entries(files)) {
    mkdirSync(join(root, p, '..'), { recursive: true });
    writeFileSync(join(root, p), t);
  }
  return root;
}

describe('kbtf policy show / modprobe-config', () => {
  it('policy show --json gives each value and its source', async () => {
    const root = tree();
    const r = await runCli(['policy', 'show', '--root', root, '--json', '--module', 'ext4-btf', '--module', 'snd-hda']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.mode).toEqual({ value: 'always', source: { kind: 'sysctl', file: '/etc/sysctl.d/50-kbtf.conf', line: 1 } });
    expect(doc.decisions.map((d: { reason: string }) => d.reason)).toEqual(['is-companion', 'mode-always']);
    const human = await runCli(['policy', 'show', '--root', root, '--cmdline', 'btf_companions=off']);
    expect(human.stdout).toMatch(/^mode\s+off\s+\[cmdline \(--cmdline\)\]/m);
  });
  it('modprobe-config writes once, then is unchanged; --check exits 1 on a difference', async () => {
    const root = tree();
    const out = join(root, 'run/modprobe.d/kbtf.conf');
    expect((await runCli(['modprobe-config', '--root', root, '--output', out])).stdout).toMatch(/: written/);
    expect(readFileSync(out, 'utf8')).toMatch(/^softdep ext4 post: ext4-btf$/m);
    expect((await runCli(['modprobe-config', '--root', root, '--output', out])).stdout).toMatch(/: unchanged/);
    expect((await runCli(['modprobe-config', '--root', root, '--output', out, '--check'])).code).toBe(0);
    writeFileSync(out, 'softdep ext4 post: something-else\n');
    expect((await runCli(['modprobe-config', '--root', root, '--output', out, '--check'])).code).toBe(1);
  });
  it('a broken policy file is unusable input: exit 2 naming file and line', async () => {
    const root = tree();
    writeFileSync(join(root, 'etc/kbtf/policy.yaml'), 'version: 1\nmode: sometimes\n');
    const r = await runCli(['policy', 'show', '--root', root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/policy\.yaml:2: mode:/);
  });
});
