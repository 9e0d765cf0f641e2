/**
 * Hand-worked engine examples: every time below is computed by hand from vLLM's v0 scheduling
 * rules (docs/spec.md §1) and Sarathi-Serve's Algorithm 3 (§2), with the linear cost
 * model t = 0.1 s per prefill token + 1 s per decoding sequence.
 */
import { describe, it, expect } from 'vitest';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import { buildProgramTrace } from '../traces/programs.ts';
import { makeTrace, engineConfig } from './helpers.ts';

const cost = () => new LinearCostModel({ base: 0, prefill: 0.1, decode: 1, kv: 0 });

describe('engine, hand-worked examples', () => {
  it('prefill-priority: a prefill-only iteration, then decodes of both', () => {
    // A (P=4, D=3) and B (P=2, D=2) at t=0. It1: both prefills, 6 tokens = 0.6 s, first tokens.
    // It2: decode both, 2 s -> 2.6, B done. It3: decode A, 1 s -> 3.6, A done.
    const res = simulate({ trace: makeTrace([0, 0], [4, 2], [3, 2]), policy: new Fcfs(), cost: cost(), engine: engineConfig() });
    const R = res.requests;
    expect(R.firstToken[0]).toBeCloseTo(0.6, 12);
    expect(R.firstToken[1]).toBeCloseTo(0.6, 12);
    expect(R.completion[0]).toBeCloseTo(3.6, 12);
    expect(R.completion[1]).toBeCloseTo(2.6, 12);
    expect(res.stats.iterations).toBe(3);
    expect(res.stats.batchSizeSum).toBe(2 + 2 + 1);
  });

  it('chunked prefill (Sarathi-Serve): chunks to the token budget, stall-free mixed batch', () => {
    // Budget 4. A (P=6, D=2), B (P=2, D=2) at 0. It1: A's chunk of 4 (0.4 s). It2: A's last 2 and
    // B's 2 (0.4 s) -> both first tokens at 0.8. It3: both decode (2 s) -> 2.8, both done.
    const res = simulate({
      trace: makeTrace([0, 0], [6, 2], [2, 2]),
      policy: new Fcfs(),
      cost: cost(),
      engine: engineConfig({ chunkedPrefill: true, maxNumBatchedTokens: 4, maxNumSeqs: 4 }),
    });
    const R = res.requests;
    expect(R.firstToken[0]).toBeCloseTo(0.8, 12);
    expect(R.firstToken[1]).toBeCloseTo(0.8, 12);
    expect(R.firstScheduled[1]).toBeCloseTo(0.4, 12);
    expect(R.completion[0]).toBeCloseTo(2.8, 12);
    expect(R.completion[1]).toBeCloseTo(2.8, 12);
  });

  it('decodes are not stalled by a new prefill under chunked prefill, but are under prefill priority', () => {
    // A (P=1, D=4) at 0; B (P=10, D=1) at 0.5. Budget 8, decode 1 s, prefill 0.1 s/token.
    const trace = makeTrace([0, 0.5], [1, 10], [4, 1]);
    const chunked = simulate({ trace, policy: new Fcfs(), cost: cost(), engine: engineConfig({ chunkedPrefill: true, maxNumBatchedTokens: 8, maxNumSeqs: 8 }) });
    const prio = simulate({ trace, policy: new Fcfs(), cost: cost(), engine: engineConfig({ maxNumBatchedTokens: 16, maxNumSeqs: 8 }) });
    // Prefill priority: It1 A prefill 0.1; It2 decode 1.1 (B arrived at 0.5); It3 B's prefill alone 1.0 -> 2.1;
    // It4, It5 decode A -> 3.1, 4.1.
    expect(prio.requests.completion[0]).toBeCloseTo(4.1, 12);
    expect(prio.requests.completion[1]).toBeCloseTo(2.1, 12);
    // Chunked: It1 0.1; It2 decode A 1.0 -> 1.1; It3 A decode + B chunk 7 -> 1.7 -> 2.8;
    // It4 A decode + B's last 3 tokens -> 1.3 -> 4.1: A done (4 tokens), B first token = done.
    expect(chunked.requests.completion[0]).toBeCloseTo(4.1, 12);
    expect(chunked.requests.completion[1]).toBeCloseTo(4.1, 12);
    expect(chunked.stats.iterations).toBe(4);
  });

  it('recompute preemption: the newest running request is the victim and re-prefills later', () => {
    // KV 6 tokens, block size 1. A, B: P=2, D=4 at 0. It1 prefills (0.4). It2 decode both (2 -> 2.4).
    // It3: both need a block, none free -> preempt B (newest); A decodes (1 -> 3.4). It4: B does not
    // fit beside A; A decodes (-> 4.4, done). It5: B re-prefills 4 tokens (0.4 -> 4.8). It6: B decodes (-> 5.8).
    const res = simulate({
      trace: makeTrace([0, 0], [2, 2], [4, 4]),
      policy: new Fcfs(),
      cost: cost(),
      engine: engineConfig({ blockSize: 1, kvBlocks: 6 }),
    });
    const R = res.requests;
    expect(R.completion[0]).toBeCloseTo(4.4, 12);
    expect(R.completion[1]).toBeCloseTo(5.8, 12);
    expect(R.firstToken[1]).toBeCloseTo(0.4, 12);
    expect(Array.from(R.preemptions)).toEqual([0, 1]);
    expect(res.stats.recomputes).toBe(1);
  });

  it('swap preemption: swap-out and swap-in cost PCIe time; no prefill while a request is swapped', () => {
    // As above with swap: 3 blocks of 1 byte at 6 B/s = 0.5 s each way. It3: 1 + 0.5 -> 3.9.
    // It4: A decodes (-> 4.9, done); B cannot swap in (needs 4 blocks, 1 free). It5: swap in + decode 1.5 -> 6.4.
    // It6: decode -> 7.4.
    const res = simulate({
      trace: makeTrace([0, 0], [2, 2], [4, 4]),
      policy: new Fcfs(),
      cost: cost(),
      engine: engineConfig({ blockSize: 1, kvBlocks: 6, preemption: 'swap', swapBlocks: 100, blockBytes: 1, pcieBandwidth: 6 }),
    });
    const R = res.requests;
    expect(R.completion[0]).toBeCloseTo(4.9, 12);
    expect(R.completion[1]).toBeCloseTo(7.4, 12);
    expect(res.stats.swapOuts).toBe(1);
    expect(res.stats.swapIns).toBe(1);
    expect(res.stats.swapBytes).toBe(6);
  });

  it('swap falls back to recompute when the swap space is full', () => {
    const res = simulate({
      trace: makeTrace([0, 0], [2, 2], [4, 4]),
      policy: new Fcfs(),
      cost: cost(),
      engine: engineConfig({ blockSize: 1, kvBlocks: 6, preemption: 'swap', swapBlocks: 2 }),
    });
    expect(res.stats.swapOuts).toBe(0);
    expect(res.stats.swapFallbacks).toBe(1);
    expect(res.requests.completion[1]).toBeCloseTo(5.8, 12);
  });

  it('rejects a request that can never fit and still serves the rest', () => {
    // 8 KV tokens: P=5, D=5 needs 9 slots -> rejected; P=2, D=3 fits.
    const res = simulate({ trace: makeTrace([0, 1], [5, 2], [5, 3]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ blockSize: 4, kvBlocks: 2 }) });
    expect(res.stats.rejected).toBe(1);
    expect(res.requests.state[1]).toBe(FINISHED);
    expect(res.requests.completion[0]).toBe(-1);
  });

  it('maxModelLen rejects prompt + output above it at arrival (before the KV check), counted by reason', () => {
    // maxModelLen 8, 12 KV tokens: A P=5 D=4 (9 > 8: too long, though it would fit the KV cache);
    // B P=4 D=4 (exactly 8: served); C P=7 D=1 (8: served); D P=1 D=1 (served).
    const res = simulate({ trace: makeTrace([0, 1, 2, 3], [5, 4, 7, 1], [4, 4, 1, 1]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ maxModelLen: 8, blockSize: 4, kvBlocks: 3 }) });
    expect(Array.from(res.requests.state, (x) => x === FINISHED)).toEqual([false, true, true, true]);
    expect(res.requests.state[0]).toBe(REJECTED);
    expect(res.stats).toMatchObject({ rejected: 1, rejectedTooLong: 1, rejectedKv: 0, rejectedAncestor: 0 });
    // Both reasons in one run: 8 KV tokens (2 blocks of 4), maxModelLen 10. A P=9 D=2 (11: too long);
    // B P=8 D=2 (10 fits the length; 9 cached slots need 3 blocks: never fits the KV); C P=2 D=2 served.
    const both = simulate({ trace: makeTrace([0, 1, 2], [9, 8, 2], [2, 2, 2]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ maxModelLen: 10, blockSize: 4, kvBlocks: 2 }) });
    expect(both.stats).toMatchObject({ rejected: 2, rejectedTooLong: 1, rejectedKv: 1, rejectedAncestor: 0 });
    expect(both.requests.state[2]).toBe(FINISHED);
    // No maxModelLen: only the KV cache limits.
    const none = simulate({ trace: makeTrace([0], [5], [4]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ blockSize: 4, kvBlocks: 3 }) });
    expect(none.stats.rejected).toBe(0);
  });

  it('a call whose parent was rejected for length is rejected too, counted as rejectedAncestor', () => {
    const trace = buildProgramTrace(
      [
        { program_id: 'p', call_id: 'a', parents: [], prompt_tokens: 9, output_tokens: 2, arrival_s: 0 },
        { program_id: 'p', call_id: 'b', parents: ['a'], prompt_tokens: 2, output_tokens: 2, delay_s: 0 },
        { program_id: 'q', call_id: 'a', parents: [], prompt_tokens: 2, output_tokens: 2, arrival_s: 1 },
      ],
      'test',
      'test',
      'generic',
    );
    const res = simulate({ trace, policy: new Fcfs(), cost: cost(), engine: engineConfig({ maxModelLen: 10 }) });
    expect(res.stats).toMatchObject({ rejected: 2, rejectedTooLong: 1, rejectedKv: 0, rejectedAncestor: 1 });
  });

  it('max-num-seqs 1 serves strictly one request at a time in arrival order', () => {
    const res = simulate({ trace: makeTrace([0, 0, 0], [1, 1, 1], [3, 2, 4]), policy: new Fcfs(), cost: cost(), engine: engineConfig({ maxNumSeqs: 1 }) });
    const R = res.requests;
    // Each: prefill 0.1 then D-1 decodes of 1 s.
    expect(R.completion[0]).toBeCloseTo(2.1, 12);
    expect(R.completion[1]).toBeCloseTo(3.2, 12);
    expect(R.completion[2]).toBeCloseTo(6.3, 12);
  });
});
