/**
 * Length predictors (docs/spec.md §3–§7) against independent truths: SSJF's released
 * predictions (shared/reference/ssjf-predictions: accuracy, Kendall τ-b, confusion counts), the
 * real Azure conversation trace's lengths, closed forms of the noise models (exponential
 * predictor, log-normal MAE, Gaussian copula τ), scipy reference values for Φ and Φ⁻¹, and an
 * O(n²) brute-force Kendall τ-b.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InputError } from '../sim/errors.ts';
import { readTrace, type Trace } from '../traces/index.ts';
import type { Predictor } from '../sim/predictor.ts';
import { getPredictor, PREDICTORS } from '../policies/predictors/index.ts';
import { bucketAccuracy, kendallTauB, meanAbsoluteError } from '../policies/predictors/quality.ts';
import { normalCdf, normalQuantile } from '../policies/predictors/normal.ts';
import { counterNormal, counterUniform } from '../policies/predictors/counter-random.ts';
import { logNormalMaeFactor, sigmaForMaeRatio } from '../policies/predictors/lognormal-noise.ts';
import { SsjfBucketsPredictor } from '../policies/predictors/ssjf-buckets.ts';
import { SSJF_CONFUSION_2, SSJF_CONFUSION_5 } from '../policies/predictors/ssjf-confusion.ts';
import { RankTauPredictor } from '../policies/predictors/rank-tau.ts';
import { NoisyLengthPredictor } from '../policies/predictors/noisy-length.ts';
import { TrailPredictor } from '../policies/predictors/trail.ts';
import { CheapBitPredictor } from '../policies/predictors/cheap-bit.ts';
import { TraceColumnPredictor } from '../policies/predictors/trace-column.ts';
import { makeTrace } from './helpers.ts';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
const AZURE_CONV = join(REPO_ROOT, '../shared/traces/AzureLLMInferenceTrace_conv.csv');
const SSJF_DIR = join(REPO_ROOT, '../shared/reference/ssjf-predictions');
const SSJF_5 = join(SSJF_DIR, 'predictions_warmup_multi_cls_1000K.csv');
const SSJF_2 = join(SSJF_DIR, 'predictions_warmup_cls_1000K.csv');
const haveAzure = existsSync(AZURE_CONV);
const haveSsjf = existsSync(SSJF_5) && existsSync(SSJF_2);

/** A trace with the given output lengths (arrivals 0, 1, 2, …; 1-token prompts). */
function lengthsTrace(output: ArrayLike<number>): Trace {
  const n = output.length;
  return makeTrace(
    Array.from({ length: n }, (_, i) => i),
    new Array(n).fill(1),
    Array.from(output),
  );
}

/** The first n requests of a trace (lengths only). */
function head(trace: Trace, n: number): Trace {
  return lengthsTrace(trace.output_tokens.subarray(0, n));
}

/** Seeded log-normal integer lengths, median ≈ 150 tokens (a synthetic trace with few ties). */
function syntheticLengths(n: number, seed: string): Trace {
  const rng = seedrandom.alea(seed);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const z = normalQuantile(Math.min(Math.max(rng(), 1e-12), 1 - 1e-12));
    out.push(Math.max(1, Math.round(150 * Math.exp(1.2 * z))));
  }
  return lengthsTrace(out);
}

/** Creates a registered predictor from options and attaches it with a seeded Alea source. */
function attached(name: string, opts: Record<string, string>, trace: Trace, seed = 'test'): Predictor {
  const p = getPredictor(name).create(opts);
  p.attach(trace, seedrandom.alea(seed));
  return p;
}

/** Calls `f`, expecting an InputError with the given field whose message matches `text`. */
function expectInputError(f: () => unknown, field: string, text?: RegExp): InputError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  const ie = err as InputError;
  expect(ie.field).toBe(field);
  if (text) expect(ie.message).toMatch(text);
  return ie;
}

/** Brute-force Kendall τ-b by counting every pair (O(n²)). */
function bruteTauB(x: number[], y: number[]): number {
  let c = 0;
  let d = 0;
  let tx = 0;
  let ty = 0;
  const n = x.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = Math.sign(x[i] - x[j]) * Math.sign(y[i] - y[j]);
      if (x[i] === x[j]) tx++;
      if (y[i] === y[j]) ty++;
      if (s > 0) c++;
      else if (s < 0) d++;
    }
  }
  const n0 = (n * (n - 1)) / 2;
  return (c - d) / Math.sqrt((n0 - tx) * (n0 - ty));
}

