/**
 * The committed fixture (test/fixtures/6.1-128m: a 128 MiB Debian 6.1 guest, makedumpfile -c -d 31,
 * with the guest's own /proc/kallsyms, /proc/modules and /sys/kernel/btf), so that the kernel layer
 * is checked end to end without the lab: the API rather than the CLI, and the parts the CLI does not
 * print (split module BTF, section addresses, evaluation, crash time).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { Kernel, evaluate, formatObject, openKernel } from '@kbtf/kernel';
import { repoRoot } from '../lab.js';

const dir = join(repoRoot, 'test/fixtures/6.1-128m');
const dump = ['mkd-zlib.kdump', 'dump.kdump'].map((f) => join(dir, f)).find((p) => existsSync(p)) ?? join(dir, 'mkd-zlib.kdump');
const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as {
  kernel: string;
  cmdline: string;
  modules: { name: string; size: number; state: string; address: string }[];
  btf: { name: string; size: number; sha256: string }[];
};

describe('fixture 6.1-128m', () => {
  const kernel: Kernel = openKernel(dump);
  afterAll(() => kernel.close());

  it('decodes kallsyms and module symbols exactly as /proc/kallsyms', () => {
    const want = gunzipSync(readFileSync(join(dir, 'kallsyms.txt.gz'))).toString('latin1').split('\n').filter(Boolean);
    const ks = kernel.kallsyms;
    const got: string[] = [];
    for (let i = 0; i < ks.count; i++) got.push(`${ks.addresses[i].toString(16).padStart(16, '0')} ${ks.typeOf(i)} ${ks.names[i]}`);
    for (const m of kernel.modules()) for (const s of m.symbols) if (s.name) got.push(`${s.value.toString(16).padStart(16, '0')} ${s.type} ${s.name}\t[${m.name}]`);
    expect(got.length).toBe(want.length);
    const i = got.findIndex((l, k) => l !== want[k]);
    expect(i === -1 ? null : { line: i + 1, got: got[i], want: want[i] }).toBeNull();
    expect(ks.encoding).toBe('absolute-percpu');
    expect(ks.symbolize(ks.address('init_uts_ns') + 8n)).toMatchObject({ name: 'init_uts_ns', offset: 8n });
  });

  it('walks modules as /proc/modules shows them, with their BTF as /sys/kernel/btf shows it', () => {
    const mods = kernel.modules();
    expect(mods.map((m) => [m.name, m.size, m.stateName, `0x${m.base.toString(16)}`])).toEqual(truth.modules.map((m) => [m.name, m.size, m.state, m.address]));
    for (const b of truth.btf.filter((x) => x.name !== 'vmlinux')) {
      const m = mods.find((x) => x.name === b.name)!;
      expect([m.btfBytes?.length, m.btfSha256], b.name).toEqual([b.size, b.sha256]);
      const btf = m.btf()!;
      expect(btf.base).toBe(kernel.btf); // split BTF on vmlinux: ids continue vmlinux's
      expect(btf.firstId, b.name).toBe(kernel.btf.endId);
    }
    for (const m of mods) {
      const text = m.sections.find((s) => s.name === '.text');
      // A companion has no code (docs/design.md §2): its empty .text gets no section attribute.
      if (m.name.endsWith('_btf')) {
        expect(text, m.name).toBeUndefined();
        continue;
      }
      expect(text, m.name).toBeDefined();
      expect(text!.address >= m.base && text!.address < m.base + BigInt(m.size), m.name).toBe(true);
      // Every named symbol lies in one of the module's sections' memory or is absolute/per-CPU.
      expect(m.symbols.filter((s) => s.name).length, m.name).toBeGreaterThan(0);
    }
  });

  it('matches vmlinux BTF in the dump against the guest /sys/kernel/btf/vmlinux', async () => {
    const { createHash } = await import('node:crypto');
    const v = truth.btf.find((b) => b.name === 'vmlinux')!;
    const bytes = kernel.vmlinuxBtfBytes();
    expect([bytes.length, createHash('sha256').update(bytes).digest('hex')]).toEqual([v.size, v.sha256]);
  });

  it('evaluates and prints globals, casts and per-CPU variables', () => {
    expect(kernel.release()).toBe(truth.kernel);
    expect(kernel.commandLine()).toBe(truth.cmdline);
    expect(formatObject(evaluate(kernel, 'init_uts_ns.name.sysname'))).toBe('(char [65])"Linux"');
    const first = kernel.modules()[0];
    const viaCast = evaluate(kernel, `((struct module *)0x${first.address.toString(16)})->name`);
    expect(formatObject(viaCast)).toBe(`(char [56])${JSON.stringify(first.name)}`);
    expect(evaluate(kernel, `*(struct module *)0x${first.address.toString(16)}`).member('state').enumName()).toBe('MODULE_STATE_LIVE');
    expect(evaluate(kernel, 'per_cpu(runqueues, 0).cpu').value()).toBe(0n);
    expect(evaluate(kernel, '&init_uts_ns').value()).toBe(kernel.kallsyms.address('init_uts_ns'));
    expect(evaluate(kernel, 'jiffies_64').value()).toBe(evaluate(kernel, 'jiffies').value());
    expect(kernel.crashTime()).toBeGreaterThan(1_600_000_000n);
    expect(() => evaluate(kernel, 'no_such_symbol_anywhere')).toThrow(/no symbol 'no_such_symbol_anywhere'|no type for global/);
    expect(() => evaluate(kernel, 'init_uts_ns.name.nope')).toThrow(/has no member 'nope'/);
  });
});
