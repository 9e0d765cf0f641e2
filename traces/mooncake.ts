/**
 * Mooncake JSONL traces (kvcache-ai/Mooncake; Mooncake, FAST'25).
 *
 * One JSON object per line: `timestamp` (milliseconds, relative to the trace start), `input_length`
 * (prompt tokens, >= 1), `output_length` (output tokens, >= 1) and `hash_ids` (optional array of
 * integer prefix-block hash ids, 512 tokens per block), kept per request as an Int32Array in
 * `hash_ids`. Blank lines are skipped; other keys are ignored.
 */
import { InputError } from '../sim/errors.ts';
import { TraceBuilder } from './builder.ts';
import { plainTimestamp, positiveTokenCount } from './fields.ts';
import type { Trace } from './trace.ts';
import { jsonLines } from './jsonl.ts';

const EMPTY_IDS = new Int32Array(0);

/** Converts a Mooncake `hash_ids` value to an Int32Array, or throws naming the line. */
function hashIds(v: unknown, file: string, line: number): Int32Array {
  if (v === undefined || v === null) return EMPTY_IDS;
  if (!Array.isArray(v)) {
    throw new InputError('hash_ids must be an array of integers', { file, line, field: 'hash_ids' });
  }
  const out = new Int32Array(v.length);
  for (let k = 0; k < v.length; k++) {
    const x: unknown = v[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
      throw new InputError(`hash_ids[${k}] = ${JSON.stringify(x)} is not a 32-bit integer`, {
        file,
        line,
        field: 'hash_ids',
      });
    }
    out[k] = x;
  }
  return out;
}

/**
 * Reads a Mooncake JSONL trace line by line (line 1 is the first line; there is no header).
 * @returns a Trace with format 'mooncake', arrivals in seconds relative to the earliest, and
 *   `hash_ids` (only when at least one row has `hash_ids`; rows without get an empty array)
 * @throws InputError for invalid JSON, a non-object line, a missing or non-numeric timestamp, a bad
 *   token count, bad hash ids, or a file with no rows
 */
export async function readMooncake(file: string): Promise<Trace> {
  const b = new TraceBuilder();
  const ids: Int32Array[] = [];
  let anyIds = false;
  let lastLine = 0;
  for await (const { obj, line } of jsonLines(file)) {
    lastLine = line;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new InputError('each line must be a JSON object', { file, line, field: 'json' });
    }
    const r = obj as Record<string, unknown>;
    if (r.timestamp === undefined) {
      throw new InputError('missing timestamp (ms)', { file, line, field: 'timestamp' });
    }
    const ms = plainTimestamp(r.timestamp, { file, line, field: 'timestamp' }, 'milliseconds');
    const p = positiveTokenCount(r.input_length, { file, line, field: 'input_length' }, 'prompt');
    const o = positiveTokenCount(r.output_length, { file, line, field: 'output_length' }, 'output');
    if (r.hash_ids !== undefined) anyIds = true;
    ids.push(hashIds(r.hash_ids, file, line));
    // Split into whole seconds + nanoseconds so integer milliseconds become exact seconds.
    const sec = Math.floor(ms / 1000);
    b.push(sec, (ms - sec * 1000) * 1e6, p, o);
  }
  if (anyIds) b.hashIds = ids;
  return b.finish(file, 'mooncake', file, Math.max(1, lastLine));
}
