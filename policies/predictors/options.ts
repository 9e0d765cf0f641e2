/**
 * Parsing and checking of `--predictor-opt key=value` options, shared by the predictors: every
 * error is an InputError with field `--predictor-opt` naming the predictor, the key, and the valid
 * keys, choices or range.
 */
import { InputError } from '../../sim/errors.ts';
import { parseDecimal } from '../../sim/values.ts';
import type { PredictionCost } from '../../sim/predictor.ts';

/** The option field every predictor error names. */
export const PREDICTOR_OPT_FIELD = '--predictor-opt';

/** Range of a numeric option; bounds are inclusive unless marked exclusive. */
export interface NumberRange {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
  /** Whole numbers only. */
  integer?: boolean;
}

/** "(-1, 1]", "[0, ∞)", "integer >= 1" ... for error messages. */
function describeRange(r: NumberRange): string {
  const lo = r.min === undefined ? '(-∞' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? '∞)' : `${r.max}${r.maxExclusive ? ')' : ']'}`;
  return `${r.integer ? 'an integer' : 'a number'} in ${lo}, ${hi}`;
}

/**
 * Reads one predictor's options. Construct it with every key the predictor accepts; unknown keys
 * are rejected at once.
 * @throws InputError (field `--predictor-opt`) for an unknown key.
 */
export class PredictorOptions {
  /** Predictor name, for messages. */
  readonly predictor: string;
  private readonly opts: Record<string, string>;

  constructor(predictor: string, opts: Record<string, string>, keys: readonly string[]) {
    this.predictor = predictor;
    this.opts = opts;
    for (const k of Object.keys(opts)) {
      if (!keys.includes(k)) {
        const valid = keys.length ? `valid: ${keys.join(', ')}` : 'it takes no options';
        throw this.error(`unknown option '${k}'; ${valid}`);
      }
    }
  }

  /** An InputError about this predictor's options. */
  error(message: string): InputError {
    return new InputError(`${this.predictor}: ${message}`, { field: PREDICTOR_OPT_FIELD });
  }

  /** Whether `key` was given. */
  has(key: string): boolean {
    return Object.hasOwn(this.opts, key);
  }

  /**
   * The numeric option `key`, or `def` when absent.
   * @throws InputError naming the key and the valid range for a non-number or a value out of range.
   */
  number(key: string, def: number, range: NumberRange = {}): number {
    if (!this.has(key)) return def;
    const text = this.opts[key].trim();
    const v = parseDecimal(text);
    const ok =
      Number.isFinite(v) &&
      (!range.integer || Number.isInteger(v)) &&
      (range.min === undefined || (range.minExclusive ? v > range.min : v >= range.min)) &&
      (range.max === undefined || (range.maxExclusive ? v < range.max : v <= range.max));
    if (!ok) throw this.error(`${key} must be ${describeRange(range)}, got '${this.opts[key]}'`);
    return v;
  }

  /**
   * The option `key`, one of `choices`, or `def` when absent.
   * @throws InputError listing the choices for any other value.
   */
  choice<T extends string>(key: string, def: T, choices: readonly T[]): T {
    if (!this.has(key)) return def;
    const v = this.opts[key];
    if (!(choices as readonly string[]).includes(v)) {
      throw this.error(`${key} must be one of ${choices.join(', ')}, got '${v}'`);
    }
    return v as T;
  }

  /**
   * The string option `key`, or `def` when absent.
   * @throws InputError when it is empty.
   */
  string(key: string, def: string): string {
    if (!this.has(key)) return def;
    const v = this.opts[key].trim();
    if (v === '') throw this.error(`${key} must not be empty`);
    return v;
  }
}

/** Keys of the per-request prediction cost options (see {@link readCost}). */
export const COST_KEYS = ['cost', 'cost-mode'] as const;

/**
 * The prediction cost from `cost=SECONDS` (>= 0, default 0) and `cost-mode=server|external`
 * (default server: the predictor runs on the serving GPU). Returns undefined when the cost is 0.
 * @throws InputError for a negative or non-numeric cost or an unknown mode.
 */
export function readCost(o: PredictorOptions): PredictionCost | undefined {
  const perRequest_s = o.number('cost', 0, { min: 0 });
  const mode = o.choice('cost-mode', 'server', ['server', 'external'] as const);
  return perRequest_s > 0 ? { perRequest_s, onServer: mode === 'server' } : undefined;
}
