/**
 * Chained hashes of a request's full KV blocks, for prefix caching (docs/spec.md §15: a block's
 * hash chains its parent block's hash with the identities of its tokens). The simulator has no
 * token ids; a request's token stream is described by content pieces instead: its prompt begins
 * with the segments the trace declares (`TracePrefix`, sim/trace.ts: content id and length; two segments with
 * one id hold the same tokens from their start), the rest of the prompt is the request's own
 * content `ownId(i)`, and its output is `outId(i)`. A block's identity is the list of
 * (content id, offset in that content, length) pieces it covers, so two requests get equal block
 * hashes exactly where their streams hold the same content at the same positions, and a call
 * whose prompt begins with its parent's prompt and output hits the parent's blocks.
 *
 * Hashes are 53-bit integers held in doubles (two 32-bit mixing lanes); a collision needs about
 * 2^26 distinct blocks to become likely, far above any trace here.
 */
import type { TracePrefix } from '../../sim/trace.ts';
import { ownId, outId } from '../../sim/trace.ts';

/** The hash of the empty prefix (the parent of a request's first block). */
export const ROOT_HASH = 0;

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x5bd1e995);
  return (h ^ (h >>> 15)) | 0;
}

/**
 * Fills `out[from .. to)` with the chained hashes of request `i`'s blocks `from .. to−1` (block k
 * covers stream tokens [k·B, (k+1)·B)), given `out[from−1]` (or ROOT_HASH for block 0).
 * @param segs the trace's prefix segments, or undefined (no declared sharing).
 * @param prompt request i's prompt tokens; the stream continues with its output.
 * @param B tokens per block.
 */
export function chainHashes(segs: TracePrefix | undefined, i: number, prompt: number, B: number, out: Float64Array, from: number, to: number): void {
  const s0 = segs ? segs.start[i] : 0;
  const s1 = segs ? segs.start[i + 1] : 0;
  let declared = 0;
  for (let s = s0; s < s1; s++) declared += segs!.tokens[s];
  // Pieces of the stream: declared segments, then own content up to `prompt`, then output.
  let parent = from === 0 ? ROOT_HASH : out[from - 1];
  let seg = s0;
  let segStartPos = 0; // stream position where segment `seg` (or the own/out content) starts
  for (let k = from; k < to; k++) {
    let a = k * B; // the next stream position to hash in this block
    const b = a + B;
    let h1 = mix(0x9e3779b9, parent | 0);
    let h2 = mix(0x85ebca6b, Math.floor(parent / 4294967296) | 0);
    // Advance to the content piece holding position a.
    for (;;) {
      let id: number;
      let len: number;
      if (seg < s1) {
        id = segs!.id[seg];
        len = segs!.tokens[seg];
      } else if (segStartPos < prompt && segStartPos >= declared) {
        id = ownId(i);
        len = prompt - declared;
      } else {
        id = outId(i);
        len = Infinity;
      }
      const end = segStartPos + len;
      if (a >= end) {
        seg++;
        segStartPos = end;
        continue;
      }
      const pieceEnd = Math.min(end, b);
      const offset = a - segStartPos;
      h1 = mix(mix(mix(h1, id), offset), pieceEnd - a);
      h2 = mix(mix(mix(h2, ~id), offset ^ 0x27d4eb2f), (pieceEnd - a) ^ 0x165667b1);
      a = pieceEnd;
      if (a >= b) break;
      seg++;
      segStartPos = end;
    }
    const hash = (h1 >>> 0) + (h2 & 0x1fffff) * 4294967296;
    out[k] = hash;
    parent = hash;
  }
}
