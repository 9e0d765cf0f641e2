/**
 * Vitest global setup: some tests run the compiled CLI (`bin/sim.js` loads dist/: the bad-input
 * corpus's child-process cases, stdin/FIFO traces) or compiled workers (sweep's piscina threads),
 * so dist/ is rebuilt with tsc first when it is missing or older than any source file. CI's
 * `npm ci` has just built it, so there this only compares file times.
 */
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';

const root = path.resolve(import.meta.dirname, '..');

/** Newest modification time of the .ts files under the given folders (ms since the epoch). */
function newestSource(dirs: string[]): number {
  let t = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return t;
}

/** Builds dist/ when stale; type errors elsewhere still emit JS (noEmitOnError is off). */
export default function setup(): void {
  const marker = path.join(root, 'dist', 'app', 'cli.js');
  const stale = !fs.existsSync(marker) || fs.statSync(marker).mtimeMs < newestSource(['sim', 'policies', 'traces', 'kernels', 'calibrate', 'notebooks', 'app']);
  if (!stale) return;
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
  } catch {
    // The tests that need dist/ say so if the build did not produce it.
  }
}
