/**
 * Automatic prefix caching for one replica (vLLM v1, docs/spec.md §15; design in
 * docs/prefix-caching.md): the replica's blocks live in a `BlockPool`; block k of a request is
 * named (trie node of the piece holding its last token, k) (sim/prefix-paths.ts). A request
 * admitted from the waiting queue takes the longest run of cached blocks from its start (capped so
 * that its last block is computed); blocks it fills are registered; freed blocks go back tail first
 * and stay cached until evicted. A request's blocks are held as *holdings*: runs [lo, hi) of its
 * blocks from one registration (its own or the one it hit), across the nodes of its stream. Only
 * `KvCache` calls this (it stays the single owner of the block counts). Units: blocks, tokens.
 */
import { BlockPool } from './block-pool.ts';
import { streamPaths } from './prefix-paths.ts';
import type { PrefixPaths } from './prefix-paths.ts';
import type { RequestTable } from './requests.ts';

/** The counters a prefix cache adds to (the engine's stats; docs/output.md `prefix_cache`). */
export interface PrefixCacheStats {
  prefixAdmissions: number;
  prefixHitAdmissions: number;
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  prefixEvictions: number;
}

/** Ints per holding: registration, lo, hi. */
const H = 3;

/**
 * The per-request state of prefix caching, shared by every replica of a run (a request lives on
 * one replica; its block names depend only on the trace, so routers may ask any replica about
 * it): stream paths, holdings, blocks registered, and where each request's private content starts.
 */
export class PrefixTables {
  readonly R: RequestTable;
  readonly B: number;
  readonly paths: PrefixPaths;
  /** First block of each piece of `paths` at this run's block size, made with the request's path (`firstMade`). */
  readonly first: Int32Array;
  private readonly firstMade: Uint8Array;
  /** Per request: its holdings, H ints each (registration, lo, hi), in block order. */
  readonly holdings: (Int32Array | undefined)[];
  readonly holdingCount: Int32Array;
  /** Per request: its leading blocks that are named (taken from the cache or registered); the rest are unnamed. */
  readonly registered: Int32Array;
  /**
   * Per request: its first block holding content only it can ask for (its own prompt part or
   * output, when no other request declares them, after `foldPrivateSegments`); 2^31 − 1 for a
   * referenced request. Such private blocks are registered only when the request gives them up
   * early (a preemption): no one else can hit them while it runs, so registering them then is the
   * same as registering them as they fill, without the cost for the many requests that never give
   * them up.
   */
  readonly privateFrom: Int32Array;
  /** 1 once a request's private blocks were registered (it was preempted): its lookups go past `privateFrom`. */
  readonly ownCached: Uint8Array;

  /** @param requests the run's request table (its `prefix` segments name the shared content); @param blockSize tokens per block. */
  constructor(requests: RequestTable, blockSize: number) {
    this.R = requests;
    this.B = blockSize;
    const segs = requests.prefix;
    this.paths = streamPaths(segs, requests.prompt);
    const n = requests.n;
    this.holdings = new Array(n);
    ({ first: this.first, made: this.firstMade } = this.paths.firstBlocks(blockSize));
    this.holdingCount = new Int32Array(Math.max(1, n));
    this.registered = new Int32Array(Math.max(1, n));
    const { referenced, declared } = this.paths.fold;
    this.privateFrom = new Int32Array(Math.max(1, n));
    this.ownCached = new Uint8Array(Math.max(1, n));
    for (let i = 0; i < n; i++) this.privateFrom[i] = referenced[i] ? 0x7fffffff : Math.floor(declared[i] / blockSize);
  }

  /**
   * Where request `id`'s stream pieces start in `paths.node` and `first` (made on first use):
   * piece p holds its blocks `first[p]` up to `first[p + 1]` (the last piece is unbounded).
   */
  pathOf(id: number): number {
    const o = this.paths.path(id);
    if (this.firstMade[id] === 0) {
      const start = this.paths.start;
      for (let p = o; p < o + this.paths.pieces[id]; p++) this.first[p] = Math.floor(start[p] / this.B);
      this.firstMade[id] = 1;
    }
    return o;
  }

  /** Appends (or extends) a holding of request `id`: its blocks [lo, hi) from registration `seq`. */
  hold(id: number, seq: number, lo: number, hi: number): void {
    let h = this.holdings[id];
    const c = this.holdingCount[id];
    if (c > 0 && h![(c - 1) * H] === seq && h![(c - 1) * H + 2] === lo) {
      h![(c - 1) * H + 2] = hi;
      return;
    }
    if (h === undefined || h.length < (c + 1) * H) {
      const g = new Int32Array(Math.max(4, 2 * c) * H);
      if (h) g.set(h);
      this.holdings[id] = h = g;
    }
    h[c * H] = seq;
    h[c * H + 1] = lo;
    h[c * H + 2] = hi;
    this.holdingCount[id] = c + 1;
  }