/** (true length, predicted class) rows of an SSJF released prediction file. */
function readSsjf(file: string): { length: Int32Array; predicted: Int32Array } {
  const lines = readFileSync(file, 'utf8').trim().split('\n').slice(1);
  const length = new Int32Array(lines.length);
  const predicted = new Int32Array(lines.length);
  lines.forEach((line, i) => {
    const cols = line.split(',');
    length[i] = Number(cols[1]);
    predicted[i] = Number(cols[2]);
  });
  return { length, predicted };
}

/** Row-normalised empirical confusion matrix of (true, predicted) classes. */
function confusion(truth: ArrayLike<number>, predicted: ArrayLike<number>, K: number): number[][] {
  const m = Array.from({ length: K }, () => new Array<number>(K).fill(0));
  for (let i = 0; i < truth.length; i++) m[truth[i]][predicted[i]]++;
  return m.map((row) => row.map((c) => c / row.reduce((a, b) => a + b, 0)));
}

let azure: Trace;
beforeAll(async () => {
  if (haveAzure) azure = await readTrace(AZURE_CONV);
});

// ---------------------------------------------------------------------------------------------
describe('normal distribution helpers (reference values: scipy.stats.norm 1.17)', () => {
  it('Φ⁻¹ matches scipy to 1e-13 relative', () => {
    const ref: [number, number][] = [
      [1e-300, -37.0470962993612],
      [1e-10, -6.361340902404056],
      [1e-5, -4.264890793922825],
      [0.001, -3.090232306167813],
      [0.02425, -1.972961051311885],
      [0.1, -1.2815515655446004],
      [0.3, -0.5244005127080409],
      [0.5, 0],
      [0.975, 1.959963984540054],
      [0.999, 3.090232306167813],
      [1 - 1e-9, 5.997807019601637],
    ];
    for (const [p, z] of ref) expect(Math.abs(normalQuantile(p) - z)).toBeLessThanOrEqual(1e-13 * Math.max(1, Math.abs(z)) * 100);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    expect(() => normalQuantile(1.5)).toThrow(RangeError);
  });

  it('Φ matches scipy (absolute 1e-15, relative 1e-12 in the lower tail)', () => {
    const ref: [number, number][] = [
      [-10, 7.61985302416047e-24],
      [-6, 9.865876450376946e-10],
      [-3.5, 0.00023262907903552502],
      [-3, 0.0013498980316300933],
      [-2.9, 0.0018658133003840375],
      [-1, 0.15865525393145707],
      [0, 0.5],
      [0.5, 0.6914624612740131],
      [1, 0.8413447460685429],
      [2, 0.9772498680518208],
      [2.99, 0.9986051127645078],
      [3, 0.9986501019683699],
      [5, 0.9999997133484281],
      [8, 0.9999999999999993],
    ];
    for (const [x, p] of ref) {
      expect(Math.abs(normalCdf(x) - p)).toBeLessThanOrEqual(2e-15);
      if (x < 0) expect(Math.abs(normalCdf(x) / p - 1)).toBeLessThanOrEqual(1e-12);
    }
  });

  it('round trip Φ(Φ⁻¹(p)) = p', () => {
    fc.assert(
      fc.property(fc.double({ min: 1e-12, max: 1 - 1e-12, noNaN: true }), (p) => {
        expect(Math.abs(normalCdf(normalQuantile(p)) - p)).toBeLessThanOrEqual(1e-14 + 1e-12 * p);
      }),
    );
  });

  it('log-normal MAE factor E|exp(σZ) − 1| matches numerical quadrature (scipy.integrate.quad)', () => {
    expect(logNormalMaeFactor(0.3)).toBeCloseTo(0.24667726522220665, 12);
    expect(logNormalMaeFactor(1)).toBeCloseTo(1.1255646869698814, 12);
    expect(logNormalMaeFactor(sigmaForMaeRatio(0.4))).toBeCloseTo(0.4, 10);
  });

  it('counter-based normals: pure in (seed, counter), mean 0, variance 1, no lag correlation', () => {
    expect(counterUniform(12345, 7)).toBe(counterUniform(12345, 7));
    let s = 0;
    let s2 = 0;
    let lag = 0;
    const N = 200_000;
    let prev = 0;
    for (let i = 0; i < N; i++) {
      const z = counterNormal(1000 + (i >> 8), i & 255);
      s += z;
      s2 += z * z;
      if ((i & 255) > 0) lag += z * prev;
      prev = z;
    }
    expect(Math.abs(s / N)).toBeLessThan(4 / Math.sqrt(N));
    expect(Math.abs(s2 / N - 1)).toBeLessThan(4 * Math.sqrt(2 / N));
    expect(Math.abs(lag / N)).toBeLessThan(4 / Math.sqrt(N));
  });
});

