/**
 * Vitest settings for `npm test`, chosen so the suite is dependable on a slow, busy machine (CI has
 * 2 cores, and `.ci/run` runs the suite while two busy loops take both of them).
 *
 * Timeouts: the slowest tests (the FB/LAS oracles, `sim regress` run five times, the engine's
 * property checks) take 4–6 s each on 2 cores under two busy loops, 1–2 s on an idle machine;
 * vitest's default of 5 s failed 1 to 7 of them. 120 s is 20x the slowest under load: room for a
 * machine several times slower and more loaded than CI, while a test that truly hangs is still
 * reported within two minutes (the CI job's own limit is 90 min). Hooks get the same (sweep's
 * `beforeAll` may compile dist/ with tsc). No test may rely on these to catch slowness: speed
 * targets live in `npm run bench`.
 *
 * Pool: `forks`, one process per test file (vitest's default, stated here because it matters): the
 * WebGPU tests need a process of their own (Dawn on llvmpipe allows one device per process, see
 * test/calibrate.test.ts), and a crash or hang in one file cannot take the others with it.
 * Workers: at least 2. Vitest's default is one fewer than the cores, so a 2-core CI machine ran the
 * files one at a time; measured here on 2 cores under two busy loops, the whole suite took 104 s
 * with 1 worker and 68 s with 2 (each test a little slower, well inside the timeout). More cores
 * get the default.
 */
import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
  },
});
