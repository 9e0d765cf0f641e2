/**
 * Length distributions for synthetic traces: a small spec language (`DIST`) parsed into samplers
 * built on d3-random's generators.
 */
import {
  randomExponential,
  randomGeometric,
  randomInt,
  randomLogNormal,
  randomPareto,
} from 'd3-random';
import { InputError } from '../sim/errors.ts';
import { parseDecimal } from '../sim/values.ts';
import { MAX_TOKENS } from './fields.ts';

/** Largest |MU| of `lognormal:MU,SIGMA`: ln(2^31 − 1) ≈ 21.49, the ln of the token limit. */
export const MAX_LOGNORMAL_MU = Math.log(MAX_TOKENS);

/** Smallest ALPHA of `pareto:XM,ALPHA`: 0.1 (at 0.01, XM·U^(−100) exceeds 2^31 − 1 for most draws). */
export const MIN_PARETO_ALPHA = 0.1;

/** Largest SIGMA of `lognormal:MU,SIGMA`: at 10, a draw one σ from the median is e^10 ≈ 22,000 times it. */
export const MAX_LOGNORMAL_SIGMA = 10;

/** The accepted DIST forms, for help texts and error messages. */
export const DIST_FORMS =
  "const:V, uniform:A,B (inclusive integers), exponential:MEAN, geometric:MEAN (on 1,2,..), lognormal:MU,SIGMA (of ln tokens), pareto:XM,ALPHA";

/** A seeded uniform source: returns numbers in [0, 1). */
export type UniformSource = () => number;

/** Draws one token count (an integer in [1, 2^31 − 1]) using the given uniform source. */
export type LengthSampler = (rng: UniformSource) => number;

type Make = (source: UniformSource) => () => number;

/** Rounds to the nearest integer, then clamps to [1, MAX_TOKENS]. */
function toTokens(x: number): number {
  const r = Math.round(x);
  return r < 1 ? 1 : r > MAX_TOKENS ? MAX_TOKENS : r;
}

/**
 * Parses a length-distribution spec into a sampler:
 * - `const:V` — always V (V >= 1);
 * - `uniform:A,B` — uniform on the integers A..B inclusive (1 <= A <= B);
 * - `exponential:MEAN` — exponential with the given mean (> 0);
 * - `geometric:MEAN` — geometric on 1, 2, ... with the given mean (>= 1), success p = 1/MEAN;
 * - `lognormal:MU,SIGMA` — exp(N(MU, SIGMA²)), i.e. MU and SIGMA (>= 0) are of ln(tokens); mean
 *   exp(MU + SIGMA²/2);
 * - `pareto:XM,ALPHA` — Pareto with scale XM (> 0) and shape ALPHA (> 0); mean ALPHA·XM/(ALPHA − 1)
 *   when ALPHA > 1.
 * Parameters are plain decimals (no hex, `1_000`, `Infinity`), and bounded so that no draw is
 * NaN or infinite: V, A, B, MEAN and XM at most 2^31 − 1 tokens, |MU| at most ln(2^31 − 1) ≈ 21.49,
 * SIGMA at most 10, ALPHA at least 0.1.
 * Samples are integers >= 1: rounded to the nearest integer, then clamped to [1, 2^31 − 1].
 * The returned sampler draws one value per call from `rng` (d3-random generators with
 * `.source(rng)`; the generator is kept while the same `rng` is passed, so that stateful ones such as
 * the log-normal's normal pairs stay exact and deterministic).
 * @param spec   the DIST text (names are case-insensitive; spaces are ignored)
 * @param field  option name reported in errors (e.g. `--prompt`)
 * @throws InputError naming `field` and the valid forms for an unknown name, a wrong number of
 *   parameters, a parameter that is not a plain decimal (`0x10`, `1_0`, empty) or one out of range
 *   (with the bound named)
 */
