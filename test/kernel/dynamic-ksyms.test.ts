/**
 * Issue 21 on a real systemd host (tools/lab/host.sh, .lab/host-trixie): Debian 13, kernel
 * 6.12.x+deb13, crashed with sysrq and captured by kdump-tools. systemd attaches cgroup BPF programs
 * (sd_devices, sd_fw_egress, sd_fw_ingress), so the guest's /proc/kallsyms ends with `[bpf]` lines
 * after the modules. `kbtf symbols` on the saved dump must print that file line for line — vmlinux,
 * modules and the dynamic symbols (packages/kernel/src/dynamic-ksyms.ts) — and an address inside a
 * BPF program must resolve to it. The guest wrote its /proc/kallsyms right before the crash
 * (kbtf-lab/boot1/proc_kallsyms.gz, tools/lab/host-guest.sh).
 *
 * A missing output is a failure, never a skip: run `bash tools/lab/host.sh` first.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { openKernel } from '@kbtf/kernel';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { labDir } from '../lab.js';

const KEY = 'host-trixie';

function out(file: string): string {
  const p = join(labDir, KEY, file);
  if (!existsSync(p)) throw new Error(`host lab output missing: ${p} (run: bash tools/lab/host.sh, see docs/lab.md)`);
  return p;
}

describe('real host: dynamic kallsyms (BPF programs) of a systemd guest', () => {
  const dump = () => out(JSON.parse(readFileSync(out('manifest.json'), 'utf8')).dump.file as string);
  let cached: string[] | undefined;
  /** The guest's own /proc/kallsyms, read as root just before the crash, as lines. */
  const procKallsyms = () => (cached ??= gunzipSync(readFileSync(out('kbtf-lab/boot1/proc_kallsyms.gz'))).toString('latin1').split('\n'));

  it('the guest had BPF programs in /proc/kallsyms (systemd\'s cgroup programs), after the modules', () => {
    const lines = procKallsyms();
    const bpf = lines.filter((l) => l.endsWith('\t[bpf]'));
    expect(bpf.length).toBeGreaterThan(0);
    for (const l of bpf) expect(l).toMatch(/^[0-9a-f]{16} t bpf_prog_[0-9a-f]{16}_\w+\t\[bpf\]$/);
    expect(bpf.some((l) => / t bpf_prog_[0-9a-f]{16}_sd_devices\t/.test(l))).toBe(true);
    const firstBpf = lines.findIndex((l) => l.endsWith('\t[bpf]'));
    const lastModule = lines.findLastIndex((l) => /\t\[\w+\]$/.test(l) && !l.endsWith('\t[bpf]') && !l.includes('[__builtin__'));
    expect(firstBpf).toBeGreaterThan(lastModule);
  });

  it('kbtf symbols prints the guest\'s /proc/kallsyms line for line (vmlinux, modules, BPF)', async () => {
    const r = await runCli(['symbols', dump()]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const got = r.stdout.split('\n');
    const want = procKallsyms();
    const firstDiff = got.findIndex((l, i) => l !== want[i]);
    expect(firstDiff === -1 ? null : { line: firstDiff + 1, got: got[firstDiff], want: want[firstDiff] }).toBeNull();
    expect(got.length).toBe(want.length);
  });

  it('kbtf symbols --module bpf lists the BPF programs alone', async () => {
    const r = await runCli(['symbols', dump(), '--module', 'bpf']);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean)).toEqual(procKallsyms().filter((l) => l.endsWith('\t[bpf]')));
  });

  it('an address inside each BPF program resolves to it (Kernel.symbolize), and its name to its address', () => {
    const bpf = procKallsyms()
      .filter((l) => l.endsWith('\t[bpf]'))
      .map((l) => ({ address: BigInt(`0x${l.slice(0, 16)}`), name: l.slice(19, l.indexOf('\t')) }));
    const kernel = openKernel(dump());
    try {
      const { symbols, failures } = kernel.dynamicSymbols();
      expect(failures).toEqual([]);
      for (const p of bpf) {
        const s = symbols.find((x) => x.address === p.address);
        expect(s?.size, p.name).toBeGreaterThan(0n);
        expect(kernel.symbolize(p.address + s!.size! - 1n), p.name).toEqual({ name: p.name, address: p.address, type: 't', offset: s!.size! - 1n, module: 'bpf' });
      }
      expect(kernel.symbolAddress(bpf[0].name)).toBe(bpf.find((p) => p.name === bpf[0].name)!.address);
      // And the neighbours still resolve as before: vmlinux text, a module's text.
      expect(kernel.symbolize(kernel.kallsyms.address('schedule') + 1n)).toMatchObject({ name: 'schedule', offset: 1n });
      expect(kernel.symbolize(kernel.kallsyms.address('schedule') + 1n)?.module).toBeUndefined();
      const modLine = procKallsyms().find((l) => / [tT] \w+\t\[(?!bpf\]|__builtin__)\w+\]$/.test(l))!;
      const modAddr = BigInt(`0x${modLine.slice(0, 16)}`);
      const names = procKallsyms().filter((l) => l.startsWith(modLine.slice(0, 16))).map((l) => l.slice(19, l.indexOf('\t')));
      const at = kernel.symbolize(modAddr);
      expect(at).toMatchObject({ address: modAddr, offset: 0n, module: modLine.slice(modLine.indexOf('[') + 1, -1) });
      expect(names).toContain(at!.name);
    } finally {
      kernel.close();
    }
  });
});
