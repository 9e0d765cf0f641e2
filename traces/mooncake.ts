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
import { describeJson, plainTimestamp, positiveTokenCount } from './fields.ts';
import type { Trace } from '../sim/trace.ts';
import { readJsonLines } from './jsonl.ts';
import { asTraceSource, type TraceSource } from './source.ts';

const EMPTY_IDS = new Int32Array(0);


/** Converts a Mooncake `hash_ids` value to an Int32Array, or throws naming the line. */
function hashIds(v: unknown, file: string, line: number): Int32Array {
  if (v === undefined || v === null) return EMPTY_IDS;
  if (!Array.isArray(v)) {
    throw new InputError(`hash_ids must be an array of integers, got ${describeJson(v)}`, { file, line, field: 'hash_ids' });
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
 * @param file  a path (`-` for standard input), or a source already opened
 * @returns a Trace with format 'mooncake', arrivals in seconds relative to the earliest, and
 *   `hash_ids` (only when at least one row has `hash_ids`; rows without get an empty array)
 * @throws InputError for invalid JSON, a non-object line, a missing timestamp or token count, a
 *   value of the wrong JSON type (a string where a number is needed), a bad token count, bad hash
 *   ids, timestamps more than 1e9 s (1e12 ms) apart, or a file with no rows
 */
export async function readMooncake(file: string | TraceSource): Promise<Trace> {
  const source = await asTraceSource(file);
  const name = source.name;
  const b = new TraceBuilder();
  const ids: Int32Array[] = [];
  let anyIds = false;
  let lastLine = 0;
  await readJsonLines(source, (obj, line) => {
    lastLine = line;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      throw new InputError(`each line must be a JSON object, got ${describeJson(obj)}`, { file: name, line, field: 'json' });
    }
    const r = obj as Record<string, unknown>;
    const ms = plainTimestamp(r.timestamp, { file: name, line, field: 'timestamp', json: true }, 'milliseconds');
    const p = positiveTokenCount(r.input_length, { file: name, line, field: 'input_length', json: true }, 'prompt');
    const o = positiveTokenCount(r.output_length, { file: name, line, field: 'output_length', json: true }, 'output');
    if (r.hash_ids !== undefined) anyIds = true;
    ids.push(hashIds(r.hash_ids, name, line));
    // Split into whole seconds + nanoseconds so integer milliseconds become exact seconds.
    const sec = Math.floor(ms / 1000);
    b.push(sec, (ms - sec * 1000) * 1e6, p, o, line);
  });
  if (anyIds) b.hashIds = ids;
  return b.finish(name, 'mooncake', name, Math.max(1, lastLine), 'timestamp');
}
