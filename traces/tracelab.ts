/**
 * TraceLab `round_trace.jsonl` (uw-syfi/TraceLab, SyFI Lab, UW; sample in
 * ../shared/traces/round_trace.jsonl): one line per LLM call ("round") of coding-agent sessions,
 * read as program traces. See docs/programs.md, "TraceLab".
 */
import { InputError } from '../sim/errors.ts';
import { describeJson, MAX_SPAN_S, MAX_SPAN_TEXT, positiveTokenCount, tokenCount } from './fields.ts';
import { buildProgramTrace, callName, type ProgramCall } from './programs.ts';
import type { Trace } from '../sim/trace.ts';
import { readJsonLines } from './jsonl.ts';
import { asTraceSource, type TraceSource } from './source.ts';

/** Timing-event types that are inputs of a round (they arrive before the model answers). */
export const TRACELAB_INPUT_EVENTS: readonly string[] = ['user_message', 'tool_result'];

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/** One round as read, before it becomes a call. Times in epoch milliseconds. */
interface Round {
  session: string;
  index: number;
  line: number;
  prompt: number;
  output: number;
  cached: number;
  /** When the round has all its input (user message, tool results): its submission time. */
  ready_ms: number;
  /** Its last timing event: the end of its output. */
  end_ms: number;
  /** Latest result time of its tools (emitted_at + tool_wall_latency_ms), or −∞ without tools. */
  toolsDone_ms: number;
  /** Ready time from its own leading input events only, or NaN if it has none. */
  inputs_ms: number;
  first_ms: number;
}

/** Parses an ISO-8601 UTC timestamp to epoch ms, or throws naming the place. */
function isoMs(v: unknown, file: string, line: number, field: string, who: string): number {
  if (v === undefined) throw new InputError(`${who}missing timestamp; expected ISO-8601 like 2026-06-01T05:40:20.151Z`, { file, line, field });
  const ms = typeof v === 'string' && ISO.test(v) ? Date.parse(v) : NaN;
  if (!Number.isFinite(ms)) {
    throw new InputError(`${who}unparsable timestamp ${typeof v === 'string' ? JSON.stringify(v) : describeJson(v)}; expected ISO-8601 like 2026-06-01T05:40:20.151Z`, {
      file,
      line,
      field,
    });
  }
  return ms;
}

