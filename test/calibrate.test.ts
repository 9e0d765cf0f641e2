/**
 * Calibration: the profile format (round trip, field-naming errors), interpolation (exact on the
 * grid, monotone between, clamped linear extrapolation with one warning, never NaN), the profile
 * cost model, the Vidur import against the CSV read independently, the fitted analytical model's
 * held-out error against Vidur's A100 tables, `sim --profile` end to end, and the sweep (a stand-in
 * kernel API, then the real WGSL kernels on this machine's adapter when one can be created).
 */
import { inputError, runSim, sink } from './helpers.ts';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yargs from 'yargs';
import { InputError } from '../sim/errors.ts';
import { AnalyticalCostModel, OPERATORS, type OperatorName } from '../sim/cost/analytical.ts';
import { emptyBatchShape, type BatchShape } from '../sim/cost/cost-model.ts';
import { getGpu, getModel } from '../sim/cost/index.ts';
import { GridInterpolator1D, GridInterpolator2D } from '../sim/cost/interpolate.ts';
import { formatProfile, loadProfileCostModel, parseProfile, readProfile, validateProfile, writeProfile } from '../calibrate/profile.ts';
import type { Profile } from '../sim/cost/profile-format.ts';
import { equivalentSeqLen, ProfileCostModel } from '../sim/cost/profile.ts';
import { importVidur, readVidurAllReduce } from '../calibrate/vidur.ts';
import { fitEfficiencies, LINEAR_OPERATORS, mape, validateAgainstVidur } from '../calibrate/validate.ts';
import { adapterSlug, planSweep, runSweep, shrinkArchitecture, sizeGrid, sweepDefaults, type KernelApi, type SweepCase, type SweepGpu } from '../calibrate/sweep.ts';
import { makeCalibrateCommand } from '../calibrate/command.ts';

/** Vidur's tables in shared/ beside the repository (the checkout's parent), as in CI. */
const BESIDE = path.resolve('../shared/reference/vidur-profiles');
const VIDUR_ROOT = fs.existsSync(BESIDE) ? BESIDE : '/work/shared/reference/vidur-profiles';
const L2_7B = path.join(VIDUR_ROOT, 'compute/a100/meta-llama/Llama-2-7b-hf');
const L3_8B = path.join(VIDUR_ROOT, 'compute/a100/meta-llama/Meta-Llama-3-8B');
const SAMPLE = path.resolve('traces/azure-conv-2000.csv');
const PROFILES = path.resolve('calibrate/profiles');

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-cal-'));

const sim = runSim;

/** A small valid profile: 1-D qkv_proj over tokens and 2-D decode attention. */
function sampleProfile(): Profile {
  return {
    format: 'llmsched-profile',
    version: 1,
    adapter: { vendor: 'test', architecture: 'none', description: 'hand-made', backend: 'none' },
    timer: 'wall-clock',
    dtype: 'f32',
    model: 'llama-2-7b',
    tp: 1,
    date: '2025-01-01T00:00:00.000Z',
    project_version: '0.1.0',
    source: 'measured',
    operators: {
      qkv_proj: { per: 'layer', axes: ['tokens'], grid: [[1, 2, 4, 8, 16]], times_s: [1e-4, 1e-4, 1.2e-4, 2e-4, 4e-4], p10_s: [9e-5, 9e-5, 1.1e-4, 1.9e-4, 3.9e-4], p90_s: [2e-4, 2e-4, 2e-4, 3e-4, 5e-4] },
      decode_attn: { per: 'layer', axes: ['batch', 'context'], grid: [[1, 4], [16, 64, 256]], times_s: [[1e-5, 2e-5, 5e-5], [3e-5, 7e-5, 2e-4]] },
    },
  };
}


/** Independent reading of a Vidur mlp.csv: plain split (the file has no quoted fields). */
function readCsvPlain(file: string): Record<string, string>[] {
  const [head, ...lines] = fs.readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => Object.fromEntries(l.split(',').map((v, i) => [cols[i], v])));
}

function shapeWith(over: Partial<BatchShape>): BatchShape {
  return { ...emptyBatchShape(), ...over };
}

function allFinite(x: unknown): boolean {
  if (typeof x === 'number') return Number.isFinite(x);
  if (Array.isArray(x)) return x.every(allFinite);
  if (x && typeof x === 'object') return Object.values(x).every(allFinite);
  return true;
}

