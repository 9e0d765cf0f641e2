/**
 * Plugins: a policy, predictor or router from an ES module file instead of the built-in
 * registries, given where a name goes (`--policy ./lpf.mjs`, a sweep grid's `policies`, the API's
 * `policy` option). The module exports an entry in the registry's own shape ({@link PolicyEntry},
 * {@link PredictorEntry}, {@link RouterEntry}) as its default export or as a named export `policy`,
 * `predictor` or `router`. docs/plugins.md.
 *
 * Loading is asynchronous (dynamic `import()`), looking an entry up is not: {@link loadPlugins}
 * loads the files a run names once per process (cached by absolute path), then
 * {@link policyEntry}, {@link predictorEntry} and {@link routerEntry} answer for built-in names and
 * loaded files alike. The shape is checked when the file is loaded (the entry) and when an instance
 * is built (the policy, predictor or router it creates); a bad field is an InputError naming the
 * file and the field.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Policy, PolicyEntry } from '../sim/policy.ts';
import type { Predictor, PredictorEntry } from '../sim/predictor.ts';
import type { Router } from '../sim/router.ts';
import { InputError } from '../sim/errors.ts';
import { getPolicy } from '../policies/index.ts';
import { getPredictor } from '../policies/predictors/index.ts';
import { getRouter } from '../policies/routers.ts';
import type { RouterEntry } from '../policies/routers.ts';

/** The three kinds of plugin, named as their option (`--policy`) and their named export. */
export type PluginKind = 'policy' | 'predictor' | 'router';

/** A loaded plugin's entry, by kind. */
export interface PluginEntries {
  policy: PolicyEntry;
  predictor: PredictorEntry;
  router: RouterEntry;
}

/**
 * Whether a policy, predictor or router name is a plugin file rather than a registry name: it
 * starts with `./`, `../` or `/` (or is absolute on this platform), or ends with `.mjs` or `.js`.
 */
export function isPluginSpec(name: string): boolean {
  return /^\.{1,2}[\\/]/.test(name) || name.startsWith('/') || path.isAbsolute(name) || /\.m?js$/.test(name);
}

/** Loaded plugins by kind and absolute file path. */
const loaded: { [K in PluginKind]: Map<string, PluginEntries[K]> } = { policy: new Map(), predictor: new Map(), router: new Map() };

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const describe = (x: unknown): string => (x === undefined ? 'nothing' : x === null ? 'null' : Array.isArray(x) ? 'an array' : typeof x === 'string' ? `'${x}'` : typeof x);

/** Throws an InputError at `file`, field `field`. */
function bad(file: string, field: string, message: string): never {
  throw new InputError(message, { file, field });
}

/** Checks that `o[key]` is a function (or absent, when optional). */
function needFunction(file: string, prefix: string, o: Record<string, unknown>, key: string, optional = false): void {
  const v = o[key];
  if (v === undefined && optional) return;
  if (typeof v !== 'function') bad(file, `${prefix}.${key}`, `must be a function (got ${describe(v)})`);
}

/** Checks that `o[key]` is a non-empty string (or absent, when optional). */
function needString(file: string, prefix: string, o: Record<string, unknown>, key: string, optional = false): void {
  const v = o[key];
  if (v === undefined && optional) return;
  if (typeof v !== 'string' || v.trim() === '') bad(file, `${prefix}.${key}`, `must be a non-empty string (got ${describe(v)})`);
}

/** Checks a policy instance a plugin's `create` returned (sim/policy.ts `Policy`). */
function checkPolicy(file: string, p: unknown): Policy {
  if (!isObject(p)) bad(file, 'policy.create()', `must return a policy object (got ${describe(p)})`);
  const at = 'policy.create()';
  needString(file, at, p, 'name');
  const b = p.batching;
  if (!isObject(b) || (b.mode !== 'admit' && b.mode !== 'rank')) bad(file, `${at}.batching`, "must be { mode: 'admit' } or { mode: 'rank', displacement, stallFree }");
  if (b.mode === 'rank') {
    if (!['pause', 'recompute', 'swap'].includes(b.displacement as string)) bad(file, `${at}.batching.displacement`, `must be 'pause', 'recompute' or 'swap' (got ${describe(b.displacement)})`);
    if (typeof b.stallFree !== 'boolean') bad(file, `${at}.batching.stallFree`, `must be true or false (got ${describe(b.stallFree)})`);
  }
  needFunction(file, at, p, 'attach');
  needFunction(file, at, p, 'priority');
  for (const k of ['beforeSchedule', 'onIterationEnd', 'onPreempt', 'onComplete', 'mayPreemptForHead', 'stableIterations', 'stableUntil']) needFunction(file, at, p, k, true);
  return p as unknown as Policy;
}

