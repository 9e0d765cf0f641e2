/**
 * Sweep grids: the YAML or JSON file `sim sweep GRID` reads (format in docs/sweeps.md), parsed and
 * checked into a {@link Grid} before any task runs.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseDocument, LineCounter, isNode } from 'yaml';
import type { Node } from 'yaml';
import { InputError } from '../errors.ts';

/** A scalar option value as a grid may give it. */
export type Scalar = string | number | boolean;

/** A policy or predictor of a grid: its CLI name and its `key=value` options. */
export interface NamedSpec {
  /** CLI name (`sim policies`, `sim predictors`). */
  name: string;
  /** Options, passed as `--policy-opt` / `--predictor-opt` `key=value` pairs (sorted by key). */
  opts: Record<string, Scalar>;
}

/** A parsed, checked sweep grid. Paths are absolute (resolved against the grid file's folder). */
export interface Grid {
  /** The grid file, as given. */
  file: string;
  /** Absolute folder of the grid file; ids hash trace paths relative to it. */
  dir: string;
  /** Absolute trace paths; empty when the engine options give `synthetic`. */
  traces: string[];
  policies: NamedSpec[];
  /** Predictors for policies that take one; undefined → each policy's default. */
  predictors: NamedSpec[] | undefined;
  /** Arrival-rate multipliers (`--rate-scale`); default [1]. */
  rateScales: number[];
  /** Seeds (`--seed`); default [1]. */
  seeds: number[];
  /** Engine and workload options by CLI flag name, each a list of values (cartesian product), in file order. */
  engine: [string, Scalar[]][];
}

/** The top-level keys of a grid. */
export const GRID_KEYS = ['traces', 'policies', 'predictors', 'rate_scales', 'seeds', 'engine'] as const;

/**
 * Value type of every `sim run` option a grid's `engine` block may set, by flag name. The grid's
 * own axes (policy, predictor and their options, trace, rate scale, seed) are not among them.
 */
export const ENGINE_KEYS: Readonly<Record<string, 'string' | 'number' | 'boolean' | 'string|number'>> = {
  format: 'string',
  synthetic: 'string',
  'num-requests': 'number',
  rate: 'number',
  cv: 'number',
  prompt: 'string',
  output: 'string',
  'lengths-from': 'string',
  limit: 'number',
  start: 'number',
  duration: 'number',
  model: 'string',
  gpu: 'string',
  tp: 'number',
  'cost-model': 'string',
  profile: 'string',
  'max-num-seqs': 'number',
  'max-num-batched-tokens': 'number',
  'block-size': 'number',
  'gpu-memory-utilization': 'number',
  'kv-tokens': 'string|number',
  'chunked-prefill': 'boolean',
  preemption: 'string',
  'swap-space': 'number',
  'slo-ttft': 'number',
  'slo-tpot': 'number',
  replicas: 'number',
  router: 'string',
};

/** Engine options holding file paths: resolved against the grid file's folder. */
export const PATH_KEYS = ['lengths-from', 'profile'] as const;

/**
 * Reads and checks a grid file: YAML (`.yaml`, `.yml`) or JSON (`.json`), by extension.
 * @throws InputError naming the file (and line, for YAML) and the offending key.
 */
