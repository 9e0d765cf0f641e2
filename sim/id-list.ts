/**
 * Growable lists of request ids for one replica's engine: sized by what the replica holds, not by
 * the whole trace, so a cluster of R replicas does not pay R × (requests in the trace).
 */

/** An append-only list of ids (cleared between uses). Amortised O(1) push. */
export class IdList {
  /** Backing store; entries [0, count) are the list. Replaced when it grows: do not keep it. */
  ids: Int32Array;
  /** Number of ids in the list. */
  count = 0;

  /** @param capacity initial capacity (grows by doubling). */
  constructor(capacity = 16) {
    this.ids = new Int32Array(Math.max(1, capacity));
  }

  /** Appends `id`. */
  push(id: number): void {
    if (this.count === this.ids.length) this.ids = grow(this.ids, this.count + 1);
    this.ids[this.count++] = id;
  }

  /** Empties the list (keeps the storage). */
  clear(): void {
    this.count = 0;
  }
}

/**
 * An unordered set of ids with O(1) add and remove (swap with the last). Each id's slot lives in
 * a caller-owned array indexed by id (`slot[id]`, -1 when absent), shared by the sets of every
 * replica of a run: a request is in at most one replica's set at a time.
 */
export class IdSet {
  /** Backing store; entries [0, count) are the members. Replaced when it grows: do not keep it. */
  ids: Int32Array;
  /** Number of members. */
  count = 0;
  private readonly slot: Int32Array;

  /**
   * @param slot per-id slot array (length: the number of ids; -1 = absent), shared by every set
   *   that may hold the same ids.
   */
  constructor(slot: Int32Array) {
    this.slot = slot;
    this.ids = new Int32Array(16);
  }

  /** Adds `id` (not a member of any set sharing the slot array). */
  add(id: number): void {
    if (this.count === this.ids.length) this.ids = grow(this.ids, this.count + 1);
    this.slot[id] = this.count;
    this.ids[this.count++] = id;
  }

  /** Removes member `id`. */
  remove(id: number): void {
    const p = this.slot[id];
    const last = this.ids[--this.count];
    this.ids[p] = last;
    this.slot[last] = p;
    this.slot[id] = -1;
  }

  /** The members as a view (valid until the next add or remove). */
  view(): Int32Array {
    return this.ids.subarray(0, this.count);
  }
}

/** A copy of typed array `a` with room for at least `need` entries (doubling). */
export function grow<A extends Int32Array | Float64Array | Uint8Array>(a: A, need: number): A {
  const b = new (a.constructor as new (length: number) => A)(Math.max(need, 2 * a.length));
  b.set(a);
  return b;
}
