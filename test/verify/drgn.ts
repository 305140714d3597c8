/**
 * drgn as the reference for kbtf's lookups: where it is (python3-drgn and the kernel's -dbg
 * package, extracted where the companion builder caches it), how to run test/verify/drgn-reference.py,
 * and the formatting differences between drgn 0.0.22's str(obj) and kbtf's (docs/verify.md):
 * - drgn 0.0.22 prints bool as a number (`(bool)1`), kbtf as `true`/`false`;
 * - a top-level pointer to a struct is printed dereferenced by drgn (`*(T *)0x… = { … }`);
 * - drgn names any address inside an ELF symbol (`sym+0x10 = 0x…`, `.LC35+0x16f = 0x…`); kallsyms
 *   has no sizes, so kbtf names only exact symbol addresses: symbol names are not compared;
 * - drgn fills lines with the elements of a scalar array; kbtf puts one per line past 80 columns:
 *   whitespace is not compared.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../lab.js';

export interface DrgnOutput {
  tool: string;
  kernel: string;
  values: { expr: string; value?: string; address?: string | null; error?: string }[];
}

/** The extracted -dbg package of `kver`, where tools/bench/debuginfo.mjs looks first. */
export function dbgRoot(kver: string): string | undefined {
  const root = `/var/cache/kbtf/kernels/${kver}/dbg`;
  return existsSync(join(root, `usr/lib/debug/boot/vmlinux-${kver}`)) ? root : undefined;
}

/** drgn's values for `cases` on `dump` (test/verify/drgn-reference.py). */
export function drgnValue(dump: string, root: string, cases: { expr: string; address?: string; py?: string }[]): DrgnOutput {
  const dir = mkdtempSync(join(tmpdir(), 'kbtf-drgn-'));
  try {
    writeFileSync(join(dir, 'cases.json'), JSON.stringify(cases));
    const out = execFileSync('/usr/bin/python3', [join(repoRoot, 'test/verify/drgn-reference.py'), dump, root, join(dir, 'cases.json')], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return JSON.parse(out) as DrgnOutput;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A printed value with the documented formatting differences taken out. */
export function normalize(text: string): string {
  let t = text;
  const deref = /^\*(\([^)]*\*\))\(?(?:[\w.$]+\+0x[0-9a-f]+ = )?(0x[0-9a-f]+)\)? = \{/.exec(t);
  if (deref) t = `${deref[1]}${deref[2]}`;
  return t
    .replace(/[\w.$]+\+0x[0-9a-f]+ = (0x[0-9a-f]+)/g, '$1')
    .replace(/\(bool\)1\b/g, '(bool)true')
    .replace(/\(bool\)0\b/g, '(bool)false')
    .replace(/\s+/g, ' ')
    .replace(/, \}/g, ' }');
}
