/**
 * A preload for `npm run bench` (bench/bench.ts), not part of the product: run as
 * `node --import ./dist/bench/rusage.js bin/sim.js ...`, it writes the process's own resource
 * usage at exit, as the JSON of `process.resourceUsage()` (`userCPUTime` and `systemCPUTime` in
 * microseconds, `maxRSS` in KiB, replaced by the peak of this process image: see `peakRssKiB`), to the file named by the environment variable
 * {@link RUSAGE_ENV}. Without that variable it does nothing.
 */
import fs from 'node:fs';

/** The environment variable naming the file the resource usage is written to. */
export const RUSAGE_ENV = 'LLMSCHED_RUSAGE_FILE';

/**
 * This process's peak resident set in KiB: Linux's VmHWM (/proc/self/status), which starts over at
 * exec. `resourceUsage().maxRSS` does not: on Linux it keeps the high-water mark of the process
 * that forked it (the bench, ~180 MiB), so it is only the fallback elsewhere.
 */
function peakRssKiB(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]);
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS;
}

const file = process.env[RUSAGE_ENV];
if (file) {
  process.on('exit', () => {
    fs.writeFileSync(file, JSON.stringify({ ...process.resourceUsage(), maxRSS: peakRssKiB() }));
  });
}
