/**
 * Llumnix priorities (§4.4): the headroom of an instance running a high-priority request in the
 * `llumnix` router's freeness and in the migration load, worked by hand; the migration of a normal
 * request away from a high-priority one; priority classes from a trace column or drawn at random;
 * the per-class summary; determinism and skip-ahead = stepping with priorities on; bad values.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { Cluster, InstanceView } from '../sim/migration.ts';
import type { ReplicaLoad } from '../sim/router.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { FINISHED, RUNNING, RequestTable } from '../sim/requests.ts';
import { prioritySummary, requestMetrics } from '../sim/metrics.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { getRouter } from '../policies/routers.ts';
import { chooseRequest, llumnixRescheduler, migrationConfig, migrationLoad, priorityHeadroom, readLlumnixSettings } from '../policies/llumnix.ts';
import { randomPriorities, tracePriorities } from '../traces/priority.ts';
import { buildRun, normalizeOptions } from '../app/config.ts';
import { runResolved } from '../app/run.ts';
import { syntheticTrace } from '../traces/index.ts';
import { makeTrace, engineConfig, runDifferences, inputError, gapTrace, runSim, tempFiles } from './helpers.ts';
import type { Trace } from '../sim/trace.ts';

/** A hand-built replica load: `free` KV blocks above the watermark, no waiting request, running requests `ids`: freeness free / running (sim/engine.ts). */
function load(free: number, ids: number[]): ReplicaLoad {
  return {
    outstandingRequests: ids.length,
    outstandingTokens: 0,
    freeness: free / ids.length,
    freenessRequests: ids.length,
    cachedPrefixTokens: () => 0,
    forEachRequest: (visit) => ids.forEach(visit),
  };
}

describe('headroom in the llumnix router', () => {
  // Requests 0 (high) and 1, 2 (normal), all running.
  const R = new RequestTable(makeTrace([0, 0, 0], [16, 16, 16], [4, 4, 4]), Uint8Array.from([1, 0, 0]));
  R.state.fill(RUNNING);
  const route = (headroom: number) => {
    const opts: Record<string, string> = headroom > 0 ? { headroom: String(headroom) } : {};
    const router = getRouter('llumnix').create(opts)({ replicas: [load(500, [0]), load(420, [1])], requests: R, random: seedrandom.alea('x') });
    return router.route(2, 0);
  };

  it('sends the next normal request away from the replica running a high-priority one', () => {
    // Replica 0: 500 free blocks, one request (the high one): freeness 500 / 1 = 500.
    // Replica 1: 420 free blocks, one normal request: 420 / 1 = 420. Without headroom: replica 0.
    expect(route(0)).toBe(0);
    // headroom=100: replica 0's virtual usage is 100 blocks more: (500 − 100) / 1 = 400 < 420.
    expect(route(100)).toBe(1);
    // headroom=79: 500 − 79 = 421 > 420, still replica 0; headroom=81: 419, replica 1.
    expect(route(79)).toBe(0);
    expect(route(81)).toBe(1);
  });

  it('counts no headroom for a high-priority request that only waits, nor without priorities', () => {
    R.state[0] = 1; // WAITING
    expect(route(100)).toBe(0);
    R.state[0] = RUNNING;
    const plain = new RequestTable(makeTrace([0, 0, 0], [16, 16, 16], [4, 4, 4]));
    plain.state.fill(RUNNING);
    const r = getRouter('llumnix').create({ headroom: '100' })({ replicas: [load(500, [0]), load(420, [1])], requests: plain, random: seedrandom.alea('x') });
    expect(r.route(2, 0)).toBe(0);
  });

  it('refuses a bad headroom in one line', () => {
    expect(inputError(() => getRouter('llumnix').create({ headroom: '-1' })).message).toMatch(/headroom/);
    expect(inputError(() => getRouter('llumnix').create({ headroom: '2.5' })).message).toMatch(/headroom/);
    expect(inputError(() => readLlumnixSettings({ headroom: 'x' })).message).toMatch(/headroom/);
  });
});

/** A hand-built instance: `free` blocks, watermark 0, nothing waiting, running decodes `ids`. */
function view(free: number, ids: number[]): InstanceView {
  return {
    freeBlocks: free,
    watermarkBlocks: 0,
    runningCount: ids.length,
    waitingCount: 0,
    headBlocks: 0,
    killedCount: 0,
    runningIds: () => Int32Array.from(ids),
    isDecoding: () => true,
  };
}

