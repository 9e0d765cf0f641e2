/**
 * Block identities for prefix caching, without hashing each block (docs/prefix-caching.md,
 * "Identities"). vLLM v1 names a full KV block by a hash chained from its parent block and its
 * tokens (docs/spec.md §15), so two blocks are equal exactly when the token streams up to their
 * ends are equal. The simulator has no token ids: a request's stream is a list of content pieces
 * (the segments its trace declares, `TracePrefix` in sim/trace.ts, then its own prompt content
 * `ownId(i)`, then its output `outId(i)`), and two streams are equal up to a position exactly when
 * they have the same pieces, starting at the same positions, up to there.
 *
 * So pieces are interned in a trie: a piece is the node (parent node, content id, start token),
 * the root being node 0. A node's blocks are the blocks k whose last token falls in the piece:
 * start < (k + 1)·B, up to the next piece's start in a given stream (streams through a node may
 * continue it for different lengths: a shorter segment of one id is a prefix of a longer one).
 * Block k of a stream is named (node of the piece holding its last token, k): equal names exactly
 * where chained hashes are equal, with no collisions and no per-block work. A piece starting and
 * ending inside one block owns no block but still names the pieces after it.
 */
import type { TracePrefix } from './trace.ts';
import { ownId, outId } from './trace.ts';

/** Children a node keeps in a list before they are also indexed by hash. */
const LIST = 8;

export class PrefixPaths {
  // Nodes: content id and start of the piece, first child, next sibling, number of children.
  private nId: Int32Array;
  private nStart: Int32Array;
  private nFirst: Int32Array;
  private nNext: Int32Array;
  private nKids: Int32Array;
  private nodes = 1;
  /** Children of nodes with more than LIST, by hash: 4 ints per slot (parent, content id, start, node + 1; 0 = empty). */
  private tab = new Int32Array(4 * 1024);
  private mask = 1023;
  private indexed = 0;
  private readonly segs: TracePrefix | undefined;
  private readonly B: number;

  /**
   * @param segs the trace's prefix segments (undefined: no declared sharing); @param B tokens per
   * block; @param requests requests in the trace (sizes the node arrays: at most one node per
   * segment, own part and output).
   */
  constructor(segs: TracePrefix | undefined, B: number, requests: number) {
    this.segs = segs;
    this.B = B;
    const c = 1 + (segs ? segs.id.length : 0) + 2 * requests;
    this.nId = new Int32Array(c);
    this.nStart = new Int32Array(c);
    this.nFirst = new Int32Array(c).fill(-1);
    this.nNext = new Int32Array(c);
    this.nKids = new Int32Array(c);
  }

  /** Nodes so far, the root included (node ids are 0 .. count − 1). */
  get count(): number {
    return this.nodes;
  }

  private static hash(parent: number, id: number, start: number): number {
    let h = Math.imul(parent ^ 0x9e3779b9, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ id, 0xc2b2ae35);
    h = Math.imul(h ^ (h >>> 16) ^ start, 0x27d4eb2f);
    return h ^ (h >>> 15);
  }

  /** The node of piece (parent, content id, start token), made on first use. */
  intern(parent: number, id: number, start: number): number {
    if (this.nKids[parent] <= LIST) {
      for (let c = this.nFirst[parent]; c >= 0; c = this.nNext[c]) if (this.nId[c] === id && this.nStart[c] === start) return c;
    } else {
      const tab = this.tab;
      for (let s = PrefixPaths.hash(parent, id, start) & this.mask; tab[4 * s + 3] !== 0; s = (s + 1) & this.mask) {
        if (tab[4 * s] === parent && tab[4 * s + 1] === id && tab[4 * s + 2] === start) return tab[4 * s + 3] - 1;
      }
    }
    const n = this.nodes++;
    this.nId[n] = id;
    this.nStart[n] = start;
    this.nNext[n] = this.nFirst[parent];
    this.nFirst[parent] = n;
    const kids = ++this.nKids[parent];
    if (kids === LIST + 1) for (let c = n; c >= 0; c = this.nNext[c]) this.index(parent, c);
    else if (kids > LIST + 1) this.index(parent, n);
    return n;
  }

  private index(parent: number, n: number): void {
    if (2 * ++this.indexed > this.mask) {
      const old = this.tab;
      const c = 2 * (this.mask + 1);
      this.tab = new Int32Array(4 * c);
      this.mask = c - 1;
      for (let o = 0; o < old.length; o += 4) if (old[o + 3] !== 0) this.put(old[o], old[o + 1], old[o + 2], old[o + 3]);
    }
    this.put(parent, this.nId[n], this.nStart[n], n + 1);
  }

  private put(parent: number, id: number, start: number, v: number): void {
    const tab = this.tab;
    let s = PrefixPaths.hash(parent, id, start) & this.mask;
    while (tab[4 * s + 3] !== 0) s = (s + 1) & this.mask;
    tab[4 * s] = parent;
    tab[4 * s + 1] = id;
    tab[4 * s + 2] = start;
    tab[4 * s + 3] = v;
  }

  /**
   * Every request's stream pieces, in one table (made on first use): request i's pieces are
   * `node[o .. o + pieces[i])`, o = `offset(i)`; piece p holds blocks `first[o + p]` up to
   * `first[o + p + 1]` (the last piece is unbounded). `pieces[i]` is 0 until `path(i)` is called.
   */
  node: Int32Array = new Int32Array(0);
  first: Int32Array = new Int32Array(0);
  pieces: Int32Array = new Int32Array(0);

  /** Where request `i`'s pieces start in `node` and `first`: its segments' start plus two per earlier request. */
  offset(i: number): number {
    return (this.segs ? this.segs.start[i] : 0) + 2 * i;
  }

  /**
   * Makes request `i`'s pieces (once): its declared segments, the rest of its prompt (when its
   * segments cover less than `prompt` tokens), then its output. @returns `offset(i)`.
   */
  path(i: number, prompt: number): number {
    const o = this.offset(i);
    if (this.pieces.length === 0) {
      const n = this.nNext.length; // 1 + segments + 2 × requests
      this.node = new Int32Array(n);
      this.first = new Int32Array(n);
      this.pieces = new Int32Array((n - 1 - (this.segs ? this.segs.id.length : 0)) / 2);
    }
    if (this.pieces[i] > 0) return o;
    const segs = this.segs;
    const s0 = segs ? segs.start[i] : 0;
    const s1 = segs ? segs.start[i + 1] : 0;
    const node = this.node;
    const first = this.first;
    const B = this.B;
    let p = o;
    let parent = 0;
    let pos = 0;
    for (let s = s0; s < s1; s++) {
      node[p] = parent = this.intern(parent, segs!.id[s], pos);
      first[p++] = Math.floor(pos / B);
      pos += segs!.tokens[s];
    }
    if (pos < prompt) {
      node[p] = parent = this.intern(parent, ownId(i), pos);
      first[p++] = Math.floor(pos / B);
      pos = prompt;
    }
    node[p] = this.intern(parent, outId(i), pos);
    first[p++] = Math.floor(pos / B);
    this.pieces[i] = p - o;
    return o;
  }
}