describe('profile format', () => {
  it('round-trips through writeProfile/readProfile', () => {
    const p = sampleProfile();
    const file = path.join(tmp(), 'sub', 'p.json');
    writeProfile(file, p);
    expect(readProfile(file)).toEqual(p);
    // Lists of numbers stay on one line.
    expect(fs.readFileSync(file, 'utf8')).toContain('[1, 2, 4, 8, 16]');
    expect(parseProfile(formatProfile(p), 'x.json')).toEqual(p);
  });

  const cases: [string, (p: Record<string, any>) => void, string][] = [
    ['negative time', (p) => (p.operators.qkv_proj.times_s[3] = -1), 'operators.qkv_proj.times_s[3]'],
    ['non-numeric time', (p) => (p.operators.qkv_proj.times_s[3] = 'x'), 'operators.qkv_proj.times_s[3]'],
    ['time count', (p) => p.operators.qkv_proj.times_s.pop(), 'operators.qkv_proj.times_s'],
    ['grid not increasing', (p) => (p.operators.qkv_proj.grid[0][2] = 2), 'operators.qkv_proj.grid[0][2]'],
    ['one-point grid', (p) => { p.operators.qkv_proj.grid = [[1]]; p.operators.qkv_proj.times_s = [1]; delete p.operators.qkv_proj.p10_s; delete p.operators.qkv_proj.p90_s; }, 'operators.qkv_proj.grid[0]'],
    ['p10 above median', (p) => (p.operators.qkv_proj.p10_s[1] = 1), 'operators.qkv_proj.p10_s[1]'],
    ['p90 below median', (p) => (p.operators.qkv_proj.p90_s[4] = 0), 'operators.qkv_proj.p90_s[4]'],
    ['wrong axes', (p) => (p.operators.decode_attn.axes = ['tokens']), 'operators.decode_attn.axes'],
    ['2-D row length', (p) => p.operators.decode_attn.times_s[1].pop(), 'operators.decode_attn.times_s[1]'],
    ['2-D value', (p) => (p.operators.decode_attn.times_s[1][2] = null), 'operators.decode_attn.times_s[1][2]'],
    ['per', (p) => (p.operators.qkv_proj.per = 'iteration'), 'operators.qkv_proj.per'],
    ['unknown operator', (p) => (p.operators.softmax = p.operators.qkv_proj), 'operators.softmax'],
    ['unknown operator field', (p) => (p.operators.qkv_proj.mean_s = []), 'operators.qkv_proj.mean_s'],
    ['format', (p) => (p.format = 'vidur'), 'format'],
    ['version', (p) => (p.version = 3), 'version'],
    ['gpu in version 1', (p) => (p.gpu = 'a100-80gb'), 'gpu'],
    ['unknown gpu', (p) => ((p.version = 2), (p.gpu = 'a100')), 'gpu'],
    ['ragged row in version 1', (p) => p.operators.decode_attn.times_s[1].pop(), 'operators.decode_attn.times_s[1]'],
    ['ragged row of one value', (p) => ((p.version = 2), p.operators.decode_attn.times_s[1].splice(1)), 'operators.decode_attn.times_s[1]'],
    ['spread row not the median row\'s length', (p) => ((p.version = 2), p.operators.decode_attn.times_s[1].pop(), (p.operators.decode_attn.max_s = [[1, 1, 1], [1, 1, 1]])), 'operators.decode_attn.max_s[1]'],
    ['prefix axes in version 1', (p) => (p.operators.prefill_attn = { per: 'layer', axes: ['prefix', 'chunk'], grid: [[0, 8], [8, 16]], times_s: [[1, 2], [2, 3]] }), 'operators.prefill_attn.axes'],
    ['negative prefix', (p) => ((p.version = 2), (p.operators.prefill_attn = { per: 'layer', axes: ['prefix', 'chunk'], grid: [[-1, 8], [8, 16]], times_s: [[1, 2], [2, 3]] })), 'operators.prefill_attn.grid[0][0]'],
    ['zero chunk', (p) => ((p.version = 2), (p.operators.prefill_attn = { per: 'layer', axes: ['prefix', 'chunk'], grid: [[0, 8], [0, 16]], times_s: [[1, 2], [2, 3]] })), 'operators.prefill_attn.grid[1][0]'],
    ['batch_overhead in version 1', (p) => (p.operators.decode_attn.batch_overhead = 0.1), 'operators.decode_attn.batch_overhead'],
    ['batch_overhead on a linear operator', (p) => ((p.version = 2), (p.operators.qkv_proj.batch_overhead = 0.1)), 'operators.qkv_proj.batch_overhead'],
    ['batch_overhead not a number', (p) => ((p.version = 2), (p.operators.decode_attn.batch_overhead = '10%')), 'operators.decode_attn.batch_overhead'],
    ['adapter field', (p) => delete p.adapter.vendor, 'adapter.vendor'],
    ['tp', (p) => (p.tp = 0), 'tp'],
    ['date', (p) => (p.date = 'yesterday'), 'date'],
    ['no operators', (p) => (p.operators = {}), 'operators'],
  ];
  it.each(cases)('names the field: %s', (_name, mutate, field) => {
    const p = structuredClone(sampleProfile()) as unknown as Record<string, any>;
    mutate(p);
    const e = inputError(() => validateProfile(p, 'bad.json'));
    expect(e.field).toBe(field);
    expect(e.file).toBe('bad.json');
    expect(e.message).toContain(`bad.json: ${field}: `);
  });

  it('reports JSON syntax errors with the file and line', () => {
    const e = inputError(() => parseProfile('{\n  "format": "llmsched-profile",\n  oops\n}', 'broken.json'));
    expect(e.file).toBe('broken.json');
    expect(e.line).toBe(3);
  });

  it('sim --profile with a malformed profile exits 2 naming the file and field', async () => {
    const p = structuredClone(sampleProfile()) as unknown as Record<string, any>;
    p.operators.qkv_proj.times_s[3] = -1;
    const file = path.join(tmp(), 'bad.json');
    fs.writeFileSync(file, JSON.stringify(p));
    const r = await sim('--profile', file, '--trace', SAMPLE, '--limit', '10');
    expect(r.code).toBe(2);
    expect(r.err).toContain(file);
    expect(r.err).toContain('operators.qkv_proj.times_s[3]');
  });

  it('every shipped profile is valid', () => {
    const files = fs.readdirSync(PROFILES).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) expect(() => readProfile(path.join(PROFILES, f))).not.toThrow();
  });
});

