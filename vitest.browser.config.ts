import { defineConfig } from 'vitest/config';

// `npm run test:browser`: the portal in headless chromium against the built product (see test-browser/).
export default defineConfig({
  test: {
    include: ['test-browser/**/*.test.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 240_000,
    reporters: ['default'],
  },
});