export function loadGrid(file: string): Grid {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read grid: ${(e as Error).message}`, { file });
  }
  return parseGrid(text, file);
}

/**
 * Parses and checks the text of a grid file named `file` (its extension picks YAML or JSON; its
 * folder anchors relative paths).
 * @throws InputError naming the file, line (YAML) and key for a syntax error, an unknown key, a
 *   missing `policies`, or a value of the wrong type.
 */
export function parseGrid(text: string, file: string): Grid {
  const ext = path.extname(file).toLowerCase();
  let raw: unknown;
  let lineOf: (keys: (string | number)[]) => number | undefined = () => undefined;
  if (ext === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new InputError(`invalid JSON: ${(e as Error).message}`, { file });
    }
  } else if (ext === '.yaml' || ext === '.yml') {
    const lc = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lc });
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      throw new InputError(`invalid YAML: ${e.message.split('\n')[0]}`, { file, line: e.linePos?.[0].line });
    }
    raw = doc.toJS();
    lineOf = (keys) => {
      // The line of the deepest node along `keys` that exists.
      for (let n = keys.length; n >= 0; n--) {
        const node: unknown = n === 0 ? doc.contents : doc.getIn(keys.slice(0, n), true);
        if (isNode(node) && (node as Node).range) return lc.linePos((node as Node).range![0]).line;
      }
      return undefined;
    };
  } else {
    throw new InputError(`grid must be .yaml, .yml or .json (got '${ext || 'no extension'}')`, { file });
  }
  const fail = (message: string, keys: (string | number)[]): never => {
    throw new InputError(message, { file, line: lineOf(keys), field: keys.map((k) => (typeof k === 'number' ? `[${k}]` : k)).join('.').replace(/\.\[/g, '[') });
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('a grid must be a mapping of keys (traces, policies, ...)', []);
  const g = raw as Record<string, unknown>;
  for (const k of Object.keys(g)) {
    if (!(GRID_KEYS as readonly string[]).includes(k)) fail(`unknown grid key; valid: ${GRID_KEYS.join(', ')}`, [k]);
  }
  const dir = path.resolve(path.dirname(file));

  const list = (key: string, dflt?: unknown[]): unknown[] => {
    const v = g[key];
    if (v === undefined || v === null) {
      if (dflt === undefined) fail('required: a non-empty list', [key]);
      return dflt!;
    }
    const xs = Array.isArray(v) ? v : [v];
    if (xs.length === 0) fail('must not be empty', [key]);
    return xs;
  };
  const named = (key: string, x: unknown, i: number): NamedSpec => {
    if (typeof x === 'string' && x !== '') return { name: x, opts: {} };
    if (x === null || typeof x !== 'object' || Array.isArray(x)) fail('expected a name or {name, opts}', [key, i]);
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'name' && k !== 'opts') fail(`unknown key; valid: name, opts`, [key, i, k]);
    if (typeof o.name !== 'string' || o.name === '') fail('required: a name', [key, i, 'name']);
    const opts: Record<string, Scalar> = {};
    if (o.opts !== undefined && o.opts !== null) {
      if (typeof o.opts !== 'object' || Array.isArray(o.opts)) fail('expected a mapping of option: value', [key, i, 'opts']);
      for (const [k, v] of Object.entries(o.opts as Record<string, unknown>)) {
        if (!['string', 'number', 'boolean'].includes(typeof v)) fail('expected a string, number or boolean', [key, i, 'opts', k]);
        if (/[,=]/.test(k) || /,/.test(String(v))) fail("option names and values must not contain ',' (or '=' in names)", [key, i, 'opts', k]);
        opts[k] = v as Scalar;
      }
    }
    return { name: o.name as string, opts };
  };
  const numbers = (key: string, dflt: number[], integer: boolean): number[] =>
    list(key, dflt).map((x, i) => {
      if (typeof x !== 'number' || !Number.isFinite(x) || (integer && !Number.isInteger(x)) || (!integer && x <= 0)) {
        fail(integer ? 'expected an integer' : 'expected a positive number', [key, i]);
      }
      return x as number;
    });

  const engine: [string, Scalar[]][] = [];
  if (g.engine !== undefined && g.engine !== null) {
    if (typeof g.engine !== 'object' || Array.isArray(g.engine)) fail('expected a mapping of option: value or [values]', ['engine']);
    for (const [k, v] of Object.entries(g.engine as Record<string, unknown>)) {
      const type = ENGINE_KEYS[k];
      if (type === undefined) {
        const hint = ['policy', 'predictor', 'trace', 'rate-scale', 'seed', 'policy-opt', 'predictor-opt'].includes(k) ? ' (a grid axis: use the top-level key)' : '';
        fail(`unknown engine option${hint}; valid: ${Object.keys(ENGINE_KEYS).join(', ')}`, ['engine', k]);
      }
      const xs = Array.isArray(v) ? v : [v];
      if (xs.length === 0) fail('must not be empty', ['engine', k]);
      const vals = xs.map((x, i) => {
        const ok = type === 'string|number' ? typeof x === 'string' || typeof x === 'number' : typeof x === type;
        if (!ok) fail(`expected a ${type.replace('|', ' or ')} (got ${JSON.stringify(x)})`, Array.isArray(v) ? ['engine', k, i] : ['engine', k]);
        return (PATH_KEYS as readonly string[]).includes(k) ? path.resolve(dir, x as string) : (x as Scalar);
      });
      engine.push([k, vals]);
    }
  }
  const synthetic = engine.some(([k]) => k === 'synthetic');
  const traces =
    g.traces === undefined && synthetic
      ? []
      : list('traces').map((x, i) => {
          if (typeof x !== 'string' || x === '') fail('expected a file path', ['traces', i]);
          return path.resolve(dir, x as string);
        });
  if (traces.length > 0 && synthetic) fail('traces and engine.synthetic are exclusive', ['traces']);
  const predictors = g.predictors === undefined || g.predictors === null ? undefined : list('predictors').map((x, i) => named('predictors', x, i));
  return {
    file,
    dir,
    traces,
    policies: list('policies').map((x, i) => named('policies', x, i)),
    predictors,
    rateScales: numbers('rate_scales', [1], false),
    seeds: numbers('seeds', [1], true),
    engine,
  };
}
