/**
 * The published JSON Schemas (docs/schemas/, app/specs/schemas.ts): the checked-in files are what
 * `npm run schemas` writes, and the project's real files validate against them: a run's
 * config.json, the example grid, the shipped profiles; files the readers refuse fail them too.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { SCHEMAS, jsonSchemaText, configSchema, gridSchema, profileSchema } from '../app/specs/schemas.ts';
import { readRunConfig } from '../app/config.ts';
import { loadGrid } from '../app/sweep/grid.ts';
import { inputError, runSim } from './helpers.ts';

describe('published JSON Schemas', () => {
  for (const stem of Object.keys(SCHEMAS)) {
    it(`docs/schemas/${stem}.schema.json is what npm run schemas writes`, () => {
      const file = path.join('docs', 'schemas', `${stem}.schema.json`);
      expect(fs.readFileSync(file, 'utf8'), `regenerate with: npm run schemas`).toBe(jsonSchemaText(stem));
      expect(JSON.parse(fs.readFileSync(file, 'utf8')).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    });
  }

  it("a run's config.json validates, and readRunConfig reads it", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-schemas-'));
    const ok = await runSim('--trace', 'traces/azure-conv-2000.csv', '--limit', '20', '--slo-ttft', '2', '--kv-tokens', 'unlimited', '--out', path.join(dir, 'run'));
    expect(ok.code, ok.err).toBe(0);
    const file = path.join(dir, 'run', 'config.json');
    const cfg = JSON.parse(fs.readFileSync(file, 'utf8'));
    expect(configSchema.safeParse(cfg).success).toBe(true);
    expect(readRunConfig(file)['kv-tokens']).toBe('unlimited');
    // A value out of bounds fails both the schema and the reader.
    const bad = { ...cfg, tp: 0 };
    expect(configSchema.safeParse(bad).success).toBe(false);
    fs.writeFileSync(file, JSON.stringify(bad, null, 2));
    expect(inputError(() => readRunConfig(file)).field).toBe('tp');
    expect(configSchema.safeParse({ ...cfg, 'max-num-seqz': 3 }).success).toBe(false);
  }, 60_000);

  it('the example grid validates; a grid with an unknown engine key or a bad value fails it and the reader', () => {
    const file = 'app/sweep/examples/ssjf-vs-fcfs.yaml';
    const g = YAML.parse(fs.readFileSync(file, 'utf8'));
    expect(gridSchema.safeParse(g).success).toBe(true);
    expect(loadGrid(file).policies.length).toBe(2);
    expect(gridSchema.safeParse({ ...g, engine: { ...g.engine, 'chunked-prefil': true } }).success).toBe(false);
    expect(gridSchema.safeParse({ ...g, engine: { ...g.engine, 'max-num-seqs': [0, 8] } }).success).toBe(false);
    expect(gridSchema.safeParse({ ...g, seeds: [1.5] }).success).toBe(false);
    expect(gridSchema.safeParse({ traces: g.traces }).success).toBe(false); // no policies
  });

  it('every shipped profile validates; an unknown operator or a negative time fails', () => {
    const dir = 'calibrate/profiles';
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(4);
    for (const f of files) {
      const p = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'));
      const r = profileSchema.safeParse(p);
      expect(r.success, `${f}: ${r.error?.issues[0]?.message} at ${r.error?.issues[0]?.path.join('.')}`).toBe(true);
    }
    const p = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
    expect(profileSchema.safeParse({ ...p, operators: { ...p.operators, softmax: p.operators.qkv_proj } }).success).toBe(false);
    const op = p.operators.qkv_proj;
    expect(profileSchema.safeParse({ ...p, operators: { ...p.operators, qkv_proj: { ...op, times_s: op.times_s.map((t: number, i: number) => (i === 0 ? -t : t)) } } }).success).toBe(false);
    expect(profileSchema.safeParse({ ...p, format: 'vidur' }).success).toBe(false);
  });
});
