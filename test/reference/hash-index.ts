/**
 * An open-addressing hash map from 53-bit non-negative integer keys (doubles, as the prefix
 * cache's block hashes are) to int32 values, for the block pool's hash lookups: no allocation per
 * operation and no boxing of double keys, which a `Map` does. Linear probing with backward-shift
 * deletion (no tombstones); the table doubles when half full.
 */

const EMPTY = -1;

/** Map from integer keys in [0, 2^53) to int32 values. */
export class HashIndex {
  private keys: Float64Array;
  private values: Int32Array;
  private mask: number;
  private used = 0;

  /** @param capacity initial slots (rounded up to a power of two, at least 16). */
  constructor(capacity = 1024) {
    let c = 16;
    while (c < capacity) c *= 2;
    this.keys = new Float64Array(c).fill(EMPTY);
    this.values = new Int32Array(c);
    this.mask = c - 1;
  }

  /** Keys held. */
  get size(): number {
    return this.used;
  }

  private slot(key: number): number {
    const lo = key >>> 0;
    const hi = (key / 4294967296) >>> 0;
    let h = Math.imul(lo ^ Math.imul(hi, 0x9e3779b1), 0x85ebca6b);
    h ^= h >>> 13;
    return h & this.mask;
  }

  /** The value of `key`, or -1. */
  get(key: number): number {
    const keys = this.keys;
    for (let i = this.slot(key); ; i = (i + 1) & this.mask) {
      const k = keys[i];
      if (k === key) return this.values[i];
      if (k === EMPTY) return -1;
    }
  }

  /** Sets `key` to `value` (inserting or replacing). */
  set(key: number, value: number): void {
    const keys = this.keys;
    let i = this.slot(key);
    for (; ; i = (i + 1) & this.mask) {
      const k = keys[i];
      if (k === key) {
        this.values[i] = value;
        return;
      }
      if (k === EMPTY) break;
    }
    keys[i] = key;
    this.values[i] = value;
    this.used++;
    if (2 * this.used > keys.length) this.rebuild(2 * keys.length);
  }

  /** Removes `key` if present (later keys of its probe run shift back into the gap). */
  delete(key: number): void {
    const keys = this.keys;
    const mask = this.mask;
    let i = this.slot(key);
    for (; ; i = (i + 1) & mask) {
      const k = keys[i];
      if (k === key) break;
      if (k === EMPTY) return;
    }
    this.used--;
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.slot(keys[j]);
      // Move keys[j] back to the gap at i unless its home lies cyclically in (i, j].
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        keys[i] = keys[j];
        this.values[i] = this.values[j];
        i = j;
      }
    }
    keys[i] = EMPTY;
  }

  private rebuild(capacity: number): void {
    const oldKeys = this.keys;
    const oldValues = this.values;
    this.keys = new Float64Array(capacity).fill(EMPTY);
    this.values = new Int32Array(capacity);
    this.mask = capacity - 1;
    this.used = 0;
    for (let i = 0; i < oldKeys.length; i++) if (oldKeys[i] >= 0) this.set(oldKeys[i], oldValues[i]);
  }
}
