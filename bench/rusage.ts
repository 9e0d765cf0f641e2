/**
 * A preload for `npm run bench` (bench/bench.ts), not part of the product: run as
 * `node --import ./dist/bench/rusage.js bin/sim.js ...`, it writes the process's own resource
 * usage at exit, as the JSON of `process.resourceUsage()` (`userCPUTime` and `systemCPUTime` in
 * microseconds, `maxRSS` in KiB; see node:process), to the file named by the environment variable
 * {@link RUSAGE_ENV}. Without that variable it does nothing.
 */
import fs from 'node:fs';

/** The environment variable naming the file the resource usage is written to. */
export const RUSAGE_ENV = 'LLMSCHED_RUSAGE_FILE';

const file = process.env[RUSAGE_ENV];
if (file) {
  process.on('exit', () => {
    fs.writeFileSync(file, JSON.stringify(process.resourceUsage()));
  });
}
