/**
 * `sim merge DIR --out FILE`: gathers a sweep's results into one table (docs/sweeps.md): CSV, or
 * Parquet when FILE ends in `.parquet`. The merging code (./merge.ts, with its Parquet writer) is
 * loaded by the handler.
 */
import type { CommandModule } from 'yargs';
import { checkSingleFlags } from './command.ts';
import { readString } from '../../sim/values.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim merge` command writing to `io`. */
export function makeMergeCommand(io: CommandIo): CommandModule {
  return {
    command: 'merge DIR',
    describe: "gather a sweep's results into one table",
    builder: (y) =>
      y
        .positional('DIR', { type: 'string', describe: 'the --out folder of sim sweep' })
        .option('out', { type: 'string', demandOption: true, describe: 'table file: .csv, or .parquet for Parquet (checked writable first, written atomically)' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      checkSingleFlags(a, ['out', 'DIR']);
      readString(a.out, '--out');
      const { mergeSweep } = await import('./merge.ts');
      const n = mergeSweep(String(a.DIR), String(a.out));
      io.out.write(`merge: ${n} rows to ${String(a.out)}\n`);
    },
  };
}
