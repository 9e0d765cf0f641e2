/**
 * Live migration (sim/migration.ts) and Llumnix's migration scheduler (policies/llumnix.ts): one
 * migration worked by hand (stages, blocks per stage, downtime, the request's token timeline);
 * the scheduler's pairing and request choice on hand-built instances; and, over random small
 * workloads on a few memory-starved replicas, that no request is lost or duplicated, KV stays
 * within capacity on both sides, and skip-ahead equals stepping.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import type { Cluster, InstanceView, MigrationConfig, Rescheduler } from '../sim/migration.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { FINISHED, REJECTED, RequestTable } from '../sim/requests.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { getRouter } from '../policies/routers.ts';
import { LLUMNIX_DEFAULTS, chooseRequest, llumnixRescheduler, migrationConfig, migrationLoad, pairInstances, readLlumnixSettings } from '../policies/llumnix.ts';
import seedrandom from 'seedrandom';
import { makeTrace, engineConfig, runDifferences, inputError, gapTrace } from './helpers.ts';
import type { Trace } from '../sim/trace.ts';

/** Every iteration costs 10 ms. */
const tenMs = () => new LinearCostModel({ base: 0.01, prefill: 0, decode: 0, kv: 0 });

/** A rescheduler that moves request `id` from replica `src` to `dst` at its first poll, and nothing else. */
function once(id: number, src: number, dst: number, interval_s = 0.05): Rescheduler {
  let done = false;
  return {
    name: 'once',
    interval_s,
    poll(now: number, c: Cluster) {
      if (!done) done = c.migrate(id, src, dst, now);
    },
  };
}

describe('one live migration, by hand', () => {
  // Request 0: a 400-token prompt (25 blocks of 16) and 100 output tokens, alone on replica 0 of
  // two; every iteration takes 10 ms; copying a block takes 1 ms. Its token k comes at 0.01·k s.
  // The first poll (t = 0.05, after token 5) starts the migration: the request has 404 tokens
  // computed in 26 blocks, so stage 1 copies 25 (all but the last, being written), 0.05 → 0.075,
  // while it decodes on (tokens 6, 7 at 0.06, 0.07; the step from 0.07 is in flight). At 0.075
  // one block is new (26 − 25 ≤ 16): the last stage, which waits for the iteration in flight to
  // end (token 8 at 0.08), freezes the request, copies its last block (0.08 → 0.081: the
  // downtime, 1 ms) and resumes it on replica 1, whose first step ends at 0.091 (token 9):
  // token k at 0.001 + 0.01·k for k ≥ 9, the last (k = 100) at 1.001.
  const trace = makeTrace([0], [400], [100]);
  const config: MigrationConfig = { lastStageMaxBlocks: 16, maxStages: 3, copySeconds: (b) => 0.001 * b };
  const run = (skipAhead: boolean) => {
    const records: IterationRecord[] = [];
    const res = simulate({
      trace,
      policy: [new Fcfs(), new Fcfs()],
      router: () => ({ name: 'first', route: () => 0 }),
      cost: tenMs(),
      engine: engineConfig({ kvBlocks: 1000, skipAhead }),
      observer: (r) => records.push(r),
      migration: { rescheduler: once(0, 0, 1), config },
    });
    return { res, records };
  };

  for (const skipAhead of [false, true]) {
    it(`stages, blocks, downtime and token times (skip-ahead ${skipAhead ? 'on' : 'off'})`, () => {
      const { res, records } = run(skipAhead);
      const R = res.requests;
      const m = res.migration!;
      expect(m.started).toBe(1);
      expect(m.completed).toBe(1);
      expect(m.stages).toBe(2);
      expect(m.blocks).toBe(26);
      expect(m.downtime_s).toHaveLength(1);
      expect(m.downtime_s[0]).toBeCloseTo(0.001, 12);
      expect(m.abortedMemory + m.abortedRequest + m.abortedStages).toBe(0);
      expect(R.state[0]).toBe(FINISHED);
      expect(R.replica[0]).toBe(1);
      expect(R.firstToken[0]).toBeCloseTo(0.01, 12);
      expect(R.completion[0]).toBeCloseTo(1.001, 9);
      // The longest gap between tokens: token 8 (0.08) to token 9 (0.091).
      expect(R.maxTbt[0]).toBeCloseTo(0.011, 9);
      expect(res.replicas[0].movedOut).toBe(1);
      expect(res.replicas[1].movedIn).toBe(1);
      // Replica 0 ran tokens 1..8 (8 steps), replica 1 tokens 9..100 (92 steps).
      expect(res.replicas[0].iterations).toBe(8);
      expect(res.replicas[1].iterations).toBe(92);
      const on1 = records.filter((r) => r.replica === 1);
      expect(on1[0].start).toBeCloseTo(0.081, 12);
      // Replica 1 holds the 26 copied blocks when it resumes the request (the step to position 408 needs none).
      expect(on1[0].kvBlocksUsed).toBe(26);
      const last0 = records.filter((r) => r.replica === 0).at(-1)!;
      expect(last0.end).toBeCloseTo(0.08, 12);
      // Every token's gap: 7 of 10 ms on replica 0, one of 11 ms across, 91 of 10 ms on replica 1.
      const { values, counts } = R.itl.sorted();
      const total = counts.reduce((a, b) => a + b, 0);
      expect(total).toBe(99);
      const at11 = values.findIndex((v) => Math.abs(v - 0.011) < 1e-9);
      expect(counts[at11]).toBe(1);
    });
  }

  it('is abandoned when the destination cannot reserve the blocks (leaving its watermark), and the request finishes at the source', () => {
    // 40 blocks a replica, 1 kept free. Request 1 (a 240-token prompt, 300 outputs) runs on
    // replica 1: at 0.05 it holds 16 blocks, so 24 are free, and stage 1's 25 blocks do not fit.
    const res = simulate({
      trace: makeTrace([0, 0], [400, 240], [100, 300]),
      policy: [new Fcfs(), new Fcfs()],
      router: () => ({ name: 'by id', route: (id) => id }),
      cost: tenMs(),
      engine: engineConfig({ kvBlocks: 40, watermarkBlocks: 1 }),
      migration: { rescheduler: once(0, 0, 1), config },
    });
    const m = res.migration!;
    expect([m.started, m.completed, m.abortedMemory, m.wastedBlocks]).toEqual([1, 0, 1, 0]);
    expect(res.requests.replica[0]).toBe(0);
    expect(res.requests.completion[0]).toBeCloseTo(1.0, 9);
    expect(res.requests.completion[1]).toBeCloseTo(3.0, 9);
  });

  it('is abandoned after max-stages stages when no last stage comes', () => {
    // A last stage of at most 0 blocks never comes (the block being written is always left).
    // Copying a block takes 50 ms: stage 1 copies 25 blocks, 0.05 → 1.30 (the request decodes
    // 125 tokens meanwhile: 530 computed, 34 blocks); stage 2 copies 34 − 25 − 1 = 8, 1.30 →
    // 1.70; then, two stages done, the migration is abandoned.
    const res = simulate({
      trace: makeTrace([0], [400], [400]),
      policy: [new Fcfs(), new Fcfs()],
      router: () => ({ name: 'first', route: () => 0 }),
      cost: tenMs(),
      engine: engineConfig({ kvBlocks: 1000 }),
      migration: { rescheduler: once(0, 0, 1), config: { lastStageMaxBlocks: 0, maxStages: 2, copySeconds: (b) => 0.05 * b } },
    });
    const m = res.migration!;
    expect([m.started, m.completed, m.abortedStages, m.wastedBlocks]).toEqual([1, 0, 1, 33]);
    expect(res.requests.replica[0]).toBe(0);
    expect(res.replicas[1].iterations).toBe(0);
    expect(res.requests.completion[0]).toBeCloseTo(4.0, 9);
  });
});

