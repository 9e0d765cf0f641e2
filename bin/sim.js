#!/usr/bin/env node
// Entry point of the `sim` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { main } from '../dist/app/cli.js';

// A reader that stops early (`sim ... | head`) is not an error.
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  throw e;
});

process.exitCode = await main(process.argv.slice(2));
