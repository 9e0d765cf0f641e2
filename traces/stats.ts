/**
 * Trace statistics: mean arrival rate, burstiness (coefficient of variation of the gaps), and the
 * prefix reuse an unbounded prefix cache would see.
 */
import { ownId, type Trace } from '../sim/trace.ts';

/**
 * Mean arrival rate in requests per second, defined as (n − 1) / (last − first arrival): the
 * reciprocal of the mean inter-arrival gap. This is the rate that `transformTrace`'s `rate` option
 * sets exactly.
 * @param arrival_s  arrival times in seconds, non-decreasing
 * @returns the rate, or NaN when n < 2 or every arrival is at the same instant
 */
export function meanRate(arrival_s: ArrayLike<number>): number {
  const n = arrival_s.length;
  if (n < 2) return NaN;
  const span = arrival_s[n - 1] - arrival_s[0];
  return span > 0 ? (n - 1) / span : NaN;
}

/**
 * Coefficient of variation (population standard deviation / mean) of the n − 1 inter-arrival gaps:
 * 1 for a Poisson process, larger for burstier traffic. Unitless.
 * @returns the CV, or NaN when n < 2 or the mean gap is 0
 */
export function interArrivalCv(arrival_s: ArrayLike<number>): number {
  const n = arrival_s.length;
  if (n < 2) return NaN;
  const m = (arrival_s[n - 1] - arrival_s[0]) / (n - 1);
  if (!(m > 0)) return NaN;
  let ss = 0;
  for (let i = 1; i < n; i++) {
    const d = arrival_s[i] - arrival_s[i - 1] - m;
    ss += d * d;
  }
  return Math.sqrt(ss / (n - 1)) / m;
}

/** What {@link prefixReuseCounts} counts. */
export interface PrefixReuse {
  /** Full prompt blocks: Σ over requests of floor(prompt_tokens / blockSize). */
  blocks: number;
  /** Those whose chained identity appeared in the prompt of an earlier request. */
  hits: number;
}

/**
 * Counts the full prompt blocks of a trace, and those an unbounded prefix cache that keeps every
 * prompt block (never output blocks) would hit. See {@link prefixReuse}.
 * @param blockSize  tokens per block, a positive integer
 */
export function prefixReuseCounts(trace: Trace, blockSize: number): PrefixReuse {
  if (!Number.isInteger(blockSize) || blockSize < 1) throw new RangeError(`blockSize must be a positive integer, got ${blockSize}`);
  const B = blockSize;
  const p = trace.prefix;
  // A prompt is a list of pieces (content id, length), each starting at offset 0 of its content:
  // its segments, then ownId(i) for the rest. The prefix up to a position E inside piece m is
  // identified by (the pieces before m, id of m, E − start of m); the pieces before m are interned
  // as one integer chained from the one before. For one (pieces before, id) the block ends seen
  // are the multiples of B in (S, S + longest length seen], S the pieces' total length.
  const chain = new Map<string, number>(); // "prev,id,len" -> interned prefix of full pieces
  const longest = new Map<string, number>(); // "prefix,id" -> [S, longest length] index
  const starts: number[] = [];
  const lengths: number[] = [];
  let blocks = 0;
  const piece = (prev: number, S: number, id: number, len: number, full: number): number => {
    const usable = Math.min(len, full - S);
    if (usable > 0) {
      const key = `${prev},${id}`;
      const k = longest.get(key);
      if (k === undefined) {
        longest.set(key, starts.length);
        starts.push(S);
        lengths.push(usable);
      } else if (usable > lengths[k]) lengths[k] = usable;
    }
    const next = `${prev},${id},${len}`;
    let c = chain.get(next);
    if (c === undefined) chain.set(next, (c = chain.size + 1));
    return c;
  };
  for (let i = 0; i < trace.n; i++) {
    const prompt = trace.prompt_tokens[i];
    const full = prompt - (prompt % B);
    blocks += full / B;
    let prev = 0;
    let S = 0;
    if (p !== undefined) {
      for (let k = p.start[i]; k < p.start[i + 1] && S < full; k++) {
        prev = piece(prev, S, p.id[k], p.tokens[k], full);
        S += p.tokens[k];
      }
    }
    if (S < full) piece(prev, S, ownId(i), prompt - S, full);
  }
  let distinct = 0;
  for (let k = 0; k < starts.length; k++) distinct += Math.floor((starts[k] + lengths[k]) / B) - Math.floor(starts[k] / B);
  return { blocks, hits: blocks - distinct };
}

/**
 * Prefix reuse of a trace: the share of full prompt blocks that an unbounded prefix cache would
 * hit, ignoring output tokens being cached. A full prompt block of request i is prompt tokens
 * [kB, (k+1)B) with (k+1)B <= prompt_tokens[i] (B = `blockSize`; a prompt's last partial block
 * never counts). Its chained identity is the sequence of (content id, offset) pieces of prompt
 * tokens [0, (k+1)B) — this block and every block before it in the same prompt — where request
 * i's prompt is its prefix segments (trace.prefix) followed by its own rest ownId(i) (a trace
 * without `prefix` is all own rest: no reuse). The block hits when the same chained identity is
 * in the prompt of an earlier request (trace order: arrival order; for a program trace a call's
 * parents come before it). Within one prompt every chained identity is distinct (each covers a
 * different length), so the count does not depend on the order: hits = blocks − distinct chained
 * identities, the number a vLLM-v1-style cache (block hash chained from the parent block's) with
 * unbounded room and no caching of generated tokens reports as prefix-cache hits.
 * @param blockSize  tokens per block (the engine's `--block-size`), a positive integer
 * @returns hits / blocks in [0, 1], or 0 when the trace has no full prompt block
 */
export function prefixReuse(trace: Trace, blockSize: number): number {
  const r = prefixReuseCounts(trace, blockSize);
  return r.blocks === 0 ? 0 : r.hits / r.blocks;
}
