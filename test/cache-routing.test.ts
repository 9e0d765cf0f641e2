/**
 * Cache-aware routing: the decisions of `prefix-affinity` (SGLang's cache_aware) and `preble`
 * (Preble's E2) on hand-built loads with cached prefixes, and, end to end on generated program
 * traces (calls resending their parent's context, `prefix_from`) with prefix caching on, a higher
 * prefix-cache token hit rate than the load-only routers for `prefix-affinity`, `preble` and
 * `autellix`.
 */
import { describe, it, expect } from 'vitest';
import seedrandom from 'seedrandom';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { getRouter } from '../policies/routers.ts';
import type { ReplicaLoad, RouterContext } from '../sim/router.ts';
import { RequestTable } from '../sim/requests.ts';
import type { Trace } from '../sim/trace.ts';
import { generateProgramTrace } from '../traces/generators.ts';
import { makeTrace, engineConfig } from './helpers.ts';

/** A replica's load; `cached[id]` the prompt tokens of request `id` its cache holds (0 when absent). */
const load = (outstandingRequests: number, outstandingTokens: number, cached: Record<number, number> = {}): ReplicaLoad => ({
  outstandingRequests,
  outstandingTokens,
  freeness: 0,
  freenessRequests: 0,
  cachedPrefixTokens: (id) => cached[id] ?? 0,
  forEachRequest: () => {},
});

function routerOver(name: string, replicas: ReplicaLoad[], requests: RequestTable, opts: Record<string, string> = {}) {
  const ctx: RouterContext = { replicas, requests, random: seedrandom.alea('router-test') };
  return getRouter(name).create(opts)(ctx);
}

describe('prefix-affinity (SGLang cache_aware)', () => {
  // Request 0: 1000-token prompt.
  const requests = new RequestTable(makeTrace([0, 0, 0, 0], [1000, 1000, 500, 100], [5, 5, 5, 5]));

  it('balanced: the longest cached prefix when its match rate is above 0.3 (ties to the lowest index), else the fewest outstanding tokens', () => {
    // Match rates 0, 0.4, 0.4: replicas 1 and 2 tie on the longest match; 1 wins.
    expect(routerOver('prefix-affinity', [load(10, 5000), load(12, 9000, { 0: 400 }), load(11, 2000, { 0: 400 })], requests).route(0, 0)).toBe(1);
    // Best match 300 / 1000 = 0.3 is not above 0.3: the fewest outstanding tokens (replica 2).
    const low = [load(10, 5000), load(12, 9000, { 0: 300 }), load(11, 2000, { 0: 200 })];
    expect(routerOver('prefix-affinity', low, requests).route(0, 0)).toBe(2);
    // A lower threshold takes the match; a higher one refuses 0.4.
    expect(routerOver('prefix-affinity', low, requests, { 'cache-threshold': '0.25' }).route(0, 0)).toBe(1);
    const mid = [load(10, 5000), load(12, 9000, { 0: 400 }), load(11, 2000)];
    expect(routerOver('prefix-affinity', mid, requests, { 'cache-threshold': '0.5' }).route(0, 0)).toBe(2);
  });

  it('imbalanced (max − min > 64 and max > 1.5 × min): the fewest outstanding requests, cache or not', () => {
    const at = (a: number, b: number) => routerOver('prefix-affinity', [load(a, 0), load(b, 0, { 0: 900 })], requests).route(0, 0);
    expect(at(0, 65)).toBe(0); // 65 > 64 and 65 > 0
    expect(at(0, 64)).toBe(1); // 64 is not above 64: balanced, the cache wins
    expect(at(120, 185)).toBe(0); // 65 > 64 and 185 > 180
    expect(at(130, 195)).toBe(1); // 65 > 64 but 195 is not above 195
    expect(routerOver('prefix-affinity', [load(0, 0), load(10, 0, { 0: 900 })], requests, { 'balance-abs': '5', 'balance-rel': '2' }).route(0, 0)).toBe(0);
  });

  it('rejects options out of range', () => {
    expect(() => getRouter('prefix-affinity').create({ 'cache-threshold': '1.5' })).toThrow(/--router-opt.*cache-threshold/);
    expect(() => getRouter('prefix-affinity').create({ 'balance-abs': '2.5' })).toThrow(/--router-opt.*balance-abs/);
    expect(() => getRouter('prefix-affinity').create({ tree: '1' })).toThrow(/--router-opt.*unknown prefix-affinity option tree/);
  });
});

