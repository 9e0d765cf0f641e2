/**
 * `sim merge`: placeholder until the research-workflow issue lands.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../errors.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim merge` command writing to `io`. */
export function makeMergeCommand(io: CommandIo): CommandModule {
  void io;
  return {
    command: 'merge DIR',
    describe: "gather a sweep's results into one table",
    builder: (y) => y,
    handler: () => {
      throw new InputError('sim merge is not implemented yet');
    },
  };
}
