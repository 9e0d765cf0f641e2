/**
 * LLMServingSim's request traces (casys-kaist/LLMServingSim; Cho et al., "LLMServingSim",
 * IISWC 2024), read as the simulator's `serving/core/router.py` `load_requests` reads them
 * (repository snapshot 5daddb21, `workloads/README.md`):
 *
 * - **JSONL** (`workloads/*.jsonl`), one object per line, of two kinds that may be mixed:
 *   - a flat request `{"input_toks", "output_toks", "arrival_time_ns"}` (prompt tokens, output
 *     tokens, arrival in **nanoseconds**; optional `input_tok_ids`/`output_tok_ids`, the token ids
 *     LLMServingSim hashes for its prefix cache, are not read);
 *   - an agentic session `{"session_id", "arrival_time_ns", "sub_requests": [{"input_toks",
 *     "output_toks", "tool_duration_ns"}, ...]}`: a chain of calls, sub-request k + 1 submitted
 *     `tool_duration_ns` of sub-request k after k finishes. Read as a program (docs/programs.md)
 *     with call ids `0, 1, ...` and `delay_s` = the previous sub-request's `tool_duration_ns` / 1e9.
 * - **TSV** (the older `dataset/*.tsv`, e.g. `share-gpt-req100-rate10.tsv`): a header
 *   `input_toks<TAB>output_toks<TAB>arrival_time_ns` and one request per line.
 *
 * `output_toks` counts generated tokens only (the router adds the prompt to it internally), as our
 * output tokens do. Arrivals are integers of nanoseconds, split into whole seconds and nanoseconds
 * so they become exact relative seconds.
 */
import { InputError } from '../sim/errors.ts';
import type { Trace } from '../sim/trace.ts';
import { TraceBuilder } from './builder.ts';
import { describeJson, positiveTokenCount, type FieldPlace } from './fields.ts';
import { forEachLine, readJsonLines } from './jsonl.ts';
import { buildProgramTrace, type ProgramCall } from './programs.ts';
import { asTraceSource, type TraceSource } from './source.ts';

/** Columns of LLMServingSim's TSV request trace, in order. */
export const LLMSERVINGSIM_TSV_COLUMNS = ['input_toks', 'output_toks', 'arrival_time_ns'] as const;

/** What an LLMServingSim file must look like, for messages. */
export const LLMSERVINGSIM_EXPECTED =
  'LLMServingSim JSONL {"input_toks", "output_toks", "arrival_time_ns"} or sessions {"session_id", "arrival_time_ns", "sub_requests": [{"input_toks", "output_toks", "tool_duration_ns"}]}, or its TSV header input_toks<TAB>output_toks<TAB>arrival_time_ns';

const NS_PER_S = 1e9;

/**
 * Reads an integer number of nanoseconds: a JSON number (`where.json`) or a decimal string (TSV).
 * @param nonNegative refuse values below 0 (durations)
 * @throws InputError for a missing value, a JSON string, a non-integer, or a value beyond 2^53
 */
function nanoseconds(v: unknown, where: FieldPlace, nonNegative: boolean): number {
  let x: number;
  if (typeof v === 'string' && !where.json) {
    if (!/^-?[0-9]+$/.test(v.trim())) throw new InputError(`'${v.slice(0, 40)}' is not an integer number of nanoseconds`, where);
    x = Number(v.trim());
  } else if (typeof v === 'number') {
    x = v;
  } else if (v === undefined) {
    throw new InputError(`missing ${where.field} (integer nanoseconds)`, where);
  } else {
    throw new InputError(`must be a JSON number of nanoseconds, got ${describeJson(v)}`, where);
  }
  if (!Number.isSafeInteger(x)) throw new InputError(`${String(v)} is not an integer number of nanoseconds below 2^53`, where);
  if (nonNegative && x < 0) throw new InputError(`${x} ns is negative`, where);
  return x;
}

/** Pushes one flat request with its arrival in nanoseconds, split exactly into (s, ns). */
function pushNs(b: TraceBuilder, ns: number, prompt: number, output: number, line: number): void {
  const sec = Math.floor(ns / NS_PER_S);
  b.push(sec, ns - sec * NS_PER_S, prompt, output, line);
}

/** The checked object of a JSONL line, or an error naming the line. */
function objectOf(obj: unknown, file: string, line: number, what: string): Record<string, unknown> {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new InputError(`${what} must be a JSON object, got ${describeJson(obj)}`, { file, line, field: 'json' });
  }
  return obj as Record<string, unknown>;
}

/**
 * Reads an LLMServingSim JSONL trace (flat requests and agentic sessions, see the module comment).
 * @param file a path (`-` for standard input), or a source already opened
 * @returns with no session: a Trace of format 'llmservingsim', arrivals in seconds relative to the
 *   earliest; with sessions: a program trace (`programs` set), each flat request a one-call
 *   program `line<N>`, each session a chain program named by its `session_id`
 * @throws InputError (file, line, key) for invalid JSON, a non-object line, a missing or bad token
 *   count (a JSON number >= 1), a missing or non-integer `arrival_time_ns`, a `sub_requests` that is
 *   not a non-empty array of objects, a negative or non-integer `tool_duration_ns`, a
 *   `session_id` that is not a non-empty string or integer or is used twice, arrivals more than
 *   1e9 s apart, or a file with no requests
 */
