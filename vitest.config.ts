import { defineConfig } from 'vitest/config';
import { alias } from './vitest.shared.ts';

/**
 * Two tiers (README, "Development"):
 * - `unit` (`npm run test:unit`): needs only the committed bytes — the tests beside the code and the
 *   end-to-end files that read only test/fixtures. Green on a fresh clone with no lab (.lab/) and
 *   no Python; what a contributor runs first.
 * - `lab`: everything else in test/ — the lab's dumps and ground truth (.lab/, docs/lab.md), this
 *   host's /sys/kernel/btf, bpftool, makedumpfile, kmod, dpkg, the built CLI. CI runs the lab
 *   first (tools/test.sh), then `npm test`, which runs both tiers.
 * A new file in test/ is in the lab tier until it is listed here.
 */
const source = ['packages/*/src/**/*.test.ts', 'apps/*/src/**/*.test.ts'];
const unitEndToEnd = [
  'test/kernel/cli.test.ts',
  'test/kernel/expr-limits.test.ts',
  'test/kernel/fixture.test.ts',
  'test/policy/cli.test.ts',
  'test/policy/hook-cli.test.ts',
  'test/verify/damaged.test.ts',
];

export default defineConfig({
  resolve: { alias },
  test: {
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: [...source, ...unitEndToEnd] } },
      { extends: true, test: { name: 'lab', include: ['test/**/*.test.ts'], exclude: unitEndToEnd } },
    ],
  },
});
