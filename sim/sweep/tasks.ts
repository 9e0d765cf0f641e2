/**
 * Expansion of a sweep grid into tasks (one `sim run` each) in a deterministic order, and their
 * stable ids: the first 16 hex digits of the SHA-256 of the canonical JSON of the task's
 * normalized options (paths relative to the grid file) and the project version.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOptions } from '../config.ts';
import type { RunOptions } from '../config.ts';
import { getPolicy } from '../../policies/index.ts';
import { InputError } from '../errors.ts';
import type { Grid, NamedSpec, Scalar } from './grid.ts';

/** One run of a sweep. */
export interface Task {
  /** 0-based position in the expansion order (sharding keeps index % n == i). */
  index: number;
  /** Stable id: 16 hex digits (see {@link taskId}). */
  id: string;
  /** Normalized options to run, with absolute paths. */
  options: RunOptions;
  /** The same options with paths relative to the grid file's folder (POSIX separators): what the id hashes and the result records. */
  config: RunOptions;
}

/**
 * JSON with object keys sorted at every level (arrays keep their order), no whitespace; `undefined`
 * fields dropped as JSON.stringify does.
 */
export function canonicalJson(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
  });
}

/**
 * Stable id of a task: the first 16 hex digits of sha256(canonicalJson({config, version})).
 * @param config the normalized options with portable (grid-relative) paths
 * @param version the project version (package.json)
 */
export function taskId(config: RunOptions, version: string): string {
  return crypto.createHash('sha256').update(canonicalJson({ config, version })).digest('hex').slice(0, 16);
}

let cachedVersion: string | undefined;

/**
 * The project version from llmsched's package.json, found by walking up from this module (works
 * from sim/sweep/ and from dist/sim/sweep/).
 * @throws Error when no package.json named llmsched is found.
 */
export function projectVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'llmsched' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('llmsched package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

const optList = (s: NamedSpec): string[] | undefined => {
  const keys = Object.keys(s.opts).sort();
  return keys.length === 0 ? undefined : keys.map((k) => `${k}=${String(s.opts[k])}`);
};

/** Cartesian product of the engine axes, last axis varying fastest. */
function product(axes: [string, Scalar[]][]): Record<string, Scalar>[] {
  let out: Record<string, Scalar>[] = [{}];
  for (const [k, vals] of axes) out = out.flatMap((o) => vals.map((v) => ({ ...o, [k]: v })));
  return out;
}

/** Options with the path fields made relative to `dir` (POSIX separators). */
function portable(o: RunOptions, dir: string): RunOptions {
  const r = { ...o };
  for (const k of ['trace', 'lengths-from', 'profile'] as const) {
    if (r[k] !== undefined) r[k] = path.relative(dir, r[k]!).split(path.sep).join('/');
  }
  return r;
}

/**
 * Expands a grid into its tasks, in the order: traces, policies, predictors (only for policies that
 * take one; others run once without), engine option combinations (in file order, the last
 * varying fastest), rate scales, seeds. Every task's options are normalized here, so a bad
 * combination fails before anything runs. Tasks with equal options (same id) are kept once.
 * @param version project version mixed into the ids (default: package.json's)
 * @throws InputError naming the grid file and the task for an invalid combination.
 */
export function expandGrid(grid: Grid, version: string = projectVersion()): Task[] {
  const tasks: Task[] = [];
  const seen = new Set<string>();
  for (const trace of grid.traces.length > 0 ? grid.traces : [undefined]) {
    for (const pol of grid.policies) {
      let kind: string;
      try {
        kind = getPolicy(pol.name).predictor;
      } catch (e) {
        throw new InputError((e as Error).message.replace(/^policy: /, ''), { file: grid.file, field: 'policies' });
      }
      const preds = kind === 'none' || grid.predictors === undefined ? [undefined] : grid.predictors;
      for (const pred of preds) {
        for (const eng of product(grid.engine)) {
          for (const scale of grid.rateScales) {
            for (const seed of grid.seeds) {
              const raw: Partial<RunOptions> = {
                ...(eng as Partial<RunOptions>),
                policy: pol.name,
                'policy-opt': optList(pol),
                predictor: pred?.name,
                'predictor-opt': pred ? optList(pred) : undefined,
                trace,
                'rate-scale': scale,
                seed,
              };
              let options: RunOptions;
              try {
                options = normalizeOptions(raw);
              } catch (e) {
                if (!(e instanceof InputError)) throw e;
                const what = [`policy ${pol.name}`, pred ? `predictor ${pred.name}` : '', ...Object.entries(eng).map(([k, v]) => `${k}=${String(v)}`)].filter(Boolean).join(', ');
                throw new InputError(`${e.message} (task ${what})`, { file: grid.file });
              }
              for (const k of Object.keys(options) as (keyof RunOptions)[]) if (options[k] === undefined) delete options[k];
              const config = portable(options, grid.dir);
              const id = taskId(config, version);
              if (seen.has(id)) continue;
              seen.add(id);
              tasks.push({ index: tasks.length, id, options, config });
            }
          }
        }
      }
    }
  }
  return tasks;
}
