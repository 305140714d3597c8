import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kmsgLogger, runHook, wantsCompanion } from './hook.js';
import type { Runner } from './exec.js';
import { memTree } from './test-tree.js';

function recorder(codes: Record<string, number> = {}) {
  const calls: string[][] = [];
  const run: Runner = async (program, args) => {
    calls.push([program, ...args]);
    const target = args[args.indexOf('--') + 1];
    return { code: codes[target] ?? 0, stdout: '', stderr: codes[target] ? `modprobe: FATAL: ${target}` : '' };
  };
  return { calls, run };
}

describe('kbtf hook', () => {
  const hostile = ['a;b', 'loop;reboot', '$(id)', '`id`', '../../tmp/x', 'loop ext4', ' loop', 'x'.repeat(4096), '', '-C', 'a\nb', 'a|b', 'a&b', 'a>b', '*'];
  for (const name of hostile) {
    it(`refuses ${JSON.stringify(name.slice(0, 20))} and runs nothing`, async () => {
      const r = recorder();
      await expect(runHook(name, [], { run: r.run, wantsCompanion: () => true, log: () => {} })).rejects.toMatchObject({ code: 'USAGE' });
      expect(r.calls).toEqual([]);
    });
  }
  it('refuses option-like or hostile parameters', async () => {
    for (const p of ['-C/tmp', '--config=/x', 'a=$(id)\n', 'x'.repeat(2000), '=x', ';']) {
      const r = recorder();
      await expect(runHook('loop', [p], { run: r.run, wantsCompanion: () => true, log: () => {} })).rejects.toMatchObject({ code: 'USAGE' });
      expect(r.calls).toEqual([]);
    }
  });
  it('loads the module with --ignore-install, then its companion', async () => {
    const r = recorder();
    const res = await runHook('nf-tables', ['max_loop=8', 'x="a b"'], { run: r.run, wantsCompanion: () => true, log: () => {} });
    expect(res).toEqual({ code: 0, companion: 'loaded' });
    expect(r.calls).toEqual([
      ['modprobe', '--ignore-install', '--', 'nf-tables', 'max_loop=8', 'x="a b"'],
      ['modprobe', '--ignore-install', '-q', '--', 'nf_tables-btf'],
    ]);
  });
  it('a companion failure is logged and never fails the module', async () => {
    const r = recorder({ 'loop-btf': 1 });
    const logs: string[] = [];
    const res = await runHook('loop', [], { run: r.run, wantsCompanion: () => true, log: (m) => logs.push(m) });
    expect(res).toEqual({ code: 0, companion: 'failed' });
    expect(logs[0]).toMatch(/companion loop-btf of loop failed/);
    const broken = await runHook('loop', [], { run: recorder().run, wantsCompanion: () => { throw new Error('bad policy'); }, log: (m) => logs.push(m) });
    expect(broken.code).toBe(0);
  });
  it('the module\'s own failure is its exit code and no companion is tried', async () => {
    const r = recorder({ loop: 1 });
    expect(await runHook('loop', [], { run: r.run, wantsCompanion: () => true, log: () => {} })).toEqual({ code: 1, companion: 'skipped' });
    expect(r.calls).toHaveLength(1);
  });
  it('not selected: only the module loads', async () => {
    const r = recorder();
    expect((await runHook('loop', [], { run: r.run, wantsCompanion: () => false, log: () => {} })).companion).toBe('not-selected');
    expect(r.calls).toHaveLength(1);
  });
});

describe('wantsCompanion: the settings select the module and modules.dep has its companion', () => {
  const K = '6.1.0-56-amd64';
  const dep = { [`/lib/modules/${K}/modules.dep`]: 'kernel/fs/ext4/ext4.ko:\nkernel/drivers/block/loop.ko:\nupdates/kbtf/ext4-btf.ko:\n' };
  it('loads a selected module\'s companion that modules.dep has', () => {
    const root = memTree({ ...dep, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\n' });
    expect(wantsCompanion(root, 'ext4')).toBe(true);
    expect(wantsCompanion(root, 'loop')).toBe(false); // no loop-btf.ko
    expect(wantsCompanion(root, 'ext4-btf')).toBe(false); // a companion has none
  });
  it('follows the policy: excluded, off', () => {
    expect(wantsCompanion(memTree({ ...dep, '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\nexclude: [ext4]\n' }), 'ext4')).toBe(false);
    expect(wantsCompanion(memTree({ ...dep, '/etc/kbtf/policy.yaml': 'version: 1\nmode: off\n' }), 'ext4')).toBe(false);
  });
  it('throws when modules.dep is missing (runHook logs it and loads the module anyway)', () => {
    expect(() => wantsCompanion(memTree({ '/etc/kbtf/policy.yaml': 'version: 1\nmode: always\n' }), 'ext4', K)).toThrow(/modules/);
  });
});

describe('kmsgLogger', () => {
  it('writes each message to stderr and to the kernel log at KERN_WARNING', () => {
    const kmsg = join(mkdtempSync(join(tmpdir(), 'kbtf-kmsg-')), 'kmsg');
    const stderr: string[] = [];
    const log = kmsgLogger((t) => stderr.push(t), kmsg);
    log('kbtf hook: companion loop-btf of loop failed to load (modprobe exit 1)');
    log('second');
    expect(stderr).toEqual(['kbtf hook: companion loop-btf of loop failed to load (modprobe exit 1)\n', 'second\n']);
    expect(readFileSync(kmsg, 'utf8')).toBe('<4>kbtf hook: companion loop-btf of loop failed to load (modprobe exit 1)\n<4>second\n');
  });
  it('without a writable kernel log, stderr only and no throw', () => {
    const stderr: string[] = [];
    kmsgLogger((t) => stderr.push(t), '/nonexistent/kbtf/kmsg')('m');
    expect(stderr).toEqual(['m\n']);
  });
});
