/**
 * `kbtf print` expressions as people type them (issue 18): arithmetic, sizeof, casts, ->/./[]
 * chains, &, *, container_of, per_cpu, MODULE:global, functions — each compared with drgn 0.0.22
 * reading the same dump (the bundled fixture) with the kernel's DWARF. drgn 0.0.22 has no C parser:
 * test/fixtures/6.1-128m/drgn-print.cases.json pairs each expression with the drgn Python that
 * computes it; drgn-print.json is drgn's output, regenerated with
 *   /usr/bin/python3 test/verify/drgn-reference.py test/fixtures/6.1-128m/dump.kdump \
 *     /var/cache/kbtf/kernels/6.1.0-56-amd64/dbg test/fixtures/6.1-128m/drgn-print.cases.json \
 *     > test/fixtures/6.1-128m/drgn-print.json
 * Values and addresses are equal; the formatting differences are those test/verify/drgn.ts takes
 * out (docs/verify.md).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../apps/kbtf/src/cli/test-io.js';
import { normalize, type DrgnOutput } from '../verify/drgn.js';

const dir = join(import.meta.dirname, '..', 'fixtures/6.1-128m');
const fixture = join(dir, 'dump.kdump');
const drgn = JSON.parse(readFileSync(join(dir, 'drgn-print.json'), 'utf8')) as DrgnOutput;

interface Printed {
  expression: string;
  type?: string;
  address?: string | null;
  text?: string;
  error?: { code: string; message: string };
}

describe('kbtf print: expressions compared with drgn on the bundled dump', () => {
  it('the recorded reference covers the grammar', () => {
    expect(drgn.tool).toBe('drgn 0.0.22');
    expect(drgn.kernel).toBe('6.1.0-56-amd64');
    const exprs = drgn.values.map((v) => v.expr);
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    for (const op of [/ [+] /, / - /, / [*] /, / \/ /, / % /, / & /, / \| /, /^~/, /^-/, /sizeof\(/, /sizeof /, /^\(\w[^)]*\)/, /->/, /\[/, /^&/, /^\*/, /container_of/, /per_cpu\(/, /per_cpu_ptr/, /^&?ext4:/]) {
      expect(exprs.some((e) => op.test(e)), `a case for ${op}`).toBe(true);
    }
    for (const v of drgn.values) expect(v.error, v.expr).toBeUndefined();
  });

  it('every expression prints the value drgn prints', async () => {
    const r = await runCli(['print', '--json', fixture, '--', ...drgn.values.map((v) => v.expr)]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const printed = (JSON.parse(r.stdout) as { values: Printed[] }).values;
    expect(printed.map((p) => p.expression)).toEqual(drgn.values.map((v) => v.expr));
    for (const [i, p] of printed.entries()) {
      const d = drgn.values[i];
      expect(p.error, p.expression).toBeUndefined();
      if (d.address) expect(p.address, p.expression).toBe(d.address);
      // drgn's sizeof() is a Python integer: the number is compared.
      const ours = /^\d+$/.test(d.value!) ? p.text!.replace(/^\([^)]*\)/, '') : normalize(p.text!);
      expect(ours, p.expression).toBe(/^\d+$/.test(d.value!) ? d.value : normalize(d.value!));
    }
  });

  it('pointers to functions and globals print with the symbol, as drgn', async () => {
    const r = await runCli(['print', fixture, '&ext4_init_fs_context', 'ext4:ext4_fs_type.init_fs_context', '&init_uts_ns']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    const fn = drgn.values.find((v) => v.expr === '&ext4_init_fs_context')!.value;
    expect(lines[0]).toBe(fn);
    expect(lines[1]).toBe(drgn.values.find((v) => v.expr === 'ext4:ext4_fs_type.init_fs_context')!.value);
    expect(lines[2]).toMatch(/^\(struct uts_namespace \*\)init_uts_ns\+0x0 = 0xffffffff[0-9a-f]{8}$/);
  });

  it('each expression on its own: a bad one reports its error, the others print, exit 2', async () => {
    const r = await runCli(['print', fixture, 'jiffies_64', 'no_such_global_anywhere', '1 / 0', 'init_uts_ns.name.release', '(struct no_such_struct *)0', 'jiffies_64 +']);
    expect(r.code).toBe(2);
    expect(r.stdout.trimEnd().split('\n')).toEqual([drgn.values.find((v) => v.expr === 'jiffies_64 + 1')!.value!.replace('4294895963', '4294895962'), '(char [65])"6.1.0-56-amd64"']);
    const errors = r.stderr.trimEnd().split('\n');
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/^kbtf: NOT_FOUND: no type for global 'no_such_global_anywhere'.* \(in no_such_global_anywhere\)$/);
    expect(errors[1]).toMatch(/^kbtf: USAGE: '1 \/ 0': division by zero$/);
    expect(errors[2]).toMatch(/^kbtf: NOT_FOUND: .*struct no_such_struct.* \(in \(struct no_such_struct \*\)0\)$/);
    expect(errors[3]).toMatch(/^kbtf: USAGE: 'jiffies_64 \+': expected an expression at the end$/);
    const json = await runCli(['print', '--json', fixture, 'jiffies_64', '1 / 0']);
    expect(json.code).toBe(2);
    const values = (JSON.parse(json.stdout) as { values: Printed[] }).values;
    expect(values[0].text).toBe('(u64)4294895962');
    expect(values[1].error).toEqual({ code: 'USAGE', message: "'1 / 0': division by zero" });
  });

  it('--help lists the grammar', async () => {
    const r = await runCli(['print', '--help']);
    expect(r.code).toBe(0);
    for (const w of ['container_of(PTR, TYPE, MEMBER', 'per_cpu(VAR, CPU)', 'sizeof(TYPE)', 'MODULE:global', '<< >>', '&&']) expect(r.stdout).toContain(w);
  });
});
