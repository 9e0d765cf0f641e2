/**
 * Sweep grids: the YAML or JSON file `sim sweep GRID` reads (format in docs/sweeps.md), parsed and
 * checked into a {@link Grid} before any task runs. Every value is read by the same strict readers
 * as `sim run`'s flags (app/config.ts `readRunOption`), so a grid cell obeys exactly the CLI's rules
 * and a bad one is named by file, line and key.
 */
import path from 'node:path';
import { isPluginSpec, loadPlugins } from '../plugins.ts';
import { InputError } from '../../sim/errors.ts';
import { RUN_KEYS, readRunOption } from '../config.ts';
import { readString, showValue } from '../../sim/values.ts';
import { loadStructured, fieldName, checkReadableFile } from './source.ts';
import { isSpecFile } from '../specs/hardware.ts';
import type { KeyPath, Structured } from './source.ts';

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
  /**
   * Engine and workload options by CLI flag name, each a list of values (cartesian product), in
   * file order; values as `readRunOption` read them (paths absolute).
   */
  engine: [string, Scalar[]][];
  /**
   * The keys written as a list in the file, top-level (`seeds`) or `engine.KEY`: their values are
   * named with an index (`seeds[2]`, `engine.limit[0]`), the others without.
   */
  lists: ReadonlySet<string>;
  /** 1-based line of a key path of the file (`['engine', 'limit']`), when known. */
  lineOf(keys: KeyPath): number | undefined;
}

/** The top-level keys of a grid. */
export const GRID_KEYS = ['traces', 'policies', 'predictors', 'rate_scales', 'seeds', 'engine'] as const;

/** Run options that are the grid's own axes, given by top-level keys, not in `engine`. */
export const AXIS_KEYS = ['policy', 'policy-opt', 'predictor', 'predictor-opt', 'trace', 'rate-scale', 'seed'] as const;

/**
 * Every `sim run` option a grid's `engine` block may set, by flag name: all run options except the
 * grid's own axes ({@link AXIS_KEYS}). Each value is read as `sim run` reads that flag.
 */
export const ENGINE_KEYS: readonly string[] = RUN_KEYS.filter((k) => !(AXIS_KEYS as readonly string[]).includes(k));

/** Engine options holding file paths: resolved against the grid file's folder. */
export const PATH_KEYS = ['lengths-from', 'profile'] as const;

/**
 * Reads and checks a grid file: YAML (`.yaml`, `.yml`) or JSON (`.json`), by extension. Does not
 * look at the trace or profile files it names ({@link checkGridFiles} does).
 * @throws InputError naming the file (and line) and the offending key.
 */
export function loadGrid(file: string): Grid {
  return gridFrom(loadStructured(file, 'grid'));
}

/**
 * Parses and checks the text of a grid file named `file` (its extension picks YAML or JSON; its
 * folder anchors relative paths).
 * @throws InputError naming the file, line and key for a syntax error, an alias bomb, an unknown
 *   key, a missing `policies`, or a value `sim run` would refuse for that option.
 */
export function parseGrid(text: string, file: string): Grid {
  return gridFrom(loadStructured(file, 'grid', text));
}