export async function readLlmServingSimJsonl(file: string | TraceSource): Promise<Trace> {
  const source = await asTraceSource(file);
  const name = source.name;
  const b = new TraceBuilder();
  const calls: ProgramCall[] = [];
  const sessions = new Map<string, number>(); // session id -> line
  let lastLine = 0;
  await readJsonLines(source, (obj, line) => {
    lastLine = line;
    const r = objectOf(obj, name, line, 'each line');
    const at = (field: string): FieldPlace => ({ file: name, line, field, json: true });
    const ns = nanoseconds(r.arrival_time_ns, at('arrival_time_ns'), false);
    if (r.sub_requests === undefined) {
      const p = positiveTokenCount(r.input_toks, at('input_toks'), 'prompt');
      const o = positiveTokenCount(r.output_toks, at('output_toks'), 'output');
      pushNs(b, ns, p, o, line);
      calls.push({ program_id: `line${line}`, call_id: '0', parents: [], arrival_s: ns / NS_PER_S, prompt_tokens: p, output_tokens: o, line });
      return;
    }
    const sid = r.session_id === undefined ? `session@line${line}` : r.session_id;
    if (!((typeof sid === 'string' && sid !== '') || (typeof sid === 'number' && Number.isSafeInteger(sid)))) {
      throw new InputError(`session_id must be a non-empty string or an integer, got ${describeJson(sid)}`, at('session_id'));
    }
    const id = String(sid);
    const seen = sessions.get(id);
    if (seen !== undefined) throw new InputError(`session '${id}' was already given on line ${seen}`, at('session_id'));
    sessions.set(id, line);
    const subs = r.sub_requests;
    if (!Array.isArray(subs) || subs.length === 0) {
      throw new InputError(`session '${id}': sub_requests must be a non-empty array of calls, got ${Array.isArray(subs) ? 'an empty array' : describeJson(subs)}`, at('sub_requests'));
    }
    let delayNs = 0;
    for (let k = 0; k < subs.length; k++) {
      const field = `sub_requests[${k}]`;
      const s = objectOf(subs[k], name, line, `session '${id}': ${field}`);
      const p = positiveTokenCount(s.input_toks, at(`${field}.input_toks`), 'prompt');
      const o = positiveTokenCount(s.output_toks, at(`${field}.output_toks`), 'output');
      const call: ProgramCall = { program_id: id, call_id: String(k), parents: k === 0 ? [] : [String(k - 1)], prompt_tokens: p, output_tokens: o, line };
      if (k === 0) call.arrival_s = ns / NS_PER_S;
      else call.delay_s = delayNs / NS_PER_S;
      calls.push(call);
      delayNs = s.tool_duration_ns === undefined ? 0 : nanoseconds(s.tool_duration_ns, at(`${field}.tool_duration_ns`), true);
    }
  });
  if (sessions.size > 0) return buildProgramTrace(calls, name, name, 'llmservingsim');
  return b.finish(name, 'llmservingsim', name, Math.max(1, lastLine), 'arrival_time_ns');
}

/**
 * Reads LLMServingSim's TSV request trace: the header `input_toks<TAB>output_toks<TAB>arrival_time_ns`
 * (those three columns in any order; no other columns), then one request per line; blank lines
 * are skipped, a CR before the line end is dropped.
 * @param file a path (`-` for standard input), or a source already opened
 * @returns a Trace of format 'llmservingsim', arrivals in seconds relative to the earliest
 * @throws InputError (file, line, column) for a header other than the three columns, a line with
 *   another number of fields, a bad token count (a decimal integer >= 1), an arrival that is not an
 *   integer of nanoseconds, arrivals more than 1e9 s apart, or no data lines
 */
export async function readLlmServingSimTsv(file: string | TraceSource): Promise<Trace> {
  const source = await asTraceSource(file);
  const name = source.name;
  const b = new TraceBuilder();
  let header: string[] | undefined;
  let idx: number[] = [];
  let lastLine = 1;
  try {
    await forEachLine(source.open(), name, (raw, line) => {
      lastLine = line;
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') return;
      const rec = text.split('\t');
      if (header === undefined) {
        header = rec.map((s) => s.trim());
        const cols = LLMSERVINGSIM_TSV_COLUMNS as readonly string[];
        if (header.length !== cols.length || !cols.every((c) => header!.includes(c))) {
          throw new InputError(`TSV header '${header.join('<TAB>')}' is not LLMServingSim's; expected ${cols.join('<TAB>')}`, { file: name, line, field: 'header' });
        }
        idx = cols.map((c) => header!.indexOf(c));
        return;
      }
      if (rec.length !== header.length) {
        throw new InputError(`expected ${header.length} tab-separated fields (${header.join(', ')}), got ${rec.length}`, {
          file: name,
          line,
          field: rec.length < header.length ? header[rec.length] : `field ${header.length + 1} (no such column)`,
        });
      }
      const at = (k: number): FieldPlace => ({ file: name, line, field: LLMSERVINGSIM_TSV_COLUMNS[k] });
      const p = positiveTokenCount(rec[idx[0]].trim(), at(0), 'prompt');
      const o = positiveTokenCount(rec[idx[1]].trim(), at(1), 'output');
      pushNs(b, nanoseconds(rec[idx[2]], at(2), false), p, o, line);
    });
  } catch (e) {
    throw source.readError(e, lastLine);
  }
  if (header === undefined) throw new InputError('empty file: no header and no data rows', { file: name, line: 1 });
  return b.finish(name, 'llmservingsim', name, Math.max(2, lastLine), 'arrival_time_ns');
}