/** Reads one TraceLab line into a Round, or throws naming file, line, session and round. */
function parseRound(obj: unknown, file: string, line: number): Round {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new InputError(`each line must be a JSON object, got ${describeJson(obj)}`, { file, line, field: 'json' });
  }
  const r = obj as Record<string, unknown>;
  if (r.session_id === undefined) throw new InputError('missing session_id', { file, line, field: 'session_id' });
  if (typeof r.session_id !== 'string' || r.session_id === '') {
    throw new InputError(`session_id must be a non-empty string, got ${describeJson(r.session_id)}`, {
      file,
      line,
      field: 'session_id',
    });
  }
  const session = r.session_id;
  const index = r.round_index;
  if (index === undefined) throw new InputError(`program '${session}': missing round_index`, { file, line, field: 'round_index' });
  if (typeof index !== 'number' || !Number.isSafeInteger(index) || index < 0) {
    throw new InputError(`program '${session}': round_index must be a JSON integer >= 0, got ${describeJson(index)}`, {
      file,
      line,
      field: 'round_index',
    });
  }
  const who = `${callName(session, String(index))}: `;
  const where = (field: string) => ({ file, line, field, json: true });
  const wrap = <T>(f: () => T, field: string): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof InputError) {
        throw new InputError(`${who}${e.message.slice(e.message.lastIndexOf(`${field}: `) + field.length + 2)}`, where(field));
      }
      throw e;
    }
  };
  const prompt = wrap(() => positiveTokenCount(r.input_tokens_total, where('input_tokens_total'), 'prompt'), 'input_tokens_total');
  const output = wrap(() => positiveTokenCount(r.output_tokens, where('output_tokens'), 'output'), 'output_tokens');
  const cached =
    r.prefix_tokens === undefined || r.prefix_tokens === null
      ? 0
      : wrap(() => tokenCount(r.prefix_tokens, where('prefix_tokens')), 'prefix_tokens');
  if (cached > prompt) {
    throw new InputError(`${who}prefix_tokens ${cached} exceeds input_tokens_total ${prompt}`, where('prefix_tokens'));
  }
  const events = r.timing_events;
  if (events === undefined) throw new InputError(`${who}missing timing_events`, where('timing_events'));
  if (!Array.isArray(events) || events.length === 0) {
    throw new InputError(`${who}timing_events must be a non-empty array, got ${Array.isArray(events) ? 'an empty array' : describeJson(events)}`, where('timing_events'));
  }
  let first = Infinity;
  let end = -Infinity;
  let inputs = NaN;
  let leading = true;
  for (let k = 0; k < events.length; k++) {
    const e: unknown = events[k];
    if (typeof e !== 'object' || e === null) {
      throw new InputError(`${who}timing_events[${k}] must be an object, got ${describeJson(e)}`, where('timing_events'));
    }
    const ev = e as Record<string, unknown>;
    const t = isoMs(ev.timestamp, file, line, `timing_events[${k}].timestamp`, who);
    first = Math.min(first, t);
    end = Math.max(end, t);
    const isInput = typeof ev.event_type === 'string' && TRACELAB_INPUT_EVENTS.includes(ev.event_type);
    if (leading && isInput) inputs = Number.isNaN(inputs) ? t : Math.max(inputs, t);
    else leading = false;
  }
  let toolsDone = -Infinity;
  if (r.tools !== undefined && r.tools !== null) {
    if (!Array.isArray(r.tools)) throw new InputError(`${who}tools must be an array, got ${describeJson(r.tools)}`, where('tools'));
    for (let k = 0; k < r.tools.length; k++) {
      const tl = r.tools[k] as Record<string, unknown> | null;
      if (typeof tl !== 'object' || tl === null || Array.isArray(tl)) throw new InputError(`${who}tools[${k}] must be an object, got ${describeJson(tl)}`, where('tools'));
      const lat = tl.tool_wall_latency_ms;
      if (lat === undefined || lat === null) continue; // no result recorded
      if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < 0) {
        throw new InputError(`${who}tools[${k}].tool_wall_latency_ms must be a JSON number >= 0, got ${describeJson(lat)}`, where('tools'));
      }
      if (lat > MAX_SPAN_S * 1000) {
        throw new InputError(`${who}tools[${k}].tool_wall_latency_ms ${lat} is beyond the limit of ${MAX_SPAN_TEXT} (1e12 ms)`, where('tools'));
      }
      const emitted = isoMs(tl.emitted_at, file, line, `tools[${k}].emitted_at`, who);
      toolsDone = Math.max(toolsDone, emitted + lat);
    }
  }
  return {
    session,
    index,
    line,
    prompt,
    output,
    cached,
    ready_ms: NaN,
    end_ms: end,
    toolsDone_ms: toolsDone,
    inputs_ms: inputs,
    first_ms: first,
  };
}

/**
 * Reads a TraceLab `round_trace.jsonl` as a program trace: each session (`session_id`) is a
 * program and its rounds, in `round_index` order, a chain (each round's one parent is the previous
 * round; call id = the round index). Per round: `prompt_tokens` = `input_tokens_total`,
 * `output_tokens` = `output_tokens`. Prefix: a round with `prefix_tokens` P > 0 (null → 0) begins
 * with the previous round's context (its segments, the rest of its prompt, its output; see
 * contextSegments in traces/prefix.ts) cut to its first P tokens (all of it when shorter); a first
 * round's P gives no segments (nothing earlier in the session to share).
 *
 * Times (ISO-8601 timestamps, epoch ms, exact to the millisecond):
 * - end(r) = the latest timing event of round r (its last output event: text, tool call, usage
 *   report);
 * - ready(r) = the latest of round r's leading input events (`user_message`, `tool_result` before
 *   its first output event) and, for r > first, of the previous round's tool results
 *   (`emitted_at + tool_wall_latency_ms`); a round with neither is ready at its first event;
 * - the first round arrives at ready(first) (its user message); round r > first has
 *   `delay_s` = max(0, ready(r) − end(r − 1)) seconds: tool time past the end of the output plus
 *   user think time. A negative gap (ready before the previous round ended) is clamped to 0 and
 *   counted in a warning.
 *
 * @param file  path of the JSONL file
 * @returns a Trace with format 'generic', `programs`, `prefix` (when any round after a first one has
 *   `prefix_tokens` > 0) and `extra.model`
 * @throws InputError (file, line, field; naming the program and call) for invalid JSON, a missing
 *   session_id, a bad round_index, a duplicate round index in a session, a bad token count,
 *   prefix_tokens above input_tokens_total, missing or empty timing_events, an unparsable
 *   timestamp, a bad tool latency (or one above 1e12 ms), sessions or rounds more than 1e9 s
 *   apart (field `timing_events`), or an empty file
 * @param file  a path (`-` for standard input), or a source already opened
 */