/** Checks a parsed grid file into a Grid. */
function gridFrom(src: Structured): Grid {
  const { file, value: raw, lineOf } = src;
  const at = (keys: KeyPath) => ({ file, line: lineOf(keys), field: fieldName(keys) });
  const fail = (message: string, keys: KeyPath): never => {
    throw new InputError(message, at(keys));
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('a grid must be a mapping of keys (traces, policies, ...)', []);
  const g = raw as Record<string, unknown>;
  for (const k of Object.keys(g)) {
    if (!(GRID_KEYS as readonly string[]).includes(k)) fail(`unknown grid key; valid: ${GRID_KEYS.join(', ')}`, [k]);
  }
  const dir = path.resolve(path.dirname(file));

  const lists = new Set<string>();
  /** The items of a list key (a single value counts as a list of one), each with its key path. */
  const list = (key: string, required: boolean): { x: unknown; keys: KeyPath }[] | undefined => {
    const v = g[key];
    if (v === undefined || v === null) {
      if (required) fail('required: a non-empty list', [key]);
      return undefined;
    }
    if (!Array.isArray(v)) return [{ x: v, keys: [key] }];
    if (v.length === 0) fail('must not be empty', [key]);
    lists.add(key);
    return v.map((x, i) => ({ x, keys: [key, i] }));
  };
  // A plugin file (app/plugins.ts) is named relative to the grid file's folder, as a trace is.
  const plugin = (name: string): string => (isPluginSpec(name) ? path.resolve(dir, name) : name);
  const named = ({ x, keys }: { x: unknown; keys: KeyPath }): NamedSpec => {
    if (typeof x === 'string') return { name: plugin(readString(x, fieldName(keys), { file, line: lineOf(keys) })), opts: {} };
    if (x === null || typeof x !== 'object' || Array.isArray(x)) fail(`expected a name or {name, opts} (got ${showValue(x)})`, keys);
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) if (k !== 'name' && k !== 'opts') fail(`unknown key; valid: name, opts`, [...keys, k]);
    if (typeof o.name !== 'string' || o.name.trim() === '') fail(`required: a name (got ${showValue(o.name)})`, [...keys, 'name']);
    const opts: Record<string, Scalar> = {};
    if (o.opts !== undefined && o.opts !== null) {
      if (typeof o.opts !== 'object' || Array.isArray(o.opts)) fail('expected a mapping of option: value', [...keys, 'opts']);
      for (const [k, v] of Object.entries(o.opts as Record<string, unknown>)) {
        if (!['string', 'number', 'boolean'].includes(typeof v)) fail(`expected a string, number or boolean (got ${showValue(v)})`, [...keys, 'opts', k]);
        if (k === '' || /[,=]/.test(k) || /,/.test(String(v))) fail("option names must be non-empty without ',' or '=', values without ','", [...keys, 'opts', k]);
        opts[k] = v as Scalar;
      }
    }
    return { name: plugin(o.name as string), opts };
  };
  const numbers = (key: string, option: 'rate-scale' | 'seed'): number[] | undefined =>
    list(key, false)?.map(({ x, keys }) => readRunOption(option, x, { file, line: lineOf(keys), field: fieldName(keys) }) as number);

  const engine: [string, Scalar[]][] = [];
  if (g.engine !== undefined && g.engine !== null) {
    if (typeof g.engine !== 'object' || Array.isArray(g.engine)) fail('expected a mapping of option: value or [values]', ['engine']);
    for (const [k, v] of Object.entries(g.engine as Record<string, unknown>)) {
      if (!ENGINE_KEYS.includes(k)) {
        const hint = (AXIS_KEYS as readonly string[]).includes(k) ? ' (a grid axis: use the top-level key)' : '';
        fail(`unknown engine option${hint}; valid: ${ENGINE_KEYS.join(', ')}`, ['engine', k]);
      }
      const isList = Array.isArray(v);
      if (isList && v.length === 0) fail('must not be empty', ['engine', k]);
      if (isList) lists.add(`engine.${k}`);
      const vals = (isList ? v : [v]).map((x: unknown, i: number) => {
        const keys = isList ? ['engine', k, i] : ['engine', k];
        const where = { file, line: lineOf(keys), field: fieldName(keys) };
        // One value of a list option (router-opt, migration-opt, autoscale-opt) is one `key=value[,key=value]` string.
        if ((k === 'router-opt' || k === 'migration-opt' || k === 'autoscale-opt') && typeof x !== 'string') fail(`expected a key=value[,key=value] string (got ${showValue(x)})`, keys);
        const val = readRunOption(k, x, where);
        const scalar = (Array.isArray(val) ? val[0] : val) as Scalar;
        if ((k === 'model' || k === 'gpu') && isSpecFile(scalar as string)) return path.resolve(dir, scalar as string);
        if (k === 'router' && isPluginSpec(scalar as string)) return plugin(scalar as string);
        if (!(PATH_KEYS as readonly string[]).includes(k)) return scalar;
        if ((scalar as string).trim() === '-') fail("standard input ('-') cannot be read by every task of a grid: give a file", keys);
        return path.resolve(dir, scalar as string);
      });
      engine.push([k, vals]);
    }
  }
  const synthetic = engine.some(([k]) => k === 'synthetic');
  let traces: string[] = [];
  if (!(g.traces === undefined && synthetic)) {
    traces = list('traces', true)!.map(({ x, keys }) => {
      const t = readString(x, fieldName(keys), { file, line: lineOf(keys) });
      if (t.trim() === '-') fail("standard input ('-') cannot be read by every task of a grid: give a file", keys);
      return path.resolve(dir, t);
    });
  }
  if (traces.length > 0 && synthetic) fail('traces and engine.synthetic are exclusive', ['traces']);
  const predictors = list('predictors', false)?.map(named);
  return {
    file,
    dir,
    traces,
    policies: list('policies', true)!.map(named),
    predictors,
    rateScales: numbers('rate_scales', 'rate-scale') ?? [1],
    seeds: numbers('seeds', 'seed') ?? [1],
    engine,
    lists,
    lineOf,
  };
}

/** The key path of item `i` of a top-level list key (`seeds` → `seeds[2]`, or `seeds` for a single value). */
export function itemKeys(grid: Grid, key: (typeof GRID_KEYS)[number], i: number): KeyPath {
  return grid.lists.has(key) ? [key, i] : [key];
}

/** The key path of value `i` of engine option `key` (`engine.limit[1]`, or `engine.limit`). */
export function engineKeys(grid: Grid, key: string, i: number): KeyPath {
  return grid.lists.has(`engine.${key}`) ? ['engine', key, i] : ['engine', key];
}

/**
 * Loads the plugin files a grid names (policies, predictors, `engine.router`: app/plugins.ts), so
 * its tasks can be checked and run in this process.
 * @throws InputError naming the plugin file and field for a file that cannot be loaded or is malformed.
 */
export async function loadGridPlugins(grid: Grid): Promise<void> {
  for (const p of grid.policies) await loadPlugins({ policy: p.name });
  for (const p of grid.predictors ?? []) await loadPlugins({ predictor: p.name });
  for (const [k, vals] of grid.engine) if (k === 'router') for (const v of vals) await loadPlugins({ router: v });
}

/**
 * Checks every file a grid names, each distinct path once: traces, `lengths-from` traces and
 * profiles exist, are regular files and can be opened for reading. Their contents are read by the
 * tasks (a malformed trace fails the tasks that use it).
 * @throws InputError naming the grid file, the line and key that named the file, and the reason.
 */
export function checkGridFiles(grid: Grid): void {
  const seen = new Set<string>();
  const check = (file: string, what: string, keys: KeyPath) => {
    if (seen.has(file)) return;
    seen.add(file);
    checkReadableFile(file, what, { file: grid.file, line: grid.lineOf(keys), field: fieldName(keys) });
  };
  grid.traces.forEach((t, i) => check(t, 'trace', itemKeys(grid, 'traces', i)));
  for (const [k, vals] of grid.engine) {
    if (!(PATH_KEYS as readonly string[]).includes(k)) continue;
    vals.forEach((v, i) => check(v as string, k === 'profile' ? 'profile' : 'lengths-from trace', engineKeys(grid, k, i)));
  }
}
