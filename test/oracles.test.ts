/**
 * Exact queueing oracles (docs/spec.md §12) for the engine's degenerate modes, with
 * Poisson arrivals and the linear cost model. Job size X = (output tokens − 1) · τ: prefill costs
 * nothing, each decode iteration costs τ per decoding sequence.
 *
 * - Mode A, `max-num-seqs 1`, FCFS: M/G/1, Pollaczek–Khinchine E[T] = E[X] + λE[X²] / (2(1 − ρ)) (§12.1).
 * - Mode B, unlimited batch and KV, iteration time τ × batch size: processor sharing,
 *   E[T] = E[X] / (1 − ρ) (§12.2).
 *
 * Standard errors by batch means over one long run after a warm-up; the test asserts the simulated
 * mean is within 3 of them.
 */
import { describe, it, expect } from 'vitest';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { poissonGeometricTrace, engineConfig, batchMeans } from './helpers.ts';

const N = 200_000;
const WARMUP = 10_000;

function responseTimes(res: ReturnType<typeof simulate>): Float64Array {
  const R = res.requests;
  const out = new Float64Array(R.n - WARMUP);
  for (let i = WARMUP; i < R.n; i++) out[i - WARMUP] = R.completion[i] - R.arrival[i];
  return out;
}

describe('queueing oracles', () => {
  it('max-num-seqs 1 is M/G/1: FCFS matches Pollaczek-Khinchine within 3 standard errors', () => {
    const tau = 0.01;
    const meanK = 50;
    const { trace, EK, EK2 } = poissonGeometricTrace(N, 1, meanK, 'pk');
    const EX = EK * tau;
    const EX2 = EK2 * tau * tau;
    const lambda = 0.7 / EX; // rho = 0.7
    for (let i = 0; i < N; i++) trace.arrival_s[i] /= lambda; // generated at rate 1
    const expected = EX + (lambda * EX2) / (2 * (1 - 0.7));
    const res = simulate({
      trace,
      policy: new Fcfs(),
      cost: new LinearCostModel({ base: 0, prefill: 0, decode: tau, kv: 0 }),
      engine: engineConfig({ maxNumSeqs: 1 }),
    });
    const { mean, se } = batchMeans(responseTimes(res));
    expect(Math.abs(mean - expected)).toBeLessThan(3 * se);
    expect(se / expected).toBeLessThan(0.05); // the check has teeth
  });

  it('unlimited batch with iteration time proportional to batch size is processor sharing: E[T] = E[X]/(1-rho)', () => {
    const tau = 0.001;
    const meanK = 200;
    const { trace, EK } = poissonGeometricTrace(N, 1, meanK, 'ps');
    const EX = EK * tau;
    const lambda = 0.7 / EX;
    for (let i = 0; i < N; i++) trace.arrival_s[i] /= lambda;
    const expected = EX / (1 - 0.7);
    const res = simulate({
      trace,
      policy: new Fcfs(),
      cost: new LinearCostModel({ base: 0, prefill: 0, decode: tau, kv: 0 }),
      engine: engineConfig(),
    });
    const { mean, se } = batchMeans(responseTimes(res));
    expect(Math.abs(mean - expected)).toBeLessThan(3 * se);
    expect(se / expected).toBeLessThan(0.05);
    // Near-exponential sizes make the PS and M/G/1-FCFS means coincide, so also check PS's
    // signature: the slowdown T/x is 1/(1 - rho) for every size (FCFS gives short jobs a huge one).
    const R = res.requests;
    let shortSum = 0, shortN = 0, longSum = 0, longN = 0;
    for (let i = WARMUP; i < R.n; i++) {
      const x = (R.output[i] - 1) * tau;
      const t = R.completion[i] - R.arrival[i];
      if (x < EX / 2) { shortSum += t / x; shortN++; } else if (x > 2 * EX) { longSum += t / x; longN++; }
    }
    expect(shortSum / shortN).toBeGreaterThan(0.85 / 0.3);
    expect(shortSum / shortN).toBeLessThan(1.25 / 0.3);
    expect(longSum / longN).toBeCloseTo(1 / 0.3, 0);
  });
});
