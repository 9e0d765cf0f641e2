/**
 * Chained block hashes from prefix segments (test/reference/block-hash.ts): equal exactly where two token
 * streams hold the same content at the same positions, hand-worked per case.
 */
import { describe, it, expect } from 'vitest';
import { chainHashes } from './reference/block-hash.ts';
import { ownId, outId } from '../sim/trace.ts';
import type { TracePrefix } from '../sim/trace.ts';
import { prefixSegments } from './helpers.ts';

const segs = prefixSegments;

function hashes(s: TracePrefix | undefined, i: number, prompt: number, B: number, blocks: number): number[] {
  const out = new Float64Array(blocks);
  chainHashes(s, i, prompt, B, out, 0, blocks);
  return Array.from(out);
}

describe('block hashes', () => {
  it('two prompts sharing a 48-token prefix share exactly their first 3 blocks of 16', () => {
    const s = segs([[[5, 48]], [[5, 48]]]);
    const a = hashes(s, 0, 60, 16, 4);
    const b = hashes(s, 1, 70, 16, 4);
    expect(a.slice(0, 3)).toEqual(b.slice(0, 3));
    expect(a[3]).not.toBe(b[3]);
    expect(new Set(a).size).toBe(4);
  });

  it('without declared segments, two requests share nothing', () => {
    const a = hashes(undefined, 0, 64, 16, 4);
    const b = hashes(undefined, 1, 64, 16, 4);
    expect(a.filter((h) => b.includes(h))).toEqual([]);
  });

  it("a call whose prompt begins with its parent's prompt and output hits the parent's full blocks", () => {
    // Parent 0: 40 prompt + 30 output = 70 tokens; child 1's prompt: that context + 20 new tokens.
    const s = segs([[], [[ownId(0), 40], [outId(0), 30]]]);
    const parent = hashes(s, 0, 40, 16, 4); // the parent's stream (prompt, then output) in 4 full blocks
    const child = hashes(s, 1, 90, 16, 5);
    expect(child.slice(0, 4)).toEqual(parent); // 64 of the 70 shared tokens fill 4 blocks
    expect(child[4]).not.toBe(hashes(s, 0, 40, 16, 5)[4]); // block 4 mixes the shared tail with new tokens
  });

  it('Mooncake-style 512-token ids at block size 16: equal first ids share 32 blocks', () => {
    const s = segs([[[100, 512], [101, 512]], [[100, 512], [102, 512]]]);
    const a = hashes(s, 0, 1024, 16, 64);
    const b = hashes(s, 1, 1024, 16, 64);
    expect(a.slice(0, 32)).toEqual(b.slice(0, 32));
    for (let k = 32; k < 64; k++) expect(a[k]).not.toBe(b[k]);
  });

  it('a shared block later in the stream does not match without its prefix (chained)', () => {
    const s = segs([[[1, 16], [2, 16]], [[3, 16], [2, 16]]]);
    expect(hashes(s, 0, 32, 16, 2)[1]).not.toBe(hashes(s, 1, 32, 16, 2)[1]);
  });

  it('computing in pieces equals computing at once', () => {
    const s = segs([[[9, 23], [4, 41]]]);
    const all = new Float64Array(10);
    chainHashes(s, 0, 100, 8, all, 0, 10);
    const parts = new Float64Array(10);
    chainHashes(s, 0, 100, 8, parts, 0, 3);
    chainHashes(s, 0, 100, 8, parts, 3, 7);
    chainHashes(s, 0, 100, 8, parts, 7, 10);
    expect(Array.from(parts)).toEqual(Array.from(all));
    for (const h of all) expect(Number.isInteger(h) && h >= 0 && h < 2 ** 53).toBe(true);
  });
});
