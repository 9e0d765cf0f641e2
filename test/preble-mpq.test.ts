/**
 * Preble's fcfs-mpq local scheduler (policies/preble-mpq.ts; docs/policies.md#preble-mpq):
 * the grouping rule, a hand-worked admission order with prefix caching, the option errors.
 */
import { describe, it, expect } from 'vitest';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { InputError } from '../sim/errors.ts';
import type { PolicyContext } from '../sim/policy.ts';
import type { RequestTable } from '../sim/requests.ts';
import type { Trace } from '../sim/trace.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { PrebleMpq } from '../policies/preble-mpq.ts';
import { getPolicy } from '../policies/index.ts';
import { engineConfig, makeTrace, withSegments } from './helpers.ts';

const perIteration = new LinearCostModel({ base: 1, prefill: 0, decode: 0, kv: 0 });

describe('preble-mpq grouping', () => {
  it('group 0 for no hit, else ceil(ratio x groups) - 1 (exact at the boundaries), at most groups - 1', () => {
    const prompt = Int32Array.from([10, 10, 10, 10, 10, 100, 64]);
    const generated = new Int32Array(prompt.length);
    generated[6] = 16; // a re-queued request: 80 tokens to prefill
    const cached = [0, 1, 3, 4, 10, 31, 48];
    const ctx = {
      requests: { n: prompt.length, prompt, generated } as unknown as RequestTable,
      cachedPrefixTokens: (id: number) => cached[id],
    } as unknown as PolicyContext;
    const p = new PrebleMpq();
    p.attach(ctx);
    // 0 -> 0; 0.1 -> 0; 0.3 -> 2 (not 3: integer arithmetic); 0.4 -> 3; 1 -> 9; 0.31 -> 3; 48/80 = 0.6 -> 5.
    expect(Array.from(prompt, (_, i) => p.groupOf(i))).toEqual([0, 0, 2, 3, 9, 3, 5]);
    const two = new PrebleMpq({ groups: 2 });
    two.attach(ctx);
    expect(Array.from(prompt, (_, i) => two.groupOf(i))).toEqual([0, 0, 0, 0, 1, 0, 1]);
  });
});

describe('preble-mpq admission order', () => {
  // A (t = 0) computes the 48-token prefix X. During its prefill L1, H1, L2, H2, H3, L3 arrive:
  // the H's share X (48 of 64 prompt tokens cached: ratio 0.75), the L's share nothing (ratio 0).
  // Options groups=2, quota=1: group 1 (the H's) admits 2 per round, group 0 (the L's) 1; the
  // first round starts at the highest group. Batch cap 3, chunked prefill (prefills and decodes
  // share an iteration), every iteration takes 1 s.
  //   t=1: A runs, 2 slots free. Keys: H1 0, H2 0.5 | L1 1 | H3 2 | L2 3 | L3 5: admits H1, H2.
  //   t=2: the last admitted (H2) was in group 1, so the next round starts at group 0:
  //        L1 0 | H3 1 | L2 2 | L3 4 (no slot free until A, H1, H2 finish at 3).
  //   t=3: admits L1, H3, L2. t=4: the last admitted (L2) was in group 0: L3 1. t=5: admits L3.
  // FCFS admits L1, H1 at 1; L2, H2, H3 at 3; L3 at 5.
  const ids = ['A', 'L1', 'H1', 'L2', 'H2', 'H3', 'L3'];
  const X: [number, number][] = [[7, 48]];
  const trace = withSegments(
    makeTrace([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [64, 64, 64, 64, 64, 64, 64], [3, 2, 2, 2, 2, 2, 2]),
    [X, [], X, [], X, X, []],
  );
  const run = (policy: PrebleMpq | Fcfs, skipAhead: boolean) =>
    simulate({ trace, policy, cost: perIteration, engine: engineConfig({ maxNumSeqs: 3, chunkedPrefill: true, prefixCaching: true, skipAhead }) });
  const byName = (a: Float64Array | Int32Array) => Object.fromEntries(ids.map((n, i) => [n, a[i]]));

  it('serves the high-hit group first, then round-robin with quotas (i+1)·k, FCFS inside a group', () => {
    for (const skipAhead of [false, true]) {
      const res = run(new PrebleMpq({ groups: 2, quota: 1 }), skipAhead);
      expect(byName(res.requests.firstScheduled)).toEqual({ A: 0, H1: 1, H2: 1, L1: 3, H3: 3, L2: 3, L3: 5 });
      expect(byName(res.requests.cachedTokens)).toEqual({ A: 0, L1: 0, H1: 48, L2: 0, H2: 48, H3: 48, L3: 0 });
    }
    const fcfs = run(new Fcfs(), false);
    expect(byName(fcfs.requests.firstScheduled)).toEqual({ A: 0, L1: 1, H1: 1, L2: 3, H2: 3, H3: 3, L3: 5 });
  });

  it('without prefix caching every request is in group 0: FCFS', () => {
    const res = simulate({ trace, policy: new PrebleMpq({ groups: 2, quota: 1 }), cost: perIteration, engine: engineConfig({ maxNumSeqs: 3, prefixCaching: false }) });
    const fcfs = simulate({ trace, policy: new Fcfs(), cost: perIteration, engine: engineConfig({ maxNumSeqs: 3, prefixCaching: false }) });
    expect(Array.from(res.requests.firstScheduled)).toEqual(Array.from(fcfs.requests.firstScheduled));
    expect(Array.from(res.requests.completion)).toEqual(Array.from(fcfs.requests.completion));
  });
});

describe('preble-mpq options', () => {
  const message = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      expect((e as InputError).field).toBe('--policy-opt');
      return (e as InputError).message;
    }
    throw new Error('expected an InputError');
  };
  const entry = getPolicy('preble-mpq');

  it('defaults groups=10, quota=10; integers at least 1', () => {
    expect(() => entry.create({}, undefined)).not.toThrow();
    expect(() => entry.create({ groups: '1', quota: '1' }, undefined)).not.toThrow();
    expect(message(() => entry.create({ groups: '0' }, undefined))).toBe("--policy-opt: preble-mpq option groups must be an integer in [1, 1000] (got '0')");
    expect(message(() => entry.create({ quota: '2.5' }, undefined))).toMatch(/^--policy-opt: preble-mpq option quota must be an integer .*\(got '2\.5'\)$/);
    expect(message(() => entry.create({ k: '5' }, undefined))).toBe('--policy-opt: unknown preble-mpq option k; valid: groups, quota');
  });
});