/** Strictly increasing grid of 2–12 points and values >= 0. */
const gridArb = fc
  .array(fc.tuple(fc.double({ min: 0.01, max: 100, noNaN: true }), fc.double({ min: 0, max: 10, noNaN: true })), { minLength: 2, maxLength: 12 })
  .map((pts) => {
    const xs: number[] = [];
    let x = 0;
    for (const [dx] of pts) xs.push((x += dx));
    return { xs, ys: pts.map(([, y]) => y) };
  });

describe('interpolation', () => {
  it('is exact on grid points', () => {
    fc.assert(
      fc.property(gridArb, ({ xs, ys }) => {
        const f = new GridInterpolator1D(xs, ys);
        xs.forEach((x, i) => {
          expect(f.at(x)).toBe(ys[i]);
          expect(f.side).toBe(0);
        });
      }),
    );
  });

  it('is monotone between points and stays between the neighbours', () => {
    fc.assert(
      fc.property(gridArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 2, maxLength: 20 }), ({ xs, ys }, us) => {
        const sorted = [...ys].sort((a, b) => a - b); // non-decreasing data
        const f = new GridInterpolator1D(xs, sorted);
        const lo = xs[0];
        const hi = xs[xs.length - 1];
        const qs = us.map((u) => lo + u * (hi - lo)).sort((a, b) => a - b);
        let prev = -Infinity;
        for (const x of qs) {
          const v = f.at(x);
          expect(v).toBeGreaterThanOrEqual(prev - 1e-12);
          prev = v;
          const i = Math.max(0, xs.findIndex((g) => g >= x) - 1);
          expect(v).toBeGreaterThanOrEqual(Math.min(sorted[i], sorted[i + 1] ?? sorted[i]) - 1e-12);
          expect(v).toBeLessThanOrEqual(Math.max(sorted[i], sorted[i + 1] ?? sorted[i]) + 1e-12);
        }
      }),
    );
  });

  it('is linear between two points', () => {
    const f = new GridInterpolator1D([1, 3], [2, 6]);
    expect(f.at(2)).toBeCloseTo(4, 12);
    expect(f.at(1.5)).toBeCloseTo(3, 12);
  });

  it('extrapolates linearly from the last two points, never down, never below 0, never NaN', () => {
    const f = new GridInterpolator1D([1, 2, 4], [1, 2, 6]);
    expect(f.at(6)).toBeCloseTo(10, 12); // slope 2 from (2,2)-(4,6)
    expect(f.side).toBe(1);
    expect(f.at(0.5)).toBeCloseTo(0.5, 12); // slope 1 from (1,1)-(2,2)
    expect(f.side).toBe(-1);
    expect(f.at(-10)).toBe(0);
    const g = new GridInterpolator1D([1, 2], [5, 3]); // falling data: held flat beyond
    expect(g.at(100)).toBe(3);
    expect(g.at(0)).toBe(5);
    for (const x of [NaN, Infinity, -Infinity, 1e300, -1e300]) expect(Number.isNaN(f.at(x))).toBe(false);
    fc.assert(
      fc.property(gridArb, fc.double({ noNaN: false }), ({ xs, ys }, x) => {
        const v = new GridInterpolator1D(xs, ys).at(x);
        expect(Number.isNaN(v)).toBe(false);
        expect(v).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it('2-D: exact on nodes, bilinear inside, extrapolates per axis', () => {
    const z = [[1, 2, 4], [3, 5, 9]];
    const f = new GridInterpolator2D([1, 3], [10, 20, 40], z);
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expect(f.at([1, 3][i], [10, 20, 40][j])).toBe(z[i][j]);
    expect(f.at(2, 15)).toBeCloseTo((1 + 2 + 3 + 5) / 4, 12);
    expect(f.outside).toBe(false);
    // Beyond both axes: along context row 3 slope (9-5)/20 → 9 + 0.2·20 = 13 at (3, 60); row 1: 4 + 0.1·20 = 6;
    // then along batch slope (13-6)/2 → 13 + 3.5·2 = 20 at (5, 60).
    expect(f.at(5, 60)).toBeCloseTo(20, 12);
    expect(f.outside).toBe(true);
    expect(Number.isNaN(f.at(NaN, NaN))).toBe(false);
  });
});

describe('profile cost model', () => {
  const model = getModel('llama-2-7b');
  const gpu = getGpu('a100-80gb');

  function withProfile(p: Profile, tp = 1, m = model) {
    const logs: string[] = [];
    const cm = new ProfileCostModel({ profile: p, file: 'p.json', model: m, gpu, tp, log: (s) => logs.push(s) });
    return { cm, logs };
  }

  it('interpolates covered operators times layers and keeps the rest analytical', () => {
    const { cm, logs } = withProfile(sampleProfile());
    expect(logs).toEqual([]);
    const an = new AnalyticalCostModel({ model, gpu, tp: 1 });
    const b = shapeWith({ prefillTokens: 3, prefillSeqs: 1, prefillAttnPairs: 6, sampledSeqs: 1 });
    const bd = cm.breakdown(b);
    expect(bd.qkv_proj).toBeCloseTo(32 * 1.1e-4, 15);
    const ref = an.breakdown(b);
    for (const op of OPERATORS) if (op !== 'qkv_proj' && op !== 'decode_attn') expect(bd[op]).toBe(ref[op]);
    expect(bd.decode_attn).toBe(0);
    expect(cm.iterationTime(b)).toBeCloseTo(Object.values(bd).reduce((a, x) => a + x, 0) + an.overhead_s, 15);
    // Decode: 4 sequences of mean context 64 → grid node (4, 64).
    const d = shapeWith({ decodeSeqs: 4, decodeKvTokens: 256, sampledSeqs: 4 });
    expect(cm.breakdown(d).decode_attn).toBeCloseTo(32 * 7e-5, 15);
    expect(cm.name).toBe('profile(p.json, llama-2-7b, tp=1)');
  });

  it('warns once per operator when extrapolating, naming the operator and shape; never NaN', () => {
    const { cm, logs } = withProfile(sampleProfile());
    const big = shapeWith({ prefillTokens: 40, prefillSeqs: 1, prefillAttnPairs: 820, sampledSeqs: 1 });
    const t1 = cm.breakdown(big).qkv_proj;
    expect(t1).toBeCloseTo(32 * (4e-4 + (2e-4 / 8) * 24), 12);
    cm.iterationTime(shapeWith({ prefillTokens: 50, prefillSeqs: 1, prefillAttnPairs: 1275, sampledSeqs: 1 }));
    cm.iterationTime(shapeWith({ decodeSeqs: 8, decodeKvTokens: 8 * 1000, sampledSeqs: 8 }));
    cm.iterationTime(shapeWith({ decodeSeqs: 9, decodeKvTokens: 9 * 2000, sampledSeqs: 9 }));
    const q = logs.filter((l) => l.includes('qkv_proj'));
    expect(q).toHaveLength(1);
    expect(q[0]).toContain('tokens=40');
    const dl = logs.filter((l) => l.includes('decode_attn'));
    expect(dl).toHaveLength(1);
    expect(dl[0]).toContain('batch=8');
    expect(dl[0]).toContain('context=1000');
    expect(Number.isNaN(cm.iterationTime(shapeWith({ decodeSeqs: 1e9, decodeKvTokens: 1e15, sampledSeqs: 1 })))).toBe(false);
  });

  it('warns when the profile model or tp differ from the run', () => {
    const { logs } = withProfile(sampleProfile(), 2, getModel('llama-3-8b'));
    expect(logs.join('\n')).toContain("measured for model 'llama-2-7b', this run simulates 'llama-3-8b'");
    expect(logs.join('\n')).toContain('tp=1, this run uses tp=2');
  });

  it('prices prefill attention per request at the equal-pairs sequence length, and all-reduce per call', () => {
    const p = sampleProfile();
    p.operators = {
      prefill_attn: { per: 'layer', axes: ['seq_len'], grid: [[16, 64]], times_s: [1e-5, 4e-5] },
      all_reduce: { per: 'call', axes: ['tokens'], grid: [[1, 100]], times_s: [1e-5, 1e-4] },
    };
    // Two full prefills of 32 tokens: pairs 2 · 32·33/2, equivalent length 32.
    const b = shapeWith({ prefillTokens: 64, prefillSeqs: 2, prefillAttnPairs: 32 * 33, sampledSeqs: 2 });
    expect(equivalentSeqLen(b)).toBeCloseTo(32, 12);
    const tp1 = withProfile(p, 1).cm.breakdown(b);
    expect(tp1.prefill_attn).toBeCloseTo(32 * 2 * (1e-5 + (3e-5 * 16) / 48), 15);
    expect(tp1.all_reduce).toBe(0);
    const tp2 = withProfile(p, 2).cm.breakdown(b);
    expect(tp2.all_reduce).toBeCloseTo((2 * 32 + 1) * (1e-5 + (9e-5 * 63) / 99), 15);
  });

  it('loadProfileCostModel reads a file and routes warnings to the injected logger', () => {
    const file = path.join(tmp(), 'p.json');
    writeProfile(file, sampleProfile());
    const logs: string[] = [];
    const cm = loadProfileCostModel(file, getModel('mistral-7b'), gpu, 1, { log: (s) => logs.push(s) });
    expect(cm.iterationTime(shapeWith({ decodeSeqs: 1, decodeKvTokens: 20, sampledSeqs: 1 }))).toBeGreaterThan(0);
    expect(logs).toHaveLength(1);
  });
});

describe('Vidur import', () => {
  const model = getModel('llama-2-7b');
  const gpu = getGpu('a100-80gb');

  it('reproduces the table times at the measured token counts (tp=1)', () => {
    const rows = readCsvPlain(path.join(L2_7B, 'mlp.csv')).filter((r) => r.num_tensor_parallel_workers === '1');
    const med = (T: number, op: string) => {
      const g = rows.filter((r) => Number(r.num_tokens) === T).map((r) => Number(r[`time_stats.${op}.median`]));
      return g.reduce((a, x) => a + x, 0) / g.length / 1000;
    };
    const logs: string[] = [];
    const p = importVidur(L2_7B, { log: (s) => logs.push(s) });
    expect(p.model).toBe('llama-2-7b');
    expect(p.source).toContain('MIT License, Copyright (c) Microsoft Corporation');
    expect(Object.keys(p.operators).sort()).toEqual(['attn_out_proj', 'embedding', 'mlp_act', 'mlp_down', 'mlp_gate_up', 'norm_rope_residual', 'qkv_proj']);
    const cm = new ProfileCostModel({ profile: p, file: 'v.json', model, gpu, tp: 1, log: (s) => logs.push(s) });
    for (const T of [1, 8, 64, 136, 512, 2048, 4096]) {
      const bd = cm.breakdown(shapeWith({ prefillTokens: T, prefillSeqs: 1, prefillAttnPairs: (T * (T + 1)) / 2, sampledSeqs: 1 }));
      const close = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 + 1e-9 * b);
      close(bd.qkv_proj, 32 * med(T, 'attn_pre_proj'));
      close(bd.attn_out_proj, 32 * med(T, 'attn_post_proj'));
      close(bd.mlp_gate_up, 32 * med(T, 'mlp_up_proj'));
      close(bd.mlp_act, 32 * med(T, 'mlp_act'));
      close(bd.mlp_down, 32 * med(T, 'mlp_down_proj'));
      close(bd.embedding, med(T, 'emb'));
      close(bd.norm_rope_residual, 32 * (med(T, 'input_layernorm') + med(T, 'post_attention_layernorm') + med(T, 'attn_rope') + 2 * med(T, 'add')));
    }
    expect(logs).toEqual([]);
  });

  it('at tp=2 takes the rows of 2 workers and the all-reduce from the network table', () => {
    const p = importVidur(L2_7B, { tp: 2 });
    expect(p.tp).toBe(2);
    const rows = readCsvPlain(path.join(L2_7B, 'mlp.csv')).filter((r) => r.num_tensor_parallel_workers === '2' && r.num_tokens === '1');
    expect((p.operators.qkv_proj!.times_s as number[])[0]).toBeCloseTo(Number(rows[0]['time_stats.attn_pre_proj.median']) / 1000, 12);
    const ar = p.operators.all_reduce!;
    expect(ar.per).toBe('call');
    // 8 MiB all-reduce = 8388608 / (2 · 4096) = 1024 tokens; a100_pairwise_nvlink median 0.074 ms.
    const net = readCsvPlain(path.join(VIDUR_ROOT, 'network/a100_pairwise_nvlink/all_reduce.csv')).filter((r) => r.num_workers === '2' && r.size === '8388608');
    const i = ar.grid[0].indexOf(1024);
    expect(i).toBeGreaterThan(0);
    expect((ar.times_s as number[])[i]).toBeCloseTo(Number(net[0]['time_stats.all_reduce.median']) / 1000, 12);
    expect(readVidurAllReduce(path.join(VIDUR_ROOT, 'network/a100_pairwise_nvlink/all_reduce.csv'), 8, 4096)).toBeUndefined();
  });

  it('rejects a tp the table lacks and an unreadable folder', () => {
    expect(inputError(() => importVidur(L2_7B, { tp: 16 })).field).toBe('--tp');
    expect(inputError(() => importVidur('/nonexistent/folder')).field).toBe('--import-vidur');
  });

  it('the shipped Vidur profiles equal a fresh import', () => {
    for (const [dir, file] of [[L2_7B, 'llama-2-7b-vidur-a100.json'], [L3_8B, 'llama-3-8b-vidur-a100.json']]) {
      const shipped = readProfile(path.join(PROFILES, file));
      const fresh = importVidur(dir, { date: shipped.date });
      expect(fresh.operators).toEqual(shipped.operators);
      expect(fresh.model).toBe(shipped.model);
    }
  });
});

describe('validation against Vidur (A100)', () => {
  /** Held-out MAPE per linear operator, for the report. */
  const figures: string[] = [];

  it.each([
    ['Llama-2-7B', L2_7B, 'llama-2-7b'],
    ['Llama-3-8B', L3_8B, 'llama-3-8b'],
  ])('fitted analytical model (%s): MAPE per linear operator under 10 percent on held-out token counts', (label, dir, name) => {
    const r = validateAgainstVidur('analytical', dir, { log: () => {} });
    expect(r.model).toBe(name);
    expect(r.gpu).toBe('a100-80gb');
    for (const op of LINEAR_OPERATORS) {
      const o = r.operators.find((x) => x.op === op)!;
      expect(o.source).toBe('analytical (fitted)');
      expect(o.n_eval).toBeGreaterThan(o.n_fit);
      expect(o.computeEfficiency).toBeGreaterThan(0.5);
      expect(o.bandwidthEfficiency).toBeGreaterThan(0.5);
      figures.push(`${label} ${op}: ce=${o.computeEfficiency} be=${o.bandwidthEfficiency} held-out MAPE ${(100 * o.mape).toFixed(1)}%`);
      expect(o.mape).toBeLessThan(0.1);
    }
    expect(r.joint!.mape).toBeLessThan(0.1);
    if (figures.length === 8) console.log(figures.join('\n'));
  });

  it('the imported profile reproduces its own table (MAPE ~0)', () => {
    const r = validateAgainstVidur(path.join(PROFILES, 'llama-3-8b-vidur-a100.json'), L3_8B, { log: () => {} });
    expect(r.operators.length).toBe(7);
    for (const o of r.operators) {
      expect(o.source).toBe('profile');
      expect(o.mape).toBeLessThan(1e-9);
    }
  });

  it('fitEfficiencies recovers known constants from synthetic roofline data', () => {
    const T = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096];
    const compute = T.map((t) => t * 1e-7);
    const memory = T.map((t) => 2e-5 + t * 1e-9);
    const y = T.map((_, i) => Math.max(compute[i] / 0.62, memory[i] / 0.81));
    const f = fitEfficiencies(compute, memory, y, 0);
    expect(f.computeEfficiency).toBeCloseTo(0.62, 3);
    expect(f.bandwidthEfficiency).toBeCloseTo(0.81, 3);
    expect(f.mape).toBeLessThan(1e-3);
    expect(mape([1, 2], [1, 4])).toBeCloseTo(0.25, 12);
  });

  it('sim calibrate --validate prints a table, or JSON with --json', async () => {
    let out = '';
    let err = '';
    const cmd = makeCalibrateCommand({ out: sink((s) => (out += s)), err: sink((s) => (err += s)) });
    await yargs(['calibrate', '--validate', 'analytical', '--against', L2_7B]).command(cmd).strict().exitProcess(false).parseAsync();
    expect(out).toMatch(/qkv_proj\s+attn_pre_proj\s+analytical \(fitted\)/);
    out = '';
    await yargs(['calibrate', '--validate', 'analytical', '--against', L2_7B, '--json']).command(cmd).strict().exitProcess(false).parseAsync();
    const r = JSON.parse(out);
    expect(r.operators.map((o: { op: string }) => o.op)).toContain('mlp_down');
    expect(allFinite(r)).toBe(true);
    expect(err).toBe('');
    const bad = await sim('calibrate', '--validate', 'analytical');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('--against');
  });
});

describe('sim --profile end to end', () => {
  it('runs the shipped Vidur profile and gives finite metrics', async () => {
    const r = await sim('--profile', path.join(PROFILES, 'llama-2-7b-vidur-a100.json'), '--trace', SAMPLE, '--limit', '200', '--json');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('NaN');
    const s = JSON.parse(r.out);
    // 10 of the first 200 are longer than llama-2-7b's 4096-token context; the rest complete.
    expect(s.requests).toMatchObject({ completed: 190, rejected: 10, rejected_too_long: 10 });
    expect(allFinite(s)).toBe(true);
    expect(s.ttft_s.mean).toBeGreaterThan(0);
    // Vidur's measured linear layers are close to the analytical defaults: same order of latency.
    const a = JSON.parse((await sim('--trace', SAMPLE, '--limit', '200', '--json')).out);
    expect(s.e2e_s.mean / a.e2e_s.mean).toBeGreaterThan(0.5);
    expect(s.e2e_s.mean / a.e2e_s.mean).toBeLessThan(2);
  });
});

// --- The sweep, with a stand-in kernel API whose "timings" are a known function of the shape. ---

interface FakeCase extends SweepCase {
  kind: string;
}
const fakeTime = (c: FakeCase) => 1e-6 + c.flops / 1e12 + c.bytes / 1e11;

function fakeApi(opts: { refuse?: (kind: string, bytes: number) => boolean } = {}): { api: KernelApi<SweepGpu, FakeCase>; destroyed: () => number } {
  let live = 0;
  const mk = (kind: string, flops: number, bytes: number): FakeCase => {
    if (opts.refuse?.(kind, bytes)) {
      const e = new InputError(`${kind}: too big`, { field: 'shape' });
      e.name = 'DispatchLimitError';
      throw e;
    }
    live++;
    return { kind, name: kind, flops, bytes, destroy: () => void live-- };
  };
  const api: KernelApi<SweepGpu, FakeCase> = {
    createGpu: async () => ({
      adapter: { vendor: '', architecture: '', description: 'fake llvmpipe', backend: 'fake' },
      features: { shaderF16: false },
      device: { limits: { maxStorageBufferBindingSize: 2 ** 30, maxBufferSize: 2 ** 30 } },
      destroy: () => {},
    }),
    timeKernel: async (_ctx, c) => {
      const m = fakeTime(c);
      return { median_s: m, p10_s: 0.9 * m, p90_s: 1.2 * m, repeats: 5, timer: 'wall-clock' };
    },
    matmulCase: (_c, s) => mk('matmul', 2 * s.m * s.n * s.k, 4 * (s.m * s.k + s.k * s.n + s.m * s.n)),
    prefillAttentionCase: (_c, s) => mk('prefill', 2 * s.seqLen * s.seqLen * s.heads * s.headDim, 4 * s.seqLen * (2 * s.heads + 2 * s.kvHeads) * s.headDim),
    decodeAttentionCase: (_c, s) => mk('decode', 4 * s.batch * s.contextLen * s.heads * s.headDim, 8 * s.batch * s.contextLen * s.kvHeads * s.headDim),
    rmsNormCase: (_c, s) => mk('rms', 4 * s.tokens * s.hidden, 8 * s.tokens * s.hidden),
    siluMulCase: (_c, s) => mk('silu', 4 * s.tokens * s.intermediate, 12 * s.tokens * s.intermediate),
    residualAddCase: (_c, s) => mk('add', s.tokens * s.hidden, 12 * s.tokens * s.hidden),
    ropeCase: (_c, s) => mk('rope', 6 * s.tokens * (s.heads + s.kvHeads) * s.headDim, 8 * s.tokens * (s.heads + s.kvHeads) * s.headDim),
  };
  return { api, destroyed: () => live };
}

describe('calibration sweep', () => {
  const model = getModel('llama-2-7b');

  it('shrinks a model and plans powers-of-two grids for --quick', () => {
    const a = shrinkArchitecture(model, 16);
    expect(a).toEqual({ layers: 32, hidden: 256, heads: 2, kvHeads: 2, headDim: 128, intermediate: 688, vocab: 2000 });
    expect(shrinkArchitecture(getModel('llama-3-8b'), 16).kvHeads).toBe(1);
    expect(inputError(() => shrinkArchitecture(model, 3)).field).toBe('--shrink');
    expect(sizeGrid(1, 64, true)).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect(sizeGrid(1, 16, false)).toEqual([1, 2, 3, 4, 6, 8, 12, 16]);
    expect(sizeGrid(1, 8192, false).at(-1)).toBe(8192);
  });

  it('times every shape and writes a profile that reproduces the timings', async () => {
    const { api, destroyed } = fakeApi();
    const ctx = await api.createGpu();
    const arch = shrinkArchitecture(model, 16);
    const o = sweepDefaults(true);
    const plan = planSweep(arch, 'llama-2-7b/16', 1, o, 2 ** 30);
    const seen: number[] = [];
    const p = await runSweep(api, ctx, plan, o, { onProgress: (d) => seen.push(d) });
    expect(destroyed()).toBe(0);
    expect(seen.at(-1)).toBe(plan.points.length);
    const file = path.join(tmp(), 'fake.json');
    writeProfile(file, p);
    const back = readProfile(file);
    expect(back.source).toBe('measured');
    expect(back.model).toBe('llama-2-7b/16');
    expect(back.timer).toBe('wall-clock');
    expect(Object.keys(back.operators).sort()).toEqual(
      ['attn_out_proj', 'decode_attn', 'lm_head', 'mlp_act', 'mlp_down', 'mlp_gate_up', 'norm_rope_residual', 'prefill_attn', 'qkv_proj'],
    );
    const ops = back.operators;
    const r6 = (x: number) => Number(x.toPrecision(6));
    // QKV at 64 tokens: m=64, k=hidden 256, n=(2 + 2·2)·128 = 768.
    const mm = (m: number, k: number, n: number) => r6(fakeTime({ kind: '', name: '', flops: 2 * m * n * k, bytes: 4 * (m * k + k * n + m * n), destroy() {} }));
    expect(ops.qkv_proj!.grid[0]).toEqual([1, 2, 4, 8, 16, 32, 64]);
    expect((ops.qkv_proj!.times_s as number[])[6]).toBe(mm(64, 256, 768));
    expect((ops.attn_out_proj!.times_s as number[])[0]).toBe(mm(1, 256, 256));
    expect((ops.mlp_gate_up!.times_s as number[])[3]).toBe(mm(8, 256, 1376));
    expect((ops.mlp_down!.times_s as number[])[2]).toBe(mm(4, 688, 256));
    expect((ops.lm_head!.times_s as number[])[1]).toBe(mm(2, 256, 2000));
    expect(ops.lm_head!.per).toBe('iteration');
    // norm_rope_residual at 2 tokens: 2 RMSNorm + 2 adds + rotary.
    const t = 2;
    const norm = 2 * (1e-6 + (4 * t * 256) / 1e12 + (8 * t * 256) / 1e11) + 2 * (1e-6 + (t * 256) / 1e12 + (12 * t * 256) / 1e11) + (1e-6 + (6 * t * 4 * 128) / 1e12 + (8 * t * 4 * 128) / 1e11);
    expect((ops.norm_rope_residual!.times_s as number[])[1]).toBeCloseTo(norm, 9);
    expect(ops.decode_attn!.grid).toEqual([[1, 2, 4, 8], [16, 64]]);
    expect((ops.decode_attn!.times_s as number[][])[3][1]).toBe(r6(1e-6 + (4 * 8 * 64 * 2 * 128) / 1e12 + (8 * 8 * 64 * 2 * 128) / 1e11));
    expect(ops.prefill_attn!.grid).toEqual([[16, 32, 64]]);
    // The profile drives a cost model for the shrunk model without NaN.
    const logs: string[] = [];
    const cm = new ProfileCostModel({ profile: back, file, model, gpu: getGpu('a100-80gb'), tp: 1, log: (s) => logs.push(s) });
    expect(Number.isFinite(cm.iterationTime(shapeWith({ prefillTokens: 100, prefillSeqs: 1, prefillAttnPairs: 5050, sampledSeqs: 1 })))).toBe(true);
    expect(logs[0]).toContain("measured for model 'llama-2-7b/16'");
  });

  it('skips shapes the device refuses, keeping the rest of the grid', async () => {
    const { api } = fakeApi({ refuse: (kind, bytes) => kind === 'silu' && bytes > 12 * 16 * 688 });
    const ctx = await api.createGpu();
    const o = sweepDefaults(true);
    const plan = planSweep(shrinkArchitecture(model, 16), 'llama-2-7b/16', 1, o, 2 ** 30);
    const p = await runSweep(api, ctx, plan, o);
    expect(p.operators.mlp_act!.grid[0]).toEqual([1, 2, 4, 8, 16]);
    expect(p.notes).toContain('mlp_act tokens=32');
    expect(validateProfile(p, 'x')).toBe(p);
  });

  it('names adapters for file names', () => {
    expect(adapterSlug({ vendor: '', architecture: '', description: 'llvmpipe-llvm-15-0-6-256-bits- / OpenGL ES 3.2 Mesa', backend: 'opengles' })).toBe('llvmpipe');
    expect(adapterSlug({ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100', backend: 'vulkan' })).toBe('nvidia-hopper');
    expect(adapterSlug({ vendor: '', architecture: '', description: '', backend: 'metal' })).toBe('metal');
  });

  it('sim calibrate without an adapter exits 2 with the no-adapter message', async () => {
    let err = '';
    const cmd = makeCalibrateCommand({
      out: sink(() => {}),
      err: sink((s) => (err += s)),
      loadKernels: async () => ({
        ...fakeApi().api,
        createGpu: async () => {
          throw new InputError('no WebGPU adapter could be created; tried vulkan (core): no adapter', { field: 'gpu' });
        },
      }) as unknown as KernelApi,
    });
    const e = await yargs(['calibrate', '--model', 'llama-2-7b', '--quick']).command(cmd).exitProcess(false).fail((m, x) => { throw x ?? new Error(m); }).parseAsync().catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InputError);
    expect((e as Error).message).toContain('no WebGPU adapter');
    expect(err).toBe('');
  });
});

describe('sweep on this machine (WGSL kernels)', () => {
  // One GPU device per process: Dawn's OpenGL ES backend (llvmpipe) crashes when a second device is
  // created after the first is destroyed, so the adapter is not probed separately.
  it('sim calibrate --quick --model llama-2-7b --shrink 32 --max-tokens 8 writes a valid profile', async (ctx) => {
    const out = path.join(tmp(), 'quick.json');
    const t0 = performance.now();
    const r = await sim('calibrate', '--quick', '--model', 'llama-2-7b', '--shrink', '32', '--max-tokens', '8', '--max-batch', '4', '--repeats', '3', '--out', out);
    const secs = (performance.now() - t0) / 1000;
    if (r.code === 2 && r.err.includes('no WebGPU adapter')) {
      console.warn(`skipped: no WebGPU adapter could be created here: ${r.err.trim()}`);
      ctx.skip();
      return;
    }
    expect(r.err).not.toMatch(/^sim: (?!warning)/m);
    expect(r.code).toBe(0);
    const p = readProfile(out);
    expect(p.source).toBe('measured');
    expect(p.model).toBe('llama-2-7b/32');
    expect(p.architecture).toEqual({ layers: 32, hidden: 128, heads: 1, kvHeads: 1, headDim: 128, intermediate: 344, vocab: 1000 });
    expect(p.operators.qkv_proj!.grid[0]).toEqual([1, 2, 4, 8]);
    expect(Object.keys(p.operators).sort()).toEqual(
      ['attn_out_proj', 'decode_attn', 'lm_head', 'mlp_act', 'mlp_down', 'mlp_gate_up', 'norm_rope_residual', 'prefill_attn', 'qkv_proj'],
    );
    expect(allFinite(p.operators)).toBe(true);
    for (const op of Object.values(p.operators)) expect((op!.times_s as number[]).flat().every((t) => t > 0)).toBe(true);
    console.log(`sim calibrate --quick on ${p.adapter.description} (${p.timer}): ${secs.toFixed(1)} s`);
  }, 120_000);
});

// Keep the operator list honest: every analytical operator has axes and units in the format.
it('the format covers every analytical operator', async () => {
  const { OPERATOR_AXES, OPERATOR_UNITS } = await import('../calibrate/profile.ts');
  for (const op of OPERATORS as readonly OperatorName[]) {
    expect(OPERATOR_AXES[op].length).toBeGreaterThan(0);
    expect(OPERATOR_UNITS[op].length).toBeGreaterThan(0);
  }
});
