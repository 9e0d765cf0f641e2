/**
 * `sim plot TABLE --out FIG.svg [--kind K] [--png]`: draws a one-column figure from a results
 * table (kinds and inputs: ./kinds.ts, docs/plots.md). The drawing code (jsdom, Plot, resvg) is
 * loaded by the handler, so other commands do not pay for it.
 */
import type { CommandModule } from 'yargs';
import { InputError, checkChoice } from '../../sim/errors.ts';
import { KINDS, type Kind } from './kind-names.ts';
import { singleFlag } from '../../sim/values.ts';
import { prepareOutputFile } from '../../sim/files.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim plot` command writing to `io`. */
export function makePlotCommand(io: CommandIo): CommandModule {
  return {
    command: 'plot TABLE',
    describe: 'draw a figure (SVG) from a results table: latency CDF, latency vs rate, TTFT vs TPOT, or a run time series',
    builder: (y) =>
      y
        .positional('TABLE', { type: 'string', describe: 'requests.csv, run directory (or directory of runs), merged sweep CSV, or timeseries.csv' })
        .option('out', { type: 'string', demandOption: true, describe: 'SVG file to write' })
        .option('kind', { type: 'string', describe: `figure kind: ${KINDS.join(', ')} (default: picked from the columns)` })
        .option('png', { type: 'boolean', default: false, describe: 'also write a PNG beside the SVG (same name, .png)' })
        .option('metric', { type: 'string', describe: 'cdf: latency column (default e2e_s); rate: metric prefix of <m>.mean and <m>.p99' })
        .option('x', { type: 'string', describe: 'rate: x column (default rate_scale or rate-scale; never another in its place); ttft-tpot: column ordering each line (default the rate scale)' })
        .option('series', { type: 'string', default: 'policy', describe: 'column naming the series' })
        .option('log', { type: 'boolean', default: false, describe: 'log scale (cdf: x; rate: y; ttft-tpot: x)' })
        .option('title', { type: 'string', describe: 'figure title' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const one = (name: string) => singleFlag(a, name) as string | undefined;
      const out = String(one('out'));
      if (!/\.svg$/i.test(out)) throw new InputError(`must end in .svg (got ${out})`, { field: '--out' });
      prepareOutputFile(out, '--out');
      const kindName = one('kind');
      const kind = kindName === undefined ? undefined : checkChoice('kind', kindName, KINDS);
      const [{ plotInput }, { writeFigure }] = await Promise.all([import('./kinds.ts'), import('./figure.ts')]);
      const { kind: drawn, svg } = plotInput(String(a.TABLE), kind as Kind | undefined, {
        metric: one('metric'),
        x: one('x'),
        series: one('series'),
        log: Boolean(a.log),
        title: one('title'),
      });
      const files = writeFigure(out, svg, Boolean(a.png));
      io.out.write(`${drawn}: wrote ${files.join(', ')}\n`);
    },
  };
}
