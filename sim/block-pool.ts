/**
 * The block pool of automatic prefix caching, with vLLM v1's semantics (docs/spec.md §15; vLLM
 * `vllm/v1/core/block_pool.py`) kept in runs of blocks instead of one entry per block
 * (docs/prefix-caching.md, "The pool"). GPU KV blocks are in use by requests or free; free blocks
 * wait in one queue in eviction order (allocation takes from the front, freeing appends to the
 * back), and a free block may still hold a named full block (sim/prefix-paths.ts: (node, k)), so a
 * later request with the same prefix takes it back ("touch") instead of recomputing it; taking a
 * named free block for new content evicts it.
 *
 * A *part* is a run of named blocks [lo, hi) of one trie node, registered together (one
 * registration, `seq`), with one reference count and, when free, one queue node: its blocks wait
 * in the queue from hi − 1 down to lo (a request frees its tail first). One name may be held by
 * several parts (two requests computed the same block: vLLM keeps both); a lookup takes the part
 * registered first, as vLLM's hash map returns the first block under a hash. Parts split where a
 * reference or the queue cuts them and merge back where they agree, so the work per operation is
 * per run, not per block. Unnamed free blocks are counted runs. Units: blocks.
 */

/** Queue node kinds. */
const RUN = 0;
const PART = 1;

function grown(a: Int32Array, need: number, fill = 0): Int32Array {
  let c = a.length;
  while (c < need) c *= 2;
  if (c === a.length) return a;
  const g = new Int32Array(c);
  g.set(a);
  if (fill !== 0) g.fill(fill, a.length);
  return g;
}

/** GPU blocks with prefix-cache names, reference counts and the free queue. */
export class BlockPool {
  /** Blocks in the pool. */
  readonly capacity: number;
  /** Free blocks (named or not): what allocation can take. */
  private freeCount: number;
  /** Named blocks that are free (the evictable cache). */
  private cachedFree = 0;
  /** Named blocks evicted so far. */
  evictions = 0;
  /** The last registration's number (registration order decides which part a lookup takes). */
  private seq = 0;

  // Parts.
  private pNode: Int32Array = new Int32Array(64);
  private pSeq: Int32Array = new Int32Array(64);
  private pLo: Int32Array = new Int32Array(64);
  private pHi: Int32Array = new Int32Array(64);
  private pRef: Int32Array = new Int32Array(64);
  /** Queue node of a free part, −1 while in use. */
  private pQ: Int32Array = new Int32Array(64);
  /** The node's parts in registration order (then by lo): a doubly linked list per node. */
  private pNext: Int32Array = new Int32Array(64);
  private pPrev: Int32Array = new Int32Array(64);
  private partTop = 0;
  private readonly freeParts: number[] = [];
  private readonly nodeHint: number;
  private head: Int32Array = new Int32Array(64).fill(-1);
  private tail: Int32Array = new Int32Array(64).fill(-1);

  // Queue nodes (doubly linked; qHead = next to allocate).
  private kind: Uint8Array = new Uint8Array(64);
  /** Blocks of a run node; the part of a part node. */
  private value: Float64Array = new Float64Array(64);
  private qPrev: Int32Array = new Int32Array(64);
  private qNext: Int32Array = new Int32Array(64);
  private qTop = 0;
  private readonly freeQ: number[] = [];
  private qHead = -1;
  private qTail = -1;

  /** Scratch of `assign`: triples (part, lo, hi). */
  served: Int32Array = new Int32Array(48);
  private readonly gaps: number[] = [];

  /**
   * @param capacity blocks in the pool (a positive integer; may be huge); @param nodes how many
   * trie nodes there may be (sizes the per-node lists as they first grow).
   */
  constructor(capacity: number, nodes = 64) {
    this.capacity = capacity;
    this.nodeHint = nodes;
    this.freeCount = capacity;
    if (capacity > 0) this.appendRun(capacity);
  }

  /** Free blocks, named or not (what `allocate` can take). */
  get free(): number {
    return this.freeCount;
  }

  /** Blocks in use by requests. */
  get used(): number {
    return this.capacity - this.freeCount;
  }

  /** Free blocks that still hold a name (the evictable cache). */
  get cached(): number {
    return this.cachedFree;
  }

  /** Registration number of part `p`. */
  seqOf(p: number): number {
    return this.pSeq[p];
  }

  /** References to part `p` (0 while it waits in the free queue). */
  refs(p: number): number {
    return this.pRef[p];
  }

