/**
 * Prefix caching in the engine (docs/prefix-caching.md; vLLM v1, docs/spec.md §15), hand-worked
 * with one iteration per second (LinearCostModel base 1 s) and block size 16.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import path from 'node:path';
import { readTrace, transformTrace } from '../traces/index.ts';
import { simulate } from '../sim/simulator.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import type { Trace } from '../sim/trace.ts';
import { engineConfig, makeTrace, withSegments } from './helpers.ts';

const perIteration = new LinearCostModel({ base: 1, prefill: 0, decode: 0, kv: 0 });

function run(trace: Trace, kvBlocks: number, caching = true) {
  const records: IterationRecord[] = [];
  const res = simulate({
    trace,
    policy: new Fcfs(),
    cost: perIteration,
    engine: engineConfig({ kvBlocks, prefixCaching: caching, skipAhead: false }),
    observer: (r) => records.push(r),
  });
  return { res, records };
}

describe('prefix caching', () => {
  it('two prompts sharing a 48-token prefix: the second computes only its own 22 tokens', () => {
    const trace = withSegments(makeTrace([0, 1.5], [60, 70], [5, 5]), [[[5, 48]], [[5, 48]]]);
    const { res, records } = run(trace, 1000);
    expect(Array.from(res.requests.cachedTokens)).toEqual([0, 48]);
    // B is admitted at t = 2 (A decoding): a prefill-only iteration of 70 − 48 tokens.
    expect(records.find((r) => r.start === 2)!.prefillTokens).toBe(22);
    const off = run(trace, 1000, false);
    expect(off.records.find((r) => r.start === 2)!.prefillTokens).toBe(70);
    expect(Array.from(off.res.requests.cachedTokens)).toEqual([-1, -1]);
  });

  it('a full hit still computes its last block (computed tokens stay block-aligned)', () => {
    const trace = withSegments(makeTrace([0, 5], [48, 48], [1, 1]), [[[5, 48]], [[5, 48]]]);
    const { res, records } = run(trace, 1000);
    // floor((48 − 1)/16) = 2 blocks are taken; the third is computed.
    expect(res.requests.cachedTokens[1]).toBe(32);
    expect(records.find((r) => r.start === 5)!.prefillTokens).toBe(16);
  });

  it('eviction takes the least recently freed first, and a sequence is freed tail first', () => {
    // 8 blocks. A (32 tokens, content 1) finishes at 1: its blocks are freed tail first, so the
    // queue is [6 never used, A1, A0]. C (80 unique tokens + 10 decoded: 6 blocks) takes the 6.
    // E (16 unique tokens) at 3.5 takes the front: A's block 1 is evicted, A's block 0 stays.
    // F (33 tokens starting with content 1) after C finished finds block 0 only: 16 cached tokens.
    const trace = withSegments(makeTrace([0, 1.5, 3, 30], [32, 80, 16, 33], [1, 10, 1, 1]), [[[1, 32]], [], [], [[1, 32]]]);
    const { res, records } = run(trace, 8);
    expect(Array.from(res.requests.cachedTokens)).toEqual([0, 0, 0, 16]);
    expect(records.find((r) => r.start === 30)!.prefillTokens).toBe(33 - 16);
    // Without E nothing is evicted and F finds both blocks.
    const noE = withSegments(makeTrace([0, 1.5, 30], [32, 80, 33], [1, 10, 1]), [[[1, 32]], [], [[1, 32]]]);
    expect(run(noE, 8).res.requests.cachedTokens[2]).toBe(32);
  });

  it('a recompute victim resumes from what was not evicted', () => {
    // 6 blocks. A (64 tokens, 16 out: at most 5 blocks) and B (32 tokens, 20 out) both decode at
    // t = 2 and each needs a block: B (the newest) is preempted by recompute, its blocks freed
    // tail first ([B1, B0]); A's new block evicts B1. B re-prefills its 33 tokens but finds B0.
    const trace = makeTrace([0, 0.5], [64, 32], [16, 20]);
    const on = run(trace, 6);
    expect(on.res.requests.preemptions[1]).toBe(1);
    const resume = (records: IterationRecord[]) => records.filter((r) => r.start > 2 && r.prefillTokens > 0).map((r) => r.prefillTokens);
    expect(resume(on.records)).toEqual([33 - 16]);
    const off = run(trace, 6, false);
    expect(resume(off.records)).toEqual([33]);
  });

  it('without shared prefixes or preemption, caching on and off give identical runs', () => {
    const trace = makeTrace([0, 0.3, 0.9, 2, 2.5], [40, 17, 90, 5, 64], [30, 3, 12, 40, 9]);
    const on = run(trace, 1000);
    const off = run(trace, 1000, false);
    expect(Array.from(on.res.requests.completion)).toEqual(Array.from(off.res.requests.completion));
    expect(on.records.map((r) => [r.start, r.prefillTokens, r.decodeSeqs, r.kvBlocksUsed])).toEqual(off.records.map((r) => [r.start, r.prefillTokens, r.decodeSeqs, r.kvBlocksUsed]));
  });
});

describe('prefix caching, property', () => {
  it('without shared prefixes and without preemption, caching on and off give identical runs (random workloads, both batching modes)', () => {
    const rows = fc.array(fc.record({ gap: fc.double({ min: 0, max: 0.5, noNaN: true }), prompt: fc.integer({ min: 1, max: 300 }), output: fc.integer({ min: 1, max: 60 }) }), { minLength: 1, maxLength: 40 });
    const settings = fc.record({ chunked: fc.boolean(), blockSize: fc.constantFrom(1, 4, 16), maxNumSeqs: fc.integer({ min: 1, max: 8 }), budget: fc.integer({ min: 8, max: 400 }) });
    fc.assert(
      fc.property(rows, settings, (rs, c) => {
        let t = 0;
        const trace = makeTrace(rs.map((r) => (t += r.gap) - rs[0].gap), rs.map((r) => r.prompt), rs.map((r) => r.output));
        const go = (prefixCaching: boolean) => {
          const records: IterationRecord[] = [];
          const res = simulate({
            trace,
            policy: new Fcfs(),
            cost: new LinearCostModel({ base: 0.01, prefill: 0.001, decode: 0.01, kv: 0 }),
            engine: engineConfig({ blockSize: c.blockSize, maxNumSeqs: c.maxNumSeqs, maxNumBatchedTokens: c.maxNumSeqs + c.budget, chunkedPrefill: c.chunked, prefixCaching }),
            observer: (r) => records.push(r),
          });
          return { completion: Array.from(res.requests.completion), preemptions: res.stats.preemptions, rows: records.map((r) => [r.start, r.end, r.batchSize, r.prefillTokens, r.decodeSeqs, r.kvBlocksUsed]) };
        };
        const off = go(false);
        expect(off.preemptions).toBe(0);
        expect(go(true)).toEqual(off);
      }),
      { numRuns: 200, seed: 11 },
    );
  });
});

describe('prefix caching on a real trace', () => {
  const file = path.resolve('../shared/traces/conversation_trace.jsonl');

  /**
   * An exact count, independent of the engine's hashing: each block's chained identity is interned
   * in a trie (parent node, pieces of (content id, offset, length)); request i, admitted in
   * arrival order into an unbounded cache, hits the leading blocks an earlier prompt filled,
   * capped at ⌊(prompt − 1)/B⌋ as vLLM caps it.
   */
  function expectedHitBlocks(trace: Trace, B: number): number {
    const p = trace.prefix!;
    const node = new Map<string, number>();
    const seen = new Set<number>();
    let hits = 0;
    for (let i = 0; i < trace.n; i++) {
      const prompt = trace.prompt_tokens[i];
      // The prompt as pieces: the declared segments, then the request's own content.
      const pieces: [number, number, number][] = []; // [id, start position, length]
      let pos = 0;
      for (let s = p.start[i]; s < p.start[i + 1]; s++) {
        pieces.push([p.id[s], pos, p.tokens[s]]);
        pos += p.tokens[s];
      }
      if (pos < prompt) pieces.push([-(2 * i + 1), pos, prompt - pos]);
      const blocks = Math.floor(prompt / B);
      const ids: number[] = [];
      let parent = -1;
      for (let k = 0; k < blocks; k++) {
        const a = k * B;
        const b = a + B;
        const parts: string[] = [];
        for (const [id, start, len] of pieces) {
          const lo = Math.max(a, start);
          const hi = Math.min(b, start + len);
          if (lo < hi) parts.push(`${id}@${lo - start}+${hi - lo}`);
        }
        const key = `${parent}|${parts.join(',')}`;
        let n = node.get(key);
        if (n === undefined) node.set(key, (n = node.size));
        ids.push(n);
        parent = n;
      }
      let run = 0;
      while (run < ids.length && seen.has(ids[run])) run++;
      hits += Math.min(run, Math.max(0, Math.floor((prompt - 1) / B)));
      for (const n of ids) seen.add(n);
    }
    return hits;
  }

  it.skipIf(!fs.existsSync(file))('Mooncake conversation trace, unbounded cache: the hits equal the exact count, and a bounded cache hits less', async () => {
    const trace = transformTrace(await readTrace(file), { limit: 3000 });
    const B = 16;
    const runAt = (kvBlocks: number) =>
      simulate({ trace, policy: new Fcfs(), cost: perIteration, engine: engineConfig({ blockSize: B, kvBlocks, prefixCaching: true, maxNumBatchedTokens: 8192 }) }).stats;
    const unbounded = runAt(2 ** 40);
    const expected = expectedHitBlocks(trace, B);
    expect(unbounded.prefixHitTokens).toBe(expected * B);
    // About a third of the prompt tokens (Mooncake's published ~37% on the whole trace).
    expect(unbounded.prefixHitTokens / unbounded.prefixQueriedTokens).toBeGreaterThan(0.25);
    const rates = [20_000, 40_000, 80_000].map((blocks) => {
      const st = runAt(blocks);
      return st.prefixHitTokens / st.prefixQueriedTokens;
    });
    for (let k = 1; k < rates.length; k++) expect(rates[k]).toBeGreaterThanOrEqual(rates[k - 1]);
    expect(rates[rates.length - 1]).toBeLessThanOrEqual(unbounded.prefixHitTokens / unbounded.prefixQueriedTokens);
  });
});
