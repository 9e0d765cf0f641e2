/**
 * `sim generate --kind K --out FILE [--programs N] [--rate R] [--seed S] [--max-context T] [kind options]`: writes a
 * seeded program workload in the program JSONL format (docs/programs.md), atomically (a temporary
 * file renamed into place), after checking that `--out` can be written.
 */
import type { CommandModule } from 'yargs';
import { checkChoice } from '../sim/errors.ts';
import { readNumber } from '../sim/values.ts';
import { prepareOutputFile, writeFileAtomic } from '../sim/files.ts';
import { describeSpec, generatePrograms, PROGRAM_KINDS, type GeneratorSpec } from './generators.ts';
import { formatProgramJsonl } from './programs.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Default number of programs of `sim generate`. */
export const DEFAULT_PROGRAMS = 100;
/** Default program arrival rate of `sim generate`, programs per second. */
export const DEFAULT_PROGRAM_RATE = 1;

/**
 * Builds the `sim generate` command writing to `io`: generates the workload with
 * {@link generatePrograms}, writes it to `--out` and prints one line (calls, programs, file).
 * @throws InputError (from the handler) for a number option that is not a plain decimal (`0x10`),
 *   a bad option (see generatePrograms) or an unwritable `--out`
 */
export function makeGenerateCommand(io: CommandIo): CommandModule {
  return {
    command: 'generate',
    describe: 'generate a seeded program workload (chatbot, multi-turn, ReAct, map-reduce, tree search, coding agent)',
    builder: (y) =>
      y
        .option('kind', { type: 'string', demandOption: true, describe: `workload kind: ${PROGRAM_KINDS.join(', ')}` })
        .option('out', { type: 'string', demandOption: true, describe: 'program JSONL file to write' })
        .option('programs', { type: 'string', default: String(DEFAULT_PROGRAMS), describe: 'number of programs' })
        .option('rate', { type: 'string', default: String(DEFAULT_PROGRAM_RATE), describe: 'program arrival rate, programs/s (Poisson)' })
        .option('seed', { type: 'string', default: '0', describe: 'seed (same seed and options: same file)' })
        .option('calls', { type: 'string', describe: 'calls per program, DIST (multi-turn, react, coding-agent)' })
        .option('max-calls', { type: 'string', describe: 'cap on calls per program (multi-turn, react, coding-agent)' })
        .option('prompt', { type: 'string', describe: 'prompt tokens DIST (first call for multi-turn and coding-agent)' })
        .option('output', { type: 'string', describe: 'output tokens DIST' })
        .option('append', { type: 'string', describe: 'tokens added per later call, DIST (multi-turn, coding-agent, react, tree-search child, map-reduce reduce)' })
        .option('delay-s', { type: 'string', describe: 'mean think/tool delay before a child call, seconds (exponential)' })
        .option('width', { type: 'string', describe: 'map calls per program, DIST (map-reduce)' })
        .option('branching', { type: 'string', describe: 'children per expanded node (tree-search)' })
        .option('depth', { type: 'string', describe: 'tree depth below the root (tree-search)' })
        .option('expand-p', { type: 'string', describe: 'probability a node is expanded (tree-search)' })
        .option('max-context', {
          type: 'string',
          describe:
            'context length of the model, tokens: every call has prompt + output <= it, the output then the prompt clamped (default 4096, Llama-2 as in the default --model llama-2-7b, for chatbot and map-reduce; 131072, a 128k model such as llama-3.1-8b, for the kinds whose calls resend their parent’s context)',
        }),
    handler: (argv) => {
      const a = argv as Record<string, unknown>;
      // Numbers are read as plain decimals (yargs' own parsing takes 0x10 as 16); the bounds are
      // generatePrograms'.
      const num = (k: string): number | undefined => (a[k] === undefined ? undefined : readNumber(a[k], `--${k}`));
      const spec: GeneratorSpec = {
        kind: checkChoice('--kind', String(a.kind), PROGRAM_KINDS),
        programs: num('programs')!,
        rate: num('rate')!,
        seed: String(a.seed),
        calls: a.calls as string | undefined,
        max_calls: num('max-calls'),
        prompt: a.prompt as string | undefined,
        output: a.output as string | undefined,
        append: a.append as string | undefined,
        delay_s: num('delay-s'),
        width: a.width as string | undefined,
        branching: num('branching'),
        depth: num('depth'),
        expand_p: num('expand-p'),
        max_context: num('max-context'),
      };
      const out = String(a.out);
      prepareOutputFile(out, '--out'); // before the work: an unwritable --out fails at once
      const calls = generatePrograms(spec);
      writeFileAtomic(out, formatProgramJsonl(calls));
      io.out.write(`${describeSpec(spec)}: wrote ${calls.length} calls of ${spec.programs} programs to ${out}\n`);
    },
  };
}
