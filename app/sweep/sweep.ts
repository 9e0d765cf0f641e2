/**
 * `sim sweep` as a library: reads and checks a grid, counts its tasks from the axes, refuses a
 * grid above the limits, checks the files it names and the output folder, then checks every
 * task (keeping only ids), keeps this shard's, skips those with a valid result file (resumable;
 * an invalid one is re-run with a warning), and runs the rest over a piscina worker pool, writing
 * each result to `DIR/tasks/<id>.json` atomically (temporary file, then rename). Of the tasks that
 * differ only in their seed, one runs first; when it shows the seed changes nothing (a trace file
 * and no random draws: {@link seedMatters}), the others are not run (docs/sweeps.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunOptions } from '../config.ts';
import { InputError } from '../../sim/errors.ts';
import { prepareOutputDir, tryReadTextFile, writeFileAtomic } from '../../sim/files.ts';
import { loadGrid, checkGridFiles, loadGridPlugins } from './grid.ts';
import { GridPlan, canonicalJson, projectVersion } from './tasks.ts';
import { CONFIRM_TASKS, MAX_TASKS } from './limits.ts';
import type { Task } from './tasks.ts';
import type { Shard } from './shard.ts';
import { checkRecord, isResultName, isTempName, resultFile } from './record.ts';
import type { TaskRecord } from './record.ts';
import type { WorkerInput, WorkerOutput } from './worker.ts';

export type { TaskRecord } from './record.ts';
export { resultFile } from './record.ts';


/** A leftover temporary result file older than this (seconds) is removed when a sweep starts; a newer one may be another shard's write in progress. */
export const STALE_TEMP_S = 600;

/** Invalid result files named one by one in warnings; beyond, one line counts the rest. */
const WARN_FILES = 10;

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
  /** Run a grid of more than {@link CONFIRM_TASKS} tasks (`--yes`). */
  yes?: boolean;
  /** Bootstrap every task's trace, each seed drawing another resample (`--resample`: the run option `resample` on every task; traces/resample.ts). */
  resample?: boolean;
  /** Run every seed even where the seed changes nothing (`--all-seeds`; see {@link seedMatters}). */
  allSeeds?: boolean;
  /** Called when tasks are skipped because their seed changes nothing: how many, and the tasks left to run in all. */
  onCollapse?: (collapsed: number, toRun: number) => void;
  /** Called as soon as the grid's size is known and within the limits, before its tasks are checked: the combinations of its axes (an upper bound of the tasks) and their sizes. */
  onPlan?: (info: { combinations: number; axes: string }) => void;
  /** Called while the tasks are checked, every 100,000 combinations, with the combinations checked so far. */
  onCheck?: (checked: number, combinations: number) => void;
  /** Called once before running with the counts, and after each finished task. */
  onStart?: (info: { total: number; inShard: number; skipped: number; toRun: number; workers: number; invalid: number; collapsed: number }) => void;
  onTask?: (task: Task, outcome: { ok: boolean; message?: string; seconds: number }, done: number, toRun: number) => void;
  /** Receives warnings: run warnings (each distinct message once) and invalid result files re-run. */
  onWarning?: (message: string) => void;
}

/** What a sweep did. */
export interface SweepResult {
  /** Tasks in the whole grid, in this shard, already done (skipped), run now (not counting {@link collapsed}). */
  total: number;
  inShard: number;
  skipped: number;
  ran: number;
  /** Result files found invalid (corrupt, cut short, another task's) and re-run. */
  invalid: number;
  /** Tasks not run because another seed of the same configuration and rate showed the seed changes nothing. */
  collapsed: number;
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
    ? path.resolve(path.dirname(here), '..', '..', 'dist', 'app', 'sweep', 'worker.js')
    : path.join(path.dirname(here), 'worker.js');
  if (!fs.existsSync(file)) throw new Error(`sweep worker ${file} not found: build with 'npm run build'`);
  return file;
}

/**
 * Whether the seed of a finished task could change its result: its workload is generated
 * (`--synthetic`, seeded) or resampled (`--resample`), or the run drew random numbers from the seed (predictor noise, random
 * routing: `summary.sim.random_draws`; a summary without the count is taken to have drawn). A
 * trace file with no draws gives the same run under every seed.
 */
