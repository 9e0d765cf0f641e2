/**
 * Mooncake JSONL traces (kvcache-ai/Mooncake; Mooncake, FAST'25).
 *
 * One JSON object per line: `timestamp` (milliseconds, relative to the trace start), `input_length`
 * (prompt tokens, >= 1), `output_length` (output tokens, >= 1) and `hash_ids` (optional array of
 * integer prefix-block hash ids >= 0, one per {@link MOONCAKE_BLOCK_TOKENS}-token block of the
 * prompt), kept as the trace's prefix segments: id k names prompt tokens [512k, min(512(k+1),
 * prompt)). Blank lines are skipped; other keys are ignored.
 */
import { InputError } from '../sim/errors.ts';
import { TraceBuilder } from './builder.ts';
import { describeJson, plainTimestamp, positiveTokenCount } from './fields.ts';
import type { Trace } from '../sim/trace.ts';
import type { RowSegments } from './prefix.ts';
import { readJsonLines } from './jsonl.ts';
import { asTraceSource, type TraceSource } from './source.ts';

/** Tokens per Mooncake hash id: each id names one block of this many prompt tokens (the last may be shorter). */
export const MOONCAKE_BLOCK_TOKENS = 512;

const NO_SEGMENTS: RowSegments = [];

/**
 * Converts a Mooncake `hash_ids` value to prefix segments (id, tokens) for a prompt of `prompt`
 * tokens, or throws naming the line.
 */
function hashIdSegments(v: unknown, prompt: number, file: string, line: number): RowSegments {
  if (v === undefined || v === null) return NO_SEGMENTS;
  if (!Array.isArray(v)) {
    throw new InputError(`hash_ids must be an array of integers, got ${describeJson(v)}`, { file, line, field: 'hash_ids' });
  }
  const B = MOONCAKE_BLOCK_TOKENS;
  const out: RowSegments = [];
  for (let k = 0; k < v.length; k++) {
    const x: unknown = v[k];
    if (typeof x !== 'number' || !Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
      throw new InputError(`hash_ids[${k}] = ${JSON.stringify(x)} is not a 32-bit integer`, {
        file,
        line,
        field: 'hash_ids',
      });
    }
    if (x < 0) throw new InputError(`hash_ids[${k}] = ${x} is negative; hash ids must be >= 0`, { file, line, field: 'hash_ids' });
    out.push(x, Math.min(B, prompt - B * k));
  }
  if (v.length > 0 && B * (v.length - 1) >= prompt) {
    throw new InputError(
      `hash_ids cover ${B * (v.length - 1) + 1} or more tokens (${v.length} blocks of ${B}), more than the prompt's ${prompt}`,
      { file, line, field: 'hash_ids' },
    );
  }
  return out;
}

/**
 * Reads a Mooncake JSONL trace line by line (line 1 is the first line; there is no header).
 * @param file  a path (`-` for standard input), or a source already opened
 * @returns a Trace with format 'mooncake', arrivals in seconds relative to the earliest, and
 *   `prefix` (only when at least one row has `hash_ids`; rows without get no segments)
 * @throws InputError for invalid JSON, a non-object line, a missing timestamp or token count, a
 *   value of the wrong JSON type (a string where a number is needed), a bad token count, bad hash
 *   ids (not an array of 32-bit integers, a negative id, more blocks than the prompt has), timestamps more than 1e9 s (1e12 ms) apart, or a file with no rows
 */
export async function readMooncake(file: string | TraceSource): Promise<Trace> {
  const source = await asTraceSource(file);
  const name = source.name;
  const b = new TraceBuilder();
  const segs: RowSegments[] = [];
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
    segs.push(hashIdSegments(r.hash_ids, p, name, line));
    // Split into whole seconds + nanoseconds so integer milliseconds become exact seconds.
    const sec = Math.floor(ms / 1000);
    b.push(sec, (ms - sec * 1000) * 1e6, p, o, line);
  });
  if (anyIds) b.prefix = segs;
  return b.finish(name, 'mooncake', name, Math.max(1, lastLine), 'timestamp');
}
