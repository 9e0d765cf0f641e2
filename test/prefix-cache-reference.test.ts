/**
 * The prefix cache (sim/prefix-cache.ts: runs of blocks named by trie nodes) against the
 * block-by-block reference (test/reference/prefix-cache.ts: one pool entry per block, chained
 * hashes, vLLM v1's data structures as they are, docs/spec.md §15): whole runs must be identical,
 * request by request and counter by counter, on random workloads with shared prefixes of mixed
 * lengths under memory pressure (evictions, recompute and swap preemption, chunked prefill),
 * in both batch-formation modes and behind cache-aware routers, and on program traces whose calls
 * resend their parents' context.
 */
import { describe, it, expect, vi } from 'vitest';
import fc from 'fast-check';
import seedrandom from 'seedrandom';
import type { SimulationResult } from '../sim/simulator.ts';
import type { Trace } from '../sim/trace.ts';
import type { RunOptions } from '../app/config.ts';
import { makeTrace, runDifferences } from './helpers.ts';

type Runner = ((trace: Trace, options: Partial<RunOptions>) => SimulationResult) & { fold?: { fold: boolean } };

/** The simulator as the CLI builds it, with the engine's prefix cache or the reference's (then with its switches as `fold`). */
async function runner(reference: boolean): Promise<Runner> {
  vi.resetModules();
  if (reference) vi.doMock('../sim/prefix-cache.ts', () => import('./reference/prefix-cache.ts'));
  else vi.doUnmock('../sim/prefix-cache.ts');
  const { simulate } = await import('../sim/simulator.ts');
  const { buildRun, normalizeOptions } = await import('../app/config.ts');
  // The engine loads the implementation asked for (the reference alone hashes blocks).
  const loaded = await import('../sim/prefix-cache.ts');
  expect('hashesOf' in loaded.PrefixTables.prototype).toBe(reference);
  const go: Runner = (trace, options) => {
    const run = buildRun(normalizeOptions({ synthetic: 'poisson', model: 'llama-3.1-8b', seed: 1, 'prefix-caching': 'on', ...options }), trace);
    return simulate({ trace, policy: run.policies, router: run.router, cost: run.cost, engine: run.engine });
  };
  if (reference) go.fold = (loaded as unknown as { referenceOptions: { fold: boolean } }).referenceOptions;
  return go;
}

/**
 * Requests whose prompts begin with up to three segments drawn from 4 contents (so prompts share
 * prefixes of several lengths, diverge inside blocks, and some resend a whole earlier request).
 */
function sharedTrace(rows: { gap: number; prompt: number; output: number; segs: [number, number][] }[]): Trace {
  let t = 0;
  const trace = makeTrace(rows.map((r) => (t += r.gap) - rows[0].gap), rows.map((r) => r.prompt), rows.map((r) => r.output));
  const start = new Int32Array(rows.length + 1);
  const id: number[] = [];
  const tokens: number[] = [];
  rows.forEach((r, i) => {
    let left = r.prompt;
    for (const [c, k] of r.segs) {
      if (left <= 0) break;
      const take = Math.min(k, left);
      id.push(c);
      tokens.push(take);
      left -= take;
    }
    start[i + 1] = id.length;
  });
  trace.prefix = { start, id: Int32Array.from(id), tokens: Int32Array.from(tokens) };
  return trace;
}

/** Up to 40 requests with bursts, each beginning with segments of ids drawn from `segId` (up to `segs` of them). */
function workloads(segId: fc.Arbitrary<number>, segs: number) {
  return fc.array(
    fc.record({
      gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.4, noNaN: true })),
      prompt: fc.integer({ min: 1, max: 400 }),
      output: fc.integer({ min: 1, max: 60 }),
      segs: fc.array(fc.tuple(segId, fc.integer({ min: 1, max: 120 })), { maxLength: segs }),
    }),
    { minLength: 1, maxLength: 40, size: 'max' },
  );
}

