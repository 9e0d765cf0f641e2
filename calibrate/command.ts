/**
 * `sim calibrate`: the yargs command module. Placeholder until the calibration issue lands.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../sim/errors.ts';

/** The `sim calibrate` command. */
export const calibrateCommand: CommandModule = {
  command: 'calibrate',
  describe: 'time kernels into a profile, import Vidur tables, or validate a profile',
  builder: (y) => y,
  handler: () => {
    throw new InputError('sim calibrate is not implemented yet');
  },
};
