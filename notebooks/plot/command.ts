/**
 * `sim plot TABLE --out FIG.svg|.pdf|.png [--kind K] [--format F,...] [--group C,...] [--filter C=V]
 * [--facet C]`: draws a one-column figure from a results table (kinds and inputs: ./kinds.ts,
 * docs/plots.md). The drawing code (jsdom, Plot, resvg) is
 * loaded by the handler, so other commands do not pay for it.
 */
import type { CommandModule } from 'yargs';
import { InputError, checkChoice } from '../../sim/errors.ts';
import { KINDS, type Kind } from './kind-names.ts';
import { singleFlag } from '../../sim/values.ts';
import { prepareOutputFile } from '../../sim/files.ts';
import { FORMATS, formatOf, type Format } from './formats.ts';

/** A `--format` value, checked. @throws InputError (field `--format`) for another. */
function checkFormat(f: string): Format {
  if (!(FORMATS as readonly string[]).includes(f)) throw new InputError(`unknown format '${f}'; valid: ${FORMATS.join(', ')}`, { field: '--format' });
  return f as Format;
}

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
        .option('out', { type: 'string', demandOption: true, describe: 'figure file to write: .svg, .pdf or .png (the format by the extension)' })
        .option('format', { type: 'string', describe: 'also write these formats beside --out (same name): comma-separated svg, pdf, png' })
        .option('kind', { type: 'string', describe: `figure kind: ${KINDS.join(', ')} (default: picked from the columns)` })
        .option('png', { type: 'boolean', default: false, describe: 'also write a PNG beside the figure (same as --format png)' })
        .option('metric', { type: 'string', describe: 'cdf: latency column (default e2e_s); rate: metric prefix of <m>.mean and <m>.p99' })
        .option('x', { type: 'string', describe: 'rate: x column (default rate_scale or rate-scale; never another in its place); ttft-tpot: column ordering each line (default the rate scale)' })
        .option('series', { type: 'string', default: 'policy', describe: 'column naming the series' })
        .option('log', { type: 'boolean', default: false, describe: 'log scale (cdf: x; rate: y; ttft-tpot: x)' })
        .option('title', { type: 'string', describe: 'figure title' })
        .option('group', { type: 'string', describe: 'rate, ttft-tpot: comma-separated columns defining a line (default every option that varies); other rows of a line are pooled like seeds' })
        .option('filter', { type: 'string', array: true, describe: 'keep rows with col=value (repeatable; several values of one column: any of them)' })
        .option('facet', { type: 'string', describe: 'rate, ttft-tpot: one panel (block) per value of this column' })
        .option('caption', { type: 'string', describe: "caption line under the figure (default: model, GPU and trace from the table; '' for none)" }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      const one = (name: string) => singleFlag(a, name) as string | undefined;
      const out = String(one('out'));
      formatOf(out);
      const also = (one('format') ?? '').split(',').map((f) => f.trim()).filter((f) => f !== '').map((f) => checkFormat(f));
      if (a.png) also.push('png');
      prepareOutputFile(out, '--out');
      const list = (v: string | undefined) => (v === undefined ? undefined : v.split(',').map((c) => c.trim()).filter((c) => c !== ''));
      const kindName = one('kind');
      const kind = kindName === undefined ? undefined : checkChoice('kind', kindName, KINDS);
      const [{ plotInput }, { writeFigure }] = await Promise.all([import('./kinds.ts'), import('./figure.ts')]);
      const { kind: drawn, svg } = plotInput(String(a.TABLE), kind as Kind | undefined, {
        metric: one('metric'),
        x: one('x'),
        series: one('series'),
        log: Boolean(a.log),
        title: one('title'),
        group: list(one('group')),
        filter: (a.filter as string[] | undefined) ?? [],
        facet: one('facet'),
        caption: one('caption'),
      });
      const files = await writeFigure(out, svg, also);
      io.out.write(`${drawn}: wrote ${files.join(', ')}\n`);
    },
  };
}
