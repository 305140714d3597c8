/**
 * What a lab guest booted with companions must show (its truth.json), shared by the amd64 and arm64
 * companion tests: the kernel accepted every companion's BTF byte for byte, and kmod loaded each one
 * right after its module.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { ElfFile } from '@kbtf/binary';
import type { Btf } from '@kbtf/btf';

export interface CompanionGuestTruth {
  cmdline: string;
  modules: { name: string }[];
  btf: { name: string; size: number; sha256: string }[];
  dmesg_btf: string[];
  modprobe_failed: string[];
}

/** btf_companions=always, no modprobe failure, no "failed to validate module", /sys/kernel/btf/M_btf = the companion's .BTF. */
export function expectCompanionsAccepted(truth: CompanionGuestTruth, companions: readonly { module: string; file: string }[]): void {
  expect(truth.cmdline).toMatch(/\bbtf_companions=always\b/);
  expect(truth.modprobe_failed).toEqual([]);
  expect(truth.dmesg_btf.filter((l) => /failed to validate module/.test(l))).toEqual([]);
  const sysfs = new Map(truth.btf.map((b) => [b.name, b]));
  for (const c of companions) {
    const loaded = sysfs.get(`${c.module}_btf`.replace(/-/g, '_'));
    expect(loaded, `/sys/kernel/btf/${c.module}_btf`).toBeDefined();
    // The kernel exposes exactly the companion's .BTF bytes.
    const btf = ElfFile.fromBytes(readFileSync(c.file), c.file).sectionBytes('.BTF');
    expect(loaded!.sha256).toBe(createHash('sha256').update(btf).digest('hex'));
  }
}

/**
 * /proc/modules lists the newest module first: M_btf directly above M means kmod loaded it as M's
 * softdep (post:), before the lab's own list (which loads the companions after every module) ran.
 */
export function expectSoftdepOrder(truth: CompanionGuestTruth, companions: readonly { module: string }[]): void {
  const order = truth.modules.map((m) => m.name);
  for (const c of companions) {
    const name = c.module.replace(/-/g, '_');
    expect(order, `${name}_btf`).toContain(`${name}_btf`);
    if (c.module !== 'vmlinux') expect(order.indexOf(name) - order.indexOf(`${name}_btf`), `${name}_btf right after ${name}`).toBe(1);
  }
}

/** A VAR's type with typedefs, const and volatile peeled off, as `kind name`. */
export function varType(btf: Btf, name: string): string {
  const v = btf.findByName(name, 'var');
  if (!v) throw new Error(`no VAR ${name}`);
  const t = btf.type(btf.resolve(v.type));
  return `${t.kind} ${t.name}`;
}
