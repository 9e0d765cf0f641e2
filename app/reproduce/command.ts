/**
 * `sim reproduce [NAME]`: reruns the seed papers' headline results in their own settings and
 * writes docs/reproductions.md (library: ./reproduce.ts). Its code is loaded only when it runs.
 */
import type { CommandModule } from 'yargs';
import { checkSingleFlags } from '../sweep/command.ts';
import { InputError } from '../../sim/errors.ts';

/** Output streams of the command. */
export interface CommandIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** Builds the `sim reproduce` command writing to `io`. */
export function makeReproduceCommand(io: CommandIo): CommandModule {
  return {
    command: 'reproduce [NAME]',
    describe: "rerun the seed papers' headline results in their own settings and write docs/reproductions.md (all, or one section: --list names them)",
    builder: (y) =>
      y
        .positional('NAME', { type: 'string', describe: 'one reproduction (its section is replaced, the others kept); all when absent' })
        .option('out', { type: 'string', describe: 'document to write (default docs/reproductions.md in the repository)' })
        .option('shared', { type: 'string', describe: 'shared data folder with reference/ (default $SHARED, else ../shared beside the repository)' })
        .option('export', { type: 'string', describe: 'write the request traces the reproductions replay (generic CSV) into this folder instead of running them' })
        .option('list', { type: 'boolean', default: false, describe: 'list the reproductions and exit' }),
    handler: async (argv) => {
      const a = argv as Record<string, unknown>;
      checkSingleFlags(a, ['out', 'shared', 'export', 'NAME']);
      const name = a.NAME === undefined ? undefined : String(a.NAME);
      const { REPRODUCTIONS, getReproduction } = await import('./index.ts');
      if (name !== undefined) getReproduction(name);
      if (a.list) {
        for (const k of ['out', 'export', 'shared']) if (a[k] !== undefined) throw new InputError(`--list prints the names only: drop --${k}`, { field: '--list' });
        for (const r of REPRODUCTIONS) io.out.write(`${r.name.padEnd(12)}${r.title}\n`);
        return;
      }
      const shared = a.shared === undefined ? undefined : String(a.shared);
      const { reproduce, exportWorkloads } = await import('./reproduce.ts');
      if (a.export !== undefined) {
        if (a.out !== undefined) throw new InputError('--export writes workloads, not the document: drop --out', { field: '--out' });
        for (const f of exportWorkloads({ name, dir: String(a.export), shared })) io.out.write(`wrote ${f}\n`);
        return;
      }
      const t0 = performance.now();
      const report = await reproduce({ name, out: a.out === undefined ? undefined : String(a.out), shared, log: (m) => io.err.write(`sim reproduce: ${m} (${((performance.now() - t0) / 1000).toFixed(1)} s)\n`) });
      for (const r of report.results) {
        for (const c of r.claims) io.out.write(`${r.name}: ${c.what}: paper ${c.paperText}, here ${c.oursText}: ${c.verdict.text}\n`);
      }
      io.out.write(`wrote ${report.file}\n`);
    },
  };
}
