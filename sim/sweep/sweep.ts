/**
 * `sim sweep` as a library: expands a grid into tasks, keeps this shard's, skips those whose result
 * file exists (resumable), and runs the rest over a piscina worker pool, writing each result to
 * `DIR/tasks/<id>.json` atomically (temporary file, then rename).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { RunOptions } from '../config.ts';
import type { Summary } from '../metrics.ts';
import { loadGrid } from './grid.ts';
import { canonicalJson, expandGrid, projectVersion } from './tasks.ts';
import type { Task } from './tasks.ts';
import { shardTasks } from './shard.ts';
import type { Shard } from './shard.ts';
import type { WorkerInput, WorkerOutput } from './worker.ts';

/** The content of `DIR/tasks/<id>.json`. */
export interface TaskRecord {
  /** Stable task id (file name). */
  id: string;
  /** Project version (package.json) that produced it; part of the id. */
  version: string;
  /** Normalized options, paths relative to the grid file's folder, keys sorted. */
  config: RunOptions;
  /** The run's summary (docs/output.md); only `sim.wall_s` differs between identical runs. */
  summary: Summary;
}

/** Options of {@link runSweep}. */
export interface SweepOptions {
  /** Grid file (YAML or JSON). */
  grid: string;
  /** Output folder; results go to `out/tasks/`. */
  out: string;
  /** Worker threads (default: all cores, at most the tasks to run). */
  workers?: number;
  /** This machine's shard (default: all tasks). */
  shard?: Shard;
  /** Called once before running with the counts, and after each finished task. */
  onStart?: (info: { total: number; inShard: number; skipped: number; toRun: number; workers: number }) => void;
  onTask?: (task: Task, outcome: { ok: boolean; message?: string; seconds: number }, done: number, toRun: number) => void;
  /** Receives run warnings (each distinct message once). */
  onWarning?: (message: string) => void;
}

/** What a sweep did. */
export interface SweepResult {
  /** Tasks in the whole grid, in this shard, already done (skipped), run now. */
  total: number;
  inShard: number;
  skipped: number;
  ran: number;
  /** Tasks that failed (no result written; a re-run retries them). */
  failed: { id: string; message: string; inputError: boolean }[];
}

/**
 * The compiled worker module. Beside this file when running from dist/; when running from the
 * TypeScript sources (vitest, tsx), the compiled copy in dist/ (piscina threads load plain JS).
 * @throws Error telling to build when the file does not exist.
 */
export function workerFile(): string {
  const here = fileURLToPath(import.meta.url);
  const file = here.endsWith('.ts')
    ? path.resolve(path.dirname(here), '..', '..', 'dist', 'sim', 'sweep', 'worker.js')
    : path.join(path.dirname(here), 'worker.js');
  if (!fs.existsSync(file)) throw new Error(`sweep worker ${file} not found: build with 'npm run build'`);
  return file;
}

/** Path of a task's result file. */
export function resultFile(out: string, id: string): string {
  return path.join(out, 'tasks', `${id}.json`);
}

/** Writes `text` to `file` atomically: a temporary file in the same folder, then rename. */
export function writeAtomic(file: string, text: string): void {
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/**
 * Runs a sweep (see the module comment). Always goes through the pool, also with one worker.
 * @throws InputError for a bad grid or an invalid task (before anything runs).
 */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const grid = loadGrid(o.grid);
  const version = projectVersion();
  const all = expandGrid(grid, version);
  const mine = shardTasks(all, o.shard);
  fs.mkdirSync(path.join(o.out, 'tasks'), { recursive: true });
  const todo = mine.filter((t) => !fs.existsSync(resultFile(o.out, t.id)));
  const workers = Math.max(1, Math.min(o.workers ?? os.availableParallelism(), Math.max(1, todo.length)));
  o.onStart?.({ total: all.length, inShard: mine.length, skipped: mine.length - todo.length, toRun: todo.length, workers });
  const result: SweepResult = { total: all.length, inShard: mine.length, skipped: mine.length - todo.length, ran: 0, failed: [] };
  if (todo.length === 0) return result;
  const pool = new Piscina<WorkerInput, WorkerOutput>({ filename: workerFile(), minThreads: workers, maxThreads: workers, idleTimeout: 1000 });
  const warned = new Set<string>();
  let done = 0;
  try {
    await Promise.all(
      todo.map(async (task) => {
        const r = await pool.run({ options: task.options });
        const seconds = r.ok ? r.seconds : 0;
        done++;
        if (r.ok) {
          for (const w of r.warnings) {
            if (!warned.has(w)) {
              warned.add(w);
              o.onWarning?.(w);
            }
          }
          const config = JSON.parse(canonicalJson(task.config)) as RunOptions; // keys sorted: same options, same bytes
          const record: TaskRecord = { id: task.id, version, config, summary: r.summary };
          writeAtomic(resultFile(o.out, task.id), JSON.stringify(record, null, 2) + '\n');
          result.ran++;
          o.onTask?.(task, { ok: true, seconds }, done, todo.length);
        } else {
          result.failed.push({ id: task.id, message: r.message, inputError: r.inputError });
          o.onTask?.(task, { ok: false, message: r.message, seconds }, done, todo.length);
        }
      }),
    );
  } finally {
    await pool.destroy();
  }
  result.failed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return result;
}
