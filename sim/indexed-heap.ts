import { grow } from './id-list.ts';

/**
 * An indexed binary heap over integer request ids, ordered by a caller-owned key array.
 *
 * The engine keeps its waiting, running and swapped queues in these: a policy's priority key lives
 * in one shared Float64Array (smaller = served first) and ties break on a second array (insertion
 * sequence), so equal keys keep FCFS order. Push, pop, remove and re-key are O(log n); `has` and
 * `peek` are O(1). Each id may be in at most one heap position; ids must be < `capacity`.
 *
 * Positions live in an array indexed by id. A heap may own it (sized by `capacity`), or share it
 * with other heaps that never hold the same id at the same time (a request is in one queue of one
 * replica at a time): then the heap's own storage starts small and grows with its size, so a
 * replica's queues cost memory in proportion to the requests it holds, not to the whole trace.
 */
export class IndexedHeap {
  private heap: Int32Array;
  /** pos[id] = index in heap, or -1 when absent. */
  private pos: Int32Array;
  private n = 0;
  private readonly key: Float64Array;
  private readonly tie: Float64Array;
  private readonly sign: number;

  /**
   * @param capacity one more than the largest id that will be stored.
   * @param key priority key per id (read at every comparison; call `update(id)` after changing it).
   * @param tie tie-break per id (smaller first), e.g. the sequence number at which it was queued.
   * @param max false: pop the smallest (key, tie); true: pop the largest key, ties by largest tie.
   * @param sharedPos a position array (length >= capacity, all -1 for absent ids) shared with
   *   heaps that never hold the same id at once; `has(id)` then means "in one of those heaps".
   */
  constructor(capacity: number, key: Float64Array, tie: Float64Array, max = false, sharedPos?: Int32Array) {
    this.heap = new Int32Array(sharedPos ? 16 : Math.max(1, capacity));
    this.pos = sharedPos ?? new Int32Array(Math.max(1, capacity)).fill(-1);
    this.key = key;
    this.tie = tie;
    this.sign = max ? -1 : 1;
  }

  /** Number of ids in the heap. */
  get size(): number {
    return this.n;
  }

  /** Whether `id` is in the heap. */
  has(id: number): boolean {
    return this.pos[id] >= 0;
  }

  /** The first id (without removing it), or -1 when empty. */
  peek(): number {
    return this.n > 0 ? this.heap[0] : -1;
  }

  /** The id at heap slot `i` (0 <= i < size), for unordered iteration. */
  at(i: number): number {
    return this.heap[i];
  }

  /**
   * Inserts `id`.
   * @throws Error if `id` is already present.
   */
  push(id: number): void {
    if (this.pos[id] >= 0) throw new Error(`id ${id} already in heap`);
    if (this.n === this.heap.length) this.heap = grow(this.heap, this.n + 1);
    const i = this.n++;
    this.heap[i] = id;
    this.pos[id] = i;
    this.up(i);
  }

  /** Removes and returns the first id, or -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const top = this.heap[0];
    this.removeAt(0);
    return top;
  }

  /** Removes `id` if present. @returns whether it was present. */
  remove(id: number): boolean {
    const i = this.pos[id];
    if (i < 0) return false;
    this.removeAt(i);
    return true;
  }

  /** Restores heap order after `key[id]` or `tie[id]` changed. No-op if absent. */
  update(id: number): void {
    const i = this.pos[id];
    if (i < 0) return;
    this.down(this.up(i));
  }

  /** Removes every id. O(size). */
  clear(): void {
    for (let i = 0; i < this.n; i++) this.pos[this.heap[i]] = -1;
    this.n = 0;
  }

  private removeAt(i: number): void {
    const id = this.heap[i];
    this.pos[id] = -1;
    const last = --this.n;
    if (i === last) return;
    const moved = this.heap[last];
    this.heap[i] = moved;
    this.pos[moved] = i;
    this.down(this.up(i));
  }

  /** Whether id a comes before id b. */
  private before(a: number, b: number): boolean {
    const ka = this.key[a] * this.sign;
    const kb = this.key[b] * this.sign;
    if (ka !== kb) return ka < kb;
    return this.tie[a] * this.sign < this.tie[b] * this.sign;
  }

  private up(i: number): number {
    const h = this.heap;
    const id = h[i];
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(id, h[p])) break;
      h[i] = h[p];
      this.pos[h[i]] = i;
      i = p;
    }
    h[i] = id;
    this.pos[id] = i;
    return i;
  }

  private down(i: number): void {
    const h = this.heap;
    const id = h[i];
    const n = this.n;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(h[c + 1], h[c])) c++;
      if (!this.before(h[c], id)) break;
      h[i] = h[c];
      this.pos[h[i]] = i;
      i = c;
    }
    h[i] = id;
    this.pos[id] = i;
  }
}
