/**
 * Measured operator profiles (`sim --profile FILE`): validation of the JSON format (version 2,
 * version 1 still read; its types are in sim/cost/profile-format.ts), reading and writing, and
 * {@link loadProfileCostModel}, the cost model that interpolates it (sim/cost/profile.ts).
 * The format is documented field by field in docs/calibration.md §2.
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CostModel } from '../sim/cost/cost-model.ts';
import type { ModelSpec } from '../sim/cost/models.ts';
import type { GpuSpec } from '../sim/cost/gpus.ts';
import { OPERATORS, type OperatorName } from '../sim/cost/analytical.ts';
import { InputError } from '../sim/errors.ts';
import { prepareOutputFile, readTextFile, writeFileAtomic } from '../sim/files.ts';
import { ProfileCostModel, type Logger } from '../sim/cost/profile.ts';
import { GPUS } from '../sim/cost/gpus.ts';
import { PROFILE_FORMAT, PROFILE_VERSIONS_READ, type AxisName, type OperatorProfile, type Profile, type ProfileArchitecture, type TimeUnit } from '../sim/cost/profile-format.ts';

/**
 * The axes each operator may be profiled over, in order: one list per accepted layout, the first
 * being what a WebGPU sweep writes. Prefill attention over (`prefix`, `chunk`) needs version 2.
 */
export const OPERATOR_AXES: Readonly<Record<OperatorName, readonly (readonly AxisName[])[]>> = Object.freeze({
  embedding: [['tokens']],
  qkv_proj: [['tokens']],
  attn_out_proj: [['tokens']],
  mlp_gate_up: [['tokens']],
  mlp_act: [['tokens']],
  mlp_down: [['tokens']],
  norm_rope_residual: [['tokens']],
  prefill_attn: [['seq_len'], ['prefix', 'chunk']],
  decode_attn: [['batch', 'context']],
  all_reduce: [['tokens']],
  lm_head: [['seqs']],
});

/** Axes whose grid may start at 0 (a prefill with no cached prefix); every other grid value is > 0. */
const ZERO_AXES: readonly AxisName[] = ['prefix'];

/** The `per` values each operator accepts. */
export const OPERATOR_UNITS: Readonly<Record<OperatorName, readonly TimeUnit[]>> = Object.freeze({
  embedding: ['iteration'],
  qkv_proj: ['layer'],
  attn_out_proj: ['layer'],
  mlp_gate_up: ['layer'],
  mlp_act: ['layer'],
  mlp_down: ['layer'],
  norm_rope_residual: ['layer'],
  prefill_attn: ['layer'],
  decode_attn: ['layer'],
  all_reduce: ['call'],
  lm_head: ['iteration'],
});

const TOP_KEYS = new Set([
  'format', 'version', 'adapter', 'timer', 'dtype', 'model', 'tp', 'gpu', 'date', 'project_version', 'source',
  'architecture', 'sweep', 'notes', 'operators',
]);
const OP_KEYS = new Set(['per', 'axes', 'grid', 'times_s', 'p10_s', 'p90_s', 'min_s', 'max_s', 'batch_overhead']);
/** Largest `batch_overhead` a profile may hold (a fraction; Vidur's default is 0.1). */
export const PROFILE_MAX_OVERHEAD = 10;
const ARCH_KEYS: readonly (keyof ProfileArchitecture)[] = ['layers', 'hidden', 'heads', 'kvHeads', 'headDim', 'intermediate', 'vocab'];

/** A validation failure at a field path; turned into an InputError naming the file. */
class Bad extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.field = field;
  }
}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const show = (x: unknown): string => (typeof x === 'string' ? `'${x}'` : JSON.stringify(x) ?? String(x));

function str(o: Record<string, unknown>, key: string, field: string, nonEmpty: boolean): string {
  const v = o[key];
  if (typeof v !== 'string') throw new Bad(field, v === undefined ? 'is missing' : `must be a string, got ${show(v)}`);
  if (nonEmpty && v.trim() === '') throw new Bad(field, 'must not be empty');
  return v;
}

function posInt(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new Bad(field, v === undefined ? 'is missing' : `must be a positive integer, got ${show(v)}`);
  }
  return v;
}

function checkUnknown(o: Record<string, unknown>, allowed: Set<string>, prefix: string): void {
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) throw new Bad(prefix + k, `unknown field; valid: ${[...allowed].join(', ')}`);
  }
}

/** Largest operator time a profile may hold, seconds: far above any kernel; keeps every iteration time finite. */
export const PROFILE_MAX_S = 3600;