describe('prefix cache against the block-by-block reference', () => {
  it(
    'identical runs on random shared-prefix workloads (both batching modes, recompute and swap, 1 or 3 replicas)',
    async () => {
      const fast = await runner(false);
      const ref = await runner(true);
      const rows = workloads(fc.integer({ min: 0, max: 2 }), 3);
      const settings = fc.record({
        policy: fc.constantFrom('fcfs', 'ltr', 'las', 'preble-mpq'),
        'chunked-prefill': fc.boolean(),
        preemption: fc.constantFrom('recompute', 'swap'),
        'block-size': fc.constantFrom(1, 4, 16),
        'max-num-seqs': fc.integer({ min: 1, max: 8 }),
        'max-num-batched-tokens': fc.integer({ min: 64, max: 600 }),
        'kv-tokens': fc.integer({ min: 500, max: 3000 }),
        'swap-space': fc.constantFrom(0, 0.02, 4),
        cluster: fc.constantFrom(1, 3),
      });
      fc.assert(
        fc.property(rows, settings, (rs, { cluster, ...o }) => {
          const trace = sharedTrace(rs);
          const options: Partial<RunOptions> = { ...o, predictor: o.policy === 'ltr' ? 'oracle' : undefined, ...(cluster > 1 ? { replicas: cluster, router: 'prefix-affinity' } : {}) };
          const a = fast(trace, options);
          const b = ref(trace, options);
          expect(runDifferences(a, b, true).join('\n'), JSON.stringify(o)).toBe('');
          expect(Array.from(a.requests.cachedTokens)).toEqual(Array.from(b.requests.cachedTokens));
        }),
        { numRuns: 300, seed: 12 },
      );
    },
    120_000,
  );

  it(
    'identical runs on generated agent programs (calls resend their parents’ context), tight KV, 1 and 4 replicas',
    async () => {
      const fast = await runner(false);
      const ref = await runner(true);
      const { generateProgramTrace } = await import('../traces/generators.ts');
      for (const kind of ['react', 'tree-search', 'multi-turn'] as const) {
        const trace = generateProgramTrace({ kind, programs: 30, rate: 1, seed: `reference:${kind}` });
        for (const options of [
          { policy: 'fcfs', 'kv-tokens': 20_000 },
          { policy: 'plas', 'chunked-prefill': true, 'kv-tokens': 12_000, preemption: 'swap' as const, 'swap-space': 0.05 },
          { policy: 'atlas', replicas: 4, router: 'autellix', 'kv-tokens': 20_000 },
        ]) {
          const a = fast(trace, options);
          const b = ref(trace, options);
          expect(runDifferences(a, b, true).join('\n'), `${kind} ${JSON.stringify(options)}`).toBe('');
          expect(a.stats.prefixHitTokens, kind).toBeGreaterThan(0);
        }
      }
    },
    120_000,
  );

  it(
    'folding private segments (content one request declares) changes no hit and no timing, only the counts of cached and evicted blocks',
    async () => {
      const ref = await runner(true);
      // Ids 0-2 recur; most of 3-60 occur once (private, folded when they end the list).
      const rows = workloads(fc.oneof(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 3, max: 60 })), 4);
      const settings = fc.record({
        policy: fc.constantFrom('fcfs', 'ltr'),
        'chunked-prefill': fc.boolean(),
        preemption: fc.constantFrom('recompute', 'swap'),
        'block-size': fc.constantFrom(1, 4, 16),
        'max-num-seqs': fc.integer({ min: 1, max: 8 }),
        'kv-tokens': fc.integer({ min: 500, max: 3000 }),
        'swap-space': fc.constantFrom(0, 0.02, 4),
      });
      let folded = 0;
      try {
        fc.assert(
          fc.property(rows, settings, (rs, o) => {
            const trace = sharedTrace(rs);
            const options: Partial<RunOptions> = { ...o, predictor: o.policy === 'ltr' ? 'oracle' : undefined };
            ref.fold!.fold = true;
            const a = ref(trace, options);
            ref.fold!.fold = false;
            const b = ref(trace, options);
            const counts = (r: SimulationResult) => ({ ...r.stats, prefixEvictions: 0 });
            const same = { ...a, stats: counts(a), replicas: a.replicas.map((s) => ({ ...s, prefixEvictions: 0 })) };
            expect(runDifferences(same, { ...b, stats: counts(b), replicas: b.replicas.map((s) => ({ ...s, prefixEvictions: 0 })) }, true).join('\n'), JSON.stringify(o)).toBe('');
            expect(Array.from(a.requests.cachedTokens)).toEqual(Array.from(b.requests.cachedTokens));
            if (a.stats.prefixEvictions < b.stats.prefixEvictions) folded++;
          }),
          { numRuns: 200, seed: 13 },
        );
      } finally {
        ref.fold!.fold = true;
      }
      // Some runs did evict private blocks that the fold keeps out of the cache.
      expect(folded).toBeGreaterThan(10);
    },
    120_000,
  );

  it('the random workloads exercise what the reference is for: hits, evictions, preemptions and swaps', async () => {
    const fast = await runner(false);
    const rng = seedrandom.alea('reference:coverage');
    const rs = Array.from({ length: 40 }, () => ({ gap: rng() * 0.1, prompt: 50 + Math.floor(rng() * 350), output: 1 + Math.floor(rng() * 60), segs: [[Math.floor(rng() * 4), 40 + Math.floor(rng() * 80)] as [number, number]] }));
    const s = fast(sharedTrace(rs), { 'kv-tokens': 1200, 'max-num-seqs': 8, 'swap-space': 0.02, preemption: 'swap', 'block-size': 4 }).stats;
    expect(s.prefixHitTokens).toBeGreaterThan(0);
    expect(s.prefixEvictions).toBeGreaterThan(0);
    expect(s.preemptions).toBeGreaterThan(0);
    expect(s.swapOuts).toBeGreaterThan(0);
  }, 60_000);
});
