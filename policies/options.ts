/**
 * Shared helpers for the length-aware policies: reading and checking `--policy-opt key=value`
 * pairs, and the checks every length-aware policy makes on its predictor.
 */
import { InputError } from '../sim/errors.ts';
import { parseDecimal } from '../sim/values.ts';
import type { Displacement, PolicyContext } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';

/** Range of a numeric option; bounds are inclusive unless marked exclusive. */
export interface NumberRange {
  min?: number;
  max?: number;
  /** The lower bound itself is not allowed (e.g. a positive quantum). */
  minExclusive?: boolean;
  /** Only integers are allowed. */
  integer?: boolean;
  /** `inf` (or `infinity`) is accepted and read as Infinity. */
  allowInfinity?: boolean;
}

/** The displacement choices of a preemptive policy (sim/policy.ts). */
export const DISPLACEMENTS: readonly Displacement[] = ['pause', 'recompute', 'swap'];

/** `on`/`off` switches. */
export const ON_OFF = ['on', 'off'] as const;

/**
 * Reads one policy's `--policy-opt` pairs (or a router's `--router-opt`). Each `number`/`choice` call reads one option (falling
 * back to its default) and records its name; `done()` then rejects any other key, listing the
 * valid ones. Every error is an InputError with field `--policy-opt` naming the policy, the option
 * and the valid range or choices.
 */
export class PolicyOptions {
  /** The policy's CLI name (for messages). */
  readonly policy: string;
  private readonly opts: Record<string, string>;
  private readonly known: string[] = [];
  private readonly field: string;

  /**
   * @param policy the policy's (or router's) CLI name.
   * @param opts the `key=value` pairs as parsed by the CLI (app/config.ts `parseKeyValues`).
   * @param field the flag the pairs came from, named in errors (default `--policy-opt`).
   */
  constructor(policy: string, opts: Record<string, string>, field = '--policy-opt') {
    this.policy = policy;
    this.opts = opts;
    this.field = field;
  }

  /**
   * A numeric option.
   * @param key option name.
   * @param def default when the option is absent.
   * @param range the allowed range.
   * @throws InputError (field `--policy-opt`) when the value is not a number in `range`.
   */
  number(key: string, def: number, range: NumberRange = {}): number {
    this.known.push(key);
    const raw = this.opts[key];
    if (raw === undefined) return def;
    const s = raw.trim().toLowerCase();
    let v: number;
    if (range.allowInfinity && (s === 'inf' || s === 'infinity')) v = Infinity;
    else v = parseDecimal(s);
    const ok =
      !Number.isNaN(v) &&
      (Number.isFinite(v) || (range.allowInfinity === true && v === Infinity)) &&
      (range.integer !== true || !Number.isFinite(v) || Number.isInteger(v)) &&
      (range.min === undefined || (range.minExclusive ? v > range.min : v >= range.min)) &&
      (range.max === undefined || v <= range.max);
    if (!ok) {
      throw new InputError(`${this.policy} option ${key} must be ${describeRange(range)} (got '${raw}')`, { field: this.field });
    }
    return v;
  }

  /**
   * An option with a fixed set of values.
   * @param key option name.
   * @param def default when the option is absent.
   * @param choices the valid values.
   * @throws InputError (field `--policy-opt`) naming the valid values when the value is not one.
   */
  choice<T extends string>(key: string, def: T, choices: readonly T[]): T {
    this.known.push(key);
    const raw = this.opts[key];
    if (raw === undefined) return def;
    if (!(choices as readonly string[]).includes(raw)) {
      throw new InputError(`${this.policy} option ${key} must be one of ${choices.join(', ')} (got '${raw}')`, { field: this.field });
    }
    return raw as T;
  }

  /**
   * Call after reading every option.
   * @throws InputError (field `--policy-opt`) for a key that was not read, listing the valid keys.
   */
  done(): void {
    const unknown = Object.keys(this.opts).filter((k) => !this.known.includes(k));
    if (unknown.length > 0) {
      const valid = this.known.length > 0 ? `valid: ${this.known.join(', ')}` : 'it takes no options';
      throw new InputError(`unknown ${this.policy} option ${unknown.join(', ')}; ${valid}`, { field: this.field });
    }
  }
}

