/**
 * Linear validation cost model and the parser of the CLI's `--cost-model` option.
 */
import { InputError } from '../errors.ts';
import type { BatchShape, CostModel } from './cost-model.ts';
import { parseDecimal } from '../values.ts';

/** Keys accepted in `linear:key=value,...`. */
/**
 * Largest coefficient accepted, seconds (an hour per iteration, token, sequence or KV token): far
 * above any real kernel, and small enough that no iteration time or simulated clock can overflow.
 */
export const LINEAR_MAX_S = 3600;

export const LINEAR_KEYS = ['base', 'prefill', 'decode', 'kv'] as const;

/** Coefficients of {@link LinearCostModel}; all finite and >= 0. */
export interface LinearCoefficients {
  /** Seconds per non-empty iteration. */
  base: number;
  /** Seconds per prefill token. */
  prefill: number;
  /** Seconds per decoding sequence. */
  decode: number;
  /** Seconds per KV token read by attention (decode context plus cached prefix of prefill chunks). */
  kv: number;
}

/**
 * iterationTime = base + prefill·prefillTokens + decode·decodeSeqs
 *                 + kv·(decodeKvTokens + prefillCachedTokens),
 * and 0 for an iteration with no tokens. For validation (closed forms, queueing oracles: kv=0 and
 * prefill=decode gives a time proportional to tokens) and for fits to measurements.
 */
export class LinearCostModel implements CostModel {
  /** `linear(base=…, prefill=…, decode=…, kv=…)`. */
  readonly name: string;
  /** Seconds per non-empty iteration. */
  readonly base: number;
  /** Seconds per prefill token. */
  readonly prefill: number;
  /** Seconds per decoding sequence. */
  readonly decode: number;
  /** Seconds per KV token read. */
  readonly kv: number;

  /** @throws InputError (field `--cost-model`) for a coefficient that is not finite and >= 0. */
  constructor(c: LinearCoefficients) {
    for (const key of LINEAR_KEYS) {
      const v = c[key];
      if (!(Number.isFinite(v) && v >= 0 && v <= LINEAR_MAX_S)) {
        throw new InputError(`linear coefficient ${key} must be a number in [0, ${LINEAR_MAX_S}] seconds, got ${v}`, {
          field: '--cost-model',
        });
      }
    }
    this.base = c.base;
    this.prefill = c.prefill;
    this.decode = c.decode;
    this.kv = c.kv;
    this.name = `linear(base=${c.base}, prefill=${c.prefill}, decode=${c.decode}, kv=${c.kv})`;
  }

  /** Seconds for one iteration; 0 when the shape has no tokens. */
  iterationTime(b: BatchShape): number {
    if (b.prefillTokens + b.decodeSeqs <= 0) return 0;
    return (
      this.base +
      this.prefill * b.prefillTokens +
      this.decode * b.decodeSeqs +
      this.kv * (b.decodeKvTokens + b.prefillCachedTokens)
    );
  }
}

/**
 * A parsed `--cost-model` value: `auto` (a shipped measured profile matching the run, else
 * `fitted`), `fitted` (the analytical model with ANALYTICAL_FITTED), `analytical` (the analytical
 * model with ANALYTICAL_DEFAULTS), or the linear validation model. The app picks the model
 * (calibrate/shipped.ts).
 */
export type CostModelSpec = { kind: 'auto' } | { kind: 'fitted' } | { kind: 'analytical' } | ({ kind: 'linear' } & LinearCoefficients);

/**
 * Parses the CLI's `--cost-model`: `auto` (the default), `fitted`, `analytical`, or
 * `linear:base=B,prefill=P,decode=D,kv=K` with any subset of the keys (missing ones are 0; `linear`
 * alone is all zeros). Values are seconds (per token/sequence), finite and >= 0, in any JavaScript
 * number syntax (`2e-5`). Whitespace around parts is ignored.
 * @throws InputError with field `--cost-model` for an unknown kind, an unknown or repeated key, a
 *   part without `=`, or a bad number; the message names the valid kinds or keys.
 */
export function parseCostModelSpec(spec: string): CostModelSpec {
  const s = spec.trim();
  const field = '--cost-model';
  if (s === 'auto' || s === 'fitted' || s === 'analytical') return { kind: s };
  const colon = s.indexOf(':');
  const kind = colon < 0 ? s : s.slice(0, colon).trim();
  if (kind !== 'linear') {
    throw new InputError(
      `unknown cost model '${spec}'; valid: auto, fitted, analytical, linear:base=B,prefill=P,decode=D,kv=K`,
      { field },
    );
  }
  const out: { kind: 'linear' } & LinearCoefficients = { kind: 'linear', base: 0, prefill: 0, decode: 0, kv: 0 };
  const body = colon < 0 ? '' : s.slice(colon + 1).trim();
  if (body === '') return out;
  const seen = new Set<string>();
  for (const rawPart of body.split(',')) {
    const part = rawPart.trim();
    const eq = part.indexOf('=');
    if (eq < 0) {
      throw new InputError(`expected key=value in '${part}'; valid keys: ${LINEAR_KEYS.join(', ')}`, { field });
    }
    const key = part.slice(0, eq).trim();
    const text = part.slice(eq + 1).trim();
    if (!(LINEAR_KEYS as readonly string[]).includes(key)) {
      throw new InputError(`unknown linear cost-model key '${key}'; valid keys: ${LINEAR_KEYS.join(', ')}`, {
        field,
      });
    }
    if (seen.has(key)) throw new InputError(`linear cost-model key '${key}' given twice`, { field });
    seen.add(key);
    const v = parseDecimal(text);
    if (!(Number.isFinite(v) && v >= 0 && v <= LINEAR_MAX_S)) {
      throw new InputError(
        `linear cost-model ${key}='${text}' is not a decimal number of seconds in [0, ${LINEAR_MAX_S}] (an hour; valid keys: ${LINEAR_KEYS.join(', ')})`,
        { field },
      );
    }
    out[key as (typeof LINEAR_KEYS)[number]] = v;
  }
  return out;
}
