/**
 * kbtf verify on the lab guests booted with `btf_companions=always` and companions loaded by kmod
 * through softdeps (tools/lab, docs/companions.md): every loaded companion is accepted, valid and
 * has every VAR accounted for; the modules whose companion was not built are named, exactly, as
 * missing; a dump cut short is incomplete or unreadable, never a crash.
 */
import { copyFileSync, mkdtempSync, openSync, closeSync, ftruncateSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { verifyDump } from '@kbtf/verify';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labJson, labPath } from '../lab.js';

interface Truth {
  kernel: string;
  cmdline: string;
  modules: { name: string }[];
}
interface Manifest {
  dumps: { file: string; writer: string; args: string }[];
}

const keys = (process.env.KBTF_COMPANION_LABS ?? '6.1-companions,6.12-companions,6.1-companions-partial,6.1-arm64-companions').split(',');

/** As in verify.test.ts: makedumpfile 1.7.2 drops 6.12's slab/vmalloc pages at -d 31. */
function knownLossy(key: string, d: Manifest['dumps'][number]): boolean {
  return key.startsWith('6.12') && d.writer === 'makedumpfile 1.7.2' && /^-[cl] -d 31/.test(d.args);
}

describe.each(keys)('verify %s', (key) => {
  const truth = labJson<Truth>(key, 'truth.json');
  const manifest = labJson<Manifest>(key, 'manifest.json');
  const loaded = new Set(truth.modules.map((m) => m.name));
  const parents = truth.modules.map((m) => m.name).filter((n) => !n.endsWith('_btf'));
  const withCompanion = parents.filter((n) => loaded.has(`${n}_btf`)).sort();
  const without = parents.filter((n) => !loaded.has(`${n}_btf`)).sort();

  it('the guest ran with btf_companions=always and loaded companions', () => {
    expect(truth.cmdline).toMatch(/\bbtf_companions=always\b/);
    expect(loaded.has('vmlinux_btf')).toBe(true);
    expect(withCompanion.length).toBeGreaterThanOrEqual(10);
  });

  it.each(manifest.dumps.filter((d) => !knownLossy(key, d)).map((d) => d.file))('%s: every loaded companion resolves; exactly the modules without one are missing', (file) => {
    const r = verifyDump(labPath(key, file), { lookups: ['ext4:ext4_fs_type.name', 'jiffies_64'] });
    expect(r.policy.mode).toBe('always');
    expect(r.policy.cmdlineSource).toBe('saved_command_line (dump)');
    expect(r.policy.source).toBe('cmdline (saved_command_line)');
    const ok = r.modules.filter((m) => m.companion.status === 'ok').map((m) => m.name).sort();
    const missing = r.modules.filter((m) => m.companion.status === 'missing').map((m) => m.name).sort();
    expect(ok).toEqual(withCompanion);
    expect(missing).toEqual(without);
    for (const m of r.modules.filter((x) => x.companion.status === 'ok')) {
      const v = m.companion.vars!;
      expect(v.unresolved).toBe(0);
      expect(v.resolved + v.perCpu).toBeGreaterThan(0);
    }
    expect(r.vmlinux.status).toBe('ok');
    expect(r.vmlinux.vars!.resolved).toBeGreaterThan(15000);
    expect(r.lookups[0]).toMatchObject({ status: 'resolved', value: '(const char *)0x' + r.lookups[0].value!.split('0x')[1] });
    expect(r.lookups[0].value).toMatch(/"ext4"$/);
    // The verdict is complete exactly when every parent has its companion.
    expect(r.verdict).toBe(without.length === 0 ? 'complete' : 'incomplete');
    expect(r.reasons.sort()).toEqual(without.map((n) => `${n}: companion ${n}_btf missing (not loaded)`).sort());
  });

  const lossy = manifest.dumps.filter((d) => knownLossy(key, d)).map((d) => d.file);
  if (lossy.length) {
    it.each(lossy)('%s: incomplete, naming each module whose own or companion BTF the dump level dropped', (file) => {
      const r = verifyDump(labPath(key, file));
      expect(r.verdict).toBe('incomplete');
      const named = new Set<string>();
      for (const reason of r.reasons) {
        expect(reason).toMatch(/^[a-z0-9_]+: (module BTF unreadable|companion [a-z0-9_]+_btf unreadable) \(.*excluded.*\)$/);
        named.add(reason.split(':')[0]);
      }
      const bad = r.modules.filter((m) => m.btf.status === 'unreadable' || m.companion.status === 'unreadable').map((m) => m.name);
      // vmlinux_btf is a module too: its btf_modules entry sits in a slab page that -d 31 may drop.
      if (r.vmlinux.status === 'unreadable') bad.push('vmlinux');
      expect([...named].sort()).toEqual(bad.sort());
      expect(bad.length).toBeGreaterThan(0);
    });
  }

  it('--cmdline btf_companions=off: complete, companions checked but not wanted', () => {
    const r = verifyDump(labPath(key, 'qemu-kdump.kdump'), { cmdline: `${truth.cmdline} btf_companions=off` });
    expect(r.verdict).toBe('complete');
    expect(r.policy.mode).toBe('off');
    expect(r.modules.every((m) => !m.companion.wanted)).toBe(true);
    // Loaded companions are still checked and reported; unloaded ones are simply not wanted.
    for (const m of r.modules) expect(m.companion.status).toBe(loaded.has(`${m.name}_btf`) ? 'ok' : 'not-wanted');
  });

  it('a policy that excludes the modules without companions makes the dump complete', async () => {
    const excl = `btf_companions.exclude=${without.join(',') || 'none'}`;
    const r = await runCli(['verify', '--json', '--exit-on', 'policy', '--cmdline', `${truth.cmdline} ${excl}`, labPath(key, 'qemu-kdump.kdump')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).verdict).toBe('complete');
  });

  it('a truncated dump: incomplete with reasons or unreadable (exit 2 naming an offset), never a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbtf-trunc-'));
    try {
      const src = labPath(key, 'qemu-kdump.kdump');
      const size = statSync(src).size;
      for (const frac of [0.98, 0.6, 0.01]) {
        const dst = join(dir, `cut-${frac}.kdump`);
        copyFileSync(src, dst);
        const fd = openSync(dst, 'r+');
        ftruncateSync(fd, Math.floor(size * frac));
        closeSync(fd);
        const r = await runCli(['verify', '--json', dst]);
        expect([1, 2]).toContain(r.code);
        if (r.code === 1) expect(JSON.parse(r.stdout).selfContained.reasons.length).toBeGreaterThan(0);
        else expect(r.stderr).toMatch(/^kbtf: (BAD_DATA|FAULT|NOT_FOUND|UNSUPPORTED): .*(offset|address) 0x[0-9a-f]+/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
