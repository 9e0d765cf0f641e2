/**
 * `--resample` (traces/resample.ts): a bootstrap of the requests that keeps the arrival times; each
 * resampled request is one of the trace's (lengths and extra columns together); a hand-worked draw
 * sequence picks the expected requests; program traces are refused; a sweep never collapses the
 * seeds of a resampled task; `sim run --resample` records it in config.json.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import seedrandom from 'seedrandom';
import { resampleTrace } from '../traces/resample.ts';
import { generateProgramTrace } from '../traces/generators.ts';
import { seedMatters } from '../app/sweep/sweep.ts';
import { normalizeOptions } from '../app/config.ts';
import type { Summary } from '../sim/metrics.ts';
import { InputError } from '../sim/errors.ts';
import { makeTrace, runSim } from './helpers.ts';

describe('--resample', () => {
  it('keeps arrivals and draws whole requests: a hand-worked draw sequence', () => {
    const t = makeTrace([0, 1, 2, 3], [10, 20, 30, 40], [1, 2, 3, 4]);
    t.extra = { tag: ['a', 'b', 'c', 'd'] };
    // Draws 0.9, 0.1, 0.5, 0.74 with n = 4 pick requests 3, 0, 2, 2.
    const u = [0.9, 0.1, 0.5, 0.74];
    let k = 0;
    const r = resampleTrace(t, () => u[k++]);
    expect([...r.arrival_s]).toEqual([0, 1, 2, 3]);
    expect([...r.prompt_tokens]).toEqual([40, 10, 30, 30]);
    expect([...r.output_tokens]).toEqual([4, 1, 3, 3]);
    expect(r.extra.tag).toEqual(['d', 'a', 'c', 'c']);
    expect([...t.prompt_tokens]).toEqual([10, 20, 30, 40]); // the input is left as it was
  });

  it('every resampled request is one of the trace; the same seed gives the same trace, another seed another', () => {
    const n = 500;
    const t = makeTrace(Array.from({ length: n }, (_, i) => i * 0.1), Array.from({ length: n }, (_, i) => 1 + i), Array.from({ length: n }, (_, i) => 1 + 2 * i));
    const a = resampleTrace(t, seedrandom.alea('1:resample'));
    const b = resampleTrace(t, seedrandom.alea('1:resample'));
    const c = resampleTrace(t, seedrandom.alea('2:resample'));
    expect([...a.prompt_tokens]).toEqual([...b.prompt_tokens]);
    expect([...a.prompt_tokens]).not.toEqual([...c.prompt_tokens]);
    for (let i = 0; i < n; i++) expect(a.output_tokens[i]).toBe(2 * a.prompt_tokens[i] - 1);
    // With replacement: about n(1 - 1/e) ≈ 316 distinct requests (binomial spread about 10).
    const distinct = new Set(a.prompt_tokens).size;
    expect(distinct).toBeGreaterThan(270);
    expect(distinct).toBeLessThan(360);
  });

  it('refuses a program trace; a resampled task always counts its seed', () => {
    const p = generateProgramTrace({ kind: 'react', programs: 3, rate: 1, seed: 'x' });
    expect(() => resampleTrace(p, Math.random)).toThrow(InputError);
    expect(() => resampleTrace(p, Math.random)).toThrow(/--resample: cannot resample a program trace/);
    const summary = { sim: { wall_s: 0, events: 0, iterations: 0, random_draws: 0 } } as Summary;
    const o = normalizeOptions({ policy: 'fcfs', trace: 'x.csv' });
    expect(seedMatters(o, summary)).toBe(false);
    expect(seedMatters({ ...o, resample: true }, summary)).toBe(true);
  });

  it('sim run --resample: seeds give different runs, recorded in config.json', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-resample-'));
    const trace = path.resolve('traces/azure-conv-2000.csv');
    const outs = [];
    for (const seed of ['1', '2']) {
      const r = await runSim('--trace', trace, '--limit', '200', '--resample', '--seed', seed, '--json', '--out', path.join(dir, seed));
      expect(r.code).toBe(0);
      outs.push(JSON.parse(fs.readFileSync(path.join(dir, seed, 'summary.json'), 'utf8')) as Summary);
      expect(JSON.parse(fs.readFileSync(path.join(dir, seed, 'config.json'), 'utf8')).resample).toBe(true);
    }
    expect(outs[0].e2e_s.mean).not.toBe(outs[1].e2e_s.mean);
    expect(outs[0].requests.total).toBe(200);
  }, 60_000);
});
