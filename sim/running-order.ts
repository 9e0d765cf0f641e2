/**
 * A rank-mode replica's running requests in (key, tie) order, kept as a sorted array that is
 * repaired only where something changed: requests added or re-keyed since the last batch are
 * noted (O(1) each), removals are counted, and `repair` — called once per batch, and a no-op when
 * nothing changed — drops the stale entries in one pass, sorts the changed ones (insertion sort:
 * linear when they keep their order, as a batch re-keyed in key order does; a comparison sort past
 * 256) and merges them back in, O(running + changed). A batch former then reads the order
 * linearly: the walk stops where the budgets do, eviction reads it from the largest key down.
 */
import type { RequestTable } from './requests.ts';
import { RUNNING, sortByKey } from './requests.ts';
import { IdList, grow } from './id-list.ts';

/** The running requests of one rank-mode replica in (key, tie) order. */
export class RunningOrder {
  /** ids[0..count) in (key, tie) order after `repair`. Replaced when it grows: do not keep it. */
  ids: Int32Array = new Int32Array(16);
  /** Entries in `ids`. */
  count = 0;
  private spare: Int32Array = new Int32Array(16);
  private readonly changed = new IdList();
  private removals = 0;
  private readonly R: RequestTable;

  /** @param requests the run's request table (`orderChanged` marks are shared by every replica's order). */
  constructor(requests: RequestTable) {
    this.R = requests;
  }

  /** Request `id` became running here, or a running one's key changed. */
  touch(id: number): void {
    if (this.R.orderChanged[id] === 0) {
      this.R.orderChanged[id] = 1;
      this.changed.push(id);
    }
  }

  /** A running request left this replica's running set (its entry goes stale). */
  removed(): void {
    this.removals++;
  }

  /** Brings `ids` up to date: running requests only, in (key, tie) order, each once. */
  repair(): void {
    if (this.changed.count === 0 && this.removals === 0) return;
    const R = this.R;
    const { state, orderChanged, key, tie } = R;
    // Keep the entries that are still running and unchanged (a request may leave and come back).
    const ids = this.ids;
    let kept = 0;
    for (let i = 0; i < this.count; i++) {
      const id = ids[i];
      if (state[id] === RUNNING && orderChanged[id] === 0) ids[kept++] = id;
    }
    // The changed ones still running, sorted.
    const ch = this.changed;
    let m = 0;
    for (let i = 0; i < ch.count; i++) {
      const id = ch.ids[i];
      orderChanged[id] = 0;
      if (state[id] === RUNNING) ch.ids[m++] = id;
    }
    const c = ch.ids;
    if (m > 256) c.subarray(0, m).sort((a, b) => key[a] - key[b] || tie[a] - tie[b]);
    else sortByKey(c, m, R);
    // Merge.
    const total = kept + m;
    if (this.spare.length < total) this.spare = grow(this.spare, total);
    const out = this.spare;
    let a = 0;
    let b = 0;
    let k = 0;
    while (a < kept && b < m) {
      const x = ids[a];
      const y = c[b];
      if (key[y] < key[x] || (key[y] === key[x] && tie[y] < tie[x])) {
        out[k++] = y;
        b++;
      } else {
        out[k++] = x;
        a++;
      }
    }
    while (a < kept) out[k++] = ids[a++];
    while (b < m) out[k++] = c[b++];
    this.spare = ids;
    this.ids = out;
    this.count = total;
    ch.clear();
    this.removals = 0;
  }
}