/** Largest grid value (tokens, sequences) a profile may hold. */
export const PROFILE_MAX_GRID = 2 ** 40;

function numberList(v: unknown, field: string, n: number | undefined, what: 'time' | 'grid' | 'grid0'): number[] {
  if (!Array.isArray(v)) throw new Bad(field, v === undefined ? 'is missing' : `must be a list of numbers, got ${show(v)}`);
  if (n !== undefined && v.length !== n) throw new Bad(field, `has ${v.length} values but the grid has ${n} points`);
  v.forEach((x, i) => {
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new Bad(`${field}[${i}]`, `must be a finite number, got ${show(x)}`);
    if (what === 'time' && x < 0) throw new Bad(`${field}[${i}]`, `must be >= 0 seconds, got ${x}`);
    if (what === 'time' && x > PROFILE_MAX_S) throw new Bad(`${field}[${i}]`, `must be at most ${PROFILE_MAX_S} seconds (an hour per operator call), got ${x}`);
    if (what !== 'time' && x > PROFILE_MAX_GRID) throw new Bad(`${field}[${i}]`, `grid values must be at most ${PROFILE_MAX_GRID}, got ${x}`);
    if (what === 'grid' && x <= 0) throw new Bad(`${field}[${i}]`, `grid values must be > 0, got ${x}`);
    if (what === 'grid0' && x < 0) throw new Bad(`${field}[${i}]`, `grid values must be >= 0, got ${x}`);
    if (what !== 'time' && i > 0 && !(x > (v[i - 1] as number))) {
      throw new Bad(`${field}[${i}]`, `grid must be strictly increasing (${v[i - 1]} then ${x})`);
    }
  });
  return v as number[];
}

/**
 * Checks a times table of the grid's shape and returns it flattened with each value's index path
 * (`[3]` or `[1][2]`). A 2-D row may end early (at least 2 values, version 2 only); `rows`, when
 * given, are the row lengths the table must have (a spread table follows its median table).
 */
function table(v: unknown, field: string, grid: number[][], version: number, rows?: readonly number[]): { values: number[]; paths: string[]; rows: number[] } {
  if (grid.length === 1) {
    const values = numberList(v, field, grid[0].length, 'time');
    return { values, paths: values.map((_, k) => `[${k}]`), rows: [values.length] };
  }
  if (!Array.isArray(v)) throw new Bad(field, v === undefined ? 'is missing' : `must be a list of ${grid[0].length} rows, got ${show(v)}`);
  if (v.length !== grid[0].length) throw new Bad(field, `has ${v.length} rows but grid[0] has ${grid[0].length} points`);
  const values: number[] = [];
  const paths: string[] = [];
  const lengths: number[] = [];
  v.forEach((row, i) => {
    const f = `${field}[${i}]`;
    if (!Array.isArray(row)) throw new Bad(f, `must be a list of numbers, got ${show(row)}`);
    const want = rows?.[i];
    if (want !== undefined && row.length !== want) throw new Bad(f, `has ${row.length} values but times_s${f.slice(field.length)} has ${want}`);
    if (row.length !== grid[1].length) {
      if (version < 2) throw new Bad(f, `has ${row.length} values but the grid has ${grid[1].length} points (rows that end early need version 2)`);
      if (row.length < 2 || row.length > grid[1].length) throw new Bad(f, `has ${row.length} values; a row holds 2 to ${grid[1].length} (the first points of grid[1])`);
    }
    numberList(row, f, row.length, 'time').forEach((x, j) => {
      values.push(x);
      paths.push(`[${i}][${j}]`);
    });
    lengths.push(row.length);
  });
  return { values, paths, rows: lengths };
}

