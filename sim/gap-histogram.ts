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

/** Open-addressing hash map from a finite float64 value to its count. */
export class GapHistogram {
  /** Distinct values held. */
  size = 0;
  /** Sum of the counts: values added, counting repeats. */
  total = 0;
  private keys: Float64Array;
  private counts: Float64Array;
  private used: Uint8Array;
  private mask: number;
  /** The slot of the last value added (consecutive adds often repeat it). */
  private lastSlot = -1;

  constructor(initialCapacity = 1024) {
    let cap = 16;
    while (cap < 2 * initialCapacity) cap *= 2;
    this.keys = new Float64Array(cap);
    this.counts = new Float64Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
  }

  /**
   * Adds `count` occurrences of `value`.
   * @param value a finite number (seconds, for inter-token gaps); -0 is counted as 0.
   * @param count a positive integer.
   * @throws Error for a non-finite value (a bug upstream: gaps come from finite times).
   */
  add(value: number, count: number): void {
    const last = this.lastSlot;
    if (last >= 0 && this.keys[last] === value) {
      this.counts[last] += count;
      this.total += count;
      return;
    }
    if (!Number.isFinite(value)) throw new Error(`GapHistogram: non-finite value ${value}`);
    const v = value + 0;
    let i = this.slot(v);
    const { keys, used } = this;
    while (used[i] === 1) {
      if (keys[i] === v) break;
      i = (i + 1) & this.mask;
    }
    if (used[i] === 0) {
      used[i] = 1;
      keys[i] = v;
      this.size++;
    }
    this.counts[i] += count;
    this.total += count;
    this.lastSlot = i;
    if (2 * this.size > this.mask) this.grow();
  }

  /** How many times `value` was added (0 if never). */
  count(value: number): number {
    const v = value + 0;
    for (let i = this.slot(v); this.used[i] === 1; i = (i + 1) & this.mask) if (this.keys[i] === v) return this.counts[i];
    return 0;
  }

  /** The distinct values in ascending order, with their counts (fresh arrays of length `size`). */
  sorted(): { values: Float64Array; counts: Float64Array } {
    const values = new Float64Array(this.size);
    let k = 0;
    for (let i = 0; i <= this.mask; i++) if (this.used[i] === 1) values[k++] = this.keys[i];
    values.sort();
    const counts = new Float64Array(this.size);
    for (let j = 0; j < values.length; j++) counts[j] = this.count(values[j]);
    return { values, counts };
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
    const { keys, counts, used } = this;
    const cap = 2 * (this.mask + 1);
    this.keys = new Float64Array(cap);
    this.counts = new Float64Array(cap);
    this.used = new Uint8Array(cap);
    this.mask = cap - 1;
    for (let j = 0; j < used.length; j++) {
      if (used[j] === 0) continue;
      let i = this.slot(keys[j]);
      while (this.used[i] === 1) i = (i + 1) & this.mask;
      this.used[i] = 1;
      this.keys[i] = keys[j];
      this.counts[i] = counts[j];
    }
    this.lastSlot = -1;
  }
}
