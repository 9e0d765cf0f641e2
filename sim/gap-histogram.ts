/**
 * An exact histogram of float64 values: each distinct value (compared bit for bit, as `===`
 * compares finite numbers) with how many times it was added. It holds every token's inter-token
 * latency of a run (docs/output.md, "Inter-token latency") without a list per token: memory grows
 * with the distinct values, not the count, and skip-ahead adds a bundle's B tokens of one step as
 * one `add(gap, B)`. Percentiles read from it are those of the full multiset, exactly.
 */

/** Scratch for reading a double's bits (hashing). */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);

/** Adds queued before they are merged into the table. */
const PENDING = 1 << 16;

/**
 * Open-addressing hash map (linear probing) from a finite float64 value to its count. Slot i is
 * `table[2i]` (the value, NaN when empty: values are finite) and `table[2i + 1]` (its count).
 *
 * Cost: a run has up to hundreds of thousands of distinct gaps, a table larger than the fast
 * caches, and one add per skip-ahead step (tens of millions), so adds are queued: a repeat of the
 * value just added only increments a count; other adds queue up, and every {@link PENDING} of them
 * are merged into the table in one tight loop, whose independent lookups the processor overlaps
 * (measured on the 1M-request bench trace: about half the time of merging each add as it comes,
 * between the simulator's own work). Reads (`size`, `count`, `sorted`) merge what is queued first.
 */
export class GapHistogram {
  /** Sum of the counts: values added, counting repeats. */
  total = 0;
  private table: Float64Array;
  private mask: number;
  private distinct = 0;
  /** The value being repeated, and its count so far (0: none). */
  private runValue = NaN;
  private runCount = 0;
  /** Queued adds: (value, count) pairs. */
  private readonly queued = new Float64Array(2 * PENDING);
  private queuedCount = 0;

  /** @param initialCapacity distinct values to hold before the first growth. */
  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < 2 * initialCapacity) cap *= 2;
    this.table = new Float64Array(2 * cap).fill(NaN);
    this.mask = cap - 1;
  }

  /** Distinct values held. */
  get size(): number {
    this.merge();
    return this.distinct;
  }

  /**
   * Adds `count` occurrences of `value`.
   * @param value a finite number (seconds, for inter-token gaps); -0 is counted as 0.
   * @param count a positive integer.
   * @throws Error for a non-finite value (a bug upstream: gaps come from finite times).
   */
  add(value: number, count: number): void {
    this.total += count;
    if (value === this.runValue) {
      this.runCount += count;
      return;
    }
    if (!Number.isFinite(value)) throw new Error(`GapHistogram: non-finite value ${value}`);
    if (this.runCount > 0) this.enqueue(this.runValue, this.runCount);
    this.runValue = value + 0;
    this.runCount = count;
  }

  /** How many times `value` was added (0 if never). */
  count(value: number): number {
    this.merge();
    const i = this.find(value + 0);
    return i < 0 ? 0 : this.table[2 * i + 1];
  }

  /** The distinct values in ascending order, with their counts (fresh arrays of length `size`). */
  sorted(): { values: Float64Array; counts: Float64Array } {
    this.merge();
    const t = this.table;
    const values = new Float64Array(this.distinct);
    let k = 0;
    for (let j = 0; j < t.length; j += 2) if (t[j] === t[j]) values[k++] = t[j];
    values.sort();
    const counts = new Float64Array(this.distinct);
    for (let j = 0; j < values.length; j++) counts[j] = this.table[2 * this.find(values[j]) + 1];
    return { values, counts };
  }

  private enqueue(value: number, count: number): void {
    const q = this.queuedCount;
    this.queued[2 * q] = value;
    this.queued[2 * q + 1] = count;
    if ((this.queuedCount = q + 1) === PENDING) this.flush();
  }

  /** Merges the run in progress and the queue into the table. */
  private merge(): void {
    if (this.runCount > 0) {
      this.enqueue(this.runValue, this.runCount);
      this.runValue = NaN;
      this.runCount = 0;
    }
    this.flush();
  }

  /** Merges the queue into the table. */
  private flush(): void {
    const n = this.queuedCount;
    const q = this.queued;
    this.queuedCount = 0;
    for (let k = 0; k < n; k++) this.insert(q[2 * k], q[2 * k + 1]);
  }

  private insert(v: number, count: number): void {
    const t = this.table;
    for (let i = this.slot(v); ; i = (i + 1) & this.mask) {
      const k = t[2 * i];
      if (k === v) {
        t[2 * i + 1] += count;
        return;
      }
      if (k !== k) {
        t[2 * i] = v;
        t[2 * i + 1] = count;
        if (2 * ++this.distinct > this.mask + 1) this.grow();
        return;
      }
    }
  }

  /** The slot holding `v`, or -1. */
  private find(v: number): number {
    const t = this.table;
    for (let i = this.slot(v); t[2 * i] === t[2 * i]; i = (i + 1) & this.mask) if (t[2 * i] === v) return i;
    return -1;
  }

  private slot(v: number): number {
    F64[0] = v;
    let h = Math.imul(U32[0] ^ Math.imul(U32[1], 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h & this.mask;
  }

  private grow(): void {
    const old = this.table;
    const cap = 2 * (this.mask + 1);
    const t = (this.table = new Float64Array(2 * cap).fill(NaN));
    this.mask = cap - 1;
    for (let j = 0; j < old.length; j += 2) {
      const k = old[j];
      if (k !== k) continue;
      let i = this.slot(k);
      while (t[2 * i] === t[2 * i]) i = (i + 1) & this.mask;
      t[2 * i] = k;
      t[2 * i + 1] = old[j + 1];
    }
  }
}
