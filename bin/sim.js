#!/usr/bin/env node
// Entry point of the `sim` command: runs the compiled CLI (built by `npm ci` / `npm run build`).
import { main } from '../dist/sim/cli.js';

process.exitCode = await main(process.argv.slice(2));