function checkOperator(name: OperatorName, v: unknown, field: string, version: number): OperatorProfile {
  if (!isObject(v)) throw new Bad(field, `must be an object, got ${show(v)}`);
  checkUnknown(v, OP_KEYS, `${field}.`);
  const per = v.per;
  if (typeof per !== 'string' || !(OPERATOR_UNITS[name] as readonly string[]).includes(per)) {
    throw new Bad(`${field}.per`, `${per === undefined ? 'is missing' : `got ${show(per)}`}; ${name} takes ${OPERATOR_UNITS[name].map((u) => `'${u}'`).join(' or ')}`);
  }
  const layouts = OPERATOR_AXES[name];
  const axes = v.axes;
  const want = Array.isArray(axes) ? layouts.find((w) => w.length === axes.length && axes.every((a, i) => a === w[i])) : undefined;
  if (want === undefined) {
    throw new Bad(`${field}.axes`, `${name} is profiled over ${layouts.map((w) => JSON.stringify(w)).join(' or ')}, got ${show(axes)}`);
  }
  if (version < 2 && want !== layouts[0]) throw new Bad(`${field}.axes`, `${JSON.stringify(want)} needs version 2`);
  const grid = v.grid;
  if (!Array.isArray(grid) || grid.length !== want.length) {
    throw new Bad(`${field}.grid`, `must be a list of ${want.length} grid list(s), one per axis, got ${show(grid)}`);
  }
  grid.forEach((g, a) => {
    numberList(g, `${field}.grid[${a}]`, undefined, ZERO_AXES.includes(want[a]) ? 'grid0' : 'grid');
    if ((g as number[]).length < 2) throw new Bad(`${field}.grid[${a}]`, `needs at least 2 points, got ${(g as number[]).length}`);
  });
  const g = grid as number[][];
  const times = table(v.times_s, `${field}.times_s`, g, version);
  const bound = (key: 'p10_s' | 'p90_s' | 'min_s' | 'max_s', lower: boolean): void => {
    if (v[key] === undefined) return;
    const b = table(v[key], `${field}.${key}`, g, version, times.rows);
    b.values.forEach((x, k) => {
      const m = times.values[k];
      if (lower ? x > m : x < m) {
        throw new Bad(`${field}.${key}${b.paths[k]}`, `${x} is ${lower ? 'above' : 'below'} the median ${m} (times_s${b.paths[k]})`);
      }
    });
  };
  const overhead = v.batch_overhead;
  if (overhead !== undefined) {
    if (version < 2) throw new Bad(`${field}.batch_overhead`, 'needs version 2');
    if (name !== 'decode_attn' && name !== 'prefill_attn') throw new Bad(`${field}.batch_overhead`, 'applies to decode_attn and prefill_attn only');
    if (typeof overhead !== 'number' || !Number.isFinite(overhead) || overhead < 0 || overhead > PROFILE_MAX_OVERHEAD) {
      throw new Bad(`${field}.batch_overhead`, `must be a fraction from 0 to ${PROFILE_MAX_OVERHEAD}, got ${show(overhead)}`);
    }
  }
  bound('p10_s', true);
  bound('p90_s', false);
  bound('min_s', true);
  bound('max_s', false);
  return v as unknown as OperatorProfile;
}

/**
 * Validates a parsed profile object.
 * @param file the file it came from (named in errors).
 * @returns the object, typed.
 * @throws InputError with `file` and `field` = the path of the first bad field, e.g.
 *   `operators.qkv_proj.times_s[3]`.
 */
export function validateProfile(obj: unknown, file: string): Profile {
  try {
    return check(obj);
  } catch (e) {
    if (e instanceof Bad) throw new InputError(e.message, { file, field: e.field });
    throw e;
  }
}

function check(o: unknown): Profile {
  if (!isObject(o)) throw new Bad('(root)', `must be a JSON object, got ${show(o)}`);
  if (o.format !== PROFILE_FORMAT) throw new Bad('format', `must be '${PROFILE_FORMAT}', got ${show(o.format)}`);
  if (typeof o.version !== 'number' || !PROFILE_VERSIONS_READ.includes(o.version)) {
    throw new Bad('version', `unsupported version ${show(o.version)}; this llmsched reads versions ${PROFILE_VERSIONS_READ.join(' and ')}`);
  }
  const version = o.version;
  checkUnknown(o, TOP_KEYS, '');
  const a = o.adapter;
  if (!isObject(a)) throw new Bad('adapter', a === undefined ? 'is missing' : `must be an object, got ${show(a)}`);
  for (const k of ['vendor', 'architecture', 'description', 'backend']) str(a, k, `adapter.${k}`, false);
  checkUnknown(a, new Set(['vendor', 'architecture', 'description', 'backend']), 'adapter.');
  str(o, 'timer', 'timer', true);
  str(o, 'dtype', 'dtype', true);
  str(o, 'model', 'model', true);
  posInt(o.tp, 'tp');
  if (o.gpu !== undefined) {
    if (version < 2) throw new Bad('gpu', 'needs version 2');
    const gpu = str(o, 'gpu', 'gpu', true);
    if (!Object.hasOwn(GPUS, gpu)) throw new Bad('gpu', `unknown GPU ${show(gpu)}; valid: ${Object.keys(GPUS).join(', ')}`);
  }
  const date = str(o, 'date', 'date', true);
  if (!Number.isFinite(Date.parse(date))) throw new Bad('date', `must be an ISO 8601 date, got ${show(date)}`);
  str(o, 'project_version', 'project_version', true);
  str(o, 'source', 'source', true);
  if (o.notes !== undefined) str(o, 'notes', 'notes', false);
  if (o.architecture !== undefined) {
    const arch = o.architecture;
    if (!isObject(arch)) throw new Bad('architecture', `must be an object, got ${show(arch)}`);
    checkUnknown(arch, new Set(ARCH_KEYS), 'architecture.');
    for (const k of ARCH_KEYS) posInt(arch[k], `architecture.${k}`);
  }
  if (o.sweep !== undefined) {
    const s = o.sweep;
    if (!isObject(s)) throw new Bad('sweep', `must be an object, got ${show(s)}`);
    checkUnknown(s, new Set(['warmup', 'repeats']), 'sweep.');
    if (typeof s.warmup !== 'number' || !Number.isInteger(s.warmup) || s.warmup < 0) throw new Bad('sweep.warmup', `must be an integer >= 0, got ${show(s.warmup)}`);
    posInt(s.repeats, 'sweep.repeats');
  }
  const ops = o.operators;
  if (!isObject(ops)) throw new Bad('operators', ops === undefined ? 'is missing' : `must be an object, got ${show(ops)}`);
  const names = Object.keys(ops);
  if (names.length === 0) throw new Bad('operators', 'covers no operator');
  for (const name of names) {
    if (!(OPERATORS as readonly string[]).includes(name)) {
      throw new Bad(`operators.${name}`, `unknown operator; valid: ${OPERATORS.join(', ')}`);
    }
    checkOperator(name as OperatorName, ops[name], `operators.${name}`, version);
  }
  return o as unknown as Profile;
}

