/**
 * `sim regress`: placeholder until the research-workflow issue lands.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../errors.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim regress` command writing to `io`. */
export function makeRegressCommand(io: CommandIo): CommandModule {
  void io;
  return {
    command: 'regress',
    describe: 'compare policy metrics on the checked-in scenarios with the baseline',
    builder: (y) => y,
    handler: () => {
      throw new InputError('sim regress is not implemented yet');
    },
  };
}
