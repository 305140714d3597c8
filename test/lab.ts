/**
 * Where the end-to-end suites find the lab's outputs (tools/lab, docs/lab.md). The lab writes to
 * `.lab/<kernel>-<variant>/` (or $KBTF_LAB_DIR). A missing output is a test failure, never a skip:
 * CI runs the lab before the tests.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const labDir = process.env.KBTF_LAB_DIR ?? join(repoRoot, '.lab');

/** Lab variants every e2e suite covers (acceptance of issues 3, 5, 6, 9). */
export const labVariants = ['6.1-4level', '6.1-la57', '6.12-4level'] as const;

export function labPath(variant: string, file: string): string {
  const p = join(labDir, variant, file);
  if (!existsSync(p)) throw new Error(`lab output missing: ${p} (run: bash tools/lab/lab.sh, see docs/lab.md)`);
  return p;
}

export function labJson<T = unknown>(variant: string, file: string): T {
  return JSON.parse(readFileSync(labPath(variant, file), 'utf8')) as T;
}

/** Lab outputs made with the companions loaded, one per kernel series (tools/lab/lab-companions.sh). */
export const companionLabKeys = ['6.1-companions', '6.12-companions'] as const;

/**
 * Debian unstable's kernel (x86_64): `bash tools/lab/lab.sh --kernel unstable` and
 * `bash tools/lab/lab-companions.sh unstable` write `.lab/<series>-4level` and
 * `.lab/<series>-companions`. The series moves when sid's kernel does (docs/lab.md, "When Debian
 * moves on"): the lab refuses a series sid no longer has, and this constant follows.
 */
export const unstableSeries = '7.2';
export const unstableLabVariants = [`${unstableSeries}-4level`] as const;
export const unstableCompanionKeys = [`${unstableSeries}-companions`] as const;

/**
 * The kernel release the lab actually booted for an output (its manifest.json). Debian moves the
 * 6.1 ABI every few weeks and bookworm-backports' 6.12 with it: tests derive releases from here,
 * never from a literal (docs/lab.md, "When Debian moves on").
 */
export function labKernel(key: string): string {
  return labJson<{ kernel: { kver: string } }>(key, 'manifest.json').kernel.kver;
}
