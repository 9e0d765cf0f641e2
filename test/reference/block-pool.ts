/**
 * The block pool of automatic prefix caching, as vLLM v1 keeps it (docs/spec.md §15; vLLM
 * `vllm/v1/core/block_pool.py`): GPU KV blocks are either in use by requests or free; free blocks
 * wait in one queue in eviction order, and a free block may still carry the hash of the full
 * block of tokens it holds, so a later request with the same prefix can take it back ("touch")
 * instead of recomputing it. Allocation takes from the front of the queue (least recently freed
 * first); taking a block that still carries a hash evicts that hash.
 *
 * Only hashed blocks are tracked one by one (an `entry` each); runs of free blocks that carry no
 * hash are one queue node with a count, so the pool costs memory in proportion to the cached
 * blocks, not to the capacity (which `--kv-tokens unlimited` makes astronomically large).
 * Hashes are numbers (53-bit chained block hashes made by the caller). Units: blocks.
 */
import { grow } from '../../sim/id-list.ts';
import { HashIndex } from './hash-index.ts';

/** Queue node kinds. */
const RUN = 0;
const ENTRY = 1;

/** GPU blocks with prefix-cache hashes, reference counts and the free queue. */
export class BlockPool {
  /** Blocks in the pool. */
  readonly capacity: number;
  /** Free blocks (hashed or not): what allocation can take. */
  private freeCount: number;
  /** Hashed blocks that are free (evictable cache). */
  private cachedFree = 0;
  /** Hashes evicted so far. */
  evictions = 0;

  // Entries: one per hashed block (in use or cached-free).
  private entryHash: Float64Array = new Float64Array(64);
  private entryRef: Int32Array = new Int32Array(64);
  /** Queue node of a free entry, or -1 while in use. */
  private entryNode: Int32Array = new Int32Array(64);
  /** The other entries under the same hash, in registration order (a doubly linked list per hash). */
  private dupPrev: Int32Array = new Int32Array(64);
  private dupNext: Int32Array = new Int32Array(64);
  private entryTop = 0;
  private readonly freeEntries: number[] = [];
  /** The first-registered entry under each hash (vLLM keeps every block registered under a hash and returns the first). */
  private readonly byHash = new HashIndex();

  // Queue nodes (doubly linked; head = next to allocate).
  private kind: Uint8Array = new Uint8Array(64);
  /** Blocks in a run node; the entry of an entry node. */
  private value: Float64Array = new Float64Array(64);
  private prev: Int32Array = new Int32Array(64);
  private next: Int32Array = new Int32Array(64);
  private nodeTop = 0;
  private readonly freeNodes: number[] = [];
  private head = -1;
  private tail = -1;

  /** @param capacity blocks in the pool (a positive integer; may be huge). */
  constructor(capacity: number) {
    this.capacity = capacity;
    this.freeCount = capacity;
    if (capacity > 0) this.appendRun(capacity);
  }

  /** Free blocks, hashed or not (what `allocate` can take). */
  get free(): number {
    return this.freeCount;
  }

  /** Blocks in use by requests. */
  get used(): number {
    return this.capacity - this.freeCount;
  }

  /** Free blocks that still carry a hash (the evictable cache). */
  get cached(): number {
    return this.cachedFree;
  }

  /** The entry holding `hash` (in use or free), or -1. */
  lookup(hash: number): number {
    return this.byHash.get(hash);
  }

  /** References to entry `e` (0 while it waits in the free queue). */
  refs(e: number): number {
    return this.entryRef[e];
  }

  /** Takes a reference on entry `e` (a prefix-cache hit); a free one leaves the queue. */
  touch(e: number): void {
    if (this.entryRef[e]++ === 0) {
      this.unlink(this.entryNode[e]);
      this.entryNode[e] = -1;
      this.freeCount--;
      this.cachedFree--;
    }
  }

  /**
   * Takes `k` blocks from the front of the free queue, evicting the hashes of hashed ones.
   * @throws Error if fewer than `k` are free (the caller checks `free`).
   */
  allocate(k: number): void {
    if (k > this.freeCount) throw new Error(`block pool: ${k} blocks wanted, ${this.freeCount} free`);
    this.freeCount -= k;
    while (k > 0) {
      const n = this.head;
      if (this.kind[n] === RUN) {
        const take = Math.min(k, this.value[n]);
        this.value[n] -= take;
        k -= take;
        if (this.value[n] === 0) this.unlink(n);
      } else {
        const e = this.value[n];
        this.unlink(n);
        this.forget(e);
        this.cachedFree--;
        this.evictions++;
        k--;
      }
    }
  }

