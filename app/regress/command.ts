/**
 * `sim regress`: runs the checked-in scenario set and compares its metrics with the baseline
 * (library: ./regress.ts; docs/regress.md). Exit 0 when everything is within tolerance, 1 on drift
 * (with a table of what moved), 2 on bad input.
 */
import type { CommandModule } from 'yargs';
import { checkSingleFlags } from '../sweep/command.ts';

/** Output streams of the command, and how it reports a non-zero exit code. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /**
   * Receives exit code 1 on drift. When absent and `out` is process.stdout, the process exits
   * with code 1 (the CLI path); otherwise an Error is thrown.
   */
  exit?: (code: number) => void;
}

/** Builds the `sim regress` command writing to `io`. */
export function makeRegressCommand(io: CommandIo): CommandModule {
  return {
    command: 'regress',
    describe: 'compare policy metrics on the checked-in scenarios with the baseline',
    builder: (y) =>
      y
        .option('update', { type: 'boolean', default: false, describe: 'rewrite the baseline with the current values (checked writable first, written atomically)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the report as one JSON object' })
        .option('baseline', { type: 'string', describe: 'baseline file (default app/regress/baseline.json)' })
        .option('scenarios', { type: 'string', describe: 'scenario file (default app/regress/scenarios.json)' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      checkSingleFlags(a, ['baseline', 'scenarios']);
      // The scenarios' code is loaded only when `sim regress` runs.
      const { regress, formatDrifts } = await import('./regress.ts');
      const report = await regress({
        update: Boolean(a.update),
        baseline: a.baseline === undefined ? undefined : String(a.baseline),
        scenarios: a.scenarios === undefined ? undefined : String(a.scenarios),
      });
      const ok = report.drifts.length === 0;
      if (a.json) {
        io.out.write(JSON.stringify({ ok, updated: Boolean(a.update), ...report }) + '\n');
      } else if (a.update) {
        io.out.write(`baseline updated: ${report.scenarios} scenarios, ${report.metrics} metrics (${report.wall_s.toFixed(1)} s)\n`);
      } else if (ok) {
        io.out.write(`${report.scenarios} scenarios, ${report.metrics} metrics within tolerance (${report.wall_s.toFixed(1)} s)\n`);
      } else {
        io.out.write(formatDrifts(report.drifts));
        io.out.write(`${report.drifts.length} of ${report.metrics} metrics out of tolerance in ${new Set(report.drifts.map((d) => d.scenario)).size} of ${report.scenarios} scenarios; if intended, run \`sim regress --update\` and commit the baseline\n`);
      }
      if (!ok) {
        if (io.exit) io.exit(1);
        else if (io.out === process.stdout) process.exit(1);
        else throw new Error('sim regress: metrics out of tolerance');
      }
    },
  };
}
