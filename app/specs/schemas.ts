/**
 * zod schemas of the project's file formats, published as JSON Schemas (draft 2020-12) in
 * docs/schemas/ by `npm run schemas` (app/specs/write-schemas.ts): a run's `config.json`
 * (docs/output.md), sweep grids (docs/sweeps.md), measured profiles (docs/calibration.md §2) and
 * the `--model` / `--gpu` files (docs/models.md). The config and grid schemas are built from the
 * table the readers use (app/config.ts RUN_OPTION_SPECS), so they cannot drift from it. They state
 * each file's structure and bounds for editors and other tools; the readers (readRunConfig,
 * loadGrid, readProfile) still check what a schema cannot say (cross-field rules such as a times
 * table matching its grid) and word the `file:line: field` messages.
 */
import { z } from 'zod';
import { RECORD_KEYS, RUN_OPTION_SPECS, MAX_KV_TOKENS, type RunOptionSpec } from '../config.ts';
import { ENGINE_KEYS } from '../sweep/grid.ts';
import { PROFILE_MAX_GRID, PROFILE_MAX_OVERHEAD, PROFILE_MAX_S } from '../../calibrate/profile.ts';
import { OPERATORS } from '../../sim/cost/analytical.ts';
import { PROFILE_FORMAT, PROFILE_VERSIONS_READ } from '../../sim/cost/profile-format.ts';
import { gpuFileSchema, modelFileSchema } from './hardware.ts';

/** The schema of one run option's value as a JSON file holds it (a config or a grid cell). */
function optionSchema(spec: RunOptionSpec): z.ZodType {
  switch (spec.kind) {
    case 'number': {
      const s = spec.spec;
      let n = s.integer ? z.number().int() : z.number();
      if (s.min !== undefined) n = s.minExclusive ? n.gt(s.min) : n.gte(s.min);
      if (s.max !== undefined) n = s.maxExclusive ? n.lt(s.max) : n.lte(s.max);
      return n;
    }
    case 'boolean':
      return z.boolean();
    case 'string':
      return spec.choices ? z.enum(spec.choices as [string, ...string[]]) : z.string().min(1);
    case 'list':
      return z.union([z.string().min(1), z.array(z.string().min(1))]);
    case 'kv-tokens':
      return z.union([z.number().int().min(1).max(MAX_KV_TOKENS), z.literal('unlimited')]);
  }
}

/** `config.json`: every run option by flag name (app/config.ts RunOptions), plus the record keys. */
export const configSchema = z.strictObject({
  ...Object.fromEntries(Object.entries(RUN_OPTION_SPECS).map(([k, s]) => [k, optionSchema(s).optional()])),
  ...Object.fromEntries(RECORD_KEYS.map((k) => [k, (k === 'idle-removed-s' ? z.number().min(0) : z.string()).optional()])),
});

/** A policy or predictor of a grid: its name, or `{name, opts}`. */
const namedSpec = z.union([
  z.string().min(1),
  z.strictObject({ name: z.string().min(1), opts: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional() }),
]);
const oneOrList = (s: z.ZodType) => z.union([s, z.array(s).min(1)]);

/** A sweep grid (docs/sweeps.md): its axes and the `engine` block of `sim run` options. */
export const gridSchema = z.strictObject({
  traces: oneOrList(z.string().min(1)).optional(),
  policies: oneOrList(namedSpec),
  predictors: oneOrList(namedSpec).optional(),
  rate_scales: oneOrList(optionSchema(RUN_OPTION_SPECS['rate-scale'])).optional(),
  seeds: oneOrList(optionSchema(RUN_OPTION_SPECS.seed)).optional(),
  engine: z
    .strictObject(Object.fromEntries(ENGINE_KEYS.map((k) => [k, oneOrList(optionSchema(RUN_OPTION_SPECS[k as keyof typeof RUN_OPTION_SPECS])).optional()])))
    .optional(),
});