/** Checks a predictor instance a plugin's `create` returned (sim/predictor.ts `Predictor`). */
function checkPredictor(file: string, p: unknown): Predictor {
  const at = 'predictor.create()';
  if (!isObject(p)) bad(file, at, `must return a predictor object (got ${describe(p)})`);
  needString(file, at, p, 'name');
  for (const k of ['attach', 'predicted', 'bucket', 'remaining', 'quality']) needFunction(file, at, p, k);
  needFunction(file, at, p, 'costOf', true);
  if (typeof p.refineEvery !== 'number' || !(p.refineEvery > 0)) bad(file, `${at}.refineEvery`, `must be a positive number of tokens, or Infinity (got ${describe(p.refineEvery)})`);
  if (p.cost !== undefined && (!isObject(p.cost) || typeof p.cost.perRequest_s !== 'number' || typeof p.cost.onServer !== 'boolean')) {
    bad(file, `${at}.cost`, 'must be undefined or { perRequest_s: number, onServer: boolean }');
  }
  return p as unknown as Predictor;
}

/** Checks a router instance a plugin's factory built (sim/router.ts `Router`). */
function checkRouter(file: string, r: unknown): Router {
  const at = 'router.create()(ctx)';
  if (!isObject(r)) bad(file, at, `must return a router object (got ${describe(r)})`);
  needString(file, at, r, 'name');
  needFunction(file, at, r, 'route');
  return r as unknown as Router;
}

/**
 * Calls a plugin's `create`; what it throws (its options refused) becomes an InputError naming the
 * file and the options flag (`--policy-opt`), as a registry entry's own refusal names the flag.
 */
function callCreate<T>(file: string, kind: PluginKind, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const reason = e instanceof InputError ? e.reason : e instanceof Error ? e.message : String(e);
    throw new InputError(reason.replace(/\s*\n\s*/g, ' '), { file, field: `--${kind}-opt` });
  }
}

/** The entry's common fields: a name, and a description and source (defaulting to the file). */
function checkEntryFields(file: string, kind: PluginKind, e: Record<string, unknown>): { name: string; description: string; source: string } {
  needString(file, kind, e, 'name');
  needString(file, kind, e, 'description', true);
  needString(file, kind, e, 'source', true);
  needFunction(file, kind, e, 'create');
  return { name: e.name as string, description: (e.description as string | undefined) ?? `plugin ${file}`, source: (e.source as string | undefined) ?? file };
}

/**
 * Checks a module's entry of `kind` and wraps its `create` so that what it builds is checked too.
 * @throws InputError naming `file` and the bad field.
 */
function checkEntry<K extends PluginKind>(file: string, kind: K, e: unknown): PluginEntries[K] {
  if (!isObject(e)) bad(file, kind, `the export must be a ${kind} entry object (got ${describe(e)}); docs/plugins.md`);
  const common = checkEntryFields(file, kind, e);
  if (kind === 'policy') {
    const predictor = e.predictor ?? 'none';
    if (predictor !== 'required' && predictor !== 'optional' && predictor !== 'none') bad(file, 'policy.predictor', `must be 'required', 'optional' or 'none' (got ${describe(predictor)})`);
    needString(file, kind, e, 'defaultPredictor', true);
    const entry = e as unknown as PolicyEntry;
    const out: PolicyEntry = { ...common, predictor, defaultPredictor: entry.defaultPredictor, create: (opts, pred) => checkPolicy(file, callCreate(file, kind, () => entry.create(opts, pred))) };
    return out as PluginEntries[K];
  }
  if (kind === 'predictor') {
    const entry = e as unknown as PredictorEntry;
    const out: PredictorEntry = { ...common, create: (opts) => checkPredictor(file, callCreate(file, kind, () => entry.create(opts))) };
    return out as PluginEntries[K];
  }
  const entry = e as unknown as RouterEntry;
  const out: RouterEntry = {
    ...common,
    create(opts) {
      const make: unknown = callCreate(file, kind, () => entry.create(opts));
      if (typeof make !== 'function') bad(file, 'router.create()', `must return a function (ctx) => router (got ${describe(make)})`);
      return (ctx) => checkRouter(file, (make as (c: typeof ctx) => unknown)(ctx));
    },
  };
  return out as PluginEntries[K];
}

