/**
 * Moving a request between engines (docs/engine.md "Moving requests between engines"): reserve,
 * freeze, detach, adopt, on hand-worked block counts. Cost: 0.1 s per prefill token, 1 s per
 * decoding sequence; blocks of 4 tokens.
 */
import { describe, it, expect } from 'vitest';
import { Engine } from '../sim/engine.ts';
import { RequestTable, FROZEN, IN_TRANSIT, RUNNING, FINISHED } from '../sim/requests.ts';
import { PrefixTables } from '../sim/prefix-cache.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { Las } from '../policies/las.ts';
import type { Policy } from '../sim/policy.ts';
import type { EngineConfig } from '../sim/engine-types.ts';
import type { Trace } from '../sim/trace.ts';
import { engineConfig, makeTrace, withSegments } from './helpers.ts';

const cost = () => new LinearCostModel({ base: 0, prefill: 0.1, decode: 1, kv: 0 });

/** Two engines (replicas 0 and 1) on one request table. */
function pair(trace: Trace, over: Partial<EngineConfig>, policy: () => Policy = () => new Fcfs()) {
  const cfg = engineConfig({ blockSize: 4, kvBlocks: 10, watermarkBlocks: 1, skipAhead: false, ...over });
  const R = new RequestTable(trace);
  const tables = cfg.prefixCaching ? new PrefixTables(R, cfg.blockSize) : undefined;
  const a = new Engine(cfg, R, policy(), cost(), { index: 0, prefixTables: tables });
  const b = new Engine(cfg, R, policy(), cost(), { index: 1, prefixTables: tables });
  return { R, a, b };
}

/** Arrives request `id` on `e` at `t`. */
function arrive(e: Engine, R: RequestTable, id: number, t: number): void {
  R.replica[id] = 0;
  R.arrival[id] = t;
  expect(e.arrive(id, t)).toBe(true);
}

/** Runs `e` until idle from `t` (stepping); @returns the time it went idle. */
function drain(e: Engine, t: number): number {
  for (;;) {
    const end = e.start(t, Infinity);
    if (end < 0) return t;
    e.finish(end);
    t = end;
  }
}