export function seedMatters(config: RunOptions, summary: TaskRecord['summary']): boolean {
  return config.synthetic !== undefined || config.resample === true || (summary.sim.random_draws ?? 1) > 0;
}

/**
 * Refuses a grid above the task limits: more than {@link MAX_TASKS} always, more than
 * {@link CONFIRM_TASKS} without `yes`.
 * @throws InputError naming the grid file, the count and its axes, and the limit.
 */
export function checkGridSize(plan: GridPlan, yes: boolean): void {
  const n = plan.combinations;
  const file = plan.grid.file;
  if (n > MAX_TASKS) {
    throw new InputError(`${n} tasks (${plan.describe()}): more than ${MAX_TASKS}, the most one grid may have (a result file of about 4 KB each in one folder, and every id held in memory); split it into several grids`, { file });
  }
  if (n > CONFIRM_TASKS && !yes) {
    throw new InputError(`${n} tasks (${plan.describe()}): more than ${CONFIRM_TASKS} need --yes (check the grid, then give --yes to run them all)`, { file });
  }
}

/** Removes leftover temporary files older than {@link STALE_TEMP_S} from a tasks/ folder. */
function removeStaleTemps(tasksDir: string, names: readonly string[]): void {
  const now = Date.now();
  for (const name of names) {
    if (!isTempName(name)) continue;
    const f = path.join(tasksDir, name);
    try {
      if (now - fs.statSync(f).mtimeMs > STALE_TEMP_S * 1000) fs.unlinkSync(f);
    } catch {
      // Gone already (another shard cleaned it), or not ours to remove: it is ignored either way.
    }
  }
}

/**
 * Runs a sweep (see the module comment). Always goes through the pool, also with one worker.
 * @throws InputError before anything runs for a bad grid, a grid above the limits, a trace or
 *   profile that cannot be read, an invalid task, or an output folder that cannot be written;
 *   while running, when a result cannot be written (the tasks in flight finish first).
 */
