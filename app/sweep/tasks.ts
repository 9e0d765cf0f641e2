/**
 * Expansion of a sweep grid into tasks (one `sim run` each) in a deterministic order, and their
 * stable ids: the first 16 hex digits of the SHA-256 of the canonical JSON of the task's
 * normalized options (paths relative to the grid file) and the project version.
 *
 * A grid is never expanded into a list of every task's options: {@link GridPlan} counts the tasks
 * from the axis lengths alone, then walks them one by one ({@link GridPlan.scan}), checking every
 * task and keeping only its id, and rebuilds a task's options from its number when it is about to
 * run ({@link GridPlan.task}). So the memory of a sweep grows with the ids (about 100 bytes a task),
 * not with the options.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { normalizeOptions } from '../config.ts';
import type { RunOptions } from '../config.ts';
import { isPluginSpec, policyEntry } from '../plugins.ts';
import { InputError } from '../../sim/errors.ts';
import { fieldName } from './source.ts';
import type { KeyPath } from './source.ts';
import { itemKeys, engineKeys, PATH_KEYS } from './grid.ts';
import type { Grid, NamedSpec, Scalar } from './grid.ts';

/** One run of a sweep. */
export interface Task {
  /** 0-based position in the expansion order, duplicates dropped (sharding keeps index % n == i). */
  index: number;
  /** Stable id: 16 hex digits (see {@link taskId}). */
  id: string;
  /** Normalized options to run, with absolute paths. */
  options: RunOptions;
  /** The same options with paths relative to the grid file's folder (POSIX separators): what the id hashes and the result records. */
  config: RunOptions;
}

/** {@link GridPlan.scan} reports its progress each time it has walked this many more combinations. */
export const SCAN_PROGRESS_EVERY = 100_000;

/**
 * JSON with object keys sorted at every level (arrays keep their order), no whitespace; `undefined`
 * fields dropped as JSON.stringify does (and `undefined` array items written as null). For plain
 * data (objects, arrays, strings, finite numbers, booleans, null), the same text as
 * `JSON.stringify` with a key-sorting replacer, built directly (a sweep hashes millions).
 */
export function canonicalJson(x: unknown): string {
  if (x === null || typeof x !== 'object') return JSON.stringify(x);
  if (Array.isArray(x)) {
    let s = '[';
    for (let i = 0; i < x.length; i++) {
      const v: unknown = x[i];
      s += (i > 0 ? ',' : '') + (v === undefined || typeof v === 'function' || typeof v === 'symbol' ? 'null' : canonicalJson(v));
    }
    return s + ']';
  }
  if (typeof (x as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((x as { toJSON: () => unknown }).toJSON());
  const o = x as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const k of Object.keys(o).sort()) {
    const v = o[k];
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
    s += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v);
    first = false;
  }
  return s + '}';
}