  /** The end of the run of `node`'s blocks from `from` that some part holds, at most `to` (`from` if block `from` is not held). */
  covered(node: number, from: number, to: number): number {
    if (node >= this.head.length) return from;
    let cur = from;
    while (cur < to) {
      let best = cur;
      for (let p = this.head[node]; p >= 0; p = this.pNext[p]) if (this.pLo[p] <= cur && this.pHi[p] > best) best = this.pHi[p];
      if (best === cur) break;
      cur = best;
    }
    return Math.min(cur, to);
  }

  /**
   * Which part serves each of `node`'s blocks [from, to) (all held): the first registered holding
   * it. Fills `served` with triples (part, lo, hi) and @returns their count.
   */
  assign(node: number, from: number, to: number): number {
    if (from >= to) return 0;
    let out = this.served;
    let m = 0;
    const gaps = this.gaps;
    if (gaps.length > 0) gaps.length = 0;
    gaps.push(from, to);
    for (let p = this.head[node]; p >= 0 && gaps.length > 0; p = this.pNext[p]) {
      const lo = this.pLo[p];
      const hi = this.pHi[p];
      for (let g = 0; g < gaps.length; ) {
        const a = Math.max(gaps[g], lo);
        const b = Math.min(gaps[g + 1], hi);
        if (a >= b) {
          g += 2;
          continue;
        }
        if (m + 3 > out.length) out = this.served = grown(out, m + 3);
        out[m++] = p;
        out[m++] = a;
        out[m++] = b;
        const g0 = gaps[g];
        const g1 = gaps[g + 1];
        // Replace the gap by what is left of it on either side.
        if (g0 < a && b < g1) {
          gaps[g + 1] = a;
          gaps.push(b, g1);
          g += 2;
        } else if (g0 < a) {
          gaps[g + 1] = a;
          g += 2;
        } else if (b < g1) {
          gaps[g] = b;
          g += 2;
        } else gaps.splice(g, 2);
      }
    }
    if (gaps.length > 0) throw new Error(`block pool: blocks [${gaps[0]}, ${gaps[1]}) of node ${node} are not cached`);
    return m / 3;
  }

  /**
   * Takes a reference on blocks [lo, hi) of registration `seq` in `node` (a prefix-cache hit;
   * one part holds them all, as `assign` said), splitting the part where the range ends; a free
   * part leaves the queue. @throws Error if no part of `seq` holds them all.
   */
  touch(node: number, seq: number, lo: number, hi: number): void {
    let p = node < this.head.length ? this.head[node] : -1;
    while (p >= 0 && !(this.pSeq[p] === seq && this.pLo[p] <= lo && lo < this.pHi[p])) p = this.pNext[p];
    if (p < 0 || hi > this.pHi[p]) throw new Error(`block pool: blocks [${lo}, ${hi}) of node ${node} are not held by registration ${seq}`);
    if (this.pLo[p] < lo) p = this.split(p, lo);
    if (hi < this.pHi[p]) this.split(p, hi);
    if (this.pRef[p]++ === 0) {
      this.unlinkQ(this.pQ[p]);
      this.pQ[p] = -1;
      this.freeCount -= hi - lo;
      this.cachedFree -= hi - lo;
    }
    this.mergeInUse(p);
  }

  /**
   * Takes `k` blocks from the front of the free queue, evicting the names of named ones.
   * @throws Error if fewer than `k` are free (the caller checks `free`).
   */
  allocate(k: number): void {
    if (k > this.freeCount) throw new Error(`block pool: ${k} blocks wanted, ${this.freeCount} free`);
    this.freeCount -= k;
    while (k > 0) {
      const q = this.qHead;
      if (this.kind[q] === RUN) {
        const take = Math.min(k, this.value[q]);
        this.value[q] -= take;
        k -= take;
        if (this.value[q] === 0) this.unlinkQ(q);
      } else {
        const p = this.value[q];
        const take = Math.min(k, this.pHi[p] - this.pLo[p]);
        this.pHi[p] -= take;
        k -= take;
        this.cachedFree -= take;
        this.evictions += take;
        if (this.pHi[p] === this.pLo[p]) {
          this.unlinkQ(q);
          this.removePart(p);
        }
      }
    }
  }

  /** Whether some part of `node` holds a block in [lo, hi). */
  overlaps(node: number, lo: number, hi: number): boolean {
    if (node >= this.head.length) return false;
    for (let p = this.head[node]; p >= 0; p = this.pNext[p]) if (this.pLo[p] < hi && this.pHi[p] > lo) return true;
    return false;
  }