  /** Forgets request `id`'s holdings (it completed). */
  drop(id: number): void {
    this.holdings[id] = undefined;
    this.holdingCount[id] = 0;
  }
}

/** The prefix cache of one replica. */
export class PrefixCache {
  readonly pool: BlockPool;
  private readonly stats: PrefixCacheStats;
  private readonly R: RequestTable;
  private readonly B: number;
  private readonly t: PrefixTables;

  /**
   * @param capacity GPU blocks; @param tables the run's shared per-request state; @param stats the counters it adds to.
   */
  constructor(capacity: number, tables: PrefixTables, stats: PrefixCacheStats) {
    this.pool = new BlockPool(capacity, tables.paths.capacity);
    this.stats = stats;
    this.t = tables;
    this.R = tables.R;
    this.B = tables.B;
  }

  /**
   * Cached blocks waiting request `id` would take now: the longest run of cached blocks from its
   * first, at most ⌊(numTokens − 1)/B⌋ (the last token is computed; computed tokens stay
   * block-aligned). Looks only.
   */
  hitBlocks(id: number): number {
    const R = this.R;
    const cap = Math.floor((R.prompt[id] + R.generated[id] - 1) / this.B);
    // Private blocks can be cached only if it registered them itself (an earlier preemption).
    const lim = this.t.ownCached[id] ? cap : Math.min(cap, this.t.privateFrom[id]);
    if (lim <= 0) return 0;
    const o = this.t.pathOf(id);
    const { node, pieces } = this.t.paths;
    const first = this.t.first;
    const last = o + pieces[id] - 1;
    for (let p = o; p <= last; p++) {
      const a = first[p];
      const e = p < last ? Math.min(first[p + 1], lim) : lim;
      if (e <= a) continue;
      const c = this.pool.covered(node[p], a, e);
      if (c < e || e === lim) return c;
    }
    return lim;
  }

  /** Of request `id`'s first `hit` blocks (all cached), those now free: taking them uses free blocks too. */
  freeAmongHits(id: number, hit: number): number {
    const o = this.t.pathOf(id);
    const { node, pieces } = this.t.paths;
    const first = this.t.first;
    const last = o + pieces[id] - 1;
    const pool = this.pool;
    let f = 0;
    for (let p = o; p <= last && first[p] < hit; p++) {
      const e = p < last ? Math.min(first[p + 1], hit) : hit;
      if (e <= first[p]) continue;
      const m = pool.assign(node[p], first[p], e);
      const s = pool.served;
      for (let j = 0; j < 3 * m; j += 3) if (pool.refs(s[j]) === 0) f += s[j + 2] - s[j + 1];
    }
    return f;
  }

  /**
   * Takes the first `hit` blocks of waiting request `id` (holding none) from the cache: a reference
   * each; they become its first blocks (`RequestTable.blocks`).
   */
  take(id: number, hit: number): void {
    const o = this.t.pathOf(id);
    const { pieces } = this.t.paths;
    const first = this.t.first;
    const last = o + pieces[id] - 1;
    const pool = this.pool;
    for (let p = o; p <= last && first[p] < hit; p++) {
      const node = this.t.paths.node[p];
      const e = p < last ? Math.min(first[p + 1], hit) : hit;
      if (e <= first[p]) continue;
      const m = pool.assign(node, first[p], e);
      const s = pool.served;
      if (m === 1) {
        const seq = pool.seqOf(s[0]);
        pool.touch(node, seq, s[1], s[2]);
        this.t.hold(id, seq, s[1], s[2]);
        continue;
      }
      // Served runs come by registration, not by block: hold them in block order.
      const runs: number[] = [];
      for (let j = 0; j < 3 * m; j += 3) runs.push(pool.seqOf(s[j]), s[j + 1], s[j + 2]);
      for (let j = 0; j < runs.length; j += 3) pool.touch(node, runs[j], runs[j + 1], runs[j + 2]);
      const order = Array.from({ length: m }, (_, j) => 3 * j).sort((x, y) => runs[x + 1] - runs[y + 1]);
      for (const j of order) this.t.hold(id, runs[j], runs[j + 1], runs[j + 2]);
    }
    this.t.registered[id] = hit;
    this.R.blocks[id] = hit;
  }

  /** Counts an admission of request `id` whose first `hit` blocks came from the cache. */
  count(id: number, hit: number): void {
    const st = this.stats;
    st.prefixAdmissions++;
    st.prefixQueriedTokens += this.R.prompt[id] + this.R.generated[id];
    if (hit > 0) st.prefixHitAdmissions++;
    st.prefixHitTokens += hit * this.B;
  }

