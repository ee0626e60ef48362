// `npm run test:cluster`: the scale-out tests (test/cluster), which start their own servers and app processes;
// one file at a time (each runs Redis clusters, failovers and several app processes: timings of their own).
import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

export default defineConfig({ test: { ...base.test, maxWorkers: 1, include: ['test/cluster/**/*.test.ts'], exclude: configDefaults.exclude } });