export async function runSweep(o: SweepOptions): Promise<SweepResult> {
  const grid = loadGrid(o.grid);
  await loadGridPlugins(grid);
  const version = projectVersion();
  const plan = new GridPlan(grid, version, o.resample ? { resample: true } : {});
  checkGridSize(plan, o.yes === true);
  o.onPlan?.({ combinations: plan.combinations, axes: plan.describe() });
  checkGridFiles(grid);
  const tasksDir = path.join(o.out, 'tasks');
  prepareOutputDir(o.out, '--out');
  prepareOutputDir(tasksDir, '--out');
  const names = fs.readdirSync(tasksDir);
  removeStaleTemps(tasksDir, names);
  const existing = new Set(names.filter(isResultName));

  // Seeds of one configuration and rate (combinations S apart from a multiple of S: seeds vary
  // fastest) form a group; once one of them ran and drew no random number from a trace file, the
  // group's other seeds would give the same run and are skipped.
  const S = grid.seeds.length;
  const collapse = S > 1 && o.allSeeds !== true;
  const matters = new Map<number, boolean>();
  const noteSeed = (group: number, m: boolean) => matters.set(group, (matters.get(group) ?? false) || m);

  // Check every task; keep this shard's that have no valid result yet (by number, not options).
  const todoCombo: number[] = [];
  const todoIndex: number[] = [];
  const todoId: string[] = [];
  let inShard = 0;
  let invalid = 0;
  const total = plan.scan((t) => {
    if (o.shard !== undefined && t.index % o.shard.count !== o.shard.index) return;
    inShard++;
    if (existing.has(`${t.id}.json`)) {
      const file = resultFile(o.out, t.id);
      const read = tryReadTextFile(file);
      let problem: string;
      if ('text' in read) {
        const c = checkRecord(read.text, t.id, t.canonical);
        if ('record' in c) {
          if (collapse) noteSeed(Math.floor(t.combo / S), seedMatters(c.record.config, c.record.summary));
          return;
        }
        problem = c.problem;
      } else problem = `cannot read it (${read.problem})`;
      invalid++;
      if (invalid <= WARN_FILES) o.onWarning?.(`${file}: not a valid result: ${problem}; running the task again`);
    }
    todoCombo.push(t.combo);
    todoIndex.push(t.index);
    todoId.push(t.id);
  }, o.onCheck ? (walked) => o.onCheck!(walked, plan.combinations) : undefined);
  if (invalid > WARN_FILES) o.onWarning?.(`${invalid - WARN_FILES} more invalid result files in ${tasksDir}; running their tasks again`);

  // Seeds of a group already known (from a result file) to change nothing are not run.
  let known = 0;
  if (collapse) {
    let j = 0;
    for (let k = 0; k < todoCombo.length; k++) {
      if (matters.get(Math.floor(todoCombo[k] / S)) === false) {
        known++;
        continue;
      }
      [todoCombo[j], todoIndex[j], todoId[j]] = [todoCombo[k], todoIndex[k], todoId[k]];
      j++;
    }
    todoCombo.length = todoIndex.length = todoId.length = j;
  }
  const toRun = todoCombo.length;
  const workers = Math.max(1, Math.min(o.workers ?? os.availableParallelism(), Math.max(1, toRun)));
  const result: SweepResult = { total, inShard, skipped: inShard - toRun - known, ran: 0, invalid, collapsed: known, failed: [] };
  o.onStart?.({ total, inShard, skipped: result.skipped, toRun, workers, invalid, collapsed: known });
  if (toRun === 0) return result;

  const { Piscina } = await import('piscina'); // loaded only when there is work for it
  const pool = new Piscina<WorkerInput, WorkerOutput>({ filename: workerFile(), minThreads: workers, maxThreads: workers, idleTimeout: 1000 });
  const warned = new Set<string>();
  let done = 0;
  let left = toRun;
  let fatal: unknown;
  // Runs the todo tasks `ks` over one lane per worker, each with one task in flight: the pool's
  // queue stays empty, and a task's options exist only while it runs.
  const runAll = async (ks: number[]): Promise<void> => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (fatal === undefined && next < ks.length) {
        const k = ks[next++];
        try {
          const task = plan.task(todoCombo[k], todoIndex[k]);
          if (task.id !== todoId[k]) throw new Error(`sweep: task ${task.index} has id ${task.id} when built on its own but ${todoId[k]} when checked`);
          let r: WorkerOutput;
          try {
            r = await pool.run({ options: task.options });
          } catch (e) {
            // The worker thread itself died (out of memory, a crash): this task failed, the others go on.
            r = { ok: false, message: `worker thread failed: ${(e instanceof Error ? e.message : String(e)).split('\n')[0]}`, inputError: false };
          }
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
            writeFileAtomic(resultFile(o.out, task.id), JSON.stringify(record, null, 2) + '\n');
            if (collapse) noteSeed(Math.floor(todoCombo[k] / S), seedMatters(config, r.summary));
            result.ran++;
            o.onTask?.(task, { ok: true, seconds: r.seconds }, done, left);
          } else {
            result.failed.push({ id: task.id, message: r.message, inputError: r.inputError });
            o.onTask?.(task, { ok: false, message: r.message, seconds: 0 }, done, left);
          }
        } catch (e) {
          fatal ??= e;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(workers, Math.max(1, ks.length)) }, lane));
  };
  // Phase 1: every task whose group's seed effect is known to matter, and the first of each group
  // not yet known; phase 2: the rest of the groups where the seed mattered (or the first failed).
  const first: number[] = [];
  const later: number[] = [];
  const seenGroup = new Set<number>();
  for (let k = 0; k < toRun; k++) {
    const g = Math.floor(todoCombo[k] / S);
    if (!collapse || matters.get(g) === true) first.push(k);
    else if (matters.get(g) === false) later.push(k);
    else if (!seenGroup.has(g)) {
      seenGroup.add(g);
      first.push(k);
    } else later.push(k);
  }
  try {
    await runAll(first);
    const rest = later.filter((k) => matters.get(Math.floor(todoCombo[k] / S)) !== false);
    const now = later.length - rest.length;
    if (now > 0) {
      result.collapsed += now;
      left -= now;
      o.onCollapse?.(now, left);
    }
    if (fatal === undefined) await runAll(rest);
  } finally {
    await pool.destroy();
  }
  if (fatal !== undefined) throw fatal;
  result.failed.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return result;
}