describe('moving a request between engines', () => {
  for (const [name, policy] of [
    ['admit mode (fcfs)', () => new Fcfs()],
    ['rank mode (las)', () => new Las()],
  ] as const) {
    it(`prefill on one engine, decode on the other: block counts at every step, ${name}`, () => {
      // Request 0: prompt 10, output 5. Engine A prefills it: 10 tokens, 1.0 s; 3 blocks (10 slots).
      const { R, a, b } = pair(makeTrace([0], [10], [5]), {}, policy);
      arrive(a, R, 0, 0);
      const end = a.start(0, Infinity);
      expect(end).toBeCloseTo(1.0, 12);
      // Not while it is in the batch in flight.
      expect(() => a.freeze(0)).toThrow(/in flight/);
      expect(() => a.detach(0)).toThrow(/in flight/);
      a.finish(end);
      expect(R.firstToken[0]).toBeCloseTo(1.0, 12);
      expect([R.generated[0], R.computed[0], R.blocks[0]]).toEqual([1, 10, 3]);
      // Frozen: keeps its 3 blocks and its load, is never scheduled; A idles without a stall error.
      a.freeze(0);
      expect(R.state[0]).toBe(FROZEN);
      expect([a.usedBlocks, a.outstandingRequests, a.outstandingTokens]).toEqual([3, 1, 11]);
      expect(a.hasWork()).toBe(false);
      expect(a.start(1, Infinity)).toBe(-1);
      // B reserves ⌈11/4⌉ = 3 blocks (it will hold prompt + first token); 10 − 3 = 7 free.
      expect(b.reserve(0, 11)).toBe(true);
      expect(b.usedBlocks).toBe(3);
      expect(() => b.reserve(0, 4)).toThrow(/already/);
      // Detach from A: its blocks are freed, its loads drop; it keeps its progress.
      expect(a.detach(0)).toBe(10);
      expect(R.state[0]).toBe(IN_TRANSIT);
      expect([a.usedBlocks, a.outstandingRequests, a.outstandingTokens, R.blocks[0]]).toEqual([0, 0, 0, 0]);
      expect(a.stats.movedOut).toBe(1);
      // B adopts it at 1.5 with 10 computed tokens: a decode (computed = prompt + generated − 1).
      b.adopt(0, 10, 1.5);
      expect(R.state[0]).toBe(RUNNING);
      expect(R.replica[0]).toBe(1);
      expect([b.usedBlocks, R.blocks[0], R.reserved[0], b.outstandingRequests, b.outstandingTokens]).toEqual([3, 3, 0, 1, 11]);
      // Four decodes of 1 s: tokens 2..5 at 2.5, 3.5, 4.5, 5.5; the 4th block is taken for slot 13.
      const t1 = b.start(1.5, Infinity);
      expect(t1).toBeCloseTo(2.5, 12);
      b.finish(t1);
      expect(drain(b, t1)).toBeCloseTo(5.5, 12);
      expect(R.state[0]).toBe(FINISHED);
      expect(R.completion[0]).toBeCloseTo(5.5, 12);
      expect(b.usedBlocks).toBe(0);
      expect(b.stats.movedIn).toBe(1);
      expect(b.stats.iterations).toBe(4);
      expect(a.stats.iterations).toBe(1);
    });
  }

  it('a reservation respects the watermark, counts as used, and can be called off', () => {
    // 10 blocks, watermark 1. Request 1 (prompt 20) holds 5 on B; request 0 asks for 5 more: 0 left < 1.
    const { R, a, b } = pair(makeTrace([0, 0], [10, 20], [3, 3]), {});
    R.replica[1] = 1;
    expect(b.arrive(1, 0)).toBe(true);
    b.finish(b.start(0, Infinity));
    expect(b.usedBlocks).toBe(5);
    expect(b.reserve(0, 20)).toBe(false);
    expect(R.reserved[0]).toBe(0);
    expect(b.usedBlocks).toBe(5);
    // 4 blocks leave 1 free: allowed.
    expect(b.reserve(0, 16)).toBe(true);
    expect([b.usedBlocks, R.reserved[0]]).toEqual([9, 4]);
    // Request 1's first decode fills slot 21: a 6th block (decodes may use the watermark).
    b.finish(b.start(1, Infinity));
    expect(b.usedBlocks).toBe(10);
    // Adopting without the request in transit, or on the wrong engine, is a bug.
    expect(() => b.adopt(0, 10, 2)).toThrow(/not in transit/);
    expect(() => a.cancelReservation(0)).toThrow(/no reservation/);
    b.cancelReservation(0);
    expect([b.usedBlocks, R.reserved[0], R.reservedOn[0]]).toEqual([6, 0, -1]);
  });

  it('thaw puts a frozen request back into scheduling; a reservation smaller than the KV is refused at adopt', () => {
    const { R, a, b } = pair(makeTrace([0], [10], [3]), {});
    arrive(a, R, 0, 0);
    a.finish(a.start(0, Infinity));
    a.freeze(0);
    a.thaw(0);
    expect(R.state[0]).toBe(RUNNING);
    expect(a.hasWork()).toBe(true);
    const t = a.start(1, Infinity);
    expect(t).toBeCloseTo(2, 12);
    a.finish(t);
    expect(R.generated[0]).toBe(2);
    // 11 computed tokens need 3 blocks; 2 reserved (8 slots) do not hold them.
    expect(b.reserve(0, 8)).toBe(true);
    a.detach(0);
    expect(() => b.adopt(0, 11, 2)).toThrow(/reserved/);
  });

  it('with prefix caching: the detached request leaves its shared prefix cached on the source; adopted blocks are named on the destination', () => {
    // Requests 0 and 1 share a 12-token prefix (content 7): 3 blocks of 4.
    const trace = withSegments(makeTrace([0, 10], [14, 14], [4, 2]), [[[7, 12]], [[7, 12]]]);
    const { R, a, b } = pair(trace, { prefixCaching: true });
    arrive(a, R, 0, 0);
    a.finish(a.start(0, Infinity));
    // 14 prompt slots: 4 blocks; the 3 full shared ones are registered (the 4th holds private content).
    expect(a.usedBlocks).toBe(4);
    expect(a.cachedPrefixTokens(1)).toBe(12);
    expect(b.cachedPrefixTokens(1)).toBe(0);
    a.freeze(0);
    expect(b.reserve(0, 15)).toBe(true);
    expect(b.usedBlocks).toBe(4);
    a.detach(0);
    // On A: no block in use, the 3 shared ones still cached (as a finished request's).
    expect([a.usedBlocks, R.blocks[0]]).toEqual([0, 0]);
    expect(a.cachedPrefixTokens(1)).toBe(12);
    b.adopt(0, 14, 1.5);
    expect(b.usedBlocks).toBe(4);
    expect(b.cachedPrefixTokens(1)).toBe(12);
    drain(b, 1.5);
    expect(R.state[0]).toBe(FINISHED);
    expect(b.usedBlocks).toBe(0);
    // Request 1 on B hits the 3 blocks request 0 brought there.
    R.replica[1] = 1;
    expect(b.arrive(1, 10)).toBe(true);
    drain(b, 10);
    expect(R.cachedTokens[1]).toBe(12);
  });
});
