/**
 * Vitest settings for `npm test`, chosen so the suite is dependable on a slow, busy machine (CI has
 * 2 cores, and `.ci/run` runs the suite three times while two busy loops take both of them).
 *
 * Timeouts: the slowest tests (`sim regress` run five times, the FB/LAS oracles, the engine's
 * property checks, stdin/FIFO traces through `bin/sim.js`) took 4–7 s each on 2 cores under two
 * busy loops, and up to 28 s when other work loaded the machine further (load average 11);
 * vitest's default of 5 s failed 1 to 7 of them. 120 s was then over 4x the worst seen; with the
 * suite grown to ~1,300 tests, two files (`sim regress` five times, the prefix-cache capacity
 * sweep) passed 120 s once each with the load average at 13–17 (eight builds and suites at once on
 * 2 cores), so the limit is now 300 s: room for a much busier machine than CI, while a test that
 * truly hangs is still reported within five minutes (the CI job's limit is 90 min). Hooks get the same (sweep's
 * `beforeAll` may compile dist/ with tsc). No test may rely on a timeout to catch slowness: speed
 * targets live in `npm run bench`.
 *
 * Pool: `forks`, one process per test file (vitest's default, stated because it matters): the
 * WebGPU tests need a process of their own (Dawn on llvmpipe allows one device per process, see
 * test/calibrate.test.ts), and a crash or hang in one file cannot take the others with it.
 * Workers: at least 2. Vitest's default is one fewer than the cores, so a 2-core machine ran the
 * files one at a time. On 2 cores under two busy loops the whole suite (745 tests) took 100 and
 * 101 s with 1 worker, 67 and 68 s with 2 (each test a little slower, far inside the timeout).
 * Machines with more cores keep vitest's default.
 *
 * Global setup: test/global-setup.ts rebuilds dist/ when it is older than the sources, for the
 * tests that run the compiled CLI or sweep workers.
 */
import os from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 300_000,
    hookTimeout: 300_000,
    teardownTimeout: 60_000,
    pool: 'forks',
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    globalSetup: ['test/global-setup.ts'],
  },
});
