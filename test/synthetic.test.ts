/**
 * Synthetic traces and length distributions: determinism, and sample statistics within 3 standard
 * errors of the theoretical values.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { describe, expect, it } from 'vitest';
import { InputError } from '../sim/errors.ts';
import {
  interArrivalCv,
  meanRate,
  parseLengthDistribution,
  readTrace,
  syntheticTrace,
  type SyntheticSpec,
} from '../traces/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, '..', 'traces', 'azure-conv-2000.csv');

function stats(a: ArrayLike<number>): { mean: number; sd: number; se: number } {
  const n = a.length;
  let s = 0;
  for (let i = 0; i < n; i++) s += a[i];
  const mean = s / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (a[i] - mean) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  return { mean, sd, se: sd / Math.sqrt(n) };
}

function gaps(a: Float64Array): Float64Array {
  const g = new Float64Array(a.length - 1);
  for (let i = 1; i < a.length; i++) g[i - 1] = a[i] - a[i - 1];
  return g;
}

describe('syntheticTrace', () => {
  const spec: SyntheticSpec = { arrival: 'poisson', rate: 5, n: 2000, seed: 7 };

  it('is deterministic: same spec → identical trace; another seed → different', () => {
    const a = syntheticTrace(spec);
    const b = syntheticTrace({ ...spec });
    expect(b.arrival_s).toEqual(a.arrival_s);
    expect(b.prompt_tokens).toEqual(a.prompt_tokens);
    expect(b.output_tokens).toEqual(a.output_tokens);
    expect(b.source).toBe(a.source);
    expect(syntheticTrace({ ...spec, seed: '7' }).arrival_s).toEqual(a.arrival_s);
    const c = syntheticTrace({ ...spec, seed: 8 });
    expect(c.arrival_s).not.toEqual(a.arrival_s);
    expect(c.prompt_tokens).not.toEqual(a.prompt_tokens);
    const g1 = syntheticTrace({ ...spec, arrival: 'gamma', cv: 3, prompt: 'uniform:1,100', output: 'geometric:20' });
    const g2 = syntheticTrace({ ...spec, arrival: 'gamma', cv: 3, prompt: 'uniform:1,100', output: 'geometric:20' });
    expect(g2).toEqual(g1);
  });

  it('has the Trace shape: n requests, first arrival 0, non-decreasing, tokens >= 1', () => {
    const t = syntheticTrace({ ...spec, prompt: 'exponential:3', output: 'pareto:1,1.2' });
    expect(t.format).toBe('synthetic');
    expect(t.n).toBe(2000);
    expect(t.arrival_s.length).toBe(2000);
    expect(t.arrival_s[0]).toBe(0);
    for (let i = 1; i < t.n; i++) expect(t.arrival_s[i] >= t.arrival_s[i - 1]).toBe(true);
    expect(Math.min(...t.prompt_tokens)).toBeGreaterThanOrEqual(1);
    expect(Math.min(...t.output_tokens)).toBeGreaterThanOrEqual(1);
    expect(t.extra).toEqual({});
    expect(t.skipped).toEqual({});
    expect(t.source).toContain('poisson');
  });

  it('keeps arrivals when only the length spec changes (independent streams)', () => {
    const a = syntheticTrace({ ...spec, prompt: 'const:5' });
    const b = syntheticTrace({ ...spec, prompt: 'lognormal:3,1' });
    expect(b.arrival_s).toEqual(a.arrival_s);
    expect(b.output_tokens).toEqual(a.output_tokens);
  });

  it('Poisson: mean rate within 3 SE over 20k requests, inter-arrival CV ≈ 1', () => {
    for (const [rate, seed] of [
      [5, 1],
      [0.2, 'x'],
      [300, 99],
    ] as const) {
      const n = 20001;
      const t = syntheticTrace({ arrival: 'poisson', rate, n, seed });
      // The mean gap has SE (1/rate)/sqrt(n−1); the rate (n−1)/span inherits the same relative SE.
      const relSe = 1 / Math.sqrt(n - 1);
      expect(Math.abs(meanRate(t.arrival_s) / rate - 1)).toBeLessThan(3 * relSe);
      const g = stats(gaps(t.arrival_s));
      expect(Math.abs(g.mean - 1 / rate)).toBeLessThan(3 * g.se);
      expect(interArrivalCv(t.arrival_s)).toBeGreaterThan(0.96);
      expect(interArrivalCv(t.arrival_s)).toBeLessThan(1.04);
    }
  });

  it('Gamma: mean rate within 3 SE and inter-arrival CV ≈ the requested CV', () => {
    for (const [cv, seed] of [
      [0.5, 3],
      [2, 4],
      [undefined, 5], // default 2
    ] as const) {
      const n = 20001;
      const rate = 10;
      const t = syntheticTrace({ arrival: 'gamma', rate, cv, n, seed });
      const want = cv ?? 2;
      const g = stats(gaps(t.arrival_s));
      expect(Math.abs(g.mean - 1 / rate)).toBeLessThan(3 * g.se);
      expect(Math.abs(interArrivalCv(t.arrival_s) / want - 1)).toBeLessThan(want > 1 ? 0.1 : 0.03);
      expect(t.source).toContain(`cv=${want}`);
    }
  });

  it('resampling from a trace only yields (prompt, output) pairs present in it', async () => {
    const src = await readTrace(SAMPLE);
    const pairs = new Set<string>();
    for (let i = 0; i < src.n; i++) pairs.add(`${src.prompt_tokens[i]},${src.output_tokens[i]}`);
    const t = syntheticTrace({ arrival: 'poisson', rate: 2, n: 5000, lengths_from: src, seed: 11 });
    const seen = new Set<string>();
    for (let i = 0; i < t.n; i++) {
      const k = `${t.prompt_tokens[i]},${t.output_tokens[i]}`;
      if (!pairs.has(k)) throw new Error(`pair ${k} not in the trace`);
      seen.add(k);
    }
    expect(seen.size).toBeGreaterThan(1000); // with replacement, most of the 2,000 pairs come up
    // The sample mean of resampled prompts is within 3 SE of the source mean.
    const s = stats(src.prompt_tokens);
    expect(Math.abs(stats(t.prompt_tokens).mean - s.mean)).toBeLessThan((3 * s.sd) / Math.sqrt(t.n));
    expect(syntheticTrace({ arrival: 'poisson', rate: 2, n: 5000, lengths_from: src, seed: 11 })).toEqual(t);
  });

  it('rejects bad specs with InputError naming the option', async () => {
    const src = await readTrace(SAMPLE);
    const bad: [Partial<SyntheticSpec>, string][] = [
      [{ arrival: 'weibull' as 'poisson' }, '--arrival'],
      [{ rate: 0 }, '--rate'],
      [{ rate: -1 }, '--rate'],
      [{ rate: NaN }, '--rate'],
      [{ n: 0 }, '--n'],
      [{ n: 2.5 }, '--n'],
      [{ arrival: 'gamma', cv: 0 }, '--cv'],
      [{ arrival: 'gamma', cv: Infinity }, '--cv'],
      [{ prompt: 'zipf:2' }, '--prompt'],
      [{ output: 'const:0' }, '--output'],
      [{ lengths_from: src, prompt: 'const:3' }, '--lengths-from'],
    ];
    for (const [x, field] of bad) {
      let err: unknown;
      try {
        syntheticTrace({ ...spec, ...x });
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(Object.keys(x))).toBeInstanceOf(InputError);
      expect((err as InputError).field).toBe(field);
    }
  });
});

describe('parseLengthDistribution', () => {
  const N = 20000;
  const draw = (spec: string, seed = 'd'): Int32Array => {
    const f = parseLengthDistribution(spec, '--prompt');
    const rng = seedrandom.alea(seed);
    const out = new Int32Array(N);
    for (let i = 0; i < N; i++) out[i] = f(rng);
    return out;
  };
  const expectMean = (spec: string, theory: number): void => {
    const s = stats(draw(spec));
    expect(Math.abs(s.mean - theory), `${spec}: mean ${s.mean} vs ${theory} (SE ${s.se})`).toBeLessThan(3 * s.se);
  };

  it('const:V', () => {
    expect(new Set(draw('const:7'))).toEqual(new Set([7]));
  });

  it('uniform:A,B — inclusive integers, mean (A+B)/2', () => {
    const x = draw('uniform:10,20');
    expect(Math.min(...x)).toBe(10);
    expect(Math.max(...x)).toBe(20);
    expectMean('uniform:10,20', 15);
    expect(new Set(draw('uniform:3,3'))).toEqual(new Set([3]));
  });

  it('exponential:MEAN — mean of max(1, round(X)) in closed form', () => {
    for (const m of [200, 2]) {
      // E[max(1, round X)] = 1 + Σ_{k≥2} P(X ≥ k − ½) = 1 + e^{−1.5/m} / (1 − e^{−1/m})
      const theory = 1 + Math.exp(-1.5 / m) / (1 - Math.exp(-1 / m));
      expectMean(`exponential:${m}`, theory);
    }
  });

  it('geometric:MEAN — on 1, 2, ..., mean MEAN', () => {
    const x = draw('geometric:50');
    expect(Math.min(...x)).toBe(1);
    expectMean('geometric:50', 50);
    expect(new Set(draw('geometric:1'))).toEqual(new Set([1]));
  });

  it('lognormal:MU,SIGMA — mean exp(MU + SIGMA²/2)', () => {
    expectMean('lognormal:5,0.5', Math.exp(5 + 0.125));
    expectMean('lognormal:6.6,0.9', Math.exp(6.6 + 0.405));
  });

  it('pareto:XM,ALPHA — mean ALPHA·XM/(ALPHA−1), never below XM', () => {
    const x = draw('pareto:100,4');
    expect(Math.min(...x)).toBeGreaterThanOrEqual(100);
    expectMean('pareto:100,4', (4 * 100) / 3);
  });

  it('accepts spaces and upper-case names; is deterministic for a seed', () => {
    expect(draw(' LogNormal: 5 , 1 ')).toEqual(draw('lognormal:5,1'));
    expect(draw('lognormal:5,1', 'a')).not.toEqual(draw('lognormal:5,1', 'b'));
  });

  it('samples are integers in range for any uniform:A,B (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e6 }), fc.integer({ min: 0, max: 1e6 }), fc.string(), (a, d, seed) => {
        const f = parseLengthDistribution(`uniform:${a},${a + d}`, '--output');
        const rng = seedrandom.alea(seed);
        for (let i = 0; i < 50; i++) {
          const v = f(rng);
          if (!Number.isInteger(v) || v < a || v > a + d) return false;
        }
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('bad specs throw InputError naming the field and the valid forms', () => {
    for (const spec of [
      '',
      'const',
      'const:',
      'const:0',
      'const:1,2',
      'const:x',
      'uniform:5,2',
      'uniform:0,3',
      'uniform:1.5,3',
      'uniform:1',
      'exponential:-1',
      'exponential:0',
      'geometric:0.5',
      'lognormal:1',
      'lognormal:1,-1',
      'pareto:0,2',
      'pareto:1,0',
      'zipf:1.1',
      'exponential:Infinity',
    ]) {
      let err: unknown;
      try {
        parseLengthDistribution(spec, '--output');
      } catch (e) {
        err = e;
      }
      expect(err, spec).toBeInstanceOf(InputError);
      expect((err as InputError).field).toBe('--output');
      expect((err as InputError).message).toContain('valid forms');
      expect((err as InputError).message).toContain('lognormal:MU,SIGMA');
    }
  });
});
