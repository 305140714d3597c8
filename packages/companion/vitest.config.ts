import { defineConfig } from 'vitest/config';
import { alias } from '../../vitest.shared.ts';

export default defineConfig({
  resolve: { alias },
  test: { include: ['src/**/*.test.ts'], testTimeout: 60_000, pool: 'forks' },
});