  /**
   * Registers request `id`'s blocks [from, to) (in use by it, just filled), as one registration
   * across the nodes of its stream; in the node where its last holding ends at `from` with one
   * reference and no other part holds the new blocks, that part is extended instead (the same as
   * registering them anew).
   */
  private register(id: number, from: number, to: number): void {
    const o = this.t.pathOf(id);
    const { pieces } = this.t.paths;
    const first = this.t.first;
    const last = o + pieces[id] - 1;
    const pool = this.pool;
    const t = this.t;
    // The last piece starting at or before `from`.
    let p = last;
    while (p > o && first[p] > from) p--;
    // Only the node holding block `from` can have a part of the request's ending there.
    let extend = true;
    let seq = 0;
    for (; p <= last && from < to; p++) {
      const e = p < last ? Math.min(first[p + 1], to) : to;
      if (e <= from) continue;
      const node = t.paths.node[p];
      if (extend) {
        extend = false;
        const c = t.holdingCount[id];
        if (c > 0 && t.holdings[id]![(c - 1) * H + 2] === from) {
          const part = pool.endingAt(node, t.holdings[id]![(c - 1) * H], from);
          if (part >= 0 && pool.refs(part) === 1 && !pool.overlaps(node, from, e)) {
            pool.extend(part, e);
            t.hold(id, pool.seqOf(part), from, e);
            from = e;
            continue;
          }
        }
      }
      if (seq === 0) seq = pool.nextSeq();
      pool.register(node, from, e, seq);
      t.hold(id, seq, from, e);
      from = e;
    }
    t.registered[id] = to;
  }

  /** Whether `tokens` of request `id` fill a block it would register (not one of its private blocks, not one registered). */
  registers(id: number, tokens: number): boolean {
    return Math.min(Math.floor(tokens / this.B), this.t.privateFrom[id]) > this.t.registered[id];
  }

  /**
   * Grows request `id` to `want` blocks (allocating from the pool, which may evict) and registers
   * the blocks that `tokens` covers completely (a block already cached gets a second copy, as in
   * vLLM). The caller checked the blocks are free.
   */
  grow(id: number, want: number, tokens: number): void {
    const R = this.R;
    const have = R.blocks[id];
    if (want > have) {
      const before = this.pool.evictions;
      this.pool.allocate(want - have);
      this.stats.prefixEvictions += this.pool.evictions - before;
      R.blocks[id] = want;
    }
    const full = Math.min(Math.floor(tokens / this.B), R.blocks[id], this.t.privateFrom[id]);
    if (full > this.t.registered[id]) this.register(id, this.t.registered[id], full);
  }

  /**
   * Frees every block of request `id`, tail first (vLLM's order: a sequence's head outlives its
   * tail in the cache). `final` (it completed): blocks holding its own prompt part or output that
   * no other request declares can never be hit again and are freed without their names.
   */
  release(id: number, final: boolean): void {
    const R = this.R;
    const t = this.t;
    const b = R.blocks[id];
    const priv = t.privateFrom[id];
    if (!final) {
      // Given up early: its full private blocks are registered now (see PrefixTables.privateFrom).
      const full = Math.min(Math.floor(R.computed[id] / this.B), b);
      if (full > priv) {
        if (full > t.registered[id]) this.register(id, t.registered[id], full);
        t.ownCached[id] = 1;
      }
    }
    // Blocks from the one holding its first own token on touch only this request's content.
    const dead = final ? Math.min(b, priv) : b;
    this.pool.releaseAnonymous(b - t.registered[id]);
    const h = t.holdings[id];
    const c0 = t.holdingCount[id];
    if (c0 > 0) {
      const o = t.pathOf(id);
      const node = t.paths.node;
      const first = t.first;
      let p = o + t.paths.pieces[id] - 1;
      for (let c = c0 - 1; c >= 0; c--) {
        const seq = h![c * H];
        const lo = h![c * H + 1];
        let hi = h![c * H + 2];
        // Piece by piece from the top (the pieces holding blocks [lo, hi)).
        while (hi > lo) {
          while (first[p] >= hi) p--;
          const a = Math.max(lo, first[p]);
          if (hi > dead) this.pool.release(node[p], seq, Math.max(a, dead), hi, true);
          if (a < dead) this.pool.release(node[p], seq, a, Math.min(hi, dead), false);
          hi = a;
        }
      }
    }
    R.blocks[id] = 0;
    t.registered[id] = 0;
    t.holdingCount[id] = 0;
    if (final) t.drop(id);
  }

  /** Takes `k` blocks from the free queue for no request yet (a reservation), counting the cached ones it evicts. */
  allocateAnonymous(k: number): void {
    const before = this.pool.evictions;
    this.pool.allocate(k);
    this.stats.prefixEvictions += this.pool.evictions - before;
  }

  /** Swap-in of request `id` (holding no GPU blocks): `blocks` fresh blocks, its full ones registered again. */
  swapIn(id: number, blocks: number): void {
    this.grow(id, blocks, this.R.computed[id]);
  }
}