export function parseLengthDistribution(spec: string, field: string): LengthSampler {
  const bad = (why: string): InputError =>
    new InputError(`bad length distribution '${spec}': ${why}; valid forms: ${DIST_FORMS}`, { field });
  if (typeof spec !== 'string') throw bad('not a string');
  const text = spec.replace(/\s+/g, '');
  const colon = text.indexOf(':');
  if (colon < 0) throw bad("expected NAME:PARAMS");
  const name = text.slice(0, colon).toLowerCase();
  const raw = text.slice(colon + 1).split(',');
  const params = raw.map((s) => parseDecimal(s));
  const want = (k: number): void => {
    if (params.length !== k) throw bad(`${name} takes ${k} parameter${k > 1 ? 's' : ''}, got ${params.length}`);
    const i = params.findIndex((v) => !Number.isFinite(v));
    if (i >= 0) throw bad(`parameter '${raw[i]}' is not a finite decimal number`);
  };
  const atMost = (v: number, max: number, what: string, why: string): void => {
    if (v > max) throw bad(`${what} must be at most ${why}, got ${v}`);
  };
  const tokenLimit = `${MAX_TOKENS} (the token limit, 2^31 − 1)`;

  let make: Make;
  switch (name) {
    case 'const': {
      want(1);
      const v = params[0];
      if (v < 1) throw bad('V must be >= 1');
      atMost(v, MAX_TOKENS, 'V', tokenLimit);
      const r = toTokens(v);
      make = () => () => r;
      break;
    }
    case 'uniform': {
      want(2);
      const [a, b] = params;
      if (!Number.isInteger(a) || !Number.isInteger(b) || a < 1 || b < a) {
        throw bad('A and B must be integers with 1 <= A <= B');
      }
      atMost(b, MAX_TOKENS, 'B', tokenLimit);
      make = (s) => randomInt.source(s)(a, b + 1);
      break;
    }
    case 'exponential': {
      want(1);
      const mean = params[0];
      if (mean <= 0) throw bad('MEAN must be > 0');
      atMost(mean, MAX_TOKENS, 'MEAN', tokenLimit);
      make = (s) => randomExponential.source(s)(1 / mean);
      break;
    }
    case 'geometric': {
      want(1);
      const mean = params[0];
      if (mean < 1) throw bad('MEAN must be >= 1');
      atMost(mean, MAX_TOKENS, 'MEAN', tokenLimit);
      make = (s) => randomGeometric.source(s)(1 / mean);
      break;
    }
    case 'lognormal': {
      want(2);
      const [mu, sigma] = params;
      if (sigma < 0) throw bad('SIGMA must be >= 0');
      if (Math.abs(mu) > MAX_LOGNORMAL_MU) {
        throw bad(`MU must be within ±${MAX_LOGNORMAL_MU.toFixed(2)} (ln of the ${MAX_TOKENS}-token limit), got ${mu}`);
      }
      atMost(sigma, MAX_LOGNORMAL_SIGMA, 'SIGMA', String(MAX_LOGNORMAL_SIGMA));
      make = (s) => randomLogNormal.source(s)(mu, sigma);
      break;
    }
    case 'pareto': {
      want(2);
      const [xm, alpha] = params;
      if (xm <= 0 || alpha <= 0) throw bad('XM and ALPHA must be > 0');
      if (alpha < MIN_PARETO_ALPHA) throw bad(`ALPHA must be at least ${MIN_PARETO_ALPHA} (below it nearly every draw overflows the token limit), got ${alpha}`);
      atMost(xm, MAX_TOKENS, 'XM', tokenLimit);
      make = (s) => {
        const g = randomPareto.source(s)(alpha);
        return () => xm * g();
      };
      break;
    }
    default:
      throw bad(`unknown distribution '${name}'`);
  }

  let lastSource: UniformSource | undefined;
  let gen: () => number = () => NaN;
  return (rng) => {
    if (rng !== lastSource) {
      lastSource = rng;
      gen = make(rng);
    }
    return toTokens(gen());
  };
}
