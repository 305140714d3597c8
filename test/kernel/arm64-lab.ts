/**
 * The arm64 lab keys (tools/lab/lab.sh --arch arm64): 6.1 and 6.12 with 4 KiB pages and 48-bit VA,
 * and 6.12 on QEMU's cpu max with FEAT_LPA2, where it runs with 52-bit VA (TCR_EL1_T1SZ 12, five
 * levels, LPA2 descriptors). In CI (CI=true) every key must exist: a missing one fails the suites
 * that use it. Elsewhere a key the lab has not built yet is listed as skipped, by name.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'vitest';
import { labDir } from '../lab.js';

export const arm64LabKeys = ['6.1-arm64', '6.12-arm64', '6.12-arm64-lpa2'] as const;

/** The keys to test here: all of them in CI, else those the lab has built (the others are skipped by name). */
export function arm64KeysToTest(): string[] {
  const ci = process.env.CI === 'true';
  const present = arm64LabKeys.filter((k) => ci || existsSync(join(labDir, k, 'manifest.json')));
  for (const key of arm64LabKeys.filter((k) => !present.includes(k))) {
    it.skip(`${key}: arm64 lab output not built here (bash tools/lab/lab.sh --arch arm64, docs/lab.md)`, () => {});
  }
  return present;
}
