/**
 * Run provenance (config.json's version and trace hash), GPU-hours and cost per million tokens,
 * and the `--compress-idle` trace transform: hand-worked examples and independent recomputations.
 */
import { describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeTrace, runSim } from './helpers.ts';
import { readTrace, transformTrace } from '../traces/index.ts';
import { runCost } from '../sim/cost/index.ts';
import { runProvenance } from '../app/provenance.ts';
import { normalizeOptions, readRunConfig } from '../app/config.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'runinfo-'));
const sha256 = (b: Buffer | string) => crypto.createHash('sha256').update(b).digest('hex');

describe('--compress-idle', () => {
  it('caps every gap at S exactly, keeps the order and reports the time removed (hand-worked)', () => {
    // Gaps 1, 10, 0.5, 18.5 capped at 2: 1, 2, 0.5, 2; removed (10 − 2) + (18.5 − 2) = 24.5 s from 2 gaps.
    const t = makeTrace([0, 1, 11, 11.5, 30], [1, 2, 3, 4, 5], [5, 4, 3, 2, 1]);
    const c = transformTrace(t, { max_gap_s: 2 });
    expect(Array.from(c.arrival_s)).toEqual([0, 1, 3, 3.5, 5.5]);
    expect(Array.from(c.prompt_tokens)).toEqual([1, 2, 3, 4, 5]);
    expect(c.idle_removed_s).toBe(24.5);
    expect(c.warnings.at(-1)).toBe('--compress-idle 2: removed 24.5 s of idle time from 2 gaps between requests longer than 2 s');
    expect(Array.from(t.arrival_s)).toEqual([0, 1, 11, 11.5, 30]); // the input is not changed
  });

  it('applies after --rate-scale (S in the scaled seconds) and S = 0 puts every arrival at 0', () => {
    // /2: 0, 0.5, 5.5, 5.75, 15; gaps 0.5, 5, 0.25, 9.25 capped at 2: removed 3 + 7.25.
    const t = makeTrace([0, 1, 11, 11.5, 30], [1, 1, 1, 1, 1], [1, 1, 1, 1, 1]);
    const c = transformTrace(t, { rate_scale: 2, max_gap_s: 2 });
    expect(Array.from(c.arrival_s)).toEqual([0, 0.5, 2.5, 2.75, 4.75]);
    expect(c.idle_removed_s).toBe(10.25);
    const z = transformTrace(t, { max_gap_s: 0 });
    expect(Array.from(z.arrival_s)).toEqual([0, 0, 0, 0, 0]);
    expect(z.idle_removed_s).toBe(30);
  });

  it('on a program trace caps the gaps between programs and moves every call with its program', async () => {
    const t = await readTrace('traces/react-100.jsonl');
    const p = t.programs!;
    const S = 1;
    const c = transformTrace(t, { max_gap_s: S });
    const firstOf = (tr: typeof t) => {
      const first = new Array<number>(p.count).fill(Infinity);
      for (let i = 0; i < tr.n; i++) first[p.program[i]] = Math.min(first[p.program[i]], tr.arrival_s[i]);
      return first;
    };
    const before = firstOf(t);
    const after = firstOf(c);
    const order = before.map((_, k) => k).sort((x, y) => before[x] - before[y] || x - y);
    let removed = 0;
    for (let j = 1; j < order.length; j++) {
      const gap = before[order[j]] - before[order[j - 1]];
      removed += Math.max(0, gap - S);
      const newGap = after[order[j]] - after[order[j - 1]];
      expect(newGap).toBeCloseTo(Math.min(gap, S), 9); // capped, order kept
    }
    expect(removed).toBeGreaterThan(0);
    expect(c.idle_removed_s).toBeCloseTo(removed, 9);
    // Every call keeps its program's arrival (the first call's).
    for (let i = 0; i < c.n; i++) expect(c.arrival_s[i]).toBe(after[p.program[i]]);
  });

  it('refuses a negative or non-number S with one line naming the flag', async () => {
    expect(() => transformTrace(makeTrace([0, 1], [1, 1], [1, 1]), { max_gap_s: -1 })).toThrow(/--compress-idle: must be a finite number of seconds >= 0, got -1/);
    for (const v of ['-1', 'abc']) {
      const r = await runSim('--trace', 'traces/azure-conv-2000.csv', `--compress-idle=${v}`);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toMatch(/^sim: --compress-idle: must be a number in \[0, /);
    }
  });
});

describe('GPU-hours and cost per million tokens', () => {
  it('runCost: gpus × makespan / 3600, and cost per million tokens (hand-worked)', () => {
    // 16 GPUs (4 replicas × tp 2 × pp 2) for 450 s = 2 GPU-hours; at $3/h $6; 1.5M output tokens → $4/M, 3M total → $2/M.
    const c = runCost(4 * 2 * 2, 450, 3, { output: 1_500_000, total: 3_000_000 });
    expect(c).toEqual({ gpu_hours: 2, gpu_price_usd_per_hour: 3, usd_per_million_tokens: { output: 4, total: 2 } });
    expect(runCost(1, 3600, undefined, { output: 10, total: 20 })).toEqual({ gpu_hours: 1, gpu_price_usd_per_hour: null, usd_per_million_tokens: { output: null, total: null } });
    expect(runCost(1, 0, 2, { output: 0, total: 0 }).usd_per_million_tokens).toEqual({ output: null, total: null });
  });

  it('a run on a linear cost model: makespan, GPU-hours and $/M tokens as worked by hand', { timeout: 60_000 }, async () => {
    // Two requests at t = 0, prompt 10 and output 5 each, one batch: 1 prefill + 4 decode iterations of
    // 0.01 s (base only) = 0.05 s. One replica at tp 2 holds 2 GPUs: 2 × 0.05 / 3600 GPU-hours;
    // at $3.6/GPU-hour that is $1e-4: per million of 10 output tokens $10, of 30 total tokens $10/3.
    const d = tmp();
    const trace = path.join(d, 't.csv');
    fs.writeFileSync(trace, 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n0,10,5\n');
    const r = await runSim('--trace', trace, '--tp', '2', '--cost-model', 'linear:base=0.01,prefill=0,decode=0', '--gpu-price', '3.6', '--json');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.makespan_s).toBeCloseTo(0.05, 12);
    expect(s.gpu_hours).toBeCloseTo((2 * 0.05) / 3600, 15);
    expect(s.gpu_price_usd_per_hour).toBe(3.6);
    expect(s.usd_per_million_tokens.output).toBeCloseTo(10, 9);
    expect(s.usd_per_million_tokens.total).toBeCloseTo(10 / 3, 9);
    // Without --gpu-price the GPU's default (sim/cost/gpus.ts: A100-80GB $40.96572 / 8 per hour).
    const dflt = JSON.parse((await runSim('--trace', trace, '--cost-model', 'linear:base=0.01,prefill=0,decode=0', '--json')).out);
    expect(dflt.gpu_price_usd_per_hour).toBeCloseTo(40.96572 / 8, 12);
    // GPUs = replicas × tp × pp: 3 replicas at tp 2 hold 6 for the makespan.
    const many = JSON.parse((await runSim('--trace', trace, '--tp', '2', '--replicas', '3', '--cost-model', 'linear:base=0.01,prefill=0,decode=0', '--json')).out);
    expect(many.gpu_hours).toBeCloseTo((6 * many.makespan_s) / 3600, 15);
    // The text summary carries the line too.
    const text = await runSim('--trace', trace, '--tp', '2', '--cost-model', 'linear:base=0.01,prefill=0,decode=0', '--gpu-price', '3.6');
    expect(text.out).toMatch(/GPU cost +0\.00002778 GPU-hours at \$3\.600\/GPU-hour = \$10\.000 per million output tokens, \$3\.333 per million tokens/);
  });
});

describe('provenance in config.json', () => {
  it('records the version and the sha256 of the trace bytes; the hash changes with the trace; replays ignore both', { timeout: 60_000 }, async () => {
    const d = tmp();
    const trace = path.join(d, 't.csv');
    const text = 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n0.5,20,3\n';
    fs.writeFileSync(trace, text);
    const r = await runSim('--trace', trace, '--cost-model', 'linear:base=0.01,prefill=0,decode=0', '--out', path.join(d, 'a'));
    expect(r.code).toBe(0);
    const cfg = JSON.parse(fs.readFileSync(path.join(d, 'a', 'config.json'), 'utf8'));
    expect(cfg['trace-sha256']).toBe(sha256(text));
    expect(cfg['llmsched-version']).toBe(JSON.parse(fs.readFileSync('package.json', 'utf8')).version);
    const again = await runProvenance(normalizeOptions({ trace }));
    expect(again['trace-sha256']).toBe(cfg['trace-sha256']); // stable
    fs.writeFileSync(trace, text.replace('0.5,20,3', '0.5,21,3'));
    expect((await runProvenance(normalizeOptions({ trace })))['trace-sha256']).not.toBe(cfg['trace-sha256']);
    // A replay reads past the record keys (and the idle time a compression removed).
    fs.writeFileSync(path.join(d, 'c.json'), JSON.stringify({ ...cfg, 'idle-removed-s': 3 }));
    const back = readRunConfig(path.join(d, 'c.json'));
    expect(back).not.toHaveProperty('trace-sha256');
    expect(back).not.toHaveProperty('llmsched-version');
    expect(back).not.toHaveProperty('idle-removed-s');
    expect(back.trace).toBe(trace);
  });

  it('hashes a synthetic workload by its spec: same spec same hash, another seed another', async () => {
    const spec = { synthetic: 'poisson', rate: 5, 'num-requests': 100 } as const;
    const a = await runProvenance(normalizeOptions({ ...spec }));
    const b = await runProvenance(normalizeOptions({ ...spec }));
    const c = await runProvenance(normalizeOptions({ ...spec, seed: 2 }));
    expect(a['trace-sha256']).toMatch(/^[0-9a-f]{64}$/);
    expect(b['trace-sha256']).toBe(a['trace-sha256']);
    expect(c['trace-sha256']).not.toBe(a['trace-sha256']);
  });

  it('records the idle time --compress-idle removed in config.json and summary.json', { timeout: 60_000 }, async () => {
    const d = tmp();
    const trace = path.join(d, 't.csv');
    fs.writeFileSync(trace, 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n100,10,5\n');
    const r = await runSim('--trace', trace, '--cost-model', 'linear:base=0.01,prefill=0,decode=0', '--compress-idle', '1', '--out', path.join(d, 'o'));
    expect(r.code).toBe(0);
    expect(r.err).toContain('sim: warning: --compress-idle 1: removed 99 s of idle time from 1 gap between requests longer than 1 s');
    expect(JSON.parse(fs.readFileSync(path.join(d, 'o', 'config.json'), 'utf8'))['idle-removed-s']).toBe(99);
    const s = JSON.parse(fs.readFileSync(path.join(d, 'o', 'summary.json'), 'utf8'));
    expect(s.idle_removed_s).toBe(99);
    expect(s.makespan_s).toBeCloseTo(1.05, 12); // second request at 1 s, 5 iterations of 0.01 s
  });
});
