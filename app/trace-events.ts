/**
 * `sim run --trace-events FILE`: the run's batches as a Chrome trace-event JSON file, which
 * ui.perfetto.dev and chrome://tracing open (format: Google's "Trace Event Format" document,
 * https://docs.google.com/document/d/1CvAClvFfyA5R-PhYUmn5OOQtYMH4h6I0nSsKchNAySU; docs/output.md
 * "trace-events JSON"). One process per replica, one thread (track) per virtual engine, one
 * complete event (`ph` "X") per iteration record, streamed into an {@link AtomicWriter} as the
 * engine reports it so memory stays flat however long the run.
 */
import type { IterationRecord } from '../sim/engine-types.ts';
import type { AtomicWriter } from '../sim/files.ts';

/** Microseconds per simulated second: trace-event `ts` and `dur` are in microseconds. */
export const US_PER_S = 1e6;

/**
 * The slice name of one batch, from its composition: `prefill P (T tok)`, `decode D`, both joined
 * by ` + `, or `empty` for a batch with neither (e.g. `prefill 3 (1234 tok) + decode 57`).
 * @param r the record's prefill requests, prompt tokens and decoding requests (counts).
 */
export function batchName(r: Pick<IterationRecord, 'prefillSeqs' | 'prefillTokens' | 'decodeSeqs'>): string {
  const prefill = r.prefillSeqs > 0 ? `prefill ${r.prefillSeqs} (${r.prefillTokens} tok)` : '';
  const decode = r.decodeSeqs > 0 ? `decode ${r.decodeSeqs}` : '';
  return prefill && decode ? `${prefill} + ${decode}` : prefill || decode || 'empty';
}

/**
 * Streams iteration records as a trace-event JSON object `{"displayTimeUnit": "ms",
 * "traceEvents": [...]}` into `w`. The metadata events come first: for replica i, `pid` i + 1
 * named `replica i`; for its virtual engine v, `tid` i·pp + v + 1 (unique across the file, as
 * Perfetto keys threads by `tid`) named `virtual engine v` (`batches` when pp is 1), with sort
 * indices so tracks appear in index order. Then one `ph` "X" event per record, in the order the
 * engines report them: `ts` its start and `dur` its length in microseconds (simulated seconds ×
 * 1e6), `cat` "batch", `name` {@link batchName}, and `args` batch_size, prefill_seqs,
 * prefill_tokens, decode_seqs, steps (> 1 for a skipped-ahead bundle of identical decode
 * iterations, which is one slice covering them all), kv_blocks_used (at the end: the most during
 * it), kv_blocks (capacity), kv_blocks_cached, waiting, running, swapped (queue lengths after the
 * batch was formed). Under pipeline parallelism a record is one micro-batch, from when its virtual
 * engine formed it to when its tokens left the last stage. Output is a pure function of the
 * records: byte-identical for identical runs. About 330 bytes per record.
 */
export class TraceEventsWriter {
  private readonly w: AtomicWriter;
  private readonly pp: number;

  /**
   * Writes the opening and the metadata events of `replicas` × `pp` tracks into `w` (an open
   * temporary file, committed by its owner after {@link end}).
   * @param tracks replicas (≥ 1) and pipeline stages per replica (≥ 1).
   */
  constructor(w: AtomicWriter, tracks: { replicas: number; pp: number }) {
    this.w = w;
    this.pp = tracks.pp;
    const meta: string[] = [];
    const m = (name: string, pid: number, tid: number | undefined, args: object) =>
      meta.push(JSON.stringify({ name, ph: 'M', pid, ...(tid === undefined ? {} : { tid }), args }));
    for (let i = 0; i < tracks.replicas; i++) {
      m('process_name', i + 1, undefined, { name: `replica ${i}` });
      m('process_sort_index', i + 1, undefined, { sort_index: i });
      for (let v = 0; v < tracks.pp; v++) {
        const tid = i * tracks.pp + v + 1;
        m('thread_name', i + 1, tid, { name: tracks.pp > 1 ? `virtual engine ${v}` : 'batches' });
        m('thread_sort_index', i + 1, tid, { sort_index: v });
      }
    }
    w.write(`{"displayTimeUnit":"ms","traceEvents":[\n${meta.join(',\n')}`);
  }

  /** Appends one record's complete event. */
  add(r: IterationRecord): void {
    const tid = r.replica * this.pp + r.virtualEngine + 1;
    this.w.write(
      `,\n{"name":"${batchName(r)}","cat":"batch","ph":"X","ts":${r.start * US_PER_S},"dur":${(r.end - r.start) * US_PER_S},"pid":${r.replica + 1},"tid":${tid},` +
        `"args":{"batch_size":${r.batchSize},"prefill_seqs":${r.prefillSeqs},"prefill_tokens":${r.prefillTokens},"decode_seqs":${r.decodeSeqs},"steps":${r.steps},` +
        `"kv_blocks_used":${r.kvBlocksUsed},"kv_blocks":${r.kvBlocks},"kv_blocks_cached":${r.kvBlocksCached},"waiting":${r.waiting},"running":${r.running},"swapped":${r.swapped}}}`,
    );
  }

  /** Closes the array and the object (call once, after the last record). */
  end(): void {
    this.w.write('\n]}\n');
  }
}