describe('headroom in the migration load', () => {
  // Request 0 is high-priority and the shortest; 1 and 2 normal (1 shorter than 2).
  const R = new RequestTable(makeTrace([0, 0, 0, 0], [10, 50, 90, 20], [9, 9, 9, 9]), Uint8Array.from([1, 0, 0, 0]));

  it('makes the instance of a high-priority request a source, which migrates a normal request away', () => {
    const instances = [view(100, [0, 1, 2]), view(500, [3])];
    // Without headroom: loads −100/3 ≈ −33.3 and −500/1: both below 3.0, no source, no migration.
    expect(migrationLoad(instances[0], priorityHeadroom(Int32Array.from([0, 1, 2]), 3, R, 0))).toBeCloseTo(-100 / 3, 12);
    // headroom=200 on instance 0 (it runs request 0): −(100 − 200) / 3 = 33.3 > 3.0, a source;
    // instance 1 (no high-priority request) keeps −500, the destination.
    expect(priorityHeadroom(Int32Array.from([0, 1, 2]), 3, R, 200)).toBe(200);
    expect(priorityHeadroom(Int32Array.from([3]), 1, R, 200)).toBe(0);
    expect(migrationLoad(instances[0], 200)).toBeCloseTo(100 / 3, 12);
    const moves: [number, number, number][] = [];
    const cluster: Cluster = {
      instances,
      requests: R,
      migrating: () => false,
      serving: () => true,
      draining: () => false,
      migrate(id, src, dst) {
        moves.push([id, src, dst]);
        return true;
      },
    };
    llumnixRescheduler(readLlumnixSettings({})).poll(0.05, cluster);
    expect(moves).toEqual([]);
    llumnixRescheduler(readLlumnixSettings({ headroom: '200' })).poll(0.05, cluster);
    // SJF among the normal requests: request 1 (50 tokens), not the shorter high-priority request 0.
    expect(moves).toEqual([[1, 0, 1]]);
  });

  it('chooses a high-priority decode only when no normal one decodes', () => {
    expect(chooseRequest(view(0, [0, 1, 2]), R, 'sjf')).toBe(1);
    expect(chooseRequest(view(0, [0, 1, 2]), R, 'ljf')).toBe(2);
    expect(chooseRequest(view(0, [0, 1, 2]), R, 'lcfs')).toBe(2);
    expect(chooseRequest(view(0, [0]), R, 'sjf')).toBe(0);
  });
});

describe('priority classes', () => {
  it('reads a generic CSV priority column, refusing other values with file and line', async () => {
    const write = tempFiles('llmsched-priority-');
    const ok = write('arrival_s,prompt_tokens,output_tokens,priority\n0,10,5,0\n0.5,10,5,1\n1,10,5, 1\n', 'ok.csv');
    const res = await runSim('--trace', ok, '--replicas', '2', '--router', 'llumnix', '--router-opt', 'headroom=10', '--kv-tokens', 'unlimited', '--json');
    expect(res.code, res.err).toBe(0);
    const s = JSON.parse(res.out);
    expect(s.priority.high.requests).toBe(2);
    expect(s.priority.normal.requests).toBe(1);
    const bad = write('arrival_s,prompt_tokens,output_tokens,priority\n0,10,5,0\n0.5,10,5,high\n', 'bad.csv');
    const r2 = await runSim('--trace', bad, '--kv-tokens', 'unlimited');
    expect(r2.code).not.toBe(0);
    expect(r2.err.trim().split('\n')).toHaveLength(1);
    expect(r2.err).toMatch(/bad\.csv:3.*priority.*'high' is not 0 \(normal\) or 1 \(high\)/);
    // A column and the flag together are refused.
    const r3 = await runSim('--trace', ok, '--high-priority-fraction', '0.5', '--kv-tokens', 'unlimited');
    expect(r3.code).not.toBe(0);
    expect(r3.err).toMatch(/high-priority-fraction.*one way, not both/);
    const r4 = await runSim('--trace', ok, '--high-priority-fraction', '1.5', '--kv-tokens', 'unlimited');
    expect(r4.code).not.toBe(0);
    expect(r4.err).toMatch(/high-priority-fraction/);
  }, 60_000);

  it('draws high priority with the given probability, one draw per request', () => {
    const p = randomPriorities(20000, 0.1, seedrandom.alea('p'));
    const high = p.reduce((a, x) => a + x, 0);
    // Binomial(20000, 0.1): mean 2000, sd 42.4; within 5 sd.
    expect(Math.abs(high - 2000)).toBeLessThan(5 * Math.sqrt(20000 * 0.1 * 0.9));
    expect(randomPriorities(50, 0, Math.random).every((x) => x === 0)).toBe(true);
    expect(randomPriorities(50, 1, Math.random).every((x) => x === 1)).toBe(true);
  });

  it('a trace without the column has no priorities', () => {
    expect(tracePriorities(makeTrace([0], [1], [1]))).toBeUndefined();
  });

  it('summarizes latencies per class, by hand', () => {
    // Request 0 (high): arrives 0, first token 1, done 3 with 3 tokens: TTFT 1, TPOT (3 − 1) / 2 = 1, e2e 3.
    // Request 1 (normal): arrives 0, first token 2, done 2 with 1 token: TTFT 2, no TPOT, e2e 2.
    const R = new RequestTable(makeTrace([0, 0], [5, 5], [3, 1]), Uint8Array.from([1, 0]));
    R.state.fill(FINISHED);
    R.firstToken.set([1, 2]);
    R.firstScheduled.set([0, 0]);
    R.completion.set([3, 2]);
    const s = prioritySummary(R, requestMetrics(R));
    expect(s.high).toMatchObject({ requests: 1, completed: 1, ttft_s: { mean: 1 }, tpot_s: { mean: 1 }, e2e_s: { mean: 3 } });
    expect(s.normal).toMatchObject({ requests: 1, completed: 1, ttft_s: { mean: 2 }, tpot_s: { mean: null }, e2e_s: { mean: 2 } });
  });
});