/** A hand-built instance. */
function view(free: number, watermark: number, running: number, waiting: number, head: number, killed: number, ids: number[] = []): InstanceView {
  return {
    freeBlocks: free,
    watermarkBlocks: watermark,
    runningCount: running,
    waitingCount: waiting,
    headBlocks: head,
    killedCount: killed,
    runningIds: () => Int32Array.from(ids),
    isDecoding: (id) => id !== 3,
  };
}

describe("Llumnix's migration scheduler", () => {
  it('migration load is minus the freeness with the head-of-line demand, −∞ when empty', () => {
    // (100 − 10 − 40) / (4 + 1) = 10 → −10.
    expect(migrationLoad(view(100, 10, 4, 2, 40, 0))).toBe(-10);
    // Without waiting requests: (100 − 10) / 3 = 30 → −30.
    expect(migrationLoad(view(100, 10, 3, 0, 0, 0))).toBe(-30);
    expect(migrationLoad(view(100, 10, 0, 0, 0, 0))).toBe(-Infinity);
  });

  it('pairs the busiest source with the freest destination, killed requests make a source, ties in index order', () => {
    // Loads: 5 (src), −20 (dst), 4 (src), −Infinity (dst), −1 with a killed request (src), 3 exactly (neither).
    const load = [5, -20, 4, -Infinity, -1, 3];
    const killed = [0, 0, 0, 0, 1, 0];
    expect(pairInstances(load, killed, 3)).toEqual([
      [0, 3],
      [2, 1],
    ]);
    // Equal loads: destinations in index order, sources in reverse index order (Python's stable sort, reversed).
    expect(pairInstances([-5, 9, -5, 9], [0, 0, 0, 0], 3)).toEqual([
      [3, 0],
      [1, 2],
    ]);
    expect(pairInstances([-5, -6], [0, 0], 3)).toEqual([]);
  });

  it('chooses the shortest running decode (sjf), the longest (ljf) or the last arrived (lcfs)', () => {
    const R = new RequestTable(makeTrace([0, 0, 0, 0, 0], [50, 10, 300, 5, 10], [9, 9, 9, 9, 9]));
    R.generated.set([5, 5, 5, 0, 0]);
    // Request 3 is not decoding (the hand-built view says so); 1 and 4 tie at 15 and 10 tokens.
    const v = view(0, 0, 5, 0, 0, 0, [0, 2, 3, 4, 1]);
    expect(chooseRequest(v, R, 'sjf')).toBe(4);
    expect(chooseRequest(v, R, 'ljf')).toBe(2);
    expect(chooseRequest(v, R, 'lcfs')).toBe(4);
    expect(chooseRequest(view(0, 0, 1, 0, 0, 0, [3]), R, 'sjf')).toBe(-1);
  });

  it('reads its options over the code defaults and refuses bad ones', () => {
    expect(readLlumnixSettings({})).toEqual(LLUMNIX_DEFAULTS);
    expect(readLlumnixSettings({ 'migrate-out-threshold': '-1e9', request: 'ljf' })).toMatchObject({ migrateOutThreshold: -1e9, request: 'ljf' });
    expect(inputError(() => readLlumnixSettings({ stages: '2' })).message).toMatch(/unknown llumnix option stages/);
    expect(inputError(() => readLlumnixSettings({ interval: '0' })).message).toMatch(/interval/);
  });
});

