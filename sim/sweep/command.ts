/**
 * `sim sweep`: placeholder until the research-workflow issue lands.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../errors.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim sweep` command writing to `io`. */
export function makeSweepCommand(io: CommandIo): CommandModule {
  void io;
  return {
    command: 'sweep GRID',
    describe: 'run a parameter sweep (traces x policies x predictors x rates x seeds x engine settings)',
    builder: (y) => y,
    handler: () => {
      throw new InputError('sim sweep is not implemented yet');
    },
  };
}
