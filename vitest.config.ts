import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // not in npm test: announcements on a real FreeSWITCH, `npm run test:media` (vitest.media.config.ts); scale-out
    // tests on real clusters and several app processes, `npm run test:cluster` (vitest.cluster.config.ts)
    exclude: [...configDefaults.exclude, 'test/freeswitch/**', 'test/cluster/**'],
    // Each test file makes its own PostgreSQL database and Redis key prefix, so files can run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
