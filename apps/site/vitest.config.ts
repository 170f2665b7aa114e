import { defineConfig } from 'vitest/config';

// Tests under test/ read the built site in dist/ (turbo runs `build` before `test`), except
// site-data.test.ts, which exercises src/lib directly against the catalogue.
export default defineConfig({
  resolve: { conditions: ['@tollgate/source'] },
  ssr: { resolve: { conditions: ['@tollgate/source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
