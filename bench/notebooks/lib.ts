/**
 * Helpers of the notebook scripts: run one configuration in process on a trace already in memory
 * (normalizeOptions → buildRun → simulate → summarize, as bench/paper-check.ts does), flatten a
 * summary into the merged-table columns `sim plot` reads, and locate notebooks/figures/.
 */
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { normalizeOptions, buildRun } from '../../app/config.ts';
import type { RunOptions } from '../../app/config.ts';
import type { Summary } from '../../sim/metrics.ts';
import type { Trace } from '../../sim/trace.ts';
import type { Table } from '../../notebooks/plot/kinds.ts';
import { runResolved } from '../../app/run.ts';

/** Repository root (the nearest ancestor holding package.json; works from bench/notebooks/ and dist/bench/notebooks/). */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found');
    dir = up;
  }
  return dir;
}

/** The shipped Azure conv sample (2000 requests), absolute path. */
export const azureSample = (): string => path.join(repoRoot(), 'traces', 'azure-conv-2000.csv');

/** Where a figure of this name goes: notebooks/figures/NAME.svg under the repository root. */
export const figurePath = (name: string): string => path.join(repoRoot(), 'notebooks', 'figures', `${name}.svg`);

/**
 * Runs one configuration on `trace` (its trace options are ignored) and returns the summary,
 * with the predictor's achieved quality when the policy uses one. Deterministic for a given seed.
 * @throws InputError for bad options (unknown policy, missing predictor…).
 */
export function runOnce(trace: Trace, o: Partial<RunOptions>): Summary {
  const opts = normalizeOptions({ ...o, trace: trace.source });
  const r = buildRun(opts, trace, () => {});
  return runResolved(r).summary;
}

/** Flattens a summary to dotted keys (`e2e_s.mean`), numbers only. */
export function flatten(s: object, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(s)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number') out[key] = v;
    else if (v && typeof v === 'object') Object.assign(out, flatten(v as object, key));
  }
  return out;
}

/** An in-memory merged table (the shape `sim plot` reads from CSV) from rows of values. */
export function toTable(name: string, rows: Record<string, string | number>[]): Table {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return { file: name, columns, rows: rows.map((r) => Object.fromEntries(columns.map((c) => [c, r[c] === undefined ? '' : String(r[c])]))) };
}