// ---------------------------------------------------------------------------------------------
describe('quality measures', () => {
  it("Kendall τ-b on a hand-worked example: 7 concordant, 1 discordant, 1 tie in x, 1 tie in y → 6/9", () => {
    expect(kendallTauB([1, 2, 2, 3, 4], [1, 3, 2, 2, 5])).toBeCloseTo(6 / 9, 14);
    // Pair (0,1) tied in both: τ-b = 2/sqrt(2·2) = 1.
    expect(kendallTauB([1, 1, 2], [1, 1, 2])).toBeCloseTo(1, 14);
    expect(kendallTauB([1, 2, 3], [3, 2, 1])).toBeCloseTo(-1, 14);
    expect(kendallTauB([1, 1, 1], [1, 2, 3])).toBeNaN();
    expect(kendallTauB([1], [1])).toBeNaN();
  });

  it('Kendall τ-b equals the O(n²) brute force on random data with ties (fast-check)', () => {
    const pairs = fc
      .integer({ min: 2, max: 60 })
      .chain((n) =>
        fc.tuple(
          fc.array(fc.integer({ min: 0, max: 6 }), { minLength: n, maxLength: n }),
          fc.array(fc.integer({ min: 0, max: 6 }), { minLength: n, maxLength: n }),
        ),
      );
    fc.assert(
      fc.property(pairs, ([x, y]) => {
        const fast = kendallTauB(x, y);
        const brute = bruteTauB(x, y);
        if (Number.isNaN(brute)) expect(fast).toBeNaN();
        else expect(Math.abs(fast - brute)).toBeLessThan(1e-12);
      }),
      { numRuns: 300 },
    );
  });

  it('MAE and bucket accuracy on small examples', () => {
    expect(meanAbsoluteError([1, 5, 10], [2, 5, 4])).toBeCloseTo(7 / 3, 14);
    expect(bucketAccuracy([0, 1, 2, 2], [0, 1, 1, 2])).toBe(0.75);
    expect(() => meanAbsoluteError([1], [1, 2])).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
describe('ssjf-buckets', () => {
  it.skipIf(!haveSsjf)('the checked-in confusion counts are those of the released prediction files', () => {
    const five = readSsjf(SSJF_5);
    const m5 = SSJF_CONFUSION_5.map((r) => r.map(() => 0));
    five.length.forEach((L, i) => m5[[42, 141, 294, 503].filter((b) => L > b).length][five.predicted[i]]++);
    expect(m5).toEqual(SSJF_CONFUSION_5);
    const two = readSsjf(SSJF_2);
    const m2 = [
      [0, 0],
      [0, 0],
    ];
    two.length.forEach((L, i) => m2[L > 141 ? 1 : 0][two.predicted[i] >= 1 ? 1 : 0]++);
    expect(m2).toEqual(SSJF_CONFUSION_2);
  });

  it.skipIf(!haveSsjf)("on SSJF's own 85,482 lengths reproduces the real predictor: accuracy, τ-b, matrix, boundaries", () => {
    const five = readSsjf(SSJF_5);
    const two = readSsjf(SSJF_2);
    const trace = lengthsTrace(five.length);
    const L = five.length;
    const p5 = attached('ssjf-buckets', {}, trace) as SsjfBucketsPredictor;
    const q5 = p5.quality();
    const realTrue5 = Array.from(L, (l) => [42, 141, 294, 503].filter((b) => l > b).length);
    expect(q5.bucket_accuracy!).toBeCloseTo(bucketAccuracy(five.predicted, realTrue5), 2);
    expect(Math.abs(q5.kendall_tau! - kendallTauB(five.predicted, L))).toBeLessThan(0.01);
    // The trace's own quantiles land within a token of SSJF's 42/141/294/503.
    p5.boundaries.forEach((b, c) => expect(Math.abs(b - [42, 141, 294, 503][c])).toBeLessThanOrEqual(1));
    const sim = confusion(
      Array.from({ length: trace.n }, (_, i) => realTrue5[i]),
      Array.from({ length: trace.n }, (_, i) => p5.bucket(i)),
      5,
    );
    const real = confusion(realTrue5, five.predicted, 5);
    sim.forEach((row, t) => row.forEach((v, c) => expect(Math.abs(v - real[t][c])).toBeLessThan(t === 4 ? 0.06 : 0.015)));

    const p2 = attached('ssjf-buckets', { classes: '2' }, trace);
    const q2 = p2.quality();
    const real2 = Array.from(two.predicted, (p) => Math.min(p, 1));
    expect(Math.abs(q2.bucket_accuracy! - bucketAccuracy(real2, Array.from(L, (l) => (l > 141 ? 1 : 0))))).toBeLessThan(0.01);
    expect(Math.abs(q2.kendall_tau! - kendallTauB(real2, L))).toBeLessThan(0.01);
  });

  it.skipIf(!haveAzure)('on the Azure conv trace: 60.1% (5 classes) and 83.3% (binary) within ±2%, τ-b near 0.635 and 0.568', () => {
    const p5 = attached('ssjf-buckets', {}, azure) as SsjfBucketsPredictor;
    const q5 = p5.quality();
    expect(Math.abs(q5.bucket_accuracy! - 0.601)).toBeLessThan(0.02);
    expect(Math.abs(q5.kendall_tau! - 0.635)).toBeLessThan(0.02);
    // Closed form: accuracy = Σ_k π_k M_kk with the trace's own class shares π_k (3 standard errors).
    const n = azure.n;
    const share = [0, 0, 0, 0, 0];
    for (const L of azure.output_tokens) share[p5.boundaries.filter((b) => L > b).length] += 1 / n;
    const diag = SSJF_CONFUSION_5.map((row, k) => row[k] / row.reduce((a, b) => a + b, 0));
    const expected = share.reduce((s, pk, k) => s + pk * diag[k], 0);
    expect(Math.abs(q5.bucket_accuracy! - expected)).toBeLessThan(3 * Math.sqrt((expected * (1 - expected)) / n));
    // predicted() is the predicted bucket's midpoint on the trace's scale.
    const edges = [0, ...p5.boundaries, Math.max(...azure.output_tokens)];
    expect(p5.midpoints).toEqual(edges.slice(0, 5).map((lo, c) => (lo + edges[c + 1]) / 2));
    for (let i = 0; i < 50; i++) expect(p5.predicted(i)).toBe(p5.midpoints[p5.bucket(i)]);
    expect(p5.remaining(0, 5)).toBe(Math.max(0, p5.predicted(0) - 5));

    const q2 = attached('ssjf-buckets', { classes: '2' }, azure).quality();
    expect(Math.abs(q2.bucket_accuracy! - 0.833)).toBeLessThan(0.02);
    expect(Math.abs(q2.kendall_tau! - 0.568)).toBeLessThan(0.03);
  });

  it('coupling=0 keeps the matrix but loses the within-bucket ranking (τ-b lower)', () => {
    const t = syntheticLengths(20_000, 'ssjf');
    const q0 = attached('ssjf-buckets', { coupling: '0' }, t).quality();
    const q = attached('ssjf-buckets', {}, t).quality();
    expect(Math.abs(q0.bucket_accuracy! - q.bucket_accuracy!)).toBeLessThan(0.015);
    expect(q.kendall_tau! - q0.kendall_tau!).toBeGreaterThan(0.02);
  });
});

// ---------------------------------------------------------------------------------------------
describe('rank-tau', () => {
  const taus = [0.21, 0.55, 0.62];

  it.skipIf(!haveAzure)('hits its Kendall τ within 0.02 on 10,000 Azure conv requests', () => {
    const t = head(azure, 10_000);
    for (const tau of taus) {
      const q = attached('rank-tau', { tau: String(tau) }, t, `azure-${tau}`).quality();
      expect(Math.abs(q.kendall_tau! - tau)).toBeLessThan(0.02);
    }
  });

  it('hits its Kendall τ within 0.02 on 10,000 synthetic log-normal lengths', () => {
    const t = syntheticLengths(10_000, 'rank');
    for (const tau of taus) {
      const q = attached('rank-tau', { tau: String(tau) }, t, `syn-${tau}`).quality();
      expect(Math.abs(q.kendall_tau! - tau)).toBeLessThan(0.02);
    }
  });

  it("predicts lengths on the trace's scale, monotone in the score; τ = 1 is the oracle", () => {
    const t = syntheticLengths(2_000, 'scale');
    const p = attached('rank-tau', {}, t) as RankTauPredictor;
    const pred = Array.from({ length: t.n }, (_, i) => p.predicted(i));
    expect([...pred].sort((a, b) => a - b)).toEqual(Array.from(t.output_tokens).sort((a, b) => a - b));
    const ids = Array.from({ length: t.n }, (_, i) => i).sort((a, b) => p.score(a) - p.score(b));
    for (let k = 1; k < ids.length; k++) expect(p.predicted(ids[k])).toBeGreaterThanOrEqual(p.predicted(ids[k - 1]));
    expect(p.quality().mae_tokens).toBeCloseTo(meanAbsoluteError(pred, t.output_tokens), 9);
    const exact = attached('rank-tau', { tau: '1' }, t);
    expect(exact.quality()).toEqual({ kendall_tau: 1, mae_tokens: 0, bucket_accuracy: null });
  });
});

// ---------------------------------------------------------------------------------------------
describe('noisy-length', () => {
  it.skipIf(!haveAzure)('hits its MAE target on the Azure conv trace (default 75 tokens; mae-frac)', () => {
    const p = attached('noisy-length', {}, azure) as NoisyLengthPredictor;
    expect(Math.abs(p.quality().mae_tokens! / 75 - 1)).toBeLessThan(0.01);
    const mean = azure.output_tokens.reduce((a, b) => a + b, 0) / azure.n;
    const frac = attached('noisy-length', { 'mae-frac': '0.5' }, azure);
    expect(Math.abs(frac.quality().mae_tokens! / (0.5 * mean) - 1)).toBeLessThan(0.01);
    // Log-normal: the σ found matches the closed form E|e^{σZ} − 1| = MAE/mean within a few %
    // (the clip at 1 token and sampling are the difference); median of ŷ/L ≈ 1; ŷ >= 1.
    expect(Math.abs(p.sigma / sigmaForMaeRatio(75 / mean) - 1)).toBeLessThan(0.05);
    const ratios = Array.from({ length: azure.n }, (_, i) => p.predicted(i) / azure.output_tokens[i]).sort((a, b) => a - b);
    expect(Math.abs(ratios[azure.n >> 1] - 1)).toBeLessThan(0.02);
    for (let i = 0; i < azure.n; i++) expect(p.predicted(i)).toBeGreaterThanOrEqual(1);
  });

  it('hits mae=20 on synthetic lengths', () => {
    const q = attached('noisy-length', { mae: '20' }, syntheticLengths(5_000, 'noisy')).quality();
    expect(Math.abs(q.mae_tokens! / 20 - 1)).toBeLessThan(0.01);
  });
});

// ---------------------------------------------------------------------------------------------
describe('trail', () => {
  it.skipIf(!haveAzure)('ar1 (default): initial MAE ≈ mae0 = 46.1 and decode-averaged MAE ≈ mae-decode = 33.9 on Azure conv', () => {
    const p = attached('trail', {}, azure) as TrailPredictor;
    expect(p.refineEvery).toBe(8);
    expect(Math.abs(p.quality().mae_tokens! / 46.1 - 1)).toBeLessThan(0.01);
    expect(Math.abs(p.decodeMae() / 33.9 - 1)).toBeLessThan(0.04);
    const q = attached('trail', { mae0: '60', 'mae-decode': '20', k: '1' }, head(azure, 3_000)) as TrailPredictor;
    expect(q.refineEvery).toBe(1);
    expect(Math.abs(q.quality().mae_tokens! / 60 - 1)).toBeLessThan(0.01);
    expect(Math.abs(q.decodeMae() / 20 - 1)).toBeLessThan(0.06);
  });

  it('ar1: successive refinements have log-error correlation ρ^k', () => {
    const t = lengthsTrace(new Array(400).fill(4000));
    const p = attached('trail', { rho: '0.98', k: '8' }, t) as TrailPredictor;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = 0; i < t.n; i++) {
      let prev = Math.log(p.remaining(i, 8) / (4000 - 8));
      for (let j = 2; j * 8 < 4000; j++) {
        const cur = Math.log(p.remaining(i, j * 8) / (4000 - j * 8));
        sxy += prev * cur;
        sxx += prev * prev;
        syy += cur * cur;
        prev = cur;
      }
    }
    expect(sxy / Math.sqrt(sxx * syy)).toBeCloseTo(0.98 ** 8, 1);
    expect(Math.abs(sxy / Math.sqrt(sxx * syy) - 0.98 ** 8)).toBeLessThan(0.02);
  });

  it("iid (the authors' model): never over-predicts, realised MAE ≈ half the nominal (one-sided clip)", () => {
    // Closed form for r >> σ: E|clip(round(r + σN), 0, r) − r| = σ·E[N⁻] = σ/sqrt(2π) = MAE/2.
    const t = lengthsTrace(new Array(1000).fill(2000));
    const p = attached('trail', { noise: 'iid' }, t) as TrailPredictor;
    expect(Math.abs(p.quality().mae_tokens! / (46.1 / 2) - 1)).toBeLessThan(0.08);
    expect(Math.abs(p.decodeMae() / (33.9 / 2) - 1)).toBeLessThan(0.02);
    for (let i = 0; i < 20; i++) {
      expect(p.predicted(i)).toBeLessThanOrEqual(2000);
      for (let g = 8; g < 2000; g += 8) {
        const r = p.remaining(i, g);
        expect(r).toBeLessThanOrEqual(2000 - g);
        expect(Number.isInteger(r)).toBe(true);
      }
    }
  });

  for (const noise of ['ar1', 'iid']) {
    it(`${noise}: remaining(id, g) is the same whatever the order and number of calls`, () => {
      const t = syntheticLengths(300, `trail-${noise}`);
      const a = attached('trail', { noise }, t, 'same');
      const b = attached('trail', { noise }, t, 'same');
      const rng = seedrandom.alea('order');
      const queries: [number, number][] = [];
      for (let i = 0; i < t.n; i++) for (let g = 0; g < t.output_tokens[i]; g++) queries.push([i, g]);
      const forward = queries.map(([i, g]) => a.remaining(i, g));
      const shuffled = queries.map((q, k) => [k, rng()] as const).sort((x, y) => x[1] - y[1]);
      const random = new Array<number>(queries.length);
      for (const [k] of shuffled) random[k] = b.remaining(queries[k][0], queries[k][1]);
      // and again, skipping ahead and backwards on the same predictor
      const again = [...queries].reverse().map(([i, g]) => a.remaining(i, g)).reverse();
      expect(random).toEqual(forward);
      expect(again).toEqual(forward);
    });
  }

  it('refines only every k tokens and counts down by one token in between', () => {
    const t = syntheticLengths(200, 'trail-k');
    for (const k of [1, 8, 20]) {
      const p = attached('trail', { k: String(k) }, t) as TrailPredictor;
      expect(p.refineEvery).toBe(k);
      let countDownErrors = 0;
      let moved = 0;
      let refinements = 0;
      for (let i = 0; i < t.n; i++) {
        const L = t.output_tokens[i];
        const r = Array.from({ length: L }, (_, g) => p.remaining(i, g));
        expect(r[0]).toBe(p.predicted(i));
        for (let g = 1; g < L; g++) {
          const countDown = Math.max(0, r[g - 1] - 1);
          if (g % k !== 0) {
            if (Math.abs(r[g] - countDown) > 1e-9) countDownErrors++;
          } else {
            refinements++;
            if (Math.abs(r[g] - countDown) > 1e-9) moved++;
          }
        }
      }
      expect(countDownErrors).toBe(0);
      // Each refinement draws new noise, so it moves the prediction off the count-down.
      expect(moved / refinements).toBeGreaterThan(0.95);
    }
  });
});

// ---------------------------------------------------------------------------------------------
describe('cheap-bit (SkipPredict exponential predictor)', () => {
  const groups = [50, 100, 200, 400];
  const per = 5000;
  const t = lengthsTrace(groups.flatMap((L) => new Array(per).fill(L)));

  it('P(long | L) = exp(−T/L) and E[ceil(ŷ)] = 1/(1 − exp(−1/L)) for ŷ ~ Exp(mean L)', () => {
    const p = attached('cheap-bit', { T: '100' }, t) as CheapBitPredictor;
    groups.forEach((L, g) => {
      let longs = 0;
      let sum = 0;
      let sum2 = 0;
      for (let i = g * per; i < (g + 1) * per; i++) {
        longs += p.bucket(i);
        sum += p.predicted(i);
        sum2 += p.predicted(i) ** 2;
      }
      const q = Math.exp(-100 / L);
      expect(Math.abs(longs / per - q)).toBeLessThan(3.5 * Math.sqrt((q * (1 - q)) / per));
      const mean = sum / per;
      const sd = Math.sqrt(sum2 / per - mean * mean);
      expect(Math.abs(mean - 1 / (1 - Math.exp(-1 / L)))).toBeLessThan(3.5 * (sd / Math.sqrt(per)));
    });
    // bucket accuracy against the true bit L > T: 1 − P(long|50), 1 − P(long|100), P(long|200), P(long|400)
    const expected = (1 - Math.exp(-2) + 1 - Math.exp(-1) + Math.exp(-0.5) + Math.exp(-0.25)) / 4;
    expect(Math.abs(p.quality().bucket_accuracy! - expected)).toBeLessThan(0.01);
  });

  it('T defaults to the median length; bit-accuracy flips the true bit; costOf = c1 + bit·c2', () => {
    const p = attached('cheap-bit', { 'bit-accuracy': '0.833', c1: '0.001', c2: '0.01' }, t) as CheapBitPredictor;
    expect(p.threshold_tokens).toBe(150);
    expect(Math.abs(p.quality().bucket_accuracy! - 0.833)).toBeLessThan(0.01);
    let total = 0;
    for (let i = 0; i < t.n; i++) {
      expect(p.costOf(i)).toBeCloseTo(0.001 + p.bucket(i) * 0.01, 15);
      total += p.costOf(i);
    }
    expect(p.cost).toBeDefined();
    expect(p.cost!.perRequest_s).toBeCloseTo(total / t.n, 12);
    expect(p.cost!.onServer).toBe(true);
    expect(attached('cheap-bit', { c2: '1', 'cost-mode': 'external' }, t).cost!.onServer).toBe(false);
    expect(attached('cheap-bit', {}, t).cost).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------------
describe('trace (predictions from a trace column)', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'llmsched-predictors-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('reads the generic CSV extra column and reports its quality', async () => {
    const file = join(tmp, 'pred.csv');
    writeFileSync(file, 'arrival_s,prompt_tokens,output_tokens,predicted_output_tokens,guess\n0,10,100,90,1\n1,10,20,30.5,2\n2,10,50,50,3\n');
    const trace = await readTrace(file);
    const p = attached('trace', {}, trace);
    expect([0, 1, 2].map((i) => p.predicted(i))).toEqual([90, 30.5, 50]);
    expect(p.remaining(1, 10)).toBeCloseTo(20.5, 12);
    expect(p.quality()).toEqual({ kendall_tau: 1, mae_tokens: (10 + 10.5 + 0) / 3, bucket_accuracy: null });
    expect(attached('trace', { column: 'guess' }, trace).predicted(2)).toBe(3);
  });

  it('a missing column or a bad value is an InputError naming the column (and the row)', async () => {
    const file = join(tmp, 'bad.csv');
    writeFileSync(file, 'arrival_s,prompt_tokens,output_tokens,predicted_output_tokens,other\n0,10,100,90,x\n1,10,20,-3,y\n');
    const trace = await readTrace(file);
    expectInputError(() => attached('trace', { column: 'nope' }, trace), '--predictor-opt', /'nope'.*predicted_output_tokens, other/);
    const bad = expectInputError(() => attached('trace', {}, trace), 'predicted_output_tokens', /'-3'/);
    expect(bad.line).toBe(3);
    expect(bad.file).toBe(trace.source);
    const word = expectInputError(() => attached('trace', { column: 'other' }, trace), 'other', /'x'/);
    expect(word.line).toBe(2);
    expectInputError(() => new TraceColumnPredictor().attach(lengthsTrace([5])), '--predictor-opt', /extra columns: none/);
  });
});

// ---------------------------------------------------------------------------------------------
describe('every predictor', () => {
  const t = syntheticLengths(3_000, 'all');
  const names = PREDICTORS.map((p) => p.name).filter((n) => n !== 'oracle' && n !== 'trace');

  it('is registered, and the same seed gives identical predictions (a different seed, different ones)', () => {
    expect(names).toEqual(['ssjf-buckets', 'rank-tau', 'noisy-length', 'trail', 'cheap-bit']);
    const dump = (p: Predictor) =>
      Array.from({ length: t.n }, (_, i) => [p.predicted(i), p.bucket(i), p.remaining(i, 10), p.remaining(i, 17)]);
    for (const name of names) {
      const a = dump(attached(name, {}, t, 'seed-1'));
      expect(dump(attached(name, {}, t, 'seed-1'))).toEqual(a);
      expect(dump(attached(name, {}, t, 'seed-2'))).not.toEqual(a);
      const q = attached(name, {}, t, 'seed-1').quality();
      expect(q.kendall_tau!).toBeGreaterThan(0.2);
      expect(q.mae_tokens!).toBeGreaterThan(0);
    }
  });

  it('bad options are InputErrors on --predictor-opt naming the key and the valid range or choices', () => {
    const bad: [string, Record<string, string>, RegExp][] = [
      ['ssjf-buckets', { classes: '3' }, /classes must be one of 5, 2/],
      ['ssjf-buckets', { coupling: '1.5' }, /coupling must be a number in \[0, 1\]/],
      ['ssjf-buckets', { cost: '-1' }, /cost must be a number in \[0/],
      ['ssjf-buckets', { 'cost-mode': 'gpu' }, /cost-mode must be one of server, external/],
      ['ssjf-buckets', { foo: '1' }, /unknown ssjf-buckets option foo; valid: classes, coupling, cost, cost-mode/],
      ['rank-tau', { tau: '-1' }, /tau must be a number in \(-1, 1\]/],
      ['rank-tau', { tau: '1.01' }, /tau must be a number in \(-1, 1\]/],
      ['rank-tau', { tau: 'abc' }, /tau must be a number/],
      ['noisy-length', { mae: '0' }, /mae must be a number in \(0/],
      ['noisy-length', { mae: '10', 'mae-frac': '0.2' }, /not both/],
      ['noisy-length', { 'mae-frac': '' }, /mae-frac must be a number/],
      ['trail', { k: '0' }, /k must be an integer in \[1/],
      ['trail', { k: '2.5' }, /k must be an integer/],
      ['trail', { noise: 'gauss' }, /noise must be one of ar1, iid/],
      ['trail', { rho: '1' }, /rho must be a number in \[0, 1\)/],
      ['trail', { noise: 'iid', rho: '0.5' }, /rho applies to noise=ar1 only/],
      ['trail', { 'mae-decode': '-2' }, /mae-decode must be a number in \(0/],
      ['cheap-bit', { T: '0' }, /T must be a number in \(0/],
      ['cheap-bit', { 'bit-accuracy': '1.2' }, /bit-accuracy must be a number in \[0, 1\]/],
      ['cheap-bit', { c2: '-0.1' }, /c2 must be a number in \[0/],
      ['trace', { column: '' }, /column must not be empty/],
      ['trace', { col: 'x' }, /unknown trace option col; valid: column/],
      ['oracle', { x: '1' }, /unknown oracle option x; oracle takes no options/],
      ['rank-tau', { tau: '0x1' }, /^--predictor-opt: rank-tau option tau must be a number in \(-1, 1\] \(got '0x1'\)$/],
    ];
    for (const [name, opts, text] of bad) expectInputError(() => getPredictor(name).create(opts), '--predictor-opt', text);
    expectInputError(() => getPredictor('nope'), 'predictor', /valid: oracle, ssjf-buckets/);
  });
});