describe('priorities in whole runs', () => {
  it('the same options and seed give the same run; another seed other priorities', () => {
    const trace = syntheticTrace({ arrival: 'poisson', rate: 40, n: 300, prompt: 'pareto:86,1.5', output: 'pareto:86,1.5', seed: 1 });
    const opts = { synthetic: 'poisson', model: 'llama-2-7b', gpu: 'a10g', replicas: 4, router: 'llumnix', 'router-opt': ['headroom=100'], migration: 'on', 'migration-opt': ['headroom=100'], 'high-priority-fraction': 0.1 };
    const a = runResolved(buildRun(normalizeOptions(opts), trace, () => {}));
    const b = runResolved(buildRun(normalizeOptions(opts), trace, () => {}));
    expect(JSON.stringify({ ...b.summary, sim: 0 })).toBe(JSON.stringify({ ...a.summary, sim: 0 }));
    expect(a.summary.sim.random_draws).toBe(300);
    const c = runResolved(buildRun(normalizeOptions({ ...opts, seed: 2 }), trace, () => {}));
    expect(Array.from(c.result.requests.priority)).not.toEqual(Array.from(a.result.requests.priority));
  }, 60_000);

  /** `n` FCFS replicas with little KV behind the llumnix router and migration, both with `headroom`. */
  function cluster(trace: Trace, priority: Uint8Array, n: number, kvBlocks: number, headroom: number, skipAhead: boolean): SimulationResult {
    const s = readLlumnixSettings({ headroom: String(headroom) });
    return simulate({
      trace,
      priority,
      policy: Array.from({ length: n }, () => new Fcfs()),
      router: (replicas, requests) => getRouter('llumnix').create({ headroom: String(headroom) })({ replicas, requests, random: seedrandom.alea('r') }),
      cost: new LinearCostModel({ base: 0.005, prefill: 1e-5, decode: 1e-4, kv: 1e-7 }),
      engine: engineConfig({ kvBlocks, watermarkBlocks: 1, skipAhead, maxNumSeqs: 8 }),
      migration: { rescheduler: llumnixRescheduler(s), config: migrationConfig(s, (b) => 0.002 + 0.0005 * b) },
    });
  }

  it('skip-ahead equals stepping with priorities and headroom on; the headroom changes placements', () => {
    let changed = 0;
    const workload = fc.record({
      n: fc.integer({ min: 2, max: 4 }),
      kvBlocks: fc.integer({ min: 24, max: 60 }),
      headroom: fc.integer({ min: 1, max: 30 }),
      reqs: fc.array(fc.record({ gap: fc.double({ min: 0, max: 0.02, noNaN: true }), prompt: fc.integer({ min: 1, max: 200 }), output: fc.integer({ min: 1, max: 150 }), high: fc.boolean() }), { minLength: 1, maxLength: 30 }),
    });
    fc.assert(
      fc.property(workload, ({ n, kvBlocks, headroom, reqs }) => {
        const trace = gapTrace(reqs);
        const priority = Uint8Array.from(reqs, (r) => (r.high ? 1 : 0));
        const on = cluster(trace, priority, n, kvBlocks, headroom, true);
        const off = cluster(trace, priority, n, kvBlocks, headroom, false);
        expect(runDifferences(on, off).join('\n')).toBe('');
        expect(off.migration).toEqual(on.migration);
        const none = cluster(trace, priority, n, kvBlocks, 0, true);
        if (Array.from(none.requests.replica).some((r, i) => r !== on.requests.replica[i])) changed++;
      }),
      { numRuns: 40, seed: 11 },
    );
    // The property is not vacuous: the headroom moves requests in some workloads.
    expect(changed).toBeGreaterThan(3);
  }, 120_000);
});
