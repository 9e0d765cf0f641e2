/**
 * `sim generate`: placeholder until program workload generators land.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../sim/errors.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim generate` command writing to `io`. */
export function makeGenerateCommand(io: CommandIo): CommandModule {
  void io;
  return {
    command: 'generate',
    describe: 'generate a seeded program workload (chatbot, multi-turn, ReAct, map-reduce, tree search, coding agent)',
    builder: (y) => y,
    handler: () => {
      throw new InputError('sim generate is not implemented yet');
    },
  };
}
