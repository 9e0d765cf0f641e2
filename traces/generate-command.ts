/**
 * `sim generate --kind K --out FILE [--programs N] [--rate R] [--seed S] [kind options]`: writes a
 * seeded program workload in the program JSONL format (docs/programs.md).
 */
import { writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { checkChoice, InputError } from '../sim/errors.ts';
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
 * @throws InputError (from the handler) for a bad option (see generatePrograms) or an unwritable
 *   `--out`
 */
export function makeGenerateCommand(io: CommandIo): CommandModule {
  return {
    command: 'generate',
    describe: 'generate a seeded program workload (chatbot, multi-turn, ReAct, map-reduce, tree search, coding agent)',
    builder: (y) =>
      y
        .option('kind', { type: 'string', demandOption: true, describe: `workload kind: ${PROGRAM_KINDS.join(', ')}` })
        .option('out', { type: 'string', demandOption: true, describe: 'program JSONL file to write' })
        .option('programs', { type: 'number', default: DEFAULT_PROGRAMS, describe: 'number of programs' })
        .option('rate', { type: 'number', default: DEFAULT_PROGRAM_RATE, describe: 'program arrival rate, programs/s (Poisson)' })
        .option('seed', { type: 'string', default: '0', describe: 'seed (same seed and options: same file)' })
        .option('calls', { type: 'string', describe: 'calls per program, DIST (multi-turn, react, coding-agent)' })
        .option('max-calls', { type: 'number', describe: 'cap on calls per program (multi-turn, react, coding-agent)' })
        .option('prompt', { type: 'string', describe: 'prompt tokens DIST (first call for multi-turn and coding-agent)' })
        .option('output', { type: 'string', describe: 'output tokens DIST' })
        .option('append', { type: 'string', describe: 'tokens added per later call, DIST (multi-turn, coding-agent, map-reduce reduce)' })
        .option('delay-s', { type: 'number', describe: 'mean think/tool delay before a child call, seconds (exponential)' })
        .option('width', { type: 'string', describe: 'map calls per program, DIST (map-reduce)' })
        .option('branching', { type: 'number', describe: 'children per expanded node (tree-search)' })
        .option('depth', { type: 'number', describe: 'tree depth below the root (tree-search)' })
        .option('expand-p', { type: 'number', describe: 'probability a node is expanded (tree-search)' }),
    handler: (argv) => {
      const a = argv as Record<string, unknown>;
      const spec: GeneratorSpec = {
        kind: checkChoice('--kind', String(a.kind), PROGRAM_KINDS),
        programs: a.programs as number,
        rate: a.rate as number,
        seed: String(a.seed),
        calls: a.calls as string | undefined,
        max_calls: a['max-calls'] as number | undefined,
        prompt: a.prompt as string | undefined,
        output: a.output as string | undefined,
        append: a.append as string | undefined,
        delay_s: a['delay-s'] as number | undefined,
        width: a.width as string | undefined,
        branching: a.branching as number | undefined,
        depth: a.depth as number | undefined,
        expand_p: a['expand-p'] as number | undefined,
      };
      const calls = generatePrograms(spec);
      const out = String(a.out);
      try {
        writeFileSync(out, formatProgramJsonl(calls));
      } catch (e) {
        throw new InputError(`cannot write: ${(e as Error).message}`, { file: out, field: '--out' });
      }
      io.out.write(`${describeSpec(spec)}: wrote ${calls.length} calls of ${spec.programs} programs to ${out}\n`);
    },
  };
}