/** The first 16 hex digits of the SHA-256 of `text` (UTF-8). */
function hash16(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * Stable id of a task: the first 16 hex digits of sha256(canonicalJson({config, version})).
 * @param config the normalized options with portable (grid-relative) paths
 * @param version the project version (package.json)
 */
export function taskId(config: RunOptions, version: string): string {
  return hash16(canonicalJson({ config, version }));
}

let cachedVersion: string | undefined;

/**
 * The project version from llmsched's package.json, found by walking up from this module (works
 * from app/sweep/ and from dist/app/sweep/).
 * @throws Error when no package.json named llmsched is found.
 */
export function projectVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const f = path.join(dir, 'package.json');
    if (fs.existsSync(f)) {
      const pkg = JSON.parse(fs.readFileSync(f, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'llmsched' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error('llmsched package.json not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

const optList = (s: NamedSpec): string[] | undefined => {
  const keys = Object.keys(s.opts).sort();
  return keys.length === 0 ? undefined : keys.map((k) => `${k}=${String(s.opts[k])}`);
};

/** Options without their undefined fields. */
function defined(o: RunOptions): RunOptions {
  const r: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) r[k] = v;
  return r as unknown as RunOptions;
}

/** Options with the path fields made relative to `dir` (POSIX separators). */
function portable(o: RunOptions, dir: string): RunOptions {
  const r = { ...o };
  for (const k of ['trace', 'lengths-from', 'profile'] as const) {
    if (r[k] !== undefined) r[k] = path.relative(dir, r[k]!).split(path.sep).join('/');
  }
  // A plugin file keeps a leading './' so that it still reads as a path (app/plugins.ts).
  for (const k of ['policy', 'predictor', 'router'] as const) {
    const v = r[k];
    if (v !== undefined && isPluginSpec(v) && path.isAbsolute(v)) {
      const rel = path.relative(dir, v).split(path.sep).join('/');
      r[k] = rel.startsWith('../') ? rel : `./${rel}`;
    }
  }
  return r;
}

/** Stand-ins for the rate scale and seed in a task's canonical JSON (no trace path holds a NUL). */
const SCALE_MARK = '\u0000rate-scale\u0000';
const SEED_MARK = '\u0000seed\u0000';
const SCALE_JSON = JSON.stringify(SCALE_MARK);
const SEED_JSON = JSON.stringify(SEED_MARK);

/** A task of {@link GridPlan.scan}: its position, id, number in the grid and canonical JSON. */
export interface ScannedTask {
  /** Position in the expansion order, duplicates dropped. */
  index: number;
  id: string;
  /** Combination number in the grid (duplicates included): what {@link GridPlan.task} takes. */
  combo: number;
  /** canonicalJson({config, version}): what the id hashes, and what a result file's config and version must give. */
  canonical: string;
}

/**
 * The tasks of a grid, counted from its axes without expanding them. Combinations are numbered in
 * the expansion order: traces, then policy/predictor pairs (a policy that takes no predictor
 * pairs with none), then the engine axes (the last varying fastest), then rate scales, then seeds.
 * The first four make a task's "setting"; rate scale and seed vary within it.
 */
export class GridPlan {
  readonly grid: Grid;
  /** Project version mixed into the ids. */
  readonly version: string;
  /** Options set on every task (`sim sweep --resample`), under the grid's own. */
  readonly fixed: Partial<RunOptions>;
  /** Policy/predictor pairs in order (predictor -1: none, the policy takes none or uses its default). */
  private readonly pairs: { policy: number; predictor: number }[] = [];
  private readonly engineSizes: number[];
  private readonly engineCombos: number;
  private readonly traceCount: number;
  /** Settings: traces × pairs × engine combinations. */
  readonly settings: number;
  /**
   * Combinations of all axes: an upper bound of the tasks (identical combinations, e.g. a policy
   * listed twice, run once). A double: a grid beyond 2^53 is far above any limit anyway.
   */
  readonly combinations: number;

  /**
   * @param version project version mixed into the ids (default: package.json's)
   * @param fixed options set on every task (a grid's `engine` values take precedence)
   * @throws InputError naming the grid file, line and key for an unknown policy.
   */
  constructor(grid: Grid, version: string = projectVersion(), fixed: Partial<RunOptions> = {}) {
    this.grid = grid;
    this.version = version;
    this.fixed = fixed;
    grid.policies.forEach((pol, i) => {
      let kind: string;
      try {
        kind = policyEntry(pol.name).predictor;
      } catch (e) {
        if (!(e instanceof InputError)) throw e;
        const keys = itemKeys(grid, 'policies', i);
        throw new InputError(e.message.replace(/^policy: /, ''), { file: grid.file, line: grid.lineOf(keys), field: fieldName(keys) });
      }
      if (kind === 'none' || grid.predictors === undefined) this.pairs.push({ policy: i, predictor: -1 });
      else grid.predictors.forEach((_p, j) => this.pairs.push({ policy: i, predictor: j }));
    });
    this.engineSizes = grid.engine.map(([, vals]) => vals.length);
    this.engineCombos = this.engineSizes.reduce((a, b) => a * b, 1);
    this.traceCount = Math.max(1, grid.traces.length);
    this.settings = this.traceCount * this.pairs.length * this.engineCombos;
    this.combinations = this.settings * grid.rateScales.length * grid.seeds.length;
  }

  /** The sizes of the axes, for messages: `2 traces x 3 policy/predictor pairs x ... = N`. */
  describe(): string {
    const n = (k: number, one: string, many = one + 's') => `${k} ${k === 1 ? one : many}`;
    const parts = [
      this.grid.traces.length > 0 ? n(this.grid.traces.length, 'trace') : 'synthetic',
      n(this.pairs.length, 'policy/predictor pair'),
      ...(this.grid.engine.length > 0 ? [n(this.engineCombos, 'engine setting')] : []),
      n(this.grid.rateScales.length, 'rate scale'),
      n(this.grid.seeds.length, 'seed'),
    ];
    return parts.join(' x ');
  }

  /** Axis positions of setting `s`: trace, pair, and each engine option's value index. */
  private decode(setting: number): { trace: number; pair: number; engine: number[] } {
    let e = setting % this.engineCombos;
    const rest = Math.floor(setting / this.engineCombos);
    const pair = rest % this.pairs.length;
    const trace = Math.floor(rest / this.pairs.length);
    const engine = new Array<number>(this.engineSizes.length);
    for (let k = this.engineSizes.length - 1; k >= 0; k--) {
      engine[k] = e % this.engineSizes[k];
      e = Math.floor(e / this.engineSizes[k]);
    }
    return { trace, pair, engine };
  }

  /** The raw (not yet normalized) options of a setting with rate scale `r` and seed `s` (indices). */
  private raw(at: { trace: number; pair: number; engine: number[] }, r: number, s: number): Partial<RunOptions> {
    const g = this.grid;
    const o: Record<string, unknown> = { ...this.fixed };
    for (let i = 0; i < g.engine.length; i++) o[g.engine[i][0]] = g.engine[i][1][at.engine[i]];
    const pair = this.pairs[at.pair];
    const pol = g.policies[pair.policy];
    const pred = pair.predictor >= 0 ? g.predictors![pair.predictor] : undefined;
    o.policy = pol.name;
    o['policy-opt'] = optList(pol);
    o.predictor = pred?.name;
    o['predictor-opt'] = pred ? optList(pred) : undefined;
    o.trace = g.traces.length > 0 ? g.traces[at.trace] : undefined;
    o['rate-scale'] = g.rateScales[r];
    o.seed = g.seeds[s];
    return o as Partial<RunOptions>;
  }

  /** A short description of a setting for messages: policy, predictor, engine values, trace. */
  private what(at: { trace: number; pair: number; engine: number[] }): string {
    const g = this.grid;
    const pair = this.pairs[at.pair];
    const parts = [`policy ${g.policies[pair.policy].name}`];
    if (pair.predictor >= 0) parts.push(`predictor ${g.predictors![pair.predictor].name}`);
    g.engine.forEach(([k, vals], i) => {
      if (vals.length > 1) parts.push(`${k}=${String(vals[at.engine[i]])}`);
    });
    if (g.traces.length > 1) parts.push(`trace ${path.basename(g.traces[at.trace])}`);
    return parts.join(', ');
  }

  /**
   * The key path of the grid most responsible for an error about run option `field` (`--tp`,
   * `policy`) in a setting: the engine option, the policy or predictor entry, the trace.
   */
  private keysFor(e: InputError, at: { trace: number; pair: number; engine: number[] }, r: number, s: number): KeyPath {
    const g = this.grid;
    const f = (e.field ?? '').replace(/^--/, '');
    const pair = this.pairs[at.pair];
    const polKeys = itemKeys(g, 'policies', pair.policy);
    const withOpts = (keys: KeyPath, spec: NamedSpec) => (Object.keys(spec.opts).length > 0 ? [...keys, 'opts'] : keys);
    let keys: KeyPath | undefined;
    if (f === 'policy') keys = polKeys;
    else if (f === 'policy-opt') keys = withOpts(polKeys, g.policies[pair.policy]);
    else if (f === 'predictor' || f === 'predictor-opt') {
      keys = pair.predictor < 0 ? polKeys : itemKeys(g, 'predictors', pair.predictor);
      if (pair.predictor >= 0 && f === 'predictor-opt') keys = withOpts(keys, g.predictors![pair.predictor]);
    } else if (f === 'trace' && g.traces.length > 0) keys = itemKeys(g, 'traces', at.trace);
    else if (f === 'rate-scale') keys = itemKeys(g, 'rate_scales', r);
    else if (f === 'seed') keys = itemKeys(g, 'seeds', s);
    else {
      let i = g.engine.findIndex(([k]) => k === f);
      // An error inside a file the task names (a profile): the option that named it.
      if (i < 0 && e.file !== undefined) i = g.engine.findIndex(([k, vals], j) => (PATH_KEYS as readonly string[]).includes(k) && vals[at.engine[j]] === e.file);
      if (i >= 0) keys = engineKeys(g, g.engine[i][0], at.engine[i]);
      else if (g.engine.length > 0) keys = ['engine'];
    }
    if (keys === undefined || g.lineOf(keys) === undefined) keys = polKeys;
    return keys;
  }

  /**
   * Normalizes the options of a setting with rate scale `r` and seed `s` (indices), as `sim run`
   * normalizes its flags.
   * @throws InputError at the grid file, line and key most responsible (see {@link keysFor}), the
   *   run option's own message kept, the task described.
   */
  private normalize(at: { trace: number; pair: number; engine: number[] }, r: number, s: number): RunOptions {
    try {
      return normalizeOptions(this.raw(at, r, s));
    } catch (e) {
      if (!(e instanceof InputError)) throw e;
      const keys = this.keysFor(e, at, r, s);
      throw new InputError(`${e.message} (task: ${this.what(at)})`, { file: this.grid.file, line: this.grid.lineOf(keys), field: fieldName(keys) });
    }
  }

  /**
   * Walks every task in the expansion order, checking each (as `sim run` checks its flags) and
   * dropping duplicates, and calls `visit` for each distinct one. Holds only the ids seen.
   *
   * A setting's options are normalized once, with its first rate scale and seed: normalization
   * checks no combination of either with another option (each rate scale and seed was read on
   * its own when the grid was parsed), so the other tasks of the setting differ from it in those
   * two fields only, and their canonical JSON is the setting's with the two values put in.
   * {@link task} normalizes a task on its own, and `runSweep` checks that both give the same id.
   * @param progress called with the combinations walked so far, every {@link SCAN_PROGRESS_EVERY}
   * @returns the number of distinct tasks.
   * @throws InputError for the first invalid task (see {@link normalize}).
   */
  scan(visit: (t: ScannedTask) => void, progress?: (walked: number) => void): number {
    const seen = new Set<string>();
    const R = this.grid.rateScales.length;
    const S = this.grid.seeds.length;
    const scales = this.grid.rateScales.map((x) => JSON.stringify(x));
    const seeds = this.grid.seeds.map((x) => JSON.stringify(x));
    let index = 0;
    for (let setting = 0; setting < this.settings; setting++) {
      const at = this.decode(setting);
      const config = portable(defined(this.normalize(at, 0, 0)), this.grid.dir) as unknown as Record<string, unknown>;
      config['rate-scale'] = SCALE_MARK;
      config.seed = SEED_MARK;
      const template = canonicalJson({ config, version: this.version });
      const cut = template.indexOf(SCALE_JSON);
      const head = template.slice(0, cut);
      const tail = template.slice(cut + SCALE_JSON.length);
      const seedCut = tail.indexOf(SEED_JSON);
      const mid = tail.slice(0, seedCut);
      const end = tail.slice(seedCut + SEED_JSON.length);
      for (let r = 0; r < R; r++) {
        const hm = head + scales[r] + mid;
        for (let s = 0; s < S; s++) {
          const canonical = hm + seeds[s] + end;
          const id = hash16(canonical);
          if (seen.has(id)) continue;
          seen.add(id);
          visit({ index: index++, id, combo: (setting * R + r) * S + s, canonical });
        }
      }
      if (progress && Math.floor(((setting + 1) * R * S) / SCAN_PROGRESS_EVERY) > Math.floor((setting * R * S) / SCAN_PROGRESS_EVERY)) progress((setting + 1) * R * S);
    }
    return index;
  }

  /**
   * Builds task number `combo` (as {@link scan} numbers them), its options normalized on their own.
   * @param index its position in the expansion order (from {@link scan})
   * @throws InputError as {@link scan}.
   */
  task(combo: number, index: number): Task {
    const S = this.grid.seeds.length;
    const R = this.grid.rateScales.length;
    const s = combo % S;
    const r = Math.floor(combo / S) % R;
    const at = this.decode(Math.floor(combo / (S * R)));
    const options = defined(this.normalize(at, r, s));
    const config = portable(options, this.grid.dir);
    return { index, id: taskId(config, this.version), options, config };
  }
}

/**
 * Expands a grid into all its tasks (for small grids and tests: `sim sweep` walks them with
 * {@link GridPlan.scan} instead), in the order of {@link GridPlan}. Every task's options are
 * normalized here, so a bad combination fails before anything runs. Tasks with equal options
 * (same id) are kept once.
 * @param version project version mixed into the ids (default: package.json's)
 * @throws InputError naming the grid file, line and key and the task for an invalid combination.
 */
export function expandGrid(grid: Grid, version: string = projectVersion()): Task[] {
  const plan = new GridPlan(grid, version);
  const tasks: Task[] = [];
  plan.scan((t) => {
    const task = plan.task(t.combo, t.index);
    if (task.id !== t.id) throw new Error(`sweep: task ${t.index} has id ${task.id} on its own but ${t.id} in the scan`);
    tasks.push(task);
  });
  return tasks;
}