  /**
   * Registers a block in use that just became full under `hash`: an entry with one reference. A
   * hash already cached gets a second entry behind the first (as vLLM keeps both blocks; `lookup`
   * returns the first), so whether a block is registered does not depend on when another copy is
   * evicted. @returns the entry.
   */
  register(hash: number): number {
    const e = this.freeEntries.length > 0 ? this.freeEntries.pop()! : this.newEntry();
    this.entryHash[e] = hash;
    this.entryRef[e] = 1;
    this.entryNode[e] = -1;
    this.dupNext[e] = -1;
    const first = this.byHash.get(hash);
    if (first < 0) {
      this.dupPrev[e] = -1;
      this.byHash.set(hash, e);
    } else {
      let last = first;
      while (this.dupNext[last] >= 0) last = this.dupNext[last];
      this.dupNext[last] = e;
      this.dupPrev[e] = last;
    }
    return e;
  }

  /** Takes entry `e` out of its hash's list and recycles it. */
  private forget(e: number): void {
    const p = this.dupPrev[e];
    const q = this.dupNext[e];
    if (q >= 0) this.dupPrev[q] = p;
    if (p >= 0) this.dupNext[p] = q;
    else if (q >= 0) this.byHash.set(this.entryHash[e], q);
    else this.byHash.delete(this.entryHash[e]);
    this.freeEntries.push(e);
  }

  /** Drops one reference to entry `e`; at none it joins the back of the free queue, still cached. */
  release(e: number): void {
    if (--this.entryRef[e] === 0) {
      const n = this.newNode(ENTRY, e);
      this.link(n);
      this.entryNode[e] = n;
      this.freeCount++;
      this.cachedFree++;
    } else if (this.entryRef[e] < 0) throw new Error(`block pool: entry ${e} released more than referenced`);
  }

  /**
   * Drops one reference to entry `e`; at none the block joins the back of the free queue without
   * its hash (content no request can ask for again: same memory, no cache entry).
   */
  releaseUnhashed(e: number): void {
    if (--this.entryRef[e] === 0) {
      this.forget(e);
      this.freeCount++;
      this.appendRun(1);
    } else if (this.entryRef[e] < 0) throw new Error(`block pool: entry ${e} released more than referenced`);
  }

  /** Returns `k` unhashed blocks in use to the back of the free queue. */
  releaseAnonymous(k: number): void {
    if (k <= 0) return;
    this.freeCount += k;
    this.appendRun(k);
  }

  private appendRun(k: number): void {
    if (this.tail >= 0 && this.kind[this.tail] === RUN) this.value[this.tail] += k;
    else this.link(this.newNode(RUN, k));
  }

  private newEntry(): number {
    const e = this.entryTop++;
    if (e === this.entryHash.length) {
      this.entryHash = grow(this.entryHash, e + 1);
      this.entryRef = grow(this.entryRef, e + 1);
      this.entryNode = grow(this.entryNode, e + 1);
      this.dupPrev = grow(this.dupPrev, e + 1);
      this.dupNext = grow(this.dupNext, e + 1);
    }
    return e;
  }

  private newNode(kind: number, value: number): number {
    let n: number;
    if (this.freeNodes.length > 0) n = this.freeNodes.pop()!;
    else {
      n = this.nodeTop++;
      if (n === this.kind.length) {
        this.kind = grow(this.kind, n + 1);
        this.value = grow(this.value, n + 1);
        this.prev = grow(this.prev, n + 1);
        this.next = grow(this.next, n + 1);
      }
    }
    this.kind[n] = kind;
    this.value[n] = value;
    return n;
  }

  /** Appends node `n` at the back of the queue. */
  private link(n: number): void {
    this.prev[n] = this.tail;
    this.next[n] = -1;
    if (this.tail >= 0) this.next[this.tail] = n;
    else this.head = n;
    this.tail = n;
  }

  /** Takes node `n` out of the queue and recycles it. */
  private unlink(n: number): void {
    const p = this.prev[n];
    const q = this.next[n];
    if (p >= 0) this.next[p] = q;
    else this.head = q;
    if (q >= 0) this.prev[q] = p;
    else this.tail = p;
    this.freeNodes.push(n);
  }
}
