import { expect } from 'vitest';
import { FaultError } from '@kbtf/binary';
import { openVmcore } from '@kbtf/vmcore';

/** What the dump itself says about one physical byte: 'present', or the fault reason ('excluded', …). */
export function pageState(path: string, paddr: bigint): string {
  const core = openVmcore(path);
  try {
    core.read(paddr, 1);
    return 'present';
  } catch (err) {
    if (err instanceof FaultError) return err.reason;
    throw err;
  } finally {
    core.close();
  }
}

/**
 * A fault `message` on a filtered dump ("… excluded (physical 0x…)") must name a page that the
 * dump's own bitmap really excludes. `label` (a module name) prefixes the failure.
 */
export function expectExcluded(path: string, message: string, label?: string): void {
  const phys = /excluded \(physical (0x[0-9a-f]+)\)/.exec(message);
  expect(phys, label === undefined ? message : `${label}: ${message}`).not.toBeNull();
  expect(pageState(path, BigInt(phys![1])), label).toBe('excluded');
}

/**
 * The lines of `kbtf symbols` a dump owes its guest's /proc/kallsyms. All of them, except on a
 * makedumpfile-filtered dump (`-d 31`) where a dynamic source's list (kprobe slots, BPF programs,
 * ftrace) lives in a page the dump's bitmap excludes: makedumpfile 1.7.2 does not support 6.12 and
 * drops some of its slab pages (docs/policy.md, makedumpfile-kernel-unsupported). kbtf then prints
 * the rest and exits 2 naming the address; that address must really be excluded in the dump, and
 * only dynamic lines ([bpf], [__builtin__*]) may be missing.
 */
export function expectedSymbols(path: string, kallsyms: string[], r: { code: number; stdout: string; stderr: string }, filtered: boolean): string[] {
  if (r.code === 0 || !filtered) {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return kallsyms;
  }
  expect(r.code).toBe(2);
  expectExcluded(path, r.stderr);
  const printed = new Set(r.stdout.split('\n'));
  return kallsyms.filter((l) => printed.has(l) || !/\t\[(bpf|__builtin__\w+)\]$/.test(l));
}

/** What the lab's truth.json records of a guest (tools/lab/truth.mjs). */
export interface Truth {
  kernel: string;
  cmdline: string;
  modules: { name: string; size: number; state: string; address: string }[];
  btf: { name: string; size: number; sha256: string }[];
}

/** `kbtf modules --json`. */
export interface ModulesJson {
  kernel: string;
  modules: { name: string; state: string; address?: string; base: string; size: number; btf: { size: number; sha256: string } | null; btfError?: string; symbols: number }[];
}

/**
 * `kbtf modules --json` against the guest: /proc/modules (names, sizes, states, base addresses in
 * order) and /sys/kernel/btf/<module> (size, sha256). A module BTF may be missing only from a
 * filtered dump, and only where the dump itself marks the page excluded.
 */
export function expectModulesLikeTruth(doc: ModulesJson, truth: Truth, path: string, filtered: boolean): void {
  expect(doc.kernel).toBe(truth.kernel);
  expect(doc.modules.map((m) => ({ name: m.name, size: m.size, state: m.state, address: BigInt(m.base) }))).toEqual(
    truth.modules.map((m) => ({ name: m.name, size: m.size, state: m.state, address: BigInt(m.address) })),
  );
  const btf = truth.btf.filter((b) => b.name !== 'vmlinux');
  expect(btf.length).toBeGreaterThan(0);
  for (const b of btf) {
    const m = doc.modules.find((x) => x.name === b.name);
    expect(m, b.name).toBeDefined();
    if (m!.btf === null && filtered) {
      expectExcluded(path, m!.btfError ?? '', b.name);
      continue;
    }
    expect(m!.btf, b.name).toEqual({ size: b.size, sha256: b.sha256 });
  }
}
