/**
 * `sim sweep GRID --out DIR [--workers N] [--shard i/n | --shard-count N] [--yes] [--all-seeds] [--resample]`:
 * runs a parameter sweep (docs/sweeps.md); of the seeds of a configuration that draws no random
 * number from a trace file, one is run (the others would give the same run). Progress goes to stderr: the grid's size at once when it is large, then
 * a bar with ETA on a TTY, else one line per finished task. Exits 2 (InputError) when a task
 * failed; its result is not written, so a re-run retries it.
 */
import type { CommandModule } from 'yargs';
import type { SingleBar } from 'cli-progress';
import { InputError } from '../../sim/errors.ts';
import { readNumber, readString } from '../../sim/values.ts';
import { resolveShard } from './shard.ts';
import { MAX_TASKS, CONFIRM_TASKS, MAX_WORKERS } from './limits.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Grids of at least this many tasks have their size reported on stderr before their tasks are checked (which takes a while). */
export const REPORT_TASKS = 1000;

/**
 * Refuses a flag given more than once (yargs then gives an array), so `--out A --out B` is an error
 * rather than a folder named `A,B` or a silently ignored value.
 * @throws InputError naming the flag.
 */
export function checkSingleFlags(argv: Record<string, unknown>, flags: readonly string[]): void {
  for (const k of flags) {
    if (Array.isArray(argv[k])) throw new InputError(`given ${(argv[k] as unknown[]).length} times; give it once`, { field: `--${k}` });
  }
}

/** Builds the `sim sweep` command writing to `io`. */
export function makeSweepCommand(io: CommandIo): CommandModule {
  return {
    command: 'sweep GRID',
    describe: 'run a parameter sweep (traces x policies x predictors x rates x seeds x engine settings)',
    builder: (y) =>
      y
        .positional('GRID', { type: 'string', describe: 'grid file, YAML or JSON (docs/sweeps.md)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder: results in DIR/tasks/<id>.json (valid existing ones are skipped); checked writable first' })
        .option('workers', { type: 'string', describe: `worker threads, 1 to ${MAX_WORKERS} (default: all cores)` })
        .option('shard', { type: 'string', describe: 'run shard i of n (0-based): tasks with index % n == i (default: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX)' })
        .option('shard-count', { type: 'string', describe: 'shard count with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs; else env JOB_COMPLETION_COUNT)' })
        .option('yes', { type: 'boolean', default: false, describe: `run a grid of more than ${CONFIRM_TASKS} tasks (at most ${MAX_TASKS})` })
        .option('resample', { type: 'boolean', default: false, describe: 'bootstrap each task\'s trace, each seed another resample (arrival times kept, requests drawn with replacement): seeds then give a confidence interval over the requests' })
        .option('all-seeds', { type: 'boolean', default: false, describe: 'run every seed, also where one run showed the seed changes nothing (a trace file, no random draws)' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      checkSingleFlags(a, ['out', 'workers', 'shard', 'shard-count', 'GRID']);
      readString(a.out, '--out');
      const workers = a.workers === undefined ? undefined : readNumber(a.workers, '--workers', { integer: true, min: 1, max: MAX_WORKERS, maxReason: 'worker threads' });
      const shardCount = a['shard-count'] === undefined ? undefined : readNumber(a['shard-count'], '--shard-count', { integer: true, min: 1, max: MAX_TASKS, maxReason: 'the most tasks a grid may have' });
      const shard = resolveShard(a.shard as string | undefined, shardCount);
      const err = io.err as NodeJS.WriteStream;
      let bar: SingleBar | undefined;
      // Loaded before the sweep starts (onStart draws the bar synchronously), only on a terminal.
      const cliProgress = err.isTTY ? (await import('cli-progress')).default : undefined;
      const { runSweep } = await import('./sweep.ts');
      const res = await runSweep({
        grid: String(a.GRID),
        out: String(a.out),
        workers,
        shard,
        yes: a.yes === true,
        allSeeds: a['all-seeds'] === true,
        resample: a.resample === true,
        onCollapse: (n, left) => {
          if (bar) bar.setTotal(left);
          else err.write(`sweep: ${n} tasks not run: their seed changes nothing (a trace file and no random draws: predictor and router need no randomness); one seed run each (--all-seeds runs them)\n`);
        },
        onPlan: (p) => {
          if (p.combinations >= REPORT_TASKS) err.write(`sweep: ${String(a.GRID)}: ${p.combinations} tasks (${p.axes}); checking each before running\n`);
        },
        onCheck: (checked, total) => {
          if (total >= REPORT_TASKS && checked < total) err.write(`sweep: checked ${checked} of ${total} tasks\n`);
        },
        onStart: (s) => {
          const sh = shard ? `, ${s.inShard} in shard ${shard.index}/${shard.count}` : '';
          const inv = s.invalid > 0 ? ` (${s.invalid} invalid result files to redo)` : '';
          const same = s.collapsed > 0 ? `, ${s.collapsed} not run (seed changes nothing)` : '';
          err.write(`sweep: ${s.total} tasks${sh}, ${s.skipped} done already${inv}${same}, running ${s.toRun} on ${s.workers} workers\n`);
          if (cliProgress && s.toRun > 0) {
            bar = new cliProgress.SingleBar({ stream: err, format: 'sweep [{bar}] {value}/{total} | ETA {eta_formatted}' }, cliProgress.Presets.shades_classic);
            bar.start(s.toRun, 0);
          }
        },
        onTask: (t, r, done, toRun) => {
          if (bar) bar.update(done);
          else {
            const what = [t.config.policy, t.config.predictor, `rate-scale=${t.config['rate-scale']}`, `seed=${t.config.seed}`].filter(Boolean).join(' ');
            err.write(`sweep: [${done}/${toRun}] ${t.id} ${what} ${r.ok ? `done in ${r.seconds.toFixed(2)} s` : `FAILED: ${r.message}`}\n`);
          }
        },
        onWarning: (m) => {
          if (!bar) err.write(`sim: warning: ${m}\n`);
        },
      });
      bar?.stop();
      if (res.failed.length > 0) {
        throw new InputError(`${res.failed.length} of ${res.inShard - res.skipped} tasks failed (re-run to retry them); first: ${res.failed[0].id}: ${res.failed[0].message}`);
      }
      const same = res.collapsed > 0 ? `, ${res.collapsed} not run (seed changes nothing; one seed run each)` : '';
      io.out.write(`sweep: ${res.ran} run, ${res.skipped} skipped${same}; results in ${String(a.out)}/tasks\n`);
    },
  };
}
