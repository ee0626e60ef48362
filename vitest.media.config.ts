import { defineConfig } from 'vitest/config';

// `npm run test:media`: announcements on a real FreeSWITCH (../shared/freeswitch), kept out of `npm test`.
export default defineConfig({
  test: {
    include: ['test/freeswitch/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 90_000,
    reporters: ['default'],
  },
});
