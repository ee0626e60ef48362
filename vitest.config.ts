import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // announcements on a real FreeSWITCH: `npm run test:media` (vitest.media.config.ts)
    exclude: ['**/node_modules/**', 'test/freeswitch/**'],
    // Each test file makes its own PostgreSQL database and Redis key prefix, so files can run in parallel.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