export async function readTraceLab(file: string | TraceSource): Promise<Trace> {
  const source = await asTraceSource(file);
  file = source.name;
  const rounds: Round[] = [];
  const models: string[] = [];
  await readJsonLines(source, (obj, line) => {
    rounds.push(parseRound(obj, source.name, line));
    const m = (obj as Record<string, unknown>).model;
    models.push(typeof m === 'string' ? m : '');
  });
  if (rounds.length === 0) throw new InputError('no rounds: the TraceLab trace is empty', { file, line: 1 });

  const sessions = new Map<string, number[]>();
  for (let i = 0; i < rounds.length; i++) {
    const s = sessions.get(rounds[i].session);
    if (s === undefined) sessions.set(rounds[i].session, [i]);
    else s.push(i);
  }
  const calls: ProgramCall[] = [];
  const modelOf = new Map<string, string>();
  let clamped = 0;
  let gaps = 0;
  for (const [session, idx] of sessions) {
    idx.sort((a, b) => rounds[a].index - rounds[b].index);
    for (let k = 0; k < idx.length; k++) {
      const r = rounds[idx[k]];
      const prev = k > 0 ? rounds[idx[k - 1]] : undefined;
      if (prev !== undefined && prev.index === r.index) {
        throw new InputError(`${callName(session, String(r.index))}: duplicate round_index (first on line ${prev.line})`, {
          file,
          line: r.line,
          field: 'round_index',
        });
      }
      if (prev !== undefined && r.index !== prev.index + 1) gaps++;
      let ready = Number.isNaN(r.inputs_ms) ? -Infinity : r.inputs_ms;
      if (prev !== undefined) ready = Math.max(ready, prev.toolsDone_ms);
      if (ready === -Infinity) ready = r.first_ms;
      r.ready_ms = ready;
      const call: ProgramCall = {
        program_id: session,
        call_id: String(r.index),
        parents: prev === undefined ? [] : [String(prev.index)],
        prompt_tokens: r.prompt,
        output_tokens: r.output,
        line: r.line,
      };
      if (prev !== undefined && r.cached > 0) {
        call.prefix_from = String(prev.index);
        call.prefix_tokens = r.cached;
      }
      if (prev === undefined) call.arrival_s = ready; // epoch ms for now; made relative below
      else {
        const gap = (ready - prev.end_ms) / 1000;
        if (gap > MAX_SPAN_S) {
          throw new InputError(
            `${callName(session, String(r.index))}: ready ${gap} s after the previous round (line ${prev.line}) ended, beyond the limit of ${MAX_SPAN_TEXT}`,
            { file, line: r.line, field: 'timing_events' },
          );
        }
        if (gap < 0) clamped++;
        call.delay_s = Math.max(0, gap);
      }
      calls.push(call);
      modelOf.set(`${session}\u0000${r.index}`, models[idx[k]]);
    }
  }
  // Root arrivals relative to the earliest, in whole milliseconds before dividing (exact to the ms).
  let t0 = Infinity;
  let first: ProgramCall | undefined;
  for (const c of calls) {
    if (c.arrival_s !== undefined && c.arrival_s < t0) {
      t0 = c.arrival_s;
      first = c;
    }
  }
  for (const c of calls) {
    if (c.arrival_s !== undefined && (c.arrival_s - t0) / 1000 > MAX_SPAN_S) {
      throw new InputError(
        `${callName(c.program_id, c.call_id)}: this session starts ${(c.arrival_s - t0) / 1000} s after the first one (line ${first!.line}), beyond the limit of ${MAX_SPAN_TEXT}`,
        { file, line: c.line, field: 'timing_events' },
      );
    }
  }
  for (const c of calls) if (c.arrival_s !== undefined) c.arrival_s = (c.arrival_s - t0) / 1000;
  const trace = buildProgramTrace(calls, file, file, 'generic');
  const pr = trace.programs!;
  trace.extra.model = Array.from({ length: trace.n }, (_, i) => modelOf.get(`${pr.programIds[pr.program[i]]}\u0000${pr.callIds[i]}`) ?? '');
  if (clamped > 0) trace.warnings.push(`${clamped} round(s) were ready before the previous round ended; their delay_s was clamped to 0`);
  if (gaps > 0) trace.warnings.push(`${gaps} gap(s) in round_index; the rounds present were chained in order`);
  return trace;
}
