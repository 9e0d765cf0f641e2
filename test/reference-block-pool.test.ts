/**
 * The block-by-block reference pool (test/reference/block-pool.ts, the oracle of the run-based
 * pool in sim/block-pool.ts) against hand-worked free-queue orders (vLLM v1,
 * docs/spec.md §15) and, under random operations, against an explicit block-by-block model.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { BlockPool } from './reference/block-pool.ts';

describe('block pool', () => {
  it('frees to the back, allocates from the front, evicting hashes there (a tail freed first goes first)', () => {
    const p = new BlockPool(4);
    p.allocate(2);
    const e1 = p.register(1);
    const e2 = p.register(2);
    expect([p.free, p.used, p.cached]).toEqual([2, 2, 0]);
    // A request frees its blocks in reverse order: its tail block first.
    p.release(e2);
    p.release(e1);
    expect([p.free, p.cached]).toEqual([4, 2]);
    // Queue: [2 never used, hash 2, hash 1]. Three blocks take the two never used, then evict hash 2.
    p.allocate(3);
    expect([p.lookup(2), p.lookup(1), p.evictions, p.free, p.cached]).toEqual([-1, e1, 1, 1, 1]);
    // A hit takes hash 1 back out of the queue.
    p.touch(e1);
    expect([p.refs(e1), p.free, p.cached]).toEqual([1, 0, 0]);
    expect(() => p.allocate(1)).toThrow();
  });

  it('a touched block leaves the queue; the others keep their order', () => {
    const p = new BlockPool(3);
    p.allocate(3);
    const [a, b, c] = [p.register(10), p.register(11), p.register(12)];
    p.release(c);
    p.release(b);
    p.release(a);
    p.touch(b);
    p.allocate(1);
    expect([p.lookup(12), p.lookup(10), p.lookup(11)]).toEqual([-1, a, b]);
    p.allocate(1);
    expect([p.lookup(10), p.evictions]).toEqual([-1, 2]);
  });

  it('a hash registered twice keeps both blocks and finds the first; shared blocks are freed at their last reference', () => {
    const p = new BlockPool(3);
    p.allocate(3);
    const e = p.register(7);
    const dup = p.register(7);
    expect(p.lookup(7)).toBe(e);
    p.release(dup);
    p.allocate(1); // evicts the duplicate: the first stays
    expect([p.lookup(7), p.evictions]).toEqual([e, 1]);
    p.touch(e);
    p.release(e);
    expect([p.refs(e), p.cached]).toEqual([1, 0]);
    p.release(e);
    expect([p.refs(e), p.cached, p.free]).toEqual([0, 1, 1]);
    p.allocate(1);
    expect(p.lookup(7)).toBe(-1);
    expect(() => p.release(e)).toThrow();
  });

  it('unhashed blocks freed after a cached one are taken after it', () => {
    const p = new BlockPool(2);
    p.allocate(2);
    const e = p.register(5);
    p.release(e);
    p.releaseAnonymous(1);
    p.allocate(1);
    expect([p.lookup(5), p.evictions, p.free]).toEqual([-1, 1, 1]);
  });

  it('matches a block-by-block model under random operations', () => {
    type Op =
      | { op: 'allocate'; k: number }
      | { op: 'register'; hash: number }
      | { op: 'release'; hash: number }
      | { op: 'anon'; k: number }
      | { op: 'touch'; hash: number };
    const ops = fc.array(
      fc.oneof(
        fc.record({ op: fc.constant('allocate' as const), k: fc.integer({ min: 1, max: 4 }) }),
        fc.record({ op: fc.constant('register' as const), hash: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ op: fc.constant('release' as const), hash: fc.integer({ min: 0, max: 7 }) }),
        fc.record({ op: fc.constant('anon' as const), k: fc.integer({ min: 1, max: 3 }) }),
        fc.record({ op: fc.constant('touch' as const), hash: fc.integer({ min: 0, max: 7 }) }),
      ),
      { maxLength: 80 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), ops, (cap, list: Op[]) => {
        const pool = new BlockPool(cap);
        // The model: every block explicit; the free queue as an array of block ids.
        const hashOf: (number | null)[] = Array(cap).fill(null);
        const ref: number[] = Array(cap).fill(0);
        const queue: number[] = Array.from({ length: cap }, (_, i) => i);
        const inUseAnon: number[] = [];
        const byHash = new Map<number, number[]>(); // blocks under each hash, first registered first
        let evictions = 0;
        for (const o of list) {
          if (o.op === 'allocate') {
            if (o.k > queue.length) continue;
            pool.allocate(o.k);
            for (let i = 0; i < o.k; i++) {
              const b = queue.shift()!;
              if (hashOf[b] !== null) {
                const list = byHash.get(hashOf[b]!)!;
                list.splice(list.indexOf(b), 1);
                if (list.length === 0) byHash.delete(hashOf[b]!);
                hashOf[b] = null;
                evictions++;
              }
              inUseAnon.push(b);
            }
          } else if (o.op === 'register') {
            if (inUseAnon.length === 0) continue;
            expect(pool.register(o.hash)).toBeGreaterThanOrEqual(0);
            const b = inUseAnon.pop()!;
            hashOf[b] = o.hash;
            ref[b] = 1;
            byHash.set(o.hash, [...(byHash.get(o.hash) ?? []), b]);
          } else if (o.op === 'release') {
            const b = byHash.get(o.hash)?.[0];
            if (b === undefined || ref[b] === 0) continue;
            pool.release(pool.lookup(o.hash));
            if (--ref[b] === 0) queue.push(b);
          } else if (o.op === 'anon') {
            if (o.k > inUseAnon.length) continue;
            pool.releaseAnonymous(o.k);
            for (let i = 0; i < o.k; i++) queue.push(inUseAnon.pop()!);
          } else {
            const b = byHash.get(o.hash)?.[0];
            if (b === undefined) continue;
            pool.touch(pool.lookup(o.hash));
            if (ref[b]++ === 0) queue.splice(queue.indexOf(b), 1);
          }
          const cached = queue.filter((b) => hashOf[b] !== null).length;
          expect([pool.free, pool.cached, pool.evictions, pool.used]).toEqual([queue.length, cached, evictions, cap - queue.length]);
          for (let h = 0; h < 8; h++) {
            const e = pool.lookup(h);
            expect(e >= 0).toBe(byHash.has(h));
            if (e >= 0) expect(pool.refs(e)).toBe(ref[byHash.get(h)![0]]);
          }
        }
      }),
      { numRuns: 400, seed: 7 },
    );
  });
});
