/**
 * Automatic prefix caching for one replica (vLLM v1, docs/spec.md §15; design in
 * docs/prefix-caching.md): the replica's blocks live in a `BlockPool`; each request has a block
 * table (the pool entry of each of its blocks, −1 for an unhashed one) and its chained block hashes
 * (sim/block-hash.ts). A request admitted from the waiting queue takes the longest run of cached
 * blocks from its start (capped so that its last block is computed); blocks it fills are
 * registered under their hashes; freed blocks go back tail first and stay cached until evicted.
 * Only `KvCache` calls this (it stays the single owner of the block counts). Units: blocks, tokens.
 */
import { BlockPool } from './block-pool.ts';
import { chainHashes } from './block-hash.ts';
import type { TracePrefix } from '../../sim/trace.ts';
import { idOwner } from '../../sim/trace.ts';
import { foldPrivateSegments } from '../../sim/prefix-paths.ts';

/** Test switches: `fold` off hashes every declared segment as the trace gives it (the engine folds private ones). */
export const referenceOptions = { fold: true };
import type { RequestTable } from '../../sim/requests.ts';

/** The counters a prefix cache adds to (the engine's stats; docs/output.md `prefix_cache`). */
export interface PrefixCacheStats {
  prefixAdmissions: number;
  prefixHitAdmissions: number;
  prefixQueriedTokens: number;
  prefixHitTokens: number;
  prefixEvictions: number;
}

/**
 * The per-request state of prefix caching, shared by every replica of a run (a request lives on
 * one replica; its block hashes depend only on the trace, so routers may ask any replica about
 * it): block tables, hashes, blocks registered, and which requests' content others declare.
 */
export class PrefixTables {
  readonly R: RequestTable;
  readonly B: number;
  readonly segs: TracePrefix | undefined;
  /** Per request: pool entry of each block (−1 unhashed), its hashes, blocks registered so far. */
  readonly table: (Int32Array | undefined)[];
  readonly hashes: (Float64Array | undefined)[];
  readonly hashed: Int32Array;
  readonly registered: Int32Array;
  /** 1 for requests whose own prompt part or output another request's prompt declares (their blocks stay cacheable after they finish). */
  readonly referenced: Uint8Array;
  /**
   * Per request: its first block holding content only it can ask for (its own prompt part or
   * output, when no other request declares them); 2^31 − 1 for a referenced request. Such
   * private blocks are registered only when the request gives them up early (a preemption): no one
   * else can hit them while it runs, so registering them then is the same as registering them as
   * they fill, without the cost for the many requests that never give them up.
   */
  readonly privateFrom: Int32Array;
  /** 1 once a request's private blocks were registered (it was preempted): its lookups go past `privateFrom`. */
  readonly ownCached: Uint8Array;

  /** @param requests the run's request table (its `prefix` segments name the shared content); @param blockSize tokens per block. */
  constructor(requests: RequestTable, blockSize: number) {
    this.R = requests;
    this.B = blockSize;
    const n = requests.n;
    // The engine's fold of private segments (sim/prefix-paths.ts), unless a test turns it off.
    const fold = referenceOptions.fold ? foldPrivateSegments(requests.prefix, n) : undefined;
    const segs = (this.segs = fold ? fold.prefix : requests.prefix);
    this.table = new Array(n);
    this.hashes = new Array(n);
    this.hashed = new Int32Array(Math.max(1, n));
    this.registered = new Int32Array(Math.max(1, n));
    this.referenced = new Uint8Array(Math.max(1, n));
    if (segs) {
      for (let k = 0; k < segs.id.length; k++) {
        const owner = idOwner(segs.id[k]);
        if (owner) this.referenced[owner.request] = 1;
      }
    }
    this.privateFrom = new Int32Array(Math.max(1, n));
    this.ownCached = new Uint8Array(Math.max(1, n));
    for (let i = 0; i < n; i++) {
      let declared = 0;
      if (segs) for (let k = segs.start[i]; k < segs.start[i + 1]; k++) declared += segs.tokens[k];
      this.privateFrom[i] = this.referenced[i] ? 0x7fffffff : Math.floor(declared / blockSize);
    }
  }

  /** The hashes of request `id`'s first `blocks` blocks (computed once, then kept while it lives). */
  hashesOf(id: number, blocks: number): Float64Array {
    let h = this.hashes[id];
    if (h === undefined || h.length < blocks) {
      const g = new Float64Array(Math.max(blocks, 2 * (h?.length ?? 0), 8));
      if (h) g.set(h.subarray(0, this.hashed[id]));
      this.hashes[id] = h = g;
    }
    if (this.hashed[id] < blocks) {
      chainHashes(this.segs, id, this.R.prompt[id], this.B, h, this.hashed[id], blocks);
      this.hashed[id] = blocks;
    }
    return h;
  }

