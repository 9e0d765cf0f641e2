/**
 * Bootstrap resampling of a trace (`--resample`): the arrival times are kept as they are and each
 * request slot takes the prompt and output lengths (and the extra columns) of a request drawn
 * uniformly with replacement from the trace — the ordinary nonparametric bootstrap of the
 * requests (B. Efron and R. J. Tibshirani, An Introduction to the Bootstrap, Chapman & Hall 1993,
 * ch. 6), conditioned on the arrival process. Each seed gives another resampled trace, so the
 * spread over seeds estimates how much a metric depends on which requests arrived.
 */
import type { Trace } from '../sim/trace.ts';
import { InputError } from '../sim/errors.ts';

/**
 * A bootstrap resample of `t` (see the module comment), drawing from `rng` (uniform in [0, 1)).
 * Arrival times, skipped counts and warnings are kept; lengths and extra columns are resampled.
 * @throws InputError (field `--resample`) for a program trace (its calls depend on one another)
 *   or a trace with prefix identities (resampled prompts would no longer share what they share).
 */
export function resampleTrace(t: Trace, rng: () => number): Trace {
  if (t.programs) throw new InputError(`cannot resample a program trace (its calls depend on one another): ${t.source}`, { field: '--resample' });
  if (t.prefix) throw new InputError(`cannot resample a trace with prefix identities (resampled prompts would lose their sharing): ${t.source}`, { field: '--resample' });
  const n = t.n;
  const pick = new Int32Array(n);
  for (let i = 0; i < n; i++) pick[i] = Math.min(n - 1, Math.floor(rng() * n));
  const prompt = new Int32Array(n);
  const output = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    prompt[i] = t.prompt_tokens[pick[i]];
    output[i] = t.output_tokens[pick[i]];
  }
  const extra: Record<string, string[]> = {};
  for (const [c, v] of Object.entries(t.extra)) extra[c] = Array.from(pick, (j) => v[j]);
  return { ...t, prompt_tokens: prompt, output_tokens: output, extra };
}
