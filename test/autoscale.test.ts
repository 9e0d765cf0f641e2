/**
 * Auto-scaling (sim/autoscale.ts, Llumnix §4.4 and the code's `AvgLoad` scaling policy): the
 * average freeness and the decision on hand-built instances; one scale-up and one drain worked by
 * hand (the new instance serves at check time + start-up delay and takes the next request, the
 * drained one empties by migration and is removed, instance-seconds exact); and, over random small
 * workloads, that no request is lost, KV stays within capacity, no instance runs while it is off,
 * and skip-ahead equals stepping.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import { averageFreeness, checkScaling, DRAINING, OFF, SERVING, STARTING } from '../sim/autoscale.ts';
import type { ScalingConfig, ScalingView } from '../sim/autoscale.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { getRouter } from '../policies/routers.ts';
import { LLUMNIX_DEFAULTS, llumnixRescheduler, migrationConfig, readScalingSettings } from '../policies/llumnix.ts';
import { makeTrace, engineConfig, runDifferences, inputError, gapTrace } from './helpers.ts';
import type { Trace } from '../sim/trace.ts';

const view = (freeBlocks: number, runningCount: number, waitingCount = 0, waitingBlocks = 0): ScalingView => ({ freeBlocks, watermarkBlocks: 1, totalBlocks: 100, runningCount, waitingCount, waitingBlocks });
const cfg = (over: Partial<ScalingConfig> = {}): ScalingConfig => ({ min: 1, max: 3, initial: 2, interval_s: 10, upThreshold: 10, downThreshold: 60, startup_s: 0, ...over });

describe('scaling decision', () => {
  it('averages the serving instances, and without the last one counts its use but not its capacity', () => {
    // (40 − 1 + 70 − 1 − 6) / (6 + 4 + 1) = 102 / 11.
    const vs = [view(40, 6), view(70, 4, 1, 6), view(100, 0)];
    expect(averageFreeness(vs, [true, true, false])).toBeCloseTo(102 / 11, 12);
    // Without instance 1: free 40 + 70 − 100 = 10, watermark 1, waiting 6: (10 − 1 − 6) / 11.
    expect(averageFreeness(vs, [true, true, false], 1)).toBeCloseTo(3 / 11, 12);
    // Free floored at 0: 10 + 5 − 100 < 0.
    expect(averageFreeness([view(10, 1), view(5, 1)], [true, true], 1)).toBeCloseTo((0 - 1) / 2, 12);
    expect(averageFreeness([view(100, 0)], [true])).toBe(Infinity);
  });

  it('scales up below the up threshold (one at a time, up to max), drains the last serving instance above the down threshold (down to min)', () => {
    const busy = [view(40, 6), view(30, 6), view(100, 0)]; // (39 + 29) / 12 = 5.67 < 10
    expect(checkScaling(busy, [SERVING, SERVING, OFF], cfg())).toEqual({ kind: 'up' });
    expect(checkScaling(busy, [SERVING, SERVING, STARTING], cfg())).toEqual({ kind: 'none' });
    expect(checkScaling(busy, [SERVING, SERVING, OFF], cfg({ max: 2 }))).toEqual({ kind: 'none' });
    // A draining instance is taken back even at max.
    expect(checkScaling(busy, [SERVING, SERVING, DRAINING], cfg())).toEqual({ kind: 'up' });
    // Idle: (99 + 99 − 100... ) no requests → infinite: drain the last serving one (1), not below min.
    const idle = [view(100, 0), view(100, 0), view(100, 0)];
    expect(checkScaling(idle, [SERVING, SERVING, OFF], cfg())).toEqual({ kind: 'drain', instance: 1 });
    expect(checkScaling(idle, [SERVING, SERVING, OFF], cfg({ min: 2 }))).toEqual({ kind: 'none' });
    expect(checkScaling(idle, [SERVING, SERVING, DRAINING], cfg())).toEqual({ kind: 'none' });
    // Without instance 1: free 90 + 95 − 100 = 85, watermark 1, 2 requests: 42 < 60: stay.
    expect(checkScaling([view(90, 1), view(95, 1)], [SERVING, SERVING], cfg())).toEqual({ kind: 'none' });
    // One request: 84 > 60: drain.
    expect(checkScaling([view(90, 1), view(95, 0)], [SERVING, SERVING], cfg())).toEqual({ kind: 'drain', instance: 1 });
  });

  it('reads its options over the code defaults and refuses bad ones', () => {
    expect(readScalingSettings({}, 16, 2.5)).toEqual({ min: 1, max: 16, initial: 16, interval_s: 10, upThreshold: 10, downThreshold: 60, startup_s: 2.5 });
    expect(readScalingSettings({ min: '2', initial: '4', startup: '30' }, 16, 2.5)).toMatchObject({ min: 2, initial: 4, startup_s: 30 });
    expect(inputError(() => readScalingSettings({ min: '3', initial: '2' }, 4, 1)).message).toMatch(/initial 2 is below min 3/);
    expect(inputError(() => readScalingSettings({ initial: '5' }, 4, 1)).message).toMatch(/--autoscale-opt/);
    expect(inputError(() => readScalingSettings({ size: '5' }, 4, 1)).message).toMatch(/unknown autoscale option size/);
  });
});

describe('one scale-up and one drain, by hand', () => {
  // Two instances at most, one serving at 0; every iteration takes 0.125 s; 200 KV blocks each.
  // 30 requests of 16 prompt and 40 output tokens arrive at 0 on instance 0: token k at 0.125·k,
  // all done at 5.0. The check at t = 1 sees 30 requests holding 2 blocks each: freeness
  // (200 − 60) / 30 = 4.67 < 10: instance 1 starts, serving at 1 + 0.5. Request 30 (16 + 100
  // tokens) arrives at 1.75 and goes there (freeness 200 vs about 3): token k at 1.75 + 0.125·k.
  // Checks at 2, 3, 4 are at max and the average without instance 1 is below 60. At 5.0 instance 0
  // is empty: without instance 1 the freeness is (200 + 197 − 200) / 1 > 60: instance 1 drains.
  // The poll at 5.0 makes it a source of infinite load; request 30 (3 blocks: one last stage)
  // stops at its iteration's end (5.125, token 27), 3 blocks are copied in 3 ms, and it resumes on
  // instance 0 at 5.128; instance 1, empty, is removed then. Tokens 28..100 on instance 0: the last
  // at 5.128 + 73 × 0.125 = 14.253. Instance-seconds: 14.253 (instance 0) + (5.128 − 1) = 18.381.
  const trace = makeTrace([...Array(30).fill(0), 1.75], [...Array(31).fill(16)], [...Array(30).fill(40), 100]);
  const run = (skipAhead: boolean) => {
    const s = { ...LLUMNIX_DEFAULTS, interval_s: 0.125 };
    return simulate({
      trace,
      policy: [new Fcfs(), new Fcfs()],
      router: (replicas, requests) => getRouter('llumnix').create({})({ replicas, requests, random: seedrandom.alea('r') }),
      cost: new LinearCostModel({ base: 0.125, prefill: 0, decode: 0, kv: 0 }),
      engine: engineConfig({ kvBlocks: 200, skipAhead }),
      migration: { rescheduler: llumnixRescheduler(s), config: migrationConfig(s, (b) => 0.001 * b) },
      autoscale: { min: 1, max: 2, initial: 1, interval_s: 1, upThreshold: 10, downThreshold: 60, startup_s: 0.5 },
    });
  };
  for (const skipAhead of [false, true]) {
    it(`scale-up at check + delay, drain by migration, instance-seconds (skip-ahead ${skipAhead ? 'on' : 'off'})`, () => {
      const res = run(skipAhead);
      const a = res.autoscale!;
      const R = res.requests;
      expect(a.events.map((e) => [e.action, e.instance, e.instances])).toEqual([
        ['up', 1, 2],
        ['ready', 1, 2],
        ['drain', 1, 2],
        ['removed', 1, 1],
      ]);
      const t = a.events.map((e) => e.t_s);
      expect(t[0]).toBe(1);
      expect(t[1]).toBe(1.5);
      expect(t[2]).toBe(5);
      expect(t[3]).toBeCloseTo(5.128, 12);
      expect([a.scaleUps, a.scaleDowns, a.removed, a.minUp, a.maxUp]).toEqual([1, 1, 1, 1, 2]);
      for (let i = 0; i < 30; i++) {
        expect(R.replica[i]).toBe(0);
        expect(R.completion[i]).toBe(5);
      }
      expect(res.migration!.completed).toBe(1);
      expect(R.replica[30]).toBe(0);
      expect(res.replicas[1].movedOut).toBe(1);
      expect(R.completion[30]).toBeCloseTo(14.253, 9);
      expect(a.instance_s).toBeCloseTo(14.253 + 4.128, 9);
    });
  }
});

/** A cluster of at most `n` FCFS replicas with little KV, Llumnix's dispatch and migration, auto-scaled. */
function scaledCluster(trace: Trace, w: Workload, skipAhead: boolean, observer?: (r: IterationRecord) => void): SimulationResult {
  const s = LLUMNIX_DEFAULTS;
  return simulate({
    trace,
    policy: Array.from({ length: w.n }, () => new Fcfs()),
    router: (replicas, requests) => getRouter(w.router).create({})({ replicas, requests, random: seedrandom.alea('r') }),
    cost: new LinearCostModel({ base: 0.005, prefill: 1e-5, decode: 1e-4, kv: 1e-7 }),
    engine: engineConfig({ kvBlocks: w.kvBlocks, watermarkBlocks: 1, skipAhead, maxNumSeqs: 8 }),
    observer,
    migration: { rescheduler: llumnixRescheduler(s), config: migrationConfig(s, (b) => 0.002 + 0.0005 * b) },
    autoscale: { min: 1, max: w.n, initial: w.initial, interval_s: w.interval, upThreshold: w.up, downThreshold: w.up + 20, startup_s: w.startup },
  });
}

