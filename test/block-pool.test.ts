/**
 * The run-based block pool (sim/block-pool.ts) against hand-worked free-queue orders (vLLM v1,
 * docs/spec.md §15) and, under random operations, against the block-by-block reference pool
 * (test/reference/block-pool.ts: one entry per block under a hash), block by block.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BlockPool } from '../sim/block-pool.ts';
import { BlockPool as ReferencePool } from './reference/block-pool.ts';

/** Takes blocks [lo, hi) of `node` from the cache as a request's hit does: each from the first registration holding it. */
function hit(p: BlockPool, node: number, lo: number, hi: number): [number, number, number][] {
  const m = p.assign(node, lo, hi);
  const runs: [number, number, number][] = [];
  for (let j = 0; j < 3 * m; j += 3) runs.push([p.seqOf(p.served[j]), p.served[j + 1], p.served[j + 2]]);
  for (const [seq, a, b] of runs) p.touch(node, seq, a, b);
  return runs;
}

describe('block pool (runs)', () => {
  it('a sequence freed tail first is evicted from its tail; a hit takes its head back out of the queue', () => {
    const p = new BlockPool(6);
    p.allocate(4);
    const s = p.register(7, 0, 4);
    p.release(7, s, 0, 4, false);
    expect([p.free, p.used, p.cached]).toEqual([6, 0, 4]);
    // Queue: [2 never used, blocks 3, 2, 1, 0 of node 7]. Four blocks: the two never used, then 3 and 2.
    p.allocate(4);
    expect([p.covered(7, 0, 4), p.evictions, p.free, p.cached]).toEqual([2, 2, 2, 2]);
    // A hit on blocks 0-1 takes them back.
    expect(hit(p, 7, 0, 2)).toEqual([[s, 0, 2]]);
    expect([p.free, p.cached]).toEqual([0, 0]);
    expect(() => p.allocate(1)).toThrow();
  });

  it('a hit inside a free run splits it; the blocks above the hit are still evicted before those below', () => {
    const p = new BlockPool(6);
    p.allocate(6);
    const s1 = p.register(1, 0, 2); // blocks 0-1 of node 1, registered first
    const s2 = p.register(1, 0, 4); // a second copy of 0-1, and 2-3
    p.release(1, s2, 0, 4, false); // queue: s2's 3, 2, 1, 0
    // Blocks 0-3: 0-1 from s1 (registered first), 2 from s2: s2's run splits around block 2.
    expect(hit(p, 1, 0, 3)).toEqual([
      [s1, 0, 2],
      [s2, 2, 3],
    ]);
    expect([p.free, p.cached]).toEqual([3, 3]);
    // Eviction order is still s2's 3, then s2's 1, then s2's 0.
    p.allocate(1);
    expect(p.covered(1, 3, 4)).toBe(3);
    p.release(1, s2, 2, 3, false); // queue: s2's 1, 0, 2
    p.allocate(2);
    expect([p.covered(1, 0, 4), p.evictions, p.free, p.cached]).toEqual([3, 3, 1, 1]);
    // s1 is held twice (its registrant and the hit): forgotten at the last release, its blocks go unnamed.
    p.release(1, s1, 0, 2, true);
    expect([p.covered(1, 0, 4), p.free]).toEqual([3, 1]);
    p.release(1, s1, 0, 2, true);
    expect([p.covered(1, 0, 4), p.covered(1, 2, 4), p.cached, p.free]).toEqual([0, 3, 1, 3]);
    expect(() => p.release(1, s1, 0, 1, false)).toThrow();
  });

  it('matches the block-by-block reference under random requests (hits, fills, releases, anonymous use)', () => {
    const NODES = 2;
    const BLOCKS = 12;
    const name = (node: number, k: number) => node * 64 + k;
    type Op = { kind: 'request'; node: number; want: number; concurrent: boolean; skip: number; fill: number; forget: boolean } | { kind: 'release'; pick: number } | { kind: 'anon'; k: number };
    const ops = fc.array(
      fc.oneof(
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('request' as const), node: fc.integer({ min: 0, max: NODES - 1 }), want: fc.integer({ min: 0, max: 8 }), concurrent: fc.boolean(), skip: fc.constantFrom(0, 0, 1, 3), fill: fc.integer({ min: 0, max: 8 }), forget: fc.boolean() }) },
        { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('anon' as const), k: fc.integer({ min: 1, max: 4 }) }) },
      ),
      { minLength: 10, maxLength: 60, size: 'max' },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 24 }), ops, (cap, list: Op[]) => {
        const pool = new BlockPool(cap);
        const ref = new ReferencePool(cap);
        // A holder: its holdings (node, registration, lo, hi) here, its entries in the reference, block order; or anonymous blocks.
        const holders: { holdings: [number, number, number, number][]; entries: number[]; forget: boolean; anon: number }[] = [];
        for (const o of list) {
          if (o.kind === 'request') {
            // Hit the longest cached run of blocks 0 .. want − 1 of the node, then fill `fill` more
            // itself, `skip` blocks further on (runs that start anywhere, as after hits elsewhere);
            // `concurrent`: hit nothing (admitted before the others registered: a second copy).
            let c = 0;
            while (c < o.want && ref.lookup(name(o.node, c)) >= 0) c++;
            expect(pool.covered(o.node, 0, o.want)).toBe(c);
            if (o.concurrent) c = 0;
            const hitFree = Array.from({ length: c }, (_, k) => ref.refs(ref.lookup(name(o.node, k)))).filter((r) => r === 0).length;
            const at = c + o.skip;
            let fill = Math.max(0, Math.min(o.fill, BLOCKS - at));
            if (ref.free - hitFree < fill) fill = 0;
            const h = { holdings: [] as [number, number, number, number][], entries: [] as number[], forget: o.forget, anon: 0 };
            for (const [seq, a, b] of hit(pool, o.node, 0, c)) h.holdings.push([o.node, seq, a, b]);
            h.holdings.sort((x, y) => x[2] - y[2]);
            for (let k = 0; k < c; k++) {
              const e = ref.lookup(name(o.node, k));
              ref.touch(e);
              h.entries.push(e);
            }
            if (fill > 0) {
              pool.allocate(fill);
              ref.allocate(fill);
              h.holdings.push([o.node, pool.register(o.node, at, at + fill), at, at + fill]);
              for (let k = at; k < at + fill; k++) h.entries.push(ref.register(name(o.node, k)));
            }
            if (h.entries.length > 0) holders.push(h);
          } else if (o.kind === 'anon') {
            if (o.k > ref.free) continue;
            pool.allocate(o.k);
            ref.allocate(o.k);
            holders.push({ holdings: [], entries: [], forget: false, anon: o.k });
          } else {
            if (holders.length === 0) continue;
            const [h] = holders.splice(o.pick % holders.length, 1);
            // Tail first, as a request frees its blocks.
            pool.releaseAnonymous(h.anon);
            ref.releaseAnonymous(h.anon);
            for (let j = h.holdings.length - 1; j >= 0; j--) pool.release(h.holdings[j][0], h.holdings[j][1], h.holdings[j][2], h.holdings[j][3], h.forget);
            for (let k = h.entries.length - 1; k >= 0; k--) (h.forget ? ref.releaseUnhashed(h.entries[k]) : ref.release(h.entries[k]));
          }
          expect([pool.free, pool.cached, pool.used, pool.evictions]).toEqual([ref.free, ref.cached, ref.used, ref.evictions]);
          for (let node = 0; node < NODES; node++) {
            for (let k = 0; k < BLOCKS; k++) expect(pool.covered(node, k, k + 1) === k + 1, `node ${node} block ${k}`).toBe(ref.lookup(name(node, k)) >= 0);
          }
        }
      }),
      { numRuns: 600, seed: 5 },
    );
  }, 60_000);
});