  /** The part of registration `seq` in `node` that ends at block `end`, or −1. */
  endingAt(node: number, seq: number, end: number): number {
    if (node >= this.head.length) return -1;
    for (let p = this.head[node]; p >= 0; p = this.pNext[p]) if (this.pSeq[p] === seq && this.pHi[p] === end) return p;
    return -1;
  }

  /** A new registration number (one registration may span several nodes: one `register` per node). */
  nextSeq(): number {
    return ++this.seq;
  }

  /**
   * Registers blocks [lo, hi) of `node`, in use by one request that just filled them: a new part
   * with one reference, behind every part already there (a name already held gets a second part,
   * as vLLM keeps both blocks), under registration `seq` (default: a new one; otherwise the
   * latest `nextSeq`, for another node). @returns its number.
   */
  register(node: number, lo: number, hi: number, seq = ++this.seq): number {
    const p = this.newPart();
    if (node >= this.head.length) {
      // Straight to a size that will do: the lists are indexed by node id.
      const want = Math.max(node + 1, Math.min(this.nodeHint, 16 * this.head.length));
      this.head = grown(this.head, want, -1);
      this.tail = grown(this.tail, want, -1);
    }
    this.pNode[p] = node;
    this.pSeq[p] = seq;
    this.pLo[p] = lo;
    this.pHi[p] = hi;
    this.pRef[p] = 1;
    this.pQ[p] = -1;
    const t = this.tail[node];
    this.pPrev[p] = t;
    this.pNext[p] = -1;
    if (t >= 0) this.pNext[t] = p;
    else this.head[node] = p;
    this.tail[node] = p;
    return seq;
  }

  /**
   * Extends part `p` (one reference, ending at `lo`) over blocks [lo, hi) its holder just filled:
   * the same as registering them anew when no part holds any of them (the caller checked).
   */
  extend(p: number, hi: number): void {
    this.pHi[p] = hi;
  }

  /**
   * Drops one reference to the blocks [lo, hi) of registration `seq` in `node` (a request's
   * holding), tail first. Blocks left with none join the back of the free queue, still named, or
   * with `forget` unnamed (content no request can ask for again: same memory, no cache entry).
   * @throws Error if a block is released more than referenced.
   */
  release(node: number, seq: number, lo: number, hi: number, forget: boolean): void {
    // The parts of `seq` are adjacent in the node's list, by lo; walk them from the top.
    let p = this.tail[node];
    while (p >= 0 && !(this.pSeq[p] === seq && this.pLo[p] < hi)) p = this.pPrev[p];
    let top = -1;
    let bottom = -1;
    let done = 0;
    while (p >= 0 && this.pSeq[p] === seq && this.pHi[p] > lo) {
      if (this.pHi[p] > hi) this.split(p, hi);
      const q = this.pLo[p] < lo ? this.split(p, lo) : p;
      const below = q === p ? this.pPrev[p] : p;
      if (this.pRef[q] <= 0) throw new Error(`block pool: blocks [${this.pLo[q]}, ${this.pHi[q]}) of node ${node} released more than referenced`);
      const n = this.pHi[q] - this.pLo[q];
      done += n;
      if (--this.pRef[q] > 0) {
        if (top < 0) top = q;
        bottom = q;
      } else if (forget) {
        this.removePart(q);
        this.freeCount += n;
        this.appendRun(n);
      } else {
        this.freeCount += n;
        this.cachedFree += n;
        this.appendPart(q);
      }
      p = below;
    }
    if (done !== hi - lo) throw new Error(`block pool: blocks of node ${node} in [${lo}, ${hi}) released but not held`);
    // Inside the range, neighbours differed before and still do; only the two ends may now agree.
    if (top >= 0) this.mergeInUse(top);
    if (bottom >= 0 && bottom !== top) this.mergeInUse(bottom);
  }

  /** Returns `k` unnamed blocks in use to the back of the free queue. */
  releaseAnonymous(k: number): void {
    if (k <= 0) return;
    this.freeCount += k;
    this.appendRun(k);
  }

