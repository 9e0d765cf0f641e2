/**
 * Engine invariants (test/helpers.ts `engineViolations`), over random workloads and configurations
 * (fast-check), and the skip-ahead equivalence: advancing over unchanged decode iterations at once
 * gives exactly the results of stepping them one by one. These check the engine with FCFS over
 * random settings; every registered policy, predictor and router is checked on fixed stressful
 * workloads by test/conformance.test.ts.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { simulate } from '../sim/simulator.ts';
import type { IterationRecord, EngineConfig } from '../sim/engine-types.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { AnalyticalCostModel, getModel, getGpu } from '../sim/cost/index.ts';
import { Fcfs } from '../policies/fcfs.ts';
import type { Policy } from '../sim/policy.ts';
import { FINISHED } from '../sim/requests.ts';
import { makeTrace, engineConfig, poissonGeometricTrace, expectSameRun, expectEngineInvariants } from './helpers.ts';

/** FCFS that counts completions per request. */
class CountingFcfs extends Fcfs implements Policy {
  completions: Int32Array;
  constructor(n: number) {
    super();
    this.completions = new Int32Array(n);
  }
  onComplete(id: number): void {
    this.completions[id]++;
  }
}

const workload = fc
  .array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3, noNaN: true })),
      prompt: fc.integer({ min: 1, max: 300 }),
      output: fc.integer({ min: 1, max: 120 }),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((rows) => {
    let t = 0;
    const arrival = rows.map((r) => (t += r.gap));
    return makeTrace(arrival.map((a) => a - arrival[0]), rows.map((r) => r.prompt), rows.map((r) => r.output));
  });

const config = fc
  .record({
    blockSize: fc.constantFrom(1, 4, 16),
    kvTokens: fc.integer({ min: 16, max: 3000 }),
    maxNumSeqs: fc.integer({ min: 1, max: 12 }),
    extraBudget: fc.integer({ min: 0, max: 600 }),
    chunked: fc.boolean(),
    swap: fc.boolean(),
    swapBlocks: fc.integer({ min: 0, max: 200 }),
    watermark: fc.integer({ min: 0, max: 2 }),
    skipAhead: fc.boolean(),
  })
  .map(
    (c): EngineConfig =>
      engineConfig({
        blockSize: c.blockSize,
        kvBlocks: Math.max(1, Math.floor(c.kvTokens / c.blockSize)),
        watermarkBlocks: c.watermark,
        maxNumSeqs: c.maxNumSeqs,
        maxNumBatchedTokens: c.maxNumSeqs + c.extraBudget,
        chunkedPrefill: c.chunked,
        preemption: c.swap ? 'swap' : 'recompute',
        swapBlocks: c.swapBlocks,
        blockBytes: 1000,
        pcieBandwidth: 1e6,
        skipAhead: c.skipAhead,
      }),
  );

const linear = fc.record({
  base: fc.double({ min: 0, max: 0.05, noNaN: true }),
  prefill: fc.double({ min: 0, max: 0.001, noNaN: true }),
  decode: fc.double({ min: 0, max: 0.01, noNaN: true }),
  kv: fc.double({ min: 0, max: 1e-5, noNaN: true }),
});

describe('engine invariants (property-based)', () => {
  it('every request completes or is rejected exactly once; KV never exceeds capacity; time never goes back; no idling while work waits', () => {
    fc.assert(
      fc.property(workload, config, linear, (trace, cfg, coef) => {
        const policy = new CountingFcfs(trace.n);
        const records: IterationRecord[] = [];
        const res = simulate({ trace, policy, cost: new LinearCostModel(coef), engine: cfg, observer: (r) => records.push(r) });
        expectEngineInvariants(res, records, cfg);
        for (let i = 0; i < res.requests.n; i++) expect(policy.completions[i]).toBe(res.requests.state[i] === FINISHED ? 1 : 0);
      }),
      { numRuns: 300, seed: 20261122 },
    );
  });

  it('skip-ahead gives results identical to stepping every iteration', () => {
    fc.assert(
      fc.property(workload, config, linear, (trace, cfg, coef) => {
        const run = (skipAhead: boolean) =>
          simulate({ trace, policy: new Fcfs(), cost: new LinearCostModel(coef), engine: { ...cfg, skipAhead } });
        expectSameRun(run(true), run(false));
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('skip-ahead is exact with the analytical cost model on a loaded replica with preemptions', () => {
    const { trace } = poissonGeometricTrace(3000, 8, 150, 'skip');
    for (let i = 0; i < trace.n; i++) trace.prompt_tokens[i] = 200 + ((i * 7919) % 1500);
    const cost = new AnalyticalCostModel({ model: getModel('llama-2-7b'), gpu: getGpu('a100-80gb'), tp: 1 });
    for (const chunked of [false, true]) {
      const cfg = engineConfig({ maxNumSeqs: 64, maxNumBatchedTokens: chunked ? 512 : 4096, kvBlocks: 2000, watermarkBlocks: 20, chunkedPrefill: chunked });
      const a = simulate({ trace, policy: new Fcfs(), cost, engine: { ...cfg, skipAhead: true } });
      const b = simulate({ trace, policy: new Fcfs(), cost, engine: { ...cfg, skipAhead: false } });
      expect(a.stats.preemptions).toBeGreaterThan(0);
      expect(a.events).toBeLessThan(b.events);
      expectSameRun(a, b);
    }
  });
});
