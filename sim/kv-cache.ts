/**
 * One replica's paged KV cache (vLLM's block manager, Kwon et al., SOSP 2023 §4; docs/engine.md):
 * GPU blocks of `blockSize` token slots, an admission watermark, and CPU swap space. The single
 * owner of every block counter: requests' block counts (`RequestTable.blocks`, `swappedBlocks`)
 * change only through these methods. Units: blocks and tokens (integers), bytes.
 */
import type { RequestTable } from './requests.ts';
import { PrefixCache } from './prefix-cache.ts';
import type { PrefixCacheStats, PrefixTables } from './prefix-cache.ts';

/** Sizes of one replica's KV cache. */
export interface KvCacheConfig {
  /** Tokens per KV block (vLLM `block_size`). */
  blockSize: number;
  /** GPU KV-cache capacity in blocks. */
  kvBlocks: number;
  /** Blocks admission must leave free (vLLM: 1% of GPU blocks). */
  watermarkBlocks: number;
  /** CPU swap space in blocks. */
  swapBlocks: number;
  /** Bytes of one KV block on one GPU (what a swap moves). */
  blockBytes: number;
  /** Automatic prefix caching (vLLM v1; docs/prefix-caching.md); absent or false: off. */
  prefixCaching?: boolean;
}

/** GPU blocks, watermark and swap space of one replica. */
export class KvCache {
  /** Tokens per block. */
  readonly blockSize: number;
  /** GPU capacity, blocks. */
  readonly capacity: number;
  /** Blocks admission leaves free. */
  readonly watermark: number;
  /** Bytes per block. */
  readonly blockBytes: number;
  private readonly R: RequestTable;
  private gpuFree: number;
  private gpuUsed = 0;
  private swapFree: number;
  /** The prefix cache, with `prefixCaching` on: then it holds the GPU block counts. */
  readonly prefix: PrefixCache | null;

  /**
   * @param cfg sizes; @param requests the run's request table (its block columns are updated here);
   * @param tables the run's shared prefix-caching state, and @param stats the counters the prefix
   *   cache adds to (both required with `prefixCaching`).
   */
  constructor(cfg: KvCacheConfig, requests: RequestTable, tables?: PrefixTables, stats?: PrefixCacheStats) {
    this.blockSize = cfg.blockSize;
    this.capacity = cfg.kvBlocks;
    this.watermark = cfg.watermarkBlocks;
    this.blockBytes = cfg.blockBytes;
    this.R = requests;
    this.gpuFree = cfg.kvBlocks;
    this.swapFree = cfg.swapBlocks;
    this.prefix = cfg.prefixCaching ? new PrefixCache(cfg.kvBlocks, tables!, stats!) : null;
  }

  /** Free GPU blocks (cached ones included: they are free memory, evicted when taken). */
  get freeBlocks(): number {
    return this.prefix ? this.prefix.pool.free : this.gpuFree;
  }

  /** GPU blocks in use. */
  get usedBlocks(): number {
    return this.prefix ? this.prefix.pool.used : this.gpuUsed;
  }

  /** Free blocks that still hold a cached prefix (0 without prefix caching). */
  get cachedBlocks(): number {
    return this.prefix ? this.prefix.pool.cached : 0;
  }

  /** Ceil(tokens / blockSize): blocks that hold `tokens` KV slots. */
  blocksFor(tokens: number): number {
    return Math.ceil(tokens / this.blockSize);
  }

  /** Whether `blocks` more GPU blocks can be taken leaving the watermark free (vLLM `can_allocate`). */
  canAllocate(blocks: number): boolean {
    return this.freeBlocks - blocks >= this.watermark;
  }

  /** Whether a request needing `blocks` at most (its whole life) fits the GPU beside the watermark. */
  canEverHold(blocks: number): boolean {
    return blocks + this.watermark <= this.capacity;
  }

  /**
   * Grows request `id`'s GPU blocks to cover `tokens` KV slots (never shrinks). The caller checked
   * they are free. With prefix caching, the blocks `known` tokens fill completely (default: all
   * `tokens`, what the step computes) are registered in the cache.
   */
  grow(id: number, tokens: number, known = tokens): void {
    const want = Math.ceil(tokens / this.blockSize);
    if (this.prefix) return this.prefix.grow(id, Math.max(want, this.R.blocks[id]), known);
    const add = want - this.R.blocks[id];
    if (add > 0) {
      this.R.blocks[id] = want;
      this.gpuFree -= add;
      this.gpuUsed += add;
    }
  }