/** "an integer in [1, ∞)"-style text for a range. */
function describeRange(r: NumberRange): string {
  const kind = r.integer ? 'an integer' : 'a number';
  const lo = r.min === undefined ? '(-∞' : `${r.minExclusive ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? (r.allowInfinity ? '∞]' : '∞)') : `${r.max}]`;
  return `${kind} in ${lo}, ${hi}${r.allowInfinity && r.max === undefined ? " ('inf' allowed)" : ''}`;
}

/**
 * The predictor a length-aware policy was given.
 * @throws InputError (field `--predictor`) when there is none (the CLI always supplies the
 *   policy's default; this guards direct library use).
 */
export function needPredictor(policy: string, predictor: Predictor | undefined): Predictor {
  if (predictor === undefined) throw new InputError(`policy ${policy} needs a length predictor`, { field: '--predictor' });
  return predictor;
}

/**
 * Decode iterations a running request with `generated` tokens can run before its predictor's
 * remaining-length estimate may next be refined: refinements happen when the generated count
 * reaches a multiple of `refineEvery` (the `trail` predictor's g_j = j·k, docs/predictors.md), and
 * in between the estimate `remaining(id, g)` only counts down. Keys that only decrease keep every
 * running request ahead of the requests it was ahead of, so a preemptive policy keyed on
 * `remaining` may let the engine skip ahead that far (SRPT, TRAIL; shared/docs/policies.md §5).
 * Computed without querying the predictor ahead of the request (its caches expect forward
 * queries). Infinity for predictors that never refine.
 */
export function iterationsUntilRefinement(generated: number, refineEvery: number): number {
  if (!Number.isFinite(refineEvery)) return Infinity;
  const k = Math.max(1, Math.floor(refineEvery));
  return k - (generated % k);
}

/**
 * Decode iterations until any request scheduled in the iteration in flight may see its predicted
 * remaining length refined (the minimum of {@link iterationsUntilRefinement} over them); Infinity
 * for a predictor that never refines. Bounds the engine's skip-ahead for policies keyed on
 * `remaining` (srpt, trail). O(running).
 */
export function iterationsUntilAnyRefinement(ctx: PolicyContext, predictor: Predictor): number {
  if (!Number.isFinite(predictor.refineEvery)) return Infinity;
  const R = ctx.requests;
  const run = ctx.running();
  let k = Infinity;
  for (let i = 0; i < run.length; i++) {
    const id = run[i];
    if (R.scheduled[id] > 0) k = Math.min(k, iterationsUntilRefinement(R.generated[id], predictor.refineEvery));
  }
  return k;
}

/**
 * Server time of request `id`'s prediction, seconds, for a policy to charge to the engine when the
 * prediction is made (`ctx.addIterationTime` at arrival): the predictor's per-request `costOf(id)`
 * when it has one (cheap-bit: c1 + bit · c2), else `cost.perRequest_s`; 0 when the predictor has
 * no cost or runs off the server (`onServer` false: the external cost model, reported only).
 * Source: the predictor interface's `PredictionCost` (sim/predictor.ts), SkipPredict's
 * server-time model and LTR's predictor overhead (shared/docs/policies.md §4, §7).
 */
export function serverPredictionTime(predictor: Predictor, id: number): number {
  const c = predictor.cost;
  if (c === undefined || !c.onServer) return 0;
  const perRequest = (predictor as Predictor & { costOf?: (id: number) => number }).costOf;
  return typeof perRequest === 'function' ? perRequest.call(predictor, id) : c.perRequest_s;
}

/** Charges request `id`'s on-server prediction time (see {@link serverPredictionTime}) to the next iteration. */
export function chargePrediction(ctx: PolicyContext, predictor: Predictor, id: number): void {
  const t = serverPredictionTime(predictor, id);
  if (t > 0) ctx.addIterationTime(t);
}