  /** Request `id`'s block table, with room for `blocks`. */
  tableOf(id: number, blocks: number): Int32Array {
    let t = this.table[id];
    if (t === undefined || t.length < blocks) {
      const g = new Int32Array(Math.max(blocks, 2 * (t?.length ?? 0), 8));
      if (t) g.set(t);
      this.table[id] = t = g;
    }
    return t;
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
    this.pool = new BlockPool(capacity);
    this.stats = stats;
    this.t = tables;
    this.R = tables.R;
    this.B = tables.B;
  }

  private hashesOf(id: number, blocks: number): Float64Array {
    return this.t.hashesOf(id, blocks);
  }

  /**
   * Cached blocks waiting request `id` would take now: the longest run of cached hashes from its
   * first block, at most ⌊(numTokens − 1)/B⌋ (the last token is computed; computed tokens stay
   * block-aligned). Looks only.
   */
  hitBlocks(id: number): number {
    const R = this.R;
    const cap = Math.floor((R.prompt[id] + R.generated[id] - 1) / this.B);
    // Private blocks can be cached only if it registered them itself (an earlier preemption).
    const lim = this.t.ownCached[id] ? cap : Math.min(cap, this.t.privateFrom[id]);
    if (lim <= 0) return 0;
    const h = this.hashesOf(id, lim);
    let k = 0;
    while (k < lim && this.pool.lookup(h[k]) >= 0) k++;
    return k;
  }

  /** Of request `id`'s first `hit` blocks (all cached), those now free: taking them uses free blocks too. */
  freeAmongHits(id: number, hit: number): number {
    const h = this.hashesOf(id, hit);
    let f = 0;
    for (let k = 0; k < hit; k++) if (this.pool.refs(this.pool.lookup(h[k])) === 0) f++;
    return f;
  }

  /**
   * Takes the first `hit` blocks of waiting request `id` (holding none) from the cache: a reference
   * each; they become its first blocks (`RequestTable.blocks`).
   */
  take(id: number, hit: number): void {
    const t = this.t.tableOf(id, Math.max(hit, 1));
    const h = this.hashesOf(id, hit);
    for (let k = 0; k < hit; k++) {
      const e = this.pool.lookup(h[k]);
      this.pool.touch(e);
      t[k] = e;
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
   * Whether `tokens` of request `id` fill a block to register: always asked to try (`grow` finds
   * out), so that the engine's calls skipped by the run-based cache's answer are checked against
   * a reference that makes every one of them.
   */
  registers(_id: number, _tokens: number): boolean {
    return true;
  }

  /**
   * Grows request `id` to `want` blocks (allocating from the pool, which may evict) and registers
   * the blocks that `tokens` covers completely (a hash already cached gets a second entry, as in
   * vLLM). The caller checked the blocks are free.
   */
  grow(id: number, want: number, tokens: number): void {
    const R = this.R;
    const have = R.blocks[id];
    if (want > have) {
      const before = this.pool.evictions;
      this.pool.allocate(want - have);
      this.stats.prefixEvictions += this.pool.evictions - before;
      const t = this.t.tableOf(id, want);
      t.fill(-1, have, want);
      R.blocks[id] = want;
    }
    const full = Math.min(Math.floor(tokens / this.B), R.blocks[id], this.t.privateFrom[id]);
    const from = this.t.registered[id];
    if (full > from) {
      const t = this.t.table[id]!;
      const h = this.hashesOf(id, full);
      for (let k = from; k < full; k++) t[k] = this.pool.register(h[k]);
      this.t.registered[id] = full;
    }
  }

  /**
   * Frees every block of request `id`, tail first (vLLM's order: a sequence's head outlives its
   * tail in the cache). `final` (it completed): blocks holding its own prompt part or output that
   * no other request declares can never be hit again and are freed without their hashes.
   */
  release(id: number, final: boolean): void {
    const R = this.R;
    const t = this.t.table[id];
    const b = R.blocks[id];
    const priv = this.t.privateFrom[id];
    // Blocks from the one holding its first own token on touch only this request's content.
    const dead = final ? Math.min(b, priv) : b;
    if (!final) {
      // Given up early: its full private blocks are registered now (see PrefixTables.privateFrom).
      const full = Math.min(Math.floor(R.computed[id] / this.B), b);
      if (full > priv) {
        const h = this.hashesOf(id, full);
        for (let k = priv; k < full; k++) if (t![k] < 0) t![k] = this.pool.register(h[k]);
        this.t.ownCached[id] = 1;
      }
    }
    for (let k = b - 1; k >= 0; k--) {
      const e = t![k];
      if (e < 0) this.pool.releaseAnonymous(1);
      else if (k >= dead) this.pool.releaseUnhashed(e);
      else this.pool.release(e);
    }
    R.blocks[id] = 0;
    this.t.registered[id] = 0;
    if (final) {
      this.t.table[id] = undefined;
      this.t.hashes[id] = undefined;
      this.t.hashed[id] = 0;
    }
  }

  /** Swap-in of request `id` (holding no GPU blocks): `blocks` fresh blocks, its full ones registered again. */
  swapIn(id: number, blocks: number): void {
    this.grow(id, blocks, this.R.computed[id]);
  }

}