/** A cluster of `n` FCFS replicas with little KV behind Llumnix's dispatch, with Llumnix's migration. */
function llumnixCluster(trace: Trace, n: number, kvBlocks: number, skipAhead: boolean, chunked: boolean, observer?: (r: IterationRecord) => void): SimulationResult {
  const s = readLlumnixSettings({});
  return simulate({
    trace,
    policy: Array.from({ length: n }, () => new Fcfs()),
    router: (replicas, requests) => getRouter('llumnix').create({})({ replicas, requests, random: seedrandom.alea('r') }),
    cost: new LinearCostModel({ base: 0.005, prefill: 1e-5, decode: 1e-4, kv: 1e-7 }),
    engine: engineConfig({ kvBlocks, watermarkBlocks: 1, skipAhead, chunkedPrefill: chunked, maxNumBatchedTokens: chunked ? 64 : Number.MAX_SAFE_INTEGER, maxNumSeqs: 8 }),
    observer,
    migration: { rescheduler: llumnixRescheduler(s), config: migrationConfig(s, (b) => 0.002 + 0.0005 * b) },
  });
}

const workload = fc.record({
  n: fc.integer({ min: 2, max: 4 }),
  kvBlocks: fc.integer({ min: 24, max: 60 }),
  chunked: fc.boolean(),
  reqs: fc.array(fc.record({ gap: fc.double({ min: 0, max: 0.02, noNaN: true }), prompt: fc.integer({ min: 1, max: 200 }), output: fc.integer({ min: 1, max: 150 }) }), { minLength: 1, maxLength: 40 }),
});

describe('migration properties (random small workloads, memory-starved replicas)', () => {
  it('no request is lost or duplicated; KV stays within capacity on every replica; skip-ahead equals stepping', () => {
    let migrated = 0;
    fc.assert(
      fc.property(workload, ({ n, kvBlocks, chunked, reqs }) => {
        const trace = gapTrace(reqs);
        const records: IterationRecord[] = [];
        const on = llumnixCluster(trace, n, kvBlocks, true, chunked, (r) => records.push(r));
        const off = llumnixCluster(trace, n, kvBlocks, false, chunked);
        const R = on.requests;
        const m = on.migration!;
        migrated += m.completed;
        // Each request finished once (all its tokens, no KV left anywhere) or was rejected.
        for (let i = 0; i < R.n; i++) {
          expect([FINISHED, REJECTED]).toContain(R.state[i]);
          if (R.state[i] === FINISHED) expect(R.generated[i]).toBe(R.output[i]);
          expect(R.blocks[i] + R.reserved[i] + R.swappedBlocks[i]).toBe(0);
        }
        // Moves out = moves in = completed migrations; every started one completed or was abandoned.
        const out = on.replicas.reduce((a, s) => a + s.movedOut, 0);
        const inn = on.replicas.reduce((a, s) => a + s.movedIn, 0);
        expect(out).toBe(m.completed);
        expect(inn).toBe(m.completed);
        expect(m.started).toBe(m.completed + m.abortedMemory + m.abortedRequest + m.abortedStages);
        expect(m.downtime_s.every((d) => d >= 0)).toBe(true);
        // KV in use (reservations included) never above capacity, on either side of any migration.
        for (const r of records) expect(r.kvBlocksUsed).toBeLessThanOrEqual(kvBlocks);
        // Tokens are conserved: completions + rejections = requests.
        expect(on.stats.iterations).toBeGreaterThan(0);
        expect(runDifferences(on, off).join('\n')).toBe('');
        expect(off.migration).toEqual(on.migration);
      }),
      { numRuns: 60, seed: 7 },
    );
    // The workloads do migrate (the property is not vacuous).
    expect(migrated).toBeGreaterThan(10);
  }, 120_000);
});
