/**
 * Building and reshaping a trace's prefix identities ({@link TracePrefix}; docs/traces.md,
 * "Prefix identities"): per-row segment lists as readers collect them, the context of a request
 * (what a later prompt that resends it begins with), and the copies made by the transforms.
 */
import { idOwner, outId, ownId, type TracePrefix } from '../sim/trace.ts';

/**
 * Segments of one row as flat pairs `[id0, tokens0, id1, tokens1, ...]`. Own and output ids
 * (< 0) name rows by their index in the list being built (see {@link finishPrefix}).
 */
export type RowSegments = number[];

const NONE: RowSegments = [];

/** Total tokens of a row's segments. */
export function segmentTokens(s: RowSegments): number {
  let t = 0;
  for (let k = 1; k < s.length; k += 2) t += s[k];
  return t;
}

/**
 * The whole context of row j after it ran, as segments: its segments, then the rest of its prompt
 * (`ownId(j)`, when its segments cover less than `prompt`), then its output (`outId(j)`,
 * `output` tokens), cut to the first `limit` tokens (all of it when `limit` is undefined).
 */
export function contextSegments(segs: RowSegments, j: number, prompt: number, output: number, limit = Infinity): RowSegments {
  const rest = prompt - segmentTokens(segs);
  const all = rest > 0 ? [...segs, ownId(j), rest, outId(j), output] : [...segs, outId(j), output];
  const out: RowSegments = [];
  let left = limit;
  for (let k = 0; k < all.length && left > 0; k += 2) {
    const t = Math.min(all[k + 1], left);
    out.push(all[k], t);
    left -= t;
  }
  return out;
}

/**
 * Packs per-row segment lists into a {@link TracePrefix} for the rows placed in `order` (request
 * i is row `order[i]`; all rows in their own order when `order` is undefined). Own and output ids
 * that name rows are renamed to the rows' request indices; a row not placed keeps no identity of
 * its own, so its ids become fresh declared ids (above every declared id in `rows`).
 */
export function finishPrefix(rows: readonly (RowSegments | undefined)[], order?: ArrayLike<number>): TracePrefix {
  const n = order ? order.length : rows.length;
  const position = new Int32Array(rows.length).fill(-1);
  for (let i = 0; i < n; i++) position[order ? order[i] : i] = i;
  let total = 0;
  let maxDeclared = -1;
  for (const s of rows) {
    if (s === undefined) continue;
    total += s.length >> 1;
    for (let k = 0; k < s.length; k += 2) if (s[k] > maxDeclared) maxDeclared = s[k];
  }
  const fresh = new Map<number, number>();
  const start = new Int32Array(n + 1);
  const id = new Int32Array(total);
  const tokens = new Int32Array(total);
  let m = 0;
  for (let i = 0; i < n; i++) {
    const s = rows[order ? order[i] : i] ?? NONE;
    for (let k = 0; k < s.length; k += 2) {
      let x = s[k];
      const who = idOwner(x);
      if (who !== undefined) {
        const p = position[who.request];
        if (p >= 0) x = who.output ? outId(p) : ownId(p);
        else {
          let f = fresh.get(x);
          if (f === undefined) fresh.set(x, (f = maxDeclared + 1 + fresh.size));
          x = f;
        }
      }
      id[m] = x;
      tokens[m] = s[k + 1];
      m++;
    }
    start[i + 1] = m;
  }
  return { start, id, tokens };
}

/** The segments of request i of `p` as a {@link RowSegments} list (ids as stored). */
export function rowSegments(p: TracePrefix, i: number): RowSegments {
  const out: RowSegments = [];
  for (let k = p.start[i]; k < p.start[i + 1]; k++) out.push(p.id[k], p.tokens[k]);
  return out;
}

/**
 * Requests [lo, hi) of `p` as a prefix of their own: own and output ids of kept requests are
 * renumbered (request j becomes j − lo); those of requests left out become fresh declared ids
 * (the content stays shared among the kept requests, and distinct from everything else).
 */
export function slicePrefix(p: TracePrefix, lo: number, hi: number): TracePrefix {
  const rows: RowSegments[] = [];
  const n = p.start.length - 1;
  for (let i = 0; i < n; i++) rows.push(i >= lo && i < hi ? rowSegments(p, i) : NONE);
  const order = new Int32Array(hi - lo);
  for (let i = lo; i < hi; i++) order[i - lo] = i;
  return finishPrefix(rows, order);
}

/**
 * `copies` copies of the n requests of `p` one after another (request j·n + i is request i of
 * copy j). Own and output ids follow their copy (copy j's ownId(i) becomes ownId(j·n + i)), so
 * copies share no prompt rest or output; declared ids (>= 0) are shared by all copies, as the same
 * prompt sent again would be.
 */
export function tilePrefix(p: TracePrefix, copies: number): TracePrefix {
  const n = p.start.length - 1;
  const per = p.id.length;
  const start = new Int32Array(n * copies + 1);
  const id = new Int32Array(per * copies);
  const tokens = new Int32Array(per * copies);
  for (let j = 0; j < copies; j++) {
    for (let i = 0; i < n; i++) start[j * n + i + 1] = p.start[i + 1] + j * per;
    for (let k = 0; k < per; k++) {
      const x = p.id[k];
      const who = idOwner(x);
      id[j * per + k] = who === undefined ? x : who.output ? outId(who.request + j * n) : ownId(who.request + j * n);
    }
    tokens.set(p.tokens, j * per);
  }
  return { start, id, tokens };
}