  /** Splits part `p` at block `at` (inside it): `p` keeps [lo, at), @returns the new part [at, hi), next in the node's list and, when free, just ahead of `p` in the queue. */
  private split(p: number, at: number): number {
    const q = this.newPart();
    const node = this.pNode[p];
    this.pNode[q] = node;
    this.pSeq[q] = this.pSeq[p];
    this.pLo[q] = at;
    this.pHi[q] = this.pHi[p];
    this.pRef[q] = this.pRef[p];
    this.pHi[p] = at;
    const nx = this.pNext[p];
    this.pNext[q] = nx;
    this.pPrev[q] = p;
    this.pNext[p] = q;
    if (nx >= 0) this.pPrev[nx] = q;
    else this.tail[node] = q;
    if (this.pRef[p] === 0) {
      // Free: the upper blocks are evicted first, so [at, hi) goes just ahead of [lo, at).
      const n = this.newQ(PART, q);
      const at0 = this.pQ[p];
      const pr = this.qPrev[at0];
      this.qPrev[n] = pr;
      this.qNext[n] = at0;
      this.qPrev[at0] = n;
      if (pr >= 0) this.qNext[pr] = n;
      else this.qHead = n;
      this.pQ[q] = n;
    } else this.pQ[q] = -1;
    return q;
  }

  /** Merges in-use part `p` with its neighbours of the same registration and reference count. @returns the part holding its blocks. */
  private mergeInUse(p: number): number {
    const nx = this.pNext[p];
    if (nx >= 0 && this.pSeq[nx] === this.pSeq[p] && this.pLo[nx] === this.pHi[p] && this.pRef[nx] === this.pRef[p]) {
      this.pHi[p] = this.pHi[nx];
      this.removePart(nx);
    }
    const pr = this.pPrev[p];
    if (pr >= 0 && this.pSeq[pr] === this.pSeq[p] && this.pHi[pr] === this.pLo[p] && this.pRef[pr] === this.pRef[p]) {
      this.pHi[pr] = this.pHi[p];
      this.removePart(p);
      return pr;
    }
    return p;
  }

  /** Appends free part `p` to the queue, merged into the tail when that is the part just above it. */
  private appendPart(p: number): void {
    const t = this.qTail;
    if (t >= 0 && this.kind[t] === PART) {
      const u = this.value[t];
      if (this.pNode[u] === this.pNode[p] && this.pSeq[u] === this.pSeq[p] && this.pLo[u] === this.pHi[p]) {
        this.pLo[u] = this.pLo[p];
        this.removePart(p);
        return;
      }
    }
    const q = this.newQ(PART, p);
    this.linkQ(q);
    this.pQ[p] = q;
  }

  private appendRun(k: number): void {
    if (this.qTail >= 0 && this.kind[this.qTail] === RUN) this.value[this.qTail] += k;
    else this.linkQ(this.newQ(RUN, k));
  }

  private newPart(): number {
    if (this.freeParts.length > 0) return this.freeParts.pop()!;
    const p = this.partTop++;
    if (p === this.pNode.length) {
      const c = p + 1;
      this.pNode = grown(this.pNode, c);
      this.pSeq = grown(this.pSeq, c);
      this.pLo = grown(this.pLo, c);
      this.pHi = grown(this.pHi, c);
      this.pRef = grown(this.pRef, c);
      this.pQ = grown(this.pQ, c);
      this.pNext = grown(this.pNext, c);
      this.pPrev = grown(this.pPrev, c);
    }
    return p;
  }

  /** Takes part `p` out of its node's list and recycles it. */
  private removePart(p: number): void {
    const node = this.pNode[p];
    const pr = this.pPrev[p];
    const nx = this.pNext[p];
    if (pr >= 0) this.pNext[pr] = nx;
    else this.head[node] = nx;
    if (nx >= 0) this.pPrev[nx] = pr;
    else this.tail[node] = pr;
    this.freeParts.push(p);
  }

  private newQ(kind: number, value: number): number {
    let q: number;
    if (this.freeQ.length > 0) q = this.freeQ.pop()!;
    else {
      q = this.qTop++;
      if (q === this.kind.length) {
        const c = 2 * q;
        const k = new Uint8Array(c);
        k.set(this.kind);
        this.kind = k;
        const v = new Float64Array(c);
        v.set(this.value);
        this.value = v;
        this.qPrev = grown(this.qPrev, c);
        this.qNext = grown(this.qNext, c);
      }
    }
    this.kind[q] = kind;
    this.value[q] = value;
    return q;
  }

  /** Appends queue node `q` at the back. */
  private linkQ(q: number): void {
    this.qPrev[q] = this.qTail;
    this.qNext[q] = -1;
    if (this.qTail >= 0) this.qNext[this.qTail] = q;
    else this.qHead = q;
    this.qTail = q;
  }

  /** Takes queue node `q` out and recycles it. */
  private unlinkQ(q: number): void {
    const p = this.qPrev[q];
    const n = this.qNext[q];
    if (p >= 0) this.qNext[p] = n;
    else this.qHead = n;
    if (n >= 0) this.qPrev[n] = p;
    else this.qTail = p;
    this.freeQ.push(q);
  }
}
