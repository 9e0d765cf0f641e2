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
 *
 * The trie depends on the trace alone (not on the block size), so it is built once per trace and
 * kept with it (`streamPaths`): later runs on the same trace in one process reuse it.
 */
import type { TracePrefix } from './trace.ts';
import { idOwner, ownId, outId } from './trace.ts';

/** A trace's prefix segments with the content only one request holds folded into that request's own. */
export interface FoldedPrefix {
  /** The segments kept (undefined when the trace declares none). */
  prefix: TracePrefix | undefined;
  /** 1 for requests whose own prompt part or output another request's prompt declares. */
  referenced: Uint8Array;
  /** Tokens of each request's kept segments (its own content starts there). */
  declared: Int32Array;
}

/**
 * Folds the trailing segments of each request that name content no other segment names (a
 * declared id, >= 0, used once in the whole trace) into the request's own content, unless another
 * request declares that own content (a program call's parent). Such content is private: no other
 * request can hit its blocks, so caching them as shared changes no hit and no timing, only the
 * counts of cached and evicted blocks, and costs a trie node and a registration per segment
 * (Mooncake's conversation trace: 139k of its 289k hash_ids). docs/prefix-caching.md, "Identities".
 * @param p the trace's segments; @param n requests in the trace.
 */
export function foldPrivateSegments(p: TracePrefix | undefined, n: number): FoldedPrefix {
  const referenced = new Uint8Array(Math.max(1, n));
  const declared = new Int32Array(Math.max(1, n));
  if (p === undefined) return { prefix: undefined, referenced, declared };
  const m = p.id.length;
  // Occurrences of each declared id: an array when the ids are dense, else a map.
  let maxId = -1;
  for (let k = 0; k < m; k++) {
    const x = p.id[k];
    if (x > maxId) maxId = x;
    else if (x < 0) referenced[idOwner(x)!.request] = 1;
  }
  const dense = maxId < 4 * m + 1024 ? new Uint8Array(maxId + 1) : undefined;
  const sparse = dense ? undefined : new Map<number, number>();
  for (let k = 0; k < m; k++) {
    const x = p.id[k];
    if (x < 0) continue;
    if (dense) dense[x] = Math.min(2, dense[x] + 1);
    else sparse!.set(x, Math.min(2, (sparse!.get(x) ?? 0) + 1));
  }
  const once = (x: number) => x >= 0 && (dense ? dense[x] : sparse!.get(x)) === 1;
  const start = new Int32Array(n + 1);
  let kept = 0;
  const keep = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let e = p.start[i + 1];
    if (!referenced[i]) while (e > p.start[i] && once(p.id[e - 1])) e--;
    keep[i] = e - p.start[i];
    kept += keep[i];
    start[i + 1] = kept;
  }
  if (kept === m) {
    for (let i = 0; i < n; i++) for (let k = p.start[i]; k < p.start[i + 1]; k++) declared[i] += p.tokens[k];
    return { prefix: p, referenced, declared };
  }
  const id = new Int32Array(kept);
  const tokens = new Int32Array(kept);
  for (let i = 0; i < n; i++) {
    const from = p.start[i];
    id.set(p.id.subarray(from, from + keep[i]), start[i]);
    tokens.set(p.tokens.subarray(from, from + keep[i]), start[i]);
    for (let k = start[i]; k < start[i + 1]; k++) declared[i] += tokens[k];
  }
  return { prefix: { start, id, tokens }, referenced, declared };
}

/** Children a node keeps in a list before they are also indexed by hash. */
const LIST = 8;
/** Ints per node, and their offsets (the content id is at 0). */
const N = 5;
const START = 1;
const FIRST = 2;
const NEXT = 3;
const KIDS = 4;

/** The trie of a trace's content pieces and every request's path through it (made on first use). */
export class PrefixPaths {
  /** Nodes, N ints each: content id and start of the piece, first child, next sibling, number of children. */
  private nodeData: Int32Array;
  /** Most nodes the trie can have: one per segment, own part and output, and the root. */
  readonly capacity: number;
  private nodes = 1;
  /** Children of nodes with more than LIST, by hash: 4 ints per slot (parent, content id, start, node + 1; 0 = empty). */
  private tab = new Int32Array(4 * 1024);
  private mask = 1023;
  private indexed = 0;
  /** The trace's segments as given (what `streamPaths` checks). */
  readonly source: TracePrefix | undefined;
  /** The segments the paths follow, with private ones folded (`foldPrivateSegments`), and what the fold found. */
  readonly fold: FoldedPrefix;
  private readonly segs: TracePrefix | undefined;
  readonly prompt: Int32Array;

