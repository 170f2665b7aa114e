import { defineConfig } from 'vitest/config';

/**
 * The test setup every package shares: workspace packages resolve to their TypeScript source
 * (the `@tollgate/source` export condition), so a package's tests never need its dependencies
 * built; tests live beside the code (`src/**\/*.test.ts`) or, end to end, under `test/`; forked
 * workers, at most two (CI machines have two cores).
 */
export default defineConfig({
  resolve: { conditions: ['@tollgate/source'] },
  ssr: { resolve: { conditions: ['@tollgate/source'] } },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 30_000,
  },
});