describe('preble (E2)', () => {
  it('exploits when the uncached part is shorter than the longest match: the least load cost among the replicas holding it', () => {
    const requests = new RequestTable(makeTrace([0, 0], [1000, 1000], [5, 5]));
    // 1000 − 600 = 400 < 600: exploit among replicas 1 and 2 (cost 5000 vs 3000 tokens), not the idle 0 and 3.
    const replicas = [load(0, 0), load(3, 5000, { 0: 600, 1: 500 }), load(3, 3000, { 0: 600, 1: 500 }), load(0, 0, { 0: 100 })];
    expect(routerOver('preble', replicas, requests).route(0, 0)).toBe(2);
    // 1000 − 500 = 500 is not shorter than 500: explore, the least load cost (replica 0, ties to the lowest index).
    expect(routerOver('preble', replicas, requests).route(1, 0)).toBe(0);
  });

  it('load cost: uncached prompt tokens routed in the last 180 s plus outstanding tokens', () => {
    const requests = new RequestTable(makeTrace([0, 1, 2, 180, 200], [1000, 500, 100, 100, 1000], [5, 5, 5, 5, 5]));
    const replicas = [load(0, 0), load(0, 0, { 4: 600 })];
    const r = routerOver('preble', replicas, requests);
    expect(r.route(0, 0)).toBe(0); // costs 0, 0: replica 0; its window: 1000
    expect(r.route(1, 1)).toBe(1); // 1000 vs 0; replica 1: 500
    expect(r.route(2, 2)).toBe(1); // 1000 vs 500; replica 1: 600
    expect(r.route(3, 180)).toBe(0); // request 0 left the window (routed at 0 ≤ 180 − 180): 0 vs 600
    // At t = 200 the entries of t = 1, 2 expire (≤ 20). Request 4 exploits replica 1
    // (1000 − 600 < 600) and adds only its 400 missed tokens there.
    expect(r.route(4, 200)).toBe(1);
    // Outstanding tokens count (decode-weight 1): at t = 201 replica 0 costs 100 (t = 180) + 450,
    // replica 1 costs 400: replica 1.
    replicas[0] = load(1, 450);
    expect(r.route(3, 201)).toBe(1);
  });

  it('decode-weight 0 balances on the window alone; options are checked', () => {
    const requests = new RequestTable(makeTrace([0], [100], [5]));
    const replicas = [load(5, 10_000), load(0, 0)];
    expect(routerOver('preble', replicas, requests).route(0, 0)).toBe(1);
    expect(routerOver('preble', replicas, requests, { 'decode-weight': '0' }).route(0, 0)).toBe(0);
    expect(() => getRouter('preble').create({ window: '-1' })).toThrow(/--router-opt.*window/);
  });
});

/** Runs `trace` on `n` FCFS replicas behind router `name`, prefix caching on. */
function run(trace: Trace, n: number, name: string, kvBlocks = 2 ** 40): SimulationResult {
  return simulate({
    trace,
    policy: Array.from({ length: n }, () => new Fcfs()),
    router: (replicas, requests) => getRouter(name).create({})({ replicas, requests, random: seedrandom.alea(`${name}:1`) }),
    cost: new LinearCostModel({ base: 0.01, prefill: 0.0001, decode: 0.01, kv: 0 }),
    engine: engineConfig({ prefixCaching: true, kvBlocks, maxNumSeqs: 64, maxNumBatchedTokens: 16384 }),
  });
}

const hitRate = (res: SimulationResult) => res.stats.prefixHitTokens / res.stats.prefixQueriedTokens;

describe('cache-aware routing end to end (prefix caching on, program traces with prefix_from)', () => {
  // ReAct programs: each call resends the trajectory (its parent's prompt + output), prefix_from = the parent.
  const trace = generateProgramTrace({ kind: 'react', programs: 60, rate: 2, seed: 7 });

  it('prefix-affinity and preble hit the cache more than round-robin and least-requests', () => {
    const rr = hitRate(run(trace, 4, 'round-robin'));
    const lr = hitRate(run(trace, 4, 'least-requests'));
    const pa = hitRate(run(trace, 4, 'prefix-affinity'));
    const pb = hitRate(run(trace, 4, 'preble'));
    // Each call's prompt holds its ancestors' contexts, so even round-robin hits an ancestor's
    // blocks on most replicas (≈ 0.74 here); the cache-aware routers send calls where their
    // parent ran (≈ 0.92, the one-replica rate) and miss under half as many tokens.
    expect(pa).toBeGreaterThan(rr + 0.1);
    expect(pa).toBeGreaterThan(lr + 0.1);
    expect(pb).toBeGreaterThan(rr + 0.1);
    expect(1 - pa).toBeLessThan(0.5 * (1 - rr));
    expect(1 - pb).toBeLessThan(0.5 * (1 - lr));
  });

  it("autellix keeps a program's long calls on its replica, where the cache holds the program's context", () => {
    const res = run(trace, 4, 'autellix');
    const lr = run(trace, 4, 'least-requests');
    expect(hitRate(res)).toBeGreaterThan(hitRate(lr) + 0.1);
    // Every call above the 2048-token threshold of a program runs on one replica, and hits its parent's context there.
    const R = res.requests;
    const home = new Map<number, number>();
    for (let i = 0; i < R.n; i++) {
      if (R.prompt[i] <= 2048) continue;
      const g = R.program[i];
      if (!home.has(g)) home.set(g, R.replica[i]);
      expect(R.replica[i]).toBe(home.get(g));
    }
    expect(home.size).toBeGreaterThan(10);
  });
});