  /**
   * Grows each of `ids[0..count)` to cover its computed tokens plus `ahead` more (skip-ahead's
   * bundled decode steps). The caller checked the blocks are free.
   */
  growAll(ids: Int32Array, count: number, ahead: number): void {
    const R = this.R;
    const bs = this.blockSize;
    const prefix = this.prefix;
    if (prefix) {
      // In order, each request that needs a block or fills one it registers (as `grow` one by one).
      for (let i = 0; i < count; i++) {
        const id = ids[i];
        const tokens = R.computed[id] + ahead;
        const want = Math.ceil(tokens / bs);
        if (want > R.blocks[id] || prefix.registers(id, tokens)) prefix.grow(id, Math.max(want, R.blocks[id]), tokens);
      }
      return;
    }
    let add = 0;
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      const want = Math.ceil((R.computed[id] + ahead) / bs);
      const d = want - R.blocks[id];
      if (d > 0) {
        R.blocks[id] = want;
        add += d;
      }
    }
    this.gpuFree -= add;
    this.gpuUsed += add;
  }

  /**
   * Frees every GPU block of request `id`; `final` when it completed (the prefix cache may then
   * forget content no request can ask for again).
   */
  release(id: number, final = false): void {
    if (this.prefix) return this.prefix.release(id, final);
    const b = this.R.blocks[id];
    this.R.blocks[id] = 0;
    this.gpuFree += b;
    this.gpuUsed -= b;
  }

  /**
   * Reserves `blocks` GPU blocks for request `id`, which holds none here and is coming from
   * another engine (a move: sim/engine.ts `reserve`), if they can be taken leaving the watermark
   * free (`canAllocate`). Reserved blocks count as used; with prefix caching they are taken from
   * the free queue as fresh blocks (evicting cached ones, as any allocation does) and stay
   * unnamed until `adopt`. @returns false (nothing changed) when they do not fit.
   * @throws Error if `id` already has a reservation (a bug).
   */
  reserve(id: number, blocks: number): boolean {
    if (this.R.reserved[id] !== 0) throw new Error(`request ${id} already has ${this.R.reserved[id]} blocks reserved`);
    if (!this.canAllocate(blocks)) return false;
    this.take(blocks);
    this.R.reserved[id] = blocks;
    return true;
  }

  /** Gives back request `id`'s reserved blocks (its move was called off). */
  cancelReservation(id: number): void {
    const b = this.R.reserved[id];
    this.R.reserved[id] = 0;
    this.giveBack(b);
  }

  /**
   * Request `id` (holding no blocks here) takes its reserved blocks as its own, the KV of its
   * first `tokens` tokens having arrived in them; with prefix caching the blocks those tokens fill
   * are registered (named) here, as blocks a request computed itself are.
   * @throws Error if it holds blocks already or fewer were reserved than `tokens` need (bugs).
   */
  adopt(id: number, tokens: number): void {
    const R = this.R;
    const b = R.reserved[id];
    if (R.blocks[id] !== 0) throw new Error(`request ${id} adopted while holding ${R.blocks[id]} blocks`);
    if (b < this.blocksFor(tokens)) throw new Error(`request ${id}: ${b} blocks reserved for ${tokens} tokens`);
    R.reserved[id] = 0;
    R.blocks[id] = b;
    // The reserved blocks were unnamed: `grow` names the full ones (nothing to allocate).
    if (this.prefix) this.prefix.grow(id, b, tokens);
  }

  /** Takes `k` fresh blocks out of the free ones, held by no request yet (the caller checked). */
  private take(k: number): void {
    if (this.prefix) return this.prefix.allocateAnonymous(k);
    this.gpuFree -= k;
    this.gpuUsed += k;
  }

  /** Returns `k` unnamed blocks taken by `take`. */
  private giveBack(k: number): void {
    if (this.prefix) return this.prefix.pool.releaseAnonymous(k);
    this.gpuFree += k;
    this.gpuUsed -= k;
  }

  /** Whether decoding request `id` needs one more block for its next token. */
  needsBlock(id: number): boolean {
    return this.R.computed[id] + 1 > this.R.blocks[id] * this.blockSize;
  }

  /** Whether request `id`'s GPU blocks fit the free swap space. */
  canSwapOut(id: number): boolean {
    return this.R.blocks[id] <= this.swapFree;
  }

  /** Moves request `id`'s blocks from the GPU to swap space (the caller checked `canSwapOut`). @returns bytes moved. */
  swapOut(id: number): number {
    const b = this.R.blocks[id];
    this.swapFree -= b;
    this.R.swappedBlocks[id] = b;
    this.release(id, false);
    return b * this.blockBytes;
  }

  /** Moves swapped-out request `id`'s blocks back to the GPU (the caller checked they are free). @returns bytes moved. */
  swapIn(id: number): number {
    const b = this.R.swappedBlocks[id];
    this.swapFree += b;
    this.R.swappedBlocks[id] = 0;
    if (this.prefix) {
      this.prefix.swapIn(id, b);
      return b * this.blockBytes;
    }
    this.R.blocks[id] = b;
    this.gpuFree -= b;
    this.gpuUsed += b;
    return b * this.blockBytes;
  }

  /**
   * Free-slot histogram of a decode batch, for skip-ahead: `hist[r]` = members whose last block has
   * `r` free slots after this iteration's token (`hist` has `blockSize` entries). Member i then
   * needs a new block on step s + 1 exactly when (s − 1) mod blockSize = r.
   * @returns false if some member holds a whole free block (not at block granularity).
   */
  slotHistogram(ids: Int32Array, count: number, hist: Int32Array): boolean {
    const R = this.R;
    const bs = this.blockSize;
    hist.fill(0);
    for (let i = 0; i < count; i++) {
      const id = ids[i];
      const r = R.blocks[id] * bs - (R.computed[id] + 1);
      if (r >= bs) return false;
      hist[r]++;
    }
    return true;
  }
}