const time = z.number().min(0).max(PROFILE_MAX_S);
const times = z.union([z.array(time), z.array(z.array(time))]);
const count = z.number().int().min(1);

/** One operator's times over its grid (sim/cost/profile-format.ts OperatorProfile). */
const operatorProfile = z.strictObject({
  per: z.enum(['layer', 'iteration', 'call']),
  axes: z.array(z.enum(['tokens', 'seqs', 'seq_len', 'prefix', 'chunk', 'batch', 'context'])).min(1).max(2),
  grid: z.array(z.array(z.number().min(0).max(PROFILE_MAX_GRID)).min(1)).min(1).max(2),
  times_s: times,
  p10_s: times.optional(),
  p90_s: times.optional(),
  min_s: times.optional(),
  max_s: times.optional(),
  batch_overhead: z.number().min(0).max(PROFILE_MAX_OVERHEAD).optional(),
});

/** A measured profile (format `llmsched-profile`, versions 1 and 2; sim/cost/profile-format.ts Profile). */
export const profileSchema = z.strictObject({
  format: z.literal(PROFILE_FORMAT),
  version: z.union(PROFILE_VERSIONS_READ.map((v) => z.literal(v)) as unknown as [z.ZodLiteral<number>, z.ZodLiteral<number>]),
  adapter: z.strictObject({ vendor: z.string(), architecture: z.string(), description: z.string(), backend: z.string() }),
  timer: z.string().min(1),
  dtype: z.string().min(1),
  model: z.string().min(1),
  tp: count,
  gpu: z.string().min(1).optional(),
  date: z.string().min(1),
  project_version: z.string().min(1),
  source: z.string().min(1),
  architecture: z
    .strictObject({ layers: count, hidden: count, heads: count, kvHeads: count, headDim: count, intermediate: count, vocab: count })
    .optional(),
  sweep: z.strictObject({ warmup: z.number().int().min(0), repeats: count }).optional(),
  notes: z.string().optional(),
  operators: z.strictObject(Object.fromEntries(OPERATORS.map((op) => [op, operatorProfile.optional()]))),
});

/** The published schemas by file stem (`docs/schemas/<stem>.schema.json`), with a title and what they describe. */
export const SCHEMAS: Readonly<Record<string, { schema: z.ZodType; title: string; description: string }>> = {
  config: { schema: configSchema, title: 'llmsched run config.json', description: 'The options of one run by sim run flag name, as --out writes config.json and --config reads it (docs/output.md).' },
  grid: { schema: gridSchema, title: 'llmsched sweep grid', description: 'A sim sweep grid file, YAML or JSON (docs/sweeps.md).' },
  profile: { schema: profileSchema, title: 'llmsched measured profile', description: 'A measured operator profile, format llmsched-profile (docs/calibration.md §2).' },
  model: { schema: modelFileSchema, title: 'llmsched model file', description: 'A model for --model FILE.json: a ModelSpec (sim/cost/models.ts; docs/models.md).' },
  gpu: { schema: gpuFileSchema, title: 'llmsched GPU file', description: 'A GPU for --gpu FILE.json: a GpuSpec (sim/cost/gpus.ts; docs/models.md).' },
};

/**
 * The JSON Schema of one of {@link SCHEMAS}, as published: zod's `toJSONSchema` (draft 2020-12,
 * the input side: optional fields may be left out; a part used twice is a `$defs` entry) with the title and description added.
 * @returns a plain JSON object.
 */
export function jsonSchema(stem: string): Record<string, unknown> {
  const s = SCHEMAS[stem];
  const out = z.toJSONSchema(s.schema, { io: 'input', unrepresentable: 'any', reused: 'ref' }) as Record<string, unknown>;
  const { $schema, ...rest } = out;
  return { $schema, title: s.title, description: s.description, ...rest };
}

/** The text of a published schema file: {@link jsonSchema} as 2-space JSON with a final newline. */
export function jsonSchemaText(stem: string): string {
  return JSON.stringify(jsonSchema(stem), null, 2) + '\n';
}