  /**
   * @param source the trace's prefix segments (undefined: no declared sharing); @param prompt
   * prompt tokens per request (its length is the number of requests: at most one node per
   * segment, own part and output).
   */
  constructor(source: TracePrefix | undefined, prompt: Int32Array) {
    this.source = source;
    this.prompt = prompt;
    const requests = prompt.length;
    this.fold = foldPrivateSegments(source, requests);
    const segs = (this.segs = this.fold.prefix);
    const c = (this.capacity = 1 + (segs ? segs.id.length : 0) + 2 * requests);
    this.nodeData = new Int32Array(N * c);
    this.nodeData[FIRST] = -1;
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
    const d = this.nodeData;
    if (d[N * parent + KIDS] <= LIST) {
      for (let c = d[N * parent + FIRST]; c >= 0; c = d[N * c + NEXT]) if (d[N * c] === id && d[N * c + START] === start) return c;
    } else {
      const tab = this.tab;
      for (let s = PrefixPaths.hash(parent, id, start) & this.mask; tab[4 * s + 3] !== 0; s = (s + 1) & this.mask) {
        if (tab[4 * s] === parent && tab[4 * s + 1] === id && tab[4 * s + 2] === start) return tab[4 * s + 3] - 1;
      }
    }
    const n = this.nodes++;
    d[N * n] = id;
    d[N * n + START] = start;
    d[N * n + FIRST] = -1;
    d[N * n + NEXT] = d[N * parent + FIRST];
    d[N * parent + FIRST] = n;
    const kids = ++d[N * parent + KIDS];
    if (kids === LIST + 1) for (let c = n; c >= 0; c = d[N * c + NEXT]) this.index(parent, c);
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
    this.put(parent, this.nodeData[N * n], this.nodeData[N * n + START], n + 1);
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
   * `node[o .. o + pieces[i])`, o = `offset(i)`, starting at stream tokens `start[o ..]`; with
   * block size B, piece p holds blocks ⌊start[o + p]/B⌋ up to ⌊start[o + p + 1]/B⌋ (the last piece
   * is unbounded). `pieces[i]` is 0 until `path(i)` is called.
   */
  node: Int32Array = new Int32Array(0);
  start: Int32Array = new Int32Array(0);
  pieces: Int32Array = new Int32Array(0);

  private readonly firsts = new Map<number, { first: Int32Array; made: Uint8Array }>();

  /**
   * The first block of each piece at block size `B` (`first[p]` = ⌊start[p]/B⌋), filled for a
   * request when `made[i]` is 0 (kept for later runs at the same block size).
   */
  firstBlocks(B: number): { first: Int32Array; made: Uint8Array } {
    let f = this.firsts.get(B);
    if (f === undefined) this.firsts.set(B, (f = { first: new Int32Array(this.capacity), made: new Uint8Array(this.prompt.length) }));
    return f;
  }

  /** Where request `i`'s pieces start in `node` and `start`: its segments' start plus two per earlier request. */
  offset(i: number): number {
    return (this.segs ? this.segs.start[i] : 0) + 2 * i;
  }

  /**
   * Makes request `i`'s pieces (once): its declared segments, the rest of its prompt (when its
   * segments cover less than its prompt), then its output. @returns `offset(i)`.
   */
  path(i: number): number {
    const o = this.offset(i);
    if (this.pieces.length === 0) {
      const n = this.capacity; // 1 + segments + 2 × requests
      this.node = new Int32Array(n);
      this.start = new Int32Array(n);
      this.pieces = new Int32Array(this.prompt.length);
    }
    if (this.pieces[i] > 0) return o;
    const segs = this.segs;
    const s0 = segs ? segs.start[i] : 0;
    const s1 = segs ? segs.start[i + 1] : 0;
    const node = this.node;
    const first = this.start;
    const prompt = this.prompt[i];
    let p = o;
    let parent = 0;
    let pos = 0;
    for (let s = s0; s < s1; s++) {
      node[p] = parent = this.intern(parent, segs!.id[s], pos);
      first[p++] = pos;
      pos += segs!.tokens[s];
    }
    if (pos < prompt) {
      node[p] = parent = this.intern(parent, ownId(i), pos);
      first[p++] = pos;
      pos = prompt;
    }
    node[p] = this.intern(parent, outId(i), pos);
    first[p++] = pos;
    this.pieces[i] = p - o;
    return o;
  }
}

const BY_TRACE = new WeakMap<Int32Array, PrefixPaths>();

/**
 * The trie and paths of a trace with these prefix segments and prompts, shared by every run on it
 * in this process (kept while the trace's prompt array lives).
 */
export function streamPaths(segs: TracePrefix | undefined, prompt: Int32Array): PrefixPaths {
  let p = BY_TRACE.get(prompt);
  if (p === undefined || p.source !== segs) BY_TRACE.set(prompt, (p = new PrefixPaths(segs, prompt)));
  return p;
}
