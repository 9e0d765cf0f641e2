/**
 * MFU and MBU (sim/cost/work.ts) hand-worked on a tiny model under a linear cost model, skip-ahead
 * on = off for the work counters, and the summary's `ms` block (vLLM's names) against the seconds
 * view; `--metric-percentiles` parsing.
 */
import { describe, expect, it } from 'vitest';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { countParams, workCoefficients } from '../sim/cost/index.ts';
import type { ModelSpec } from '../sim/cost/index.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { parseMetricPercentiles, replicaMetrics, requestMetrics, summarize } from '../sim/metrics.ts';
import { engineConfig, expectSameRun, inputError, makeTrace, poissonGeometricTrace, runSim } from './helpers.ts';

// 2 layers, hidden 8, 2 query heads and 1 KV head of width 4, MLP 16, vocabulary 10.
const arch = { layers: 2, hidden: 8, heads: 2, kvHeads: 1, headDim: 4, intermediate: 16, vocab: 10 };
const TINY: ModelSpec = { name: 'tiny', maxContext: 1024, source: 'test', ...arch, params: countParams(arch) };

describe('MFU and MBU', () => {
  it('counts a hand-worked run: one request, prompt 4, output 3, 1 s per iteration', () => {
    // Parameters by hand: embedding 10·8 = 80; per layer Q 8·8 + K,V 2·8·4 + O 8·8 = 192, MLP
    // 3·8·16 = 384, norms 16 (592; 1184 for 2); final norm 8; LM head 80: 1352.
    expect(TINY.params).toBe(1352);
    // Iteration 1: prefill of 4 tokens, 4·(0 + 5/2) = 10 causal pairs. Iterations 2 and 3: one
    // decode over 5 then 6 KV tokens. Tokens 4 + 1 + 1 = 6; pairs 10 + 5 + 6 = 21.
    // FLOPs = 2·1352·6 + 4·2·2·4·21 = 16224 + 1344 = 17568.
    // Bytes = 3 iterations × 1352·2 weight bytes + (5 + 6) × (2·2·1·4·2 = 32) KV bytes = 8112 + 352 = 8464.
    const trace = makeTrace([0], [4], [3]);
    const cost = new LinearCostModel({ base: 1, prefill: 0, decode: 0, kv: 0 });
    const peak = { flops: 1000, bytes: 100 };
    for (const skipAhead of [true, false]) {
      const res = simulate({ trace, policy: new Fcfs(), cost, engine: engineConfig({ skipAhead, work: workCoefficients(TINY) }) });
      expect(res.stats.modelFlops).toBe(17568);
      expect(res.stats.hbmBytes).toBe(8464);
      expect(res.stats.busy_s).toBe(3);
      const m = requestMetrics(res.requests);
      const s = summarize(res, m, { kvBlocks: 1, unlimitedKv: true, slo: {}, peak });
      expect(s.mfu).toBeCloseTo(17568 / 3000, 12);
      expect(s.mbu).toBeCloseTo(8464 / 300, 12);
      const [r] = replicaMetrics(res, m, { kvBlocks: 1, unlimitedKv: true, makespan_s: s.makespan_s, peak });
      expect([r.mfu, r.mbu]).toEqual([s.mfu, s.mbu]);
      // Without peaks there is no utilization.
      expect(summarize(res, m, { kvBlocks: 1, unlimitedKv: true, slo: {} }).mfu).toBeNull();
    }
  });

  it('is independent of what priced the time: twice the time, half the utilization', () => {
    const trace = makeTrace([0], [4], [3]);
    const run = (base: number) =>
      simulate({ trace, policy: new Fcfs(), cost: new LinearCostModel({ base, prefill: 0, decode: 0, kv: 0 }), engine: engineConfig({ work: workCoefficients(TINY) }) });
    const a = run(1);
    const b = run(2);
    expect(b.stats.modelFlops).toBe(a.stats.modelFlops);
    const peak = { flops: 1e4, bytes: 1e4 };
    const ua = summarize(a, requestMetrics(a.requests), { kvBlocks: 1, unlimitedKv: true, slo: {}, peak });
    const ub = summarize(b, requestMetrics(b.requests), { kvBlocks: 1, unlimitedKv: true, slo: {}, peak });
    expect(ub.mfu! * 2).toBeCloseTo(ua.mfu!, 12);
    expect(ub.mbu! * 2).toBeCloseTo(ua.mbu!, 12);
  });

  it('skip-ahead on = off, counters bit for bit, on a loaded workload with a KV term', () => {
    const { trace } = poissonGeometricTrace(300, 4, 40, 'mfu');
    const cost = new LinearCostModel({ base: 0.01, prefill: 1e-4, decode: 2e-4, kv: 1e-6 });
    const cfg = engineConfig({ maxNumSeqs: 16, work: workCoefficients(TINY) });
    const on = simulate({ trace, policy: new Fcfs(), cost, engine: cfg });
    const off = simulate({ trace, policy: new Fcfs(), cost, engine: { ...cfg, skipAhead: false } });
    expect(on.stats.modelFlops).toBeGreaterThan(0);
    expectSameRun(on, off);
  });
});