/**
 * Loads the plugin file `spec` of `kind` (once per process), checks its entry and returns it.
 * @param spec a path, relative to `base` (default the working directory) unless absolute
 * @returns the entry, its `create` wrapped to check what it builds.
 * @throws InputError naming the file for a missing file, a module that fails to load (syntax
 *   error, a throwing top level), no usable export, or a bad field.
 */
export async function loadPlugin<K extends PluginKind>(kind: K, spec: string, base: string = process.cwd()): Promise<PluginEntries[K]> {
  const file = path.resolve(base, spec);
  const cached = loaded[kind].get(file);
  if (cached) return cached as PluginEntries[K];
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch {
    throw new InputError(`no such ${kind} plugin file`, { file, field: `--${kind}` });
  }
  if (!stat.isFile()) throw new InputError(`a ${kind} plugin must be a file (an ES module)`, { file, field: `--${kind}` });
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    // A syntax error is named in words (the message is the user's to read, not a stack trace's).
    const why = e instanceof SyntaxError ? `syntax error: ${e.message}` : e instanceof Error ? e.message : String(e);
    throw new InputError(`cannot load the ${kind} plugin: ${why.replace(/\s*\n\s*/g, ' ')}`, { file, field: `--${kind}` });
  }
  const exported = mod.default !== undefined ? mod.default : mod[kind];
  if (exported === undefined) bad(file, `--${kind}`, `exports no ${kind}: give a default export or a named export '${kind}' (docs/plugins.md)`);
  const entry = checkEntry(file, kind, exported);
  if (isPluginSpec(entry.name)) bad(file, `${kind}.name`, `must be a name, not a path (got '${entry.name}')`);
  loaded[kind].set(file, entry);
  return entry;
}

/**
 * Loads every plugin file a run's options name (`policy`, `predictor`, `router`, and the decode
 * pool's `decode-policy` and `decode-router`), so that
 * {@link policyEntry} and its siblings find them.
 * @param base the folder relative paths are read from (default the working directory)
 * @throws InputError as {@link loadPlugin}.
 */
export async function loadPlugins(
  o: { policy?: unknown; predictor?: unknown; router?: unknown; 'decode-policy'?: unknown; 'decode-router'?: unknown },
  base?: string,
): Promise<void> {
  const keys = [['policy', 'policy'], ['predictor', 'predictor'], ['router', 'router'], ['decode-policy', 'policy'], ['decode-router', 'router']] as const;
  for (const [key, kind] of keys) {
    const v = o[key];
    if (typeof v === 'string' && isPluginSpec(v)) await loadPlugin(kind, v, base);
  }
}

/** A loaded plugin's entry, or an error saying to load it first. */
function loadedEntry<K extends PluginKind>(kind: K, name: string): PluginEntries[K] {
  const e = loaded[kind].get(path.resolve(name));
  if (!e) throw new InputError(`${kind} plugin ${name} is not loaded (the CLI and the API's run() load it; a library caller calls loadPlugins first)`, { field: kind });
  return e as PluginEntries[K];
}

/**
 * The policy entry for a name (`sim policies`) or a loaded plugin file.
 * @throws InputError for an unknown name or a file not loaded by {@link loadPlugins}.
 */
export function policyEntry(name: string): PolicyEntry {
  return isPluginSpec(name) ? loadedEntry('policy', name) : getPolicy(name);
}

/**
 * The predictor entry for a name (`sim predictors`) or a loaded plugin file.
 * @throws InputError as {@link policyEntry}.
 */
export function predictorEntry(name: string): PredictorEntry {
  return isPluginSpec(name) ? loadedEntry('predictor', name) : getPredictor(name);
}

/**
 * The router entry for a name (`sim routers`) or a loaded plugin file.
 * @throws InputError as {@link policyEntry}.
 */
export function routerEntry(name: string): RouterEntry {
  return isPluginSpec(name) ? loadedEntry('router', name) : getRouter(name);
}