interface Workload {
  n: number;
  initial: number;
  kvBlocks: number;
  interval: number;
  startup: number;
  up: number;
  router: string;
  reqs: { gap: number; prompt: number; output: number }[];
}

const workload: fc.Arbitrary<Workload> = fc
  .record({
    n: fc.integer({ min: 2, max: 4 }),
    initial: fc.integer({ min: 1, max: 4 }),
    kvBlocks: fc.integer({ min: 24, max: 80 }),
    interval: fc.constantFrom(0.05, 0.1, 0.25),
    startup: fc.constantFrom(0, 0.03, 0.2),
    up: fc.constantFrom(2, 5, 10),
    router: fc.constantFrom('llumnix', 'round-robin', 'least-requests'),
    reqs: fc.array(fc.record({ gap: fc.double({ min: 0, max: 0.06, noNaN: true }), prompt: fc.integer({ min: 1, max: 200 }), output: fc.integer({ min: 1, max: 150 }) }), { minLength: 1, maxLength: 40 }),
  })
  .map((w) => ({ ...w, initial: Math.min(w.initial, w.n) }));

describe('auto-scaling properties (random small workloads)', () => {
  it('no request lost; KV within capacity; no iteration on an instance that is not up; instance-seconds bounded; skip-ahead equals stepping', () => {
    let actions = 0;
    fc.assert(
      fc.property(workload, (w) => {
        const trace = gapTrace(w.reqs);
        const records: IterationRecord[] = [];
        const on = scaledCluster(trace, w, true, (r) => records.push(r));
        const off = scaledCluster(trace, w, false);
        const R = on.requests;
        const a = on.autoscale!;
        actions += a.scaleUps + a.scaleDowns;
        for (let i = 0; i < R.n; i++) {
          expect([FINISHED, REJECTED]).toContain(R.state[i]);
          if (R.state[i] === FINISHED) expect(R.generated[i]).toBe(R.output[i]);
          expect(R.blocks[i] + R.reserved[i] + R.swappedBlocks[i]).toBe(0);
        }
        for (const r of records) expect(r.kvBlocksUsed).toBeLessThanOrEqual(w.kvBlocks);
        // Each instance's serving-or-draining intervals from the timeline: iterations run only inside them.
        const upFrom = new Array<number>(w.n).fill(-1);
        const intervals: [number, number, number][] = [];
        for (let i = 0; i < w.initial; i++) upFrom[i] = 0;
        for (const e of a.events) {
          // Serving from `ready` (a drain called off keeps the instance up: no `ready`).
          if (e.action === 'ready') upFrom[e.instance] = e.t_s;
          if (e.action === 'removed') {
            intervals.push([e.instance, upFrom[e.instance], e.t_s]);
            upFrom[e.instance] = -1;
          }
        }
        for (let i = 0; i < w.n; i++) if (upFrom[i] >= 0) intervals.push([i, upFrom[i], Infinity]);
        for (const r of records) expect(intervals.some(([i, s, e]) => i === r.replica && r.start >= s && r.end <= e)).toBe(true);
        expect(a.minUp).toBeGreaterThanOrEqual(1);
        expect(a.maxUp).toBeLessThanOrEqual(w.n);
        expect(a.instance_s).toBeLessThanOrEqual(w.n * on.end_s + 1e-9);
        expect(a.removed).toBeLessThanOrEqual(a.scaleDowns);
        expect(runDifferences(on, off).join('\n')).toBe('');
        expect(off.autoscale).toEqual(on.autoscale);
        expect(off.migration).toEqual(on.migration);
      }),
      { numRuns: 60, seed: 11 },
    );
    // The workloads do scale (the property is not vacuous).
    expect(actions).toBeGreaterThan(20);
  }, 120_000);
});
