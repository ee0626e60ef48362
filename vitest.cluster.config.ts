// `npm run test:cluster`: the scale-out tests (test/cluster), which start their own servers and app processes.
import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({ test: { ...base.test, include: ['test/cluster/**/*.test.ts'], exclude: configDefaults.exclude } });
