/** The block pool's hash index (test/reference/hash-index.ts) against a Map under random operations. */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { HashIndex } from './reference/hash-index.ts';

describe('hash index', () => {
  it('agrees with a Map under random sets, deletes and gets (small tables: long probe runs, wraparound)', () => {
    const key = fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }));
    const op = fc.record({ kind: fc.constantFrom('set', 'delete', 'get'), key, value: fc.integer({ min: 0, max: 1000 }) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const h = new HashIndex(16);
        const m = new Map<number, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            h.set(o.key, o.value);
            m.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            h.delete(o.key);
            m.delete(o.key);
          }
          expect(h.get(o.key)).toBe(m.get(o.key) ?? -1);
          expect(h.size).toBe(m.size);
        }
        for (const [k, v] of m) expect(h.get(k)).toBe(v);
      }),
      { numRuns: 300, seed: 3 },
    );
  });
});
