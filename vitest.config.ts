import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // not in npm test: announcements on a real FreeSWITCH, `npm run test:media` (vitest.media.config.ts); scale-out
    // tests on real clusters and several app processes, `npm run test:cluster` (vitest.cluster.config.ts)
    exclude: [...configDefaults.exclude, 'test/freeswitch/**', 'test/cluster/**'],
    // Each test file makes its own PostgreSQL database and Redis key prefix, so files can run in parallel.
    pool: 'forks',
    // vitest's default on 2 cores is 1 worker (cores - 1), i.e. files one after another; most of a file's time is
    // waiting on sipp calls, timers and child processes, not CPU: 3 files at a time halve the wall time on 2 cores
    // (measured: 302 s vs 592 s for the whole suite at load ~7)
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
