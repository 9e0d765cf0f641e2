/**
 * `sim sweep GRID --out DIR [--workers N] [--shard i/n | --shard-count N]`: runs a parameter sweep
 * (docs/sweeps.md). Progress goes to stderr: a bar with ETA on a TTY, else one line per finished
 * task. Exits 2 (InputError) when a task failed; its result is not written, so a re-run retries it.
 */
import type { CommandModule } from 'yargs';
import cliProgress from 'cli-progress';
import { InputError } from '../errors.ts';
import { runSweep } from './sweep.ts';
import { resolveShard } from './shard.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim sweep` command writing to `io`. */
export function makeSweepCommand(io: CommandIo): CommandModule {
  return {
    command: 'sweep GRID',
    describe: 'run a parameter sweep (traces x policies x predictors x rates x seeds x engine settings)',
    builder: (y) =>
      y
        .positional('GRID', { type: 'string', describe: 'grid file, YAML or JSON (docs/sweeps.md)' })
        .option('out', { type: 'string', demandOption: true, describe: 'output folder: results in DIR/tasks/<id>.json (existing ones are skipped)' })
        .option('workers', { type: 'number', describe: 'worker threads (default: all cores)' })
        .option('shard', { type: 'string', describe: 'run shard i of n (0-based): tasks with index % n == i (default: from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX)' })
        .option('shard-count', { type: 'number', describe: 'shard count with JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs; else env JOB_COMPLETION_COUNT)' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const workers = a.workers as number | undefined;
      if (workers !== undefined && !(Number.isInteger(workers) && workers >= 1)) throw new InputError(`must be a positive integer (got ${String(workers)})`, { field: '--workers' });
      const shard = resolveShard(a.shard as string | undefined, a['shard-count'] as number | undefined);
      const err = io.err as NodeJS.WriteStream;
      let bar: cliProgress.SingleBar | undefined;
      const res = await runSweep({
        grid: String(a.GRID),
        out: String(a.out),
        workers,
        shard,
        onStart: (s) => {
          const sh = shard ? `, ${s.inShard} in shard ${shard.index}/${shard.count}` : '';
          err.write(`sweep: ${s.total} tasks${sh}, ${s.skipped} done already, running ${s.toRun} on ${s.workers} workers\n`);
          if (err.isTTY && s.toRun > 0) {
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
      io.out.write(`sweep: ${res.ran} run, ${res.skipped} skipped; results in ${String(a.out)}/tasks\n`);
    },
  };
}