/**
 * Parses and validates profile JSON text.
 * @throws InputError naming `file` (and the line, for a JSON syntax error) or the bad field.
 */
export function parseProfile(text: string, file: string): Profile {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? text.slice(0, Number(pos[1])).split('\n').length : undefined;
    throw new InputError(`not valid JSON: ${msg}`, { file, line });
  }
  return validateProfile(obj, file);
}

/**
 * Reads and validates a profile file.
 * @throws InputError naming the file when it cannot be read or is malformed.
 */
export function readProfile(file: string): Profile {
  return parseProfile(readTextFile(file, 'profile'), file);
}

/**
 * Serialises a profile as JSON: two-space indentation, each list of numbers on one line.
 * @throws InputError (field path) if the profile is invalid: nothing invalid is ever written.
 */
export function formatProfile(p: Profile): string {
  validateProfile(p, '(profile being written)');
  const text = JSON.stringify(p, null, 2);
  return text.replace(/\[\s+([-+0-9.eE,\s]+?)\s+\]/g, (_m, inner: string) => `[${inner.split(/\s*,\s*/).join(', ')}]`) + '\n';
}

/**
 * Validates and writes a profile to `file`, creating its folder.
 * @throws InputError if the profile is invalid or the file cannot be written.
 */
export function writeProfile(file: string, p: Profile): void {
  const text = formatProfile(p);
  prepareOutputFile(file, '--out');
  writeFileAtomic(file, text);
}

/**
 * The llmsched package's root folder: the nearest ancestor of this module holding a package.json
 * named llmsched (works from calibrate/ and from dist/calibrate/); undefined if none.
 */
export function packageRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown };
      if (pkg.name === 'llmsched') return dir;
    } catch {
      // no (readable) package.json here: look further up
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/** llmsched's version, from package.json (`0.0.0` if it cannot be read). */
export function projectVersion(): string {
  const root = packageRoot();
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root ?? '.', 'package.json'), 'utf8')) as { version?: unknown };
    return root !== undefined && typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** Options of {@link loadProfileCostModel}. */
export interface LoadProfileOptions {
  /** Where warnings go (one line each, no newline); default: `sim: warning: …` on stderr. */
  log?: Logger;
}

/**
 * Builds a cost model from the profile JSON in `file` for `model` on `gpu` with tensor
 * parallelism `tp`: an AnalyticalCostModel (see {@link ProfileCostModel}) whose operators covered
 * by the profile are interpolated from it (docs/calibration.md §3) and the rest analytical. Warns
 * through `opts.log` when the profile's model, architecture or tp differ from the run's, and once
 * per operator when a shape falls outside the measured grid.
 * @throws InputError naming the file and field for a malformed or unreadable profile.
 */
export function loadProfileCostModel(file: string, model: ModelSpec, gpu: GpuSpec, tp: number, opts: LoadProfileOptions = {}): CostModel {
  const profile = readProfile(file);
  return new ProfileCostModel({ profile, file, model, gpu, tp, log: opts.log });
}
