/**
 * The one reader of `key=value` options for policies (`--policy-opt`), length predictors
 * (`--predictor-opt`) and routers (`--router-opt`), plus the checks every length-aware policy makes
 * on its predictor and the charging of prediction time.
 *
 * Every option error is an InputError located at the flag the pairs came from, naming the
 * policy, predictor or router, the key, and the valid keys, range or choices. Numbers follow the
 * strict decimal rules of sim/values.ts ({@link parseNumber}, {@link numberProblem}).
 */
import { InputError } from '../sim/errors.ts';
import { describeInterval, numberProblem, parseNumber, type NumberSpec } from '../sim/values.ts';
import type { Displacement, PolicyContext } from '../sim/policy.ts';
import type { Predictor } from '../sim/predictor.ts';

/** The flags whose `key=value` pairs an {@link OptionReader} reads: whose options they are. */
export type OptionFlag = '--policy-opt' | '--predictor-opt' | '--router-opt' | '--migration-opt' | '--autoscale-opt';

/** The displacement choices of a rank-mode policy (sim/policy.ts). */
export const DISPLACEMENTS: readonly Displacement[] = ['pause', 'recompute', 'swap'];

/** `on`/`off` switches. */
export const ON_OFF = ['on', 'off'] as const;

/**
 * Reads the options of one policy, predictor or router. It is built with every key the owner
 * accepts, and refuses any other key at once; each `number`/`choice`/`string` call then reads one
 * option, falling back to its default when the option is absent.
 *
 * Messages (each an InputError with field `flag`):
 * - unknown key: `unknown NAME option K; valid: A, B` (`...; NAME takes no options` when it has none);
 * - a number out of its range, or not a decimal: `NAME option K must be a number in [0, 1] (got 'V')`
 *   ({@link describeInterval} names the range);
 * - a value not among the choices: `NAME option K must be one of A, B (got 'V')`;
 * - an empty string option: `NAME option K must not be empty`;
 * - the owner's own checks ({@link error}): `NAME: MESSAGE`.
 */
export class OptionReader {
  /** The flag the pairs came from, named as the field of every error. */
  readonly flag: OptionFlag;
  /** The policy's, predictor's or router's CLI name (for messages). */
  readonly name: string;
  private readonly opts: Record<string, string>;
  private readonly keys: readonly string[];

  /**
   * @param flag the flag the pairs came from (`--policy-opt`, `--predictor-opt`, `--router-opt`).
   * @param name the CLI name of the policy, predictor or router.
   * @param opts the `key=value` pairs as parsed by the CLI (app/config.ts `parseKeyValues`) or a
   *   sweep grid: values are the raw strings.
   * @param keys every key the owner accepts, in the order error messages list them.
   * @throws InputError (field `flag`) for a key not in `keys`, listing the valid ones.
   */
  constructor(flag: OptionFlag, name: string, opts: Record<string, string>, keys: readonly string[]) {
    this.flag = flag;
    this.name = name;
    this.opts = opts;
    this.keys = keys;
    const unknown = Object.keys(opts).filter((k) => !keys.includes(k));
    if (unknown.length > 0) {
      const valid = keys.length > 0 ? `valid: ${keys.join(', ')}` : `${name} takes no options`;
      throw this.fail(`unknown ${name} option ${unknown.join(', ')}; ${valid}`);
    }
  }

  /**
   * An InputError about these options, for the owner's own checks (two options that exclude each
   * other, ...): message `NAME: MESSAGE`, field `flag`.
   */
  error(message: string): InputError {
    return this.fail(`${this.name}: ${message}`);
  }

  /**
   * Whether option `key` was given.
   * @throws Error when `key` is not one of the declared keys (a bug in the caller).
   */
  has(key: string): boolean {
    if (!this.keys.includes(key)) throw new Error(`${this.name}: option '${key}' is read but not declared`);
    return Object.hasOwn(this.opts, key);
  }

  /**
   * A numeric option, strict decimal (sim/values.ts), or `inf`/`infinity` when `spec.allowInfinity`.
   * @param key option name.
   * @param def value when the option is absent (returned as is, unchecked).
   * @param spec the allowed range: bounds inclusive unless marked exclusive, `integer`,
   *   `allowInfinity` (`maxReason` is not used in these messages).
   * @returns the value, in the option's own unit.
   * @throws InputError (field `flag`) `NAME option K must be a number in [0, 1] (got 'V')` when the
   *   value is not a decimal number or is outside `spec`.
   */
  number(key: string, def: number, spec: NumberSpec = {}): number {
    if (!this.has(key)) return def;
    const raw = this.opts[key];
    const v = parseNumber(raw, spec.allowInfinity);
    if (numberProblem(v, spec) !== undefined) throw this.fail(`${this.name} option ${key} must be ${describeInterval(spec)} (got '${raw}')`);
    return v;
  }

  /**
   * An option with a fixed set of values (compared exactly: case and spaces count).
   * @param key option name.
   * @param def value when the option is absent.
   * @param choices the valid values, in the order the message lists them.
   * @throws InputError (field `flag`) `NAME option K must be one of A, B (got 'V')` for any other value.
   */
  choice<T extends string>(key: string, def: T, choices: readonly T[]): T {
    if (!this.has(key)) return def;
    const raw = this.opts[key];
    if (!(choices as readonly string[]).includes(raw)) throw this.fail(`${this.name} option ${key} must be one of ${choices.join(', ')} (got '${raw}')`);
    return raw as T;
  }

  /**
   * A free-text option (a column name, ...), surrounding spaces dropped.
   * @param key option name.
   * @param def value when the option is absent.
   * @throws InputError (field `flag`) `NAME option K must not be empty` for an empty or blank value.
   */
  string(key: string, def: string): string {
    if (!this.has(key)) return def;
    const v = this.opts[key].trim();
    if (v === '') throw this.fail(`${this.name} option ${key} must not be empty`);
    return v;
  }

  private fail(message: string): InputError {
    return new InputError(message, { field: this.flag });
  }
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
 * running request ahead of the requests it was ahead of, so a rank-mode policy keyed on
 * `remaining` may let the engine skip ahead that far (SRPT, TRAIL; docs/spec.md §5).
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
 * server-time model and LTR's predictor overhead (docs/spec.md §4, §7).
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