describe('--metric-percentiles and the ms block', () => {
  it('parses lists and refuses bad ones with the option named', () => {
    expect(parseMetricPercentiles(undefined)).toEqual([50, 90, 95, 99]);
    expect(parseMetricPercentiles('50,90,99')).toEqual([50, 90, 99]);
    expect(parseMetricPercentiles(' 99.9 , 0,100')).toEqual([99.9, 0, 100]);
    for (const [bad, why] of [['', 'empty'], ['50,,99', 'empty'], ['101', '[0, 100]'], ['-1', '[0, 100]'], ['p99', '[0, 100]'], ['0x10', '[0, 100]'], ['50,50', 'twice']]) {
      const e = inputError(() => parseMetricPercentiles(bad));
      expect(e.message).toContain('--metric-percentiles');
      expect(e.message).toContain(why);
    }
  });

  it('repeats TTFT, TPOT, ITL and e2e in milliseconds under vLLM names: the seconds view × 1000', () => {
    const { trace } = poissonGeometricTrace(200, 3, 30, 'ms');
    const res = simulate({ trace, policy: new Fcfs(), cost: new LinearCostModel({ base: 0.01, prefill: 1e-4, decode: 1e-3, kv: 0 }), engine: engineConfig({ maxNumSeqs: 8 }) });
    const m = requestMetrics(res.requests);
    const s = summarize(res, m, { kvBlocks: 1, unlimitedKv: true, slo: {}, percentiles: [90, 99, 99.9] });
    const pairs: [string, keyof typeof s][] = [['ttft', 'ttft_s'], ['tpot', 'tpot_s'], ['itl', 'itl_s'], ['e2el', 'e2e_s']];
    for (const [v, k] of pairs) {
      const sec = s[k] as { mean: number; p50: number; p90: number; p99: number };
      expect(s.ms[`mean_${v}_ms`]).toBe(sec.mean * 1000);
      expect(s.ms[`median_${v}_ms`]).toBe(sec.p50 * 1000);
      expect(s.ms[`p90_${v}_ms`]).toBe(sec.p90 * 1000);
      expect(s.ms[`p99_${v}_ms`]).toBe(sec.p99 * 1000);
      expect(s.ms[`p99.9_${v}_ms`]).toBeGreaterThanOrEqual(s.ms[`p99_${v}_ms`]!);
      expect(s.ms[`std_${v}_ms`]).toBeGreaterThan(0);
    }
    expect(Object.keys(s.ms)).toHaveLength(4 * 6);
    expect(s.ms.p95_ttft_ms).toBeUndefined();
  });

  it('std is numpy std: hand-worked TTFTs 1, 2, 3, 6 s give mean 3000 ms, std sqrt(3.5)·1000 ms', () => {
    // One 1-token request each, alone: TTFT = its iteration time = base + prefill·prompt.
    const trace = makeTrace([0, 100, 200, 300], [1, 2, 3, 6], [1, 1, 1, 1]);
    const res = simulate({ trace, policy: new Fcfs(), cost: new LinearCostModel({ base: 0, prefill: 1, decode: 0, kv: 0 }), engine: engineConfig() });
    const s = summarize(res, requestMetrics(res.requests), { kvBlocks: 1, unlimitedKv: true, slo: {}, percentiles: [50] });
    expect(s.ms.mean_ttft_ms).toBe(3000);
    expect(s.ms.std_ttft_ms).toBeCloseTo(Math.sqrt((4 + 1 + 0 + 9) / 4) * 1000, 9);
    expect(s.ms.median_ttft_ms).toBe(2500);
    expect(s.ms.mean_tpot_ms).toBeNull();
  });

  it('sim run --metric-percentiles through the CLI: the JSON ms block, mfu and mbu in (0, 1)', async () => {
    const r = await runSim('--trace', 'traces/azure-conv-2000.csv', '--limit', '100', '--json', '--metric-percentiles', '50,99');
    expect(r.code).toBe(0);
    const s = JSON.parse(r.out);
    expect(s.ms.p99_ttft_ms).toBe(s.ttft_s.p99 * 1000);
    expect(s.ms.p90_ttft_ms).toBeUndefined();
    expect(s.mfu).toBeGreaterThan(0);
    expect(s.mfu).toBeLessThan(1);
    expect(s.mbu).toBeGreaterThan(0);
    expect(s.mbu).toBeLessThan(1);
  }, 60_000);
});
