/**
 * `sim reproduce` as a library: runs the selected reproductions and writes their sections into
 * docs/reproductions.md (the others kept), or exports their workloads.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InputError } from '../../sim/errors.ts';
import { prepareOutputFile, readTextFile, writeFileAtomic } from '../../sim/files.ts';
import { repoRoot } from '../regress/regress.ts';
import { REPRODUCTIONS, getReproduction } from './index.ts';
import type { ReproduceContext, Reproduction } from './reproduction.ts';
import type { ClaimResult } from './reproduction.ts';
import { mergeDocument, parseSections, renderSection } from './doc.ts';
import { writeGenericCsv } from './workloads.ts';

/** Default document: docs/reproductions.md under the repository root. */
export const defaultDocument = (): string => path.join(repoRoot(), 'docs', 'reproductions.md');

/** Default shared data folder: `$SHARED`, else `shared/` beside the repository. */
export const defaultShared = (): string => path.resolve(process.env.SHARED ?? path.join(repoRoot(), '..', 'shared'));

/** Options of {@link reproduce}. */
export interface ReproduceOptions {
  /** One reproduction by name; all when absent. */
  name?: string;
  /** Document to write (default {@link defaultDocument}). */
  out?: string;
  /** Shared data folder (default {@link defaultShared}). */
  shared?: string;
  /** Progress lines (default: none). */
  log?: (message: string) => void;
}

/** What a run of {@link reproduce} did. */
export interface ReproduceReport {
  /** The document written (absolute). */
  file: string;
  /** Each reproduction run, with its verdicts. */
  results: { name: string; title: string; claims: ClaimResult[] }[];
}

function select(name: string | undefined): readonly Reproduction[] {
  return name === undefined ? REPRODUCTIONS : [getReproduction(name)];
}

function context(o: { shared?: string; log?: (m: string) => void }): ReproduceContext {
  const shared = path.resolve(o.shared ?? defaultShared());
  return { shared, log: o.log ?? (() => {}) };
}

/**
 * Runs the selected reproductions and writes the document: with a name, its section replaces
 * the old one and the other sections are kept; without, the whole document is rewritten. The
 * document is checked writable and (when it exists) well-formed, and every reproduction's shared
 * data read and checked, before anything runs; the document is written atomically after all have
 * run.
 * @throws InputError for an unknown name, an unwritable or malformed document, or shared data a
 *   reproduction needs that is missing or malformed.
 */
export async function reproduce(o: ReproduceOptions = {}): Promise<ReproduceReport> {
  const reps = select(o.name);
  const file = path.resolve(o.out ?? defaultDocument());
  prepareOutputFile(file, '--out');
  const existing = o.name !== undefined && fs.existsSync(file) ? readTextFile(file, 'reproductions document', true) : undefined;
  if (existing !== undefined) parseSections(existing, file);
  const ctx = context(o);
  for (const rep of reps) rep.check?.(ctx);
  const fresh = new Map<string, string>();
  const results: ReproduceReport['results'] = [];
  for (const rep of reps) {
    ctx.log(`${rep.name}: running`);
    const r = await rep.run(ctx);
    fresh.set(rep.name, renderSection(rep, r));
    results.push({ name: rep.name, title: rep.title, claims: r.claims });
  }
  writeFileAtomic(file, mergeDocument(existing, fresh, REPRODUCTIONS.map((r) => r.name), file));
  return { file, results };
}

/**
 * Writes the request traces the selected reproductions replay (generic CSV, one file each, named
 * by the reproduction) into `dir`; runs nothing.
 * @returns the files written (absolute).
 * @throws InputError for an unknown name, shared data that is missing, or an unwritable folder;
 *   and when the selection has no request traces to export.
 */
export function exportWorkloads(o: { name?: string; dir: string; shared?: string }): string[] {
  const ctx = context(o);
  const files: string[] = [];
  for (const rep of select(o.name)) {
    for (const w of rep.workloads?.(ctx) ?? []) {
      const file = path.resolve(o.dir, w.file);
      writeGenericCsv(file, w.trace, '--export');
      files.push(file);
    }
  }
  if (files.length === 0) throw new InputError(`${o.name ?? 'the selection'} has no request traces to export (its workloads are run options or programs)`, { field: '--export' });
  return files;
}
