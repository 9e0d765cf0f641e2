/**
 * What produced a run, for `config.json` (docs/output.md): the project version and a content hash
 * of the trace, so a result names exactly the code and the input behind it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { RunOptions } from './config.ts';
import { canonicalJson, projectVersion } from './sweep/tasks.ts';
import { InputError } from '../sim/errors.ts';

/** The provenance keys of `config.json` (all listed in RECORD_KEYS, so a replay reads past them). */
export interface RunProvenance {
  /** package.json `version` of the llmsched that ran. */
  'llmsched-version': string;
  /**
   * SHA-256 (hex) of the trace file's bytes as stored (gzip compressed if it is); of a synthetic
   * workload, of the canonical JSON of its spec (arrival process, rate, cv, count, length
   * distributions, shared prefix, seed, and the hash of a `--lengths-from` file); null for a trace
   * read from standard input, whose bytes are gone once read.
   */
  'trace-sha256': string | null;
}

/**
 * SHA-256 (hex) of a file's bytes, streamed.
 * @throws InputError naming the file when it cannot be read.
 */
export async function sha256File(file: string): Promise<string> {
  const hash = crypto.createHash('sha256');
  try {
    for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  } catch (e) {
    throw new InputError(`cannot read to hash it: ${(e as Error).message}`, { file });
  }
  return hash.digest('hex');
}

/**
 * The provenance of a run of normalized options `r` ({@link RunProvenance}).
 * @throws InputError when the trace (or `--lengths-from`) file cannot be read.
 */
export async function runProvenance(r: RunOptions): Promise<RunProvenance> {
  let digest: string | null;
  if (r.synthetic) {
    const lengths = r['lengths-from'];
    const spec = {
      synthetic: r.synthetic,
      rate: r.rate,
      cv: r.cv,
      'num-requests': r['num-requests'],
      prompt: r.prompt,
      output: r.output,
      'shared-prefix': r['shared-prefix'],
      seed: r.seed,
      'lengths-from-sha256': lengths === undefined || lengths === '-' ? lengths : await sha256File(lengths),
    };
    digest = crypto.createHash('sha256').update(canonicalJson(spec)).digest('hex');
  } else {
    digest = r.trace === undefined || r.trace === '-' ? null : await sha256File(r.trace);
  }
  return { 'llmsched-version': projectVersion(), 'trace-sha256': digest };
}
