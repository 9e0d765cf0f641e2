/**
 * `sim compare --run DIR (--vidur FILE | --vllm FILE) [--json]`: the agreement table of a run of
 * this simulator against Vidur's or a real vLLM server's results on the same trace
 * (docs/compare.md). The readers and the table (./sides.ts, ./agreement.ts) are loaded by the handler.
 */
import type { CommandModule } from 'yargs';
import { InputError } from '../../sim/errors.ts';
import { readString } from '../../sim/values.ts';
import { checkSingleFlags } from '../sweep/command.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim compare` command writing to `io`. */
export function makeCompareCommand(io: CommandIo): CommandModule {
  return {
    command: 'compare',
    describe: "agreement of a run with Vidur's or a vLLM server's results on the same trace (TTFT, TPOT, ITL, e2e)",
    builder: (y) =>
      y
        .option('run', { type: 'string', demandOption: true, describe: 'a run of this simulator: the --out DIR of sim run (requests.csv, summary.json)' })
        .option('vidur', { type: 'string', describe: "Vidur's request_metrics.csv, or its output folder" })
        .option('vllm', { type: 'string', describe: "vLLM's benchmark_serving --save-result JSON (per-request ttfts, itls, input_lens, output_lens)" })
        .option('json', { type: 'boolean', default: false, describe: 'print the table as one JSON object' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      checkSingleFlags(a, ['run', 'vidur', 'vllm']);
      const run = readString(a.run, '--run');
      if ((a.vidur === undefined) === (a.vllm === undefined)) throw new InputError('give one of --vidur FILE or --vllm FILE', { field: a.vidur === undefined ? '--vidur' : '--vllm' });
      const { readRun, readVidur, readVllm } = await import('./sides.ts');
      const { agreement, formatAgreement } = await import('./agreement.ts');
      const theirs = a.vidur !== undefined ? readVidur(readString(a.vidur, '--vidur')) : readVllm(readString(a.vllm, '--vllm'));
      const table = agreement(readRun(run), theirs);
      io.out.write(a.json ? JSON.stringify(table) + '\n' : formatAgreement(table));
    },
  };
}
