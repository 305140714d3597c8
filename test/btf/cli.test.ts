/** `kbtf btf dump|validate|stats` on real files: raw BTF, ELF modules, split with --base. */
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { TestBtf } from '../../packages/btf/src/test-builder.js';
import { cacheFile, labKernels, labModuleBtf, labModuleElf, labVmlinuxBtf } from './lab-btf.js';

describe('kbtf btf', () => {
  const k = labKernels()[0];
  const vmFile = cacheFile(`${k.kver}/vmlinux.btf`, labVmlinuxBtf(k));
  const koFile = cacheFile(`${k.kver}/e1000.ko`, labModuleElf(k, 'e1000'));
  const modFile = cacheFile(`${k.kver}/e1000.btf`, labModuleBtf(k, 'e1000'));

  it('dump --format raw of an ELF module with --base equals bpftool on the raw .BTF', async () => {
    const r = await runCli(['btf', 'dump', koFile, '--base', vmFile, '--format', 'raw']);
    expect(r.code).toBe(0);
    const theirs = spawnSync('bpftool', ['--base-btf', vmFile, 'btf', 'dump', 'file', modFile, 'format', 'raw'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    expect(theirs.status).toBe(0);
    expect(r.stdout).toBe(theirs.stdout);
  });

  it('dump --format c passes gcc -fsyntax-only (host vmlinux, lab vmlinux + module)', async () => {
    for (const args of [['/sys/kernel/btf/vmlinux'], [koFile, '--base', vmFile]]) {
      const r = await runCli(['btf', 'dump', ...args, '--format', 'c']);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/struct list_head \{/);
      const h = cacheFile(`c/${args.length}.h`, new TextEncoder().encode(r.stdout));
      const gcc = spawnSync('gcc', ['-fsyntax-only', '-x', 'c', h], { encoding: 'utf8' });
      expect({ status: gcc.status, stderr: gcc.stderr.slice(0, 2000) }).toEqual({ status: 0, stderr: '' });
    }
  });

  it('dump --format json is one document', async () => {
    const r = await runCli(['btf', 'dump', modFile, '--base', vmFile, '--format', 'json']);
    expect(r.code).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(doc.types[0].id).toBe(doc.firstId);
    expect(doc.types.length).toBe(doc.count);
  });

  it('validate: 0 valid, 1 invalid with the reason, 2 unreadable', async () => {
    expect((await runCli(['btf', 'validate', koFile, '--base', vmFile])).code).toBe(0);
    const b = new TestBtf();
    b.int('int');
    b.typedef('a', 3);
    b.typedef('b', 2);
    const bad = cacheFile('cli/loop.btf', b.build());
    const r = await runCli(['btf', 'validate', bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/invalid: \[2\] Loop detected/);
    const j = await runCli(['btf', 'validate', bad, '--json']);
    expect(JSON.parse(j.stdout).errors[0]).toMatchObject({ typeId: 2, message: 'Loop detected' });
    // A module load skips resolution, but btf_check_type_tags still finds the cycle.
    const m = await runCli(['btf', 'validate', bad, '--mode', 'module']);
    expect(m.code).toBe(1);
    expect(m.stdout).toMatch(/Max chain length or cycle detected/);
    expect((await runCli(['btf', 'validate', '/nonexistent.btf'])).code).toBe(2);
    const junk = cacheFile('cli/junk.btf', new Uint8Array([1, 2, 3, 4]));
    writeFileSync(junk, 'not btf at all');
    expect((await runCli(['btf', 'validate', junk])).code).toBe(1);
    expect((await runCli(['btf', 'dump', junk])).code).toBe(2);
  });

  it('stats counts kinds', async () => {
    const r = await runCli(['btf', 'stats', vmFile, '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.types).toBe(Object.values(s.kinds as Record<string, number>).reduce((a, b) => a + b, 0));
    expect(s.kinds.struct).toBeGreaterThan(1000);
    const h = await runCli(['btf', 'stats', modFile, '--base', vmFile]);
    expect(h.stdout).toMatch(/split BTF, little-endian/);
  });
});
