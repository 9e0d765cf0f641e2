/**
 * The simulator's clock core: a binary min-heap of events keyed on (time, insertion order).
 *
 * Events are plain integers (a kind and a payload id) stored in parallel typed arrays, so pushing
 * and popping allocate nothing once the arrays have grown. Equal times pop in insertion order, which
 * makes every run deterministic (SimPy's rule: ties break by a monotonically increasing id).
 */
export class EventQueue {
  private time: Float64Array;
  private order: Float64Array;
  private kind: Int32Array;
  private id: Int32Array;
  private n = 0;
  private nextOrder = 0;

  /** Kind of the event last popped. */
  poppedKind = -1;
  /** Payload id of the event last popped. */
  poppedId = -1;
  /** Time (seconds) of the event last popped. */
  poppedTime = 0;

  constructor(capacity = 64) {
    this.time = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
    this.kind = new Int32Array(capacity);
    this.id = new Int32Array(capacity);
  }

  /** Number of pending events. */
  get size(): number {
    return this.n;
  }

  /** Time of the earliest pending event, or +Infinity when none is pending. */
  peekTime(): number {
    return this.n > 0 ? this.time[0] : Infinity;
  }

  /**
   * Schedules an event of `kind` for `id` at `time` seconds.
   * @throws RangeError if `time` is NaN.
   */
  push(time: number, kind: number, id: number): void {
    if (Number.isNaN(time)) throw new RangeError('event time is NaN');
    if (this.n === this.time.length) this.grow();
    const order = this.nextOrder++;
    let i = this.n++;
    // Sift up.
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = this.time[p];
      if (pt < time || (pt === time && this.order[p] < order)) break;
      this.move(p, i);
      i = p;
    }
    this.time[i] = time;
    this.order[i] = order;
    this.kind[i] = kind;
    this.id[i] = id;
  }

  /**
   * Removes the earliest event and exposes it through `poppedTime`, `poppedKind`, `poppedId`.
   * @returns false when the queue was empty.
   */
  pop(): boolean {
    if (this.n === 0) return false;
    this.poppedTime = this.time[0];
    this.poppedKind = this.kind[0];
    this.poppedId = this.id[0];
    const last = --this.n;
    if (last === 0) return true;
    const t = this.time[last];
    const o = this.order[last];
    const k = this.kind[last];
    const d = this.id[last];
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= last) break;
      const r = c + 1;
      if (r < last && (this.time[r] < this.time[c] || (this.time[r] === this.time[c] && this.order[r] < this.order[c]))) c = r;
      if (t < this.time[c] || (t === this.time[c] && o < this.order[c])) break;
      this.move(c, i);
      i = c;
    }
    this.time[i] = t;
    this.order[i] = o;
    this.kind[i] = k;
    this.id[i] = d;
    return true;
  }

  private move(from: number, to: number): void {
    this.time[to] = this.time[from];
    this.order[to] = this.order[from];
    this.kind[to] = this.kind[from];
    this.id[to] = this.id[from];
  }

  private grow(): void {
    const cap = this.time.length * 2;
    const t = new Float64Array(cap);
    t.set(this.time);
    this.time = t;
    const o = new Float64Array(cap);
    o.set(this.order);
    this.order = o;
    const k = new Int32Array(cap);
    k.set(this.kind);
    this.kind = k;
    const d = new Int32Array(cap);
    d.set(this.id);
    this.id = d;
  }
}
