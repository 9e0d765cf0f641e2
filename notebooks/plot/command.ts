/**
 * `sim plot`: placeholder until the research-workflow issue lands.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../../sim/errors.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim plot` command writing to `io`. */
export function makePlotCommand(io: CommandIo): CommandModule {
  void io;
  return {
    command: 'plot TABLE',
    describe: 'draw a figure (SVG) from a results table',
    builder: (y) => y,
    handler: () => {
      throw new InputError('sim plot is not implemented yet');
    },
  };
}
