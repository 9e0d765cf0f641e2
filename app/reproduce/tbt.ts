/**
 * Time between tokens (TBT) percentiles from a run's iteration records, for Sarathi-Serve's SLO
 * (docs/spec.md §2: P99 TBT).
 *
 * TEMPORARY: the run summary does not carry per-token TBT percentiles yet (another branch adds
 * them); until it does, this approximates them from what the iteration observer sees. Switch
 * {@link TbtRecorder}'s callers to the summary's field when it lands.
 */
import type { IterationRecord } from '../../sim/engine-types.ts';

/**
 * Collects TBT samples, one per decode token, from iteration records of one replica, in order.
 * A decode token's TBT is the time since the end of the previous iteration that emitted decode
 * tokens (so prefill-only iterations in between, vLLM's generation stalls, count), or since the
 * previous iteration's end when there was none since the replica was last idle. For a request
 * whose prefill ended in between this overstates its first gap (its true gap starts at that
 * prefill's end); every other decode token's gap is exact, since all running requests decode in
 * every decode iteration under both batching modes. A record of `steps` bundled identical
 * iterations gives `steps` gaps of its per-step duration (the first measured from the last token).
 */
export class TbtRecorder {
  private lastToken = NaN;
  private lastEnd = NaN;
  private readonly values: number[] = [];
  private readonly weights: number[] = [];

  /** Feeds one record (pass as the run's observer: `(r) => rec.add(r)`). */
  add(r: IterationRecord): void {
    if (!(r.start <= this.lastEnd)) this.lastToken = NaN; // idle before this iteration: nobody was decoding
    if (r.decodeSeqs > 0) {
      const step = (r.end - r.start) / r.steps;
      const from = Number.isNaN(this.lastToken) ? (Number.isNaN(this.lastEnd) ? r.start : this.lastEnd) : this.lastToken;
      this.values.push(r.start + step - from);
      this.weights.push(r.decodeSeqs);
      if (r.steps > 1) {
        this.values.push(step);
        this.weights.push(r.decodeSeqs * (r.steps - 1));
      }
      this.lastToken = r.end;
    }
    this.lastEnd = r.end;
  }

  /** Decode tokens seen. */
  get tokens(): number {
    return this.weights.reduce((a, w) => a + w, 0);
  }

  /**
   * The q-quantile of TBT (s): the smallest sample value with at least q of the token weight at
   * or below it; NaN when no decode token was seen.
   * @param q in (0, 1], e.g. 0.99.
   */
  quantile(q: number): number {
    const n = this.values.length;
    if (n === 0) return NaN;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.values[a] - this.values[b]);
    const total = this.tokens;
    let acc = 0;
    for (const i of order) {
      acc += this.weights[i];
      if (acc >= q * total) return this.values[i];
    }
    return this.values[order[n - 1]];
  }
}
