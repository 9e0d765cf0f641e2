/**
 * Program traces (agentic workloads): JSONL, one LLM call per line, read into a {@link Trace} with
 * `programs` set (Autellix, arXiv 2502.13965 §3: a program is a DAG of LLM calls). See
 * docs/programs.md for the format and every check.
 */
import { InputError } from '../sim/errors.ts';
import { describeJson, MAX_SPAN_S, MAX_SPAN_TEXT, positiveTokenCount, showSeconds, tokenCount } from './fields.ts';
import type { Trace, TraceFormat } from '../sim/trace.ts';
import { contextSegments, finishPrefix, rowSegments, segmentTokens, type RowSegments } from './prefix.ts';
import { firstJsonLine, readJsonLines } from './jsonl.ts';
import { asTraceSource, type TraceSource } from './source.ts';

/**
 * One call of a program trace, as in a line of the JSONL file. Times in seconds, lengths in tokens.
 */
export interface ProgramCall {
  /** Program (session) id. */
  program_id: string;
  /** Call id, unique within its program. */
  call_id: string;
  /** Call ids of the parents, in the same program; empty for a root. */
  parents: string[];
  /** Submission time of a root, seconds (absolute or relative; only differences matter). Roots only. */
  arrival_s?: number;
  /** Think/tool time after the last parent finishes, seconds (>= 0); absent means 0. Non-roots only. */
  delay_s?: number;
  /** Prompt tokens, >= 1. */
  prompt_tokens: number;
  /** Output tokens, >= 1. */
  output_tokens: number;
  /**
   * The parent (a call id among `parents`) whose whole context (its prompt, then its output) this
   * call's prompt begins with (optional); see docs/programs.md.
   */
  prefix_from?: string;
  /**
   * Only with `prefix_from`: the prompt begins with the first `prefix_tokens` tokens of that
   * context (all of it when shorter) rather than all of it (TraceLab's `prefix_tokens`; not a
   * field of the file format).
   */
  prefix_tokens?: number;
  /** 1-based line in the source file, for error messages (absent for generated calls). */
  line?: number;
}

/** Names a call in messages: `program 'P', call 'C'`. */
export function callName(program: string, call: string): string {
  return `program '${program}', call '${call}'`;
}

/** Reads an id (non-empty string, or an integer written as a number) or throws. */
function idValue(v: unknown, what: string, file: string, line: number, field: string, prefix: string): string {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  if (v === undefined) throw new InputError(`${prefix}missing ${what}`, { file, line, field });
  throw new InputError(`${prefix}${what} must be a non-empty string or an integer, got ${describeJson(v)}`, {
    file,
    line,
    field,
  });
}

/**
 * Checks one parsed JSONL object of the program format and returns it as a {@link ProgramCall}.
 * Unknown keys are ignored. The structural checks (parents, cycles, duplicates, roots) are done by
 * {@link buildProgramTrace}.
 * @param obj   the parsed JSON value of the line
 * @param file  file name, for errors
 * @param line  1-based line number, for errors
 * @throws InputError (file, line, field; the message names the program and the call when they
 *   could be read) for a non-object, a missing or bad `program_id`/`call_id`, a `parents` that is
 *   not an array of ids, an `arrival_s` that is not a finite JSON number, a `delay_s` that is not
 *   a JSON number in [0, 1e9] seconds, a token count that is missing, not a JSON number (a string
 *   is refused), non-integer, negative or (prompt/output) < 1, a `prefix_from` that is not an
 *   id, or a `cached_tokens` (no longer read: `prefix_from` replaced it)
 */
export function parseProgramCall(obj: unknown, file: string, line: number): ProgramCall {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new InputError(`each line must be a JSON object, got ${describeJson(obj)}`, { file, line, field: 'json' });
  }
  const r = obj as Record<string, unknown>;
  const program_id = idValue(r.program_id, 'program_id', file, line, 'program_id', '');
  const call_id = idValue(r.call_id, 'call_id', file, line, 'call_id', `program '${program_id}': `);
  const who = `${callName(program_id, call_id)}: `;
  const where = (field: string) => ({ file, line, field, json: true });
  let parents: string[] = [];
  if (r.parents !== undefined && r.parents !== null) {
    if (!Array.isArray(r.parents)) {
      throw new InputError(`${who}parents must be an array of call ids, got ${describeJson(r.parents)}`, where('parents'));
    }
    parents = r.parents.map((p: unknown) => idValue(p, 'each parent', file, line, 'parents', who));
  }
  const call: ProgramCall = {
    program_id,
    call_id,
    parents,
    prompt_tokens: 0,
    output_tokens: 0,
    line,
  };
  if (r.arrival_s !== undefined && r.arrival_s !== null) {
    if (typeof r.arrival_s !== 'number' || !Number.isFinite(r.arrival_s)) {
      throw new InputError(`${who}arrival_s must be a finite JSON number of seconds, got ${describeJson(r.arrival_s)}`, where('arrival_s'));
    }
    call.arrival_s = r.arrival_s;
  }
  if (r.delay_s !== undefined && r.delay_s !== null) {
    if (typeof r.delay_s !== 'number' || !Number.isFinite(r.delay_s) || r.delay_s < 0) {
      throw new InputError(`${who}delay_s must be a finite JSON number of seconds >= 0, got ${describeJson(r.delay_s)}`, where('delay_s'));
    }
    if (r.delay_s > MAX_SPAN_S) {
      throw new InputError(`${who}delay_s ${r.delay_s} s is beyond the limit of ${MAX_SPAN_TEXT}`, where('delay_s'));
    }
    call.delay_s = r.delay_s;
  }
  const tokens = <T>(f: () => T): T => {
    try {
      return f();
    } catch (e) {
      if (e instanceof InputError) {
        const msg = e.message.slice(e.message.lastIndexOf(`${e.field}: `) + `${e.field}: `.length);
        throw new InputError(`${who}${msg}`, where(e.field ?? 'tokens'));
      }
      throw e;
    }
  };
  if (r.prompt_tokens === undefined) throw new InputError(`${who}missing prompt_tokens`, where('prompt_tokens'));
  if (r.output_tokens === undefined) throw new InputError(`${who}missing output_tokens`, where('output_tokens'));
  call.prompt_tokens = tokens(() => positiveTokenCount(r.prompt_tokens, where('prompt_tokens'), 'prompt'));
  call.output_tokens = tokens(() => positiveTokenCount(r.output_tokens, where('output_tokens'), 'output'));
  if (r.cached_tokens !== undefined) {
    throw new InputError(`${who}cached_tokens is no longer read; give prefix_from (the parent whose context the prompt begins with, docs/programs.md)`, where('cached_tokens'));
  }
  if (r.prefix_from !== undefined && r.prefix_from !== null) {
    call.prefix_from = idValue(r.prefix_from, 'prefix_from', file, line, 'prefix_from', who);
  }
  return call;
}

/** One program of a program trace, its calls checked and ordered (see {@link buildProgramTrace}). */
interface Prog {
  id: string;
  order: number[]; // call indices (into `calls`), topological
  arrival: number;
  first: number; // order met in the file
  root: ProgramCall; // the root whose arrival_s is the program's
}

/** ` (line N)` for a call read from a file, else nothing. */
const at = (c: ProgramCall) => (c.line !== undefined ? ` (line ${c.line})` : '');

/**
 * Checks the calls of one program and orders them, for {@link buildProgramTrace} (a function of its
 * own, run once per program, so that it is compiled after a few programs rather than interpreted as
 * one long loop). Fills `localParents` for the program's calls.
 * @param members the program's call indices into `calls`, in file order
 * @param first   the program's rank in the file
 * @param err     makes the InputError for a call, a field and a message
 * @throws InputError as listed in {@link buildProgramTrace}, except the span of the arrivals
 */
function orderProgram(
  pid: string,
  members: number[],
  calls: ProgramCall[],
  localParents: (number[] | undefined)[],
  first: number,
  err: (c: ProgramCall, field: string, msg: string) => InputError,
): Prog {
  const index = new Map<string, number>();
  for (const i of members) {
    const c = calls[i];
    const prev = index.get(c.call_id);
    if (prev !== undefined) throw err(c, 'call_id', `duplicate call id in the program (first${at(calls[prev])})`);
    index.set(c.call_id, i);
  }
  let arrival: number | undefined;
  let arrivalCall: ProgramCall | undefined;
  for (const i of members) {
    const c = calls[i];
    const seen = new Set<string>();
    const ps: number[] = [];
    for (const p of c.parents) {
      if (seen.has(p)) throw err(c, 'parents', `parent '${p}' listed twice`);
      seen.add(p);
      const j = index.get(p);
      if (j === undefined) throw err(c, 'parents', `parent '${p}' is not a call of program '${pid}'`);
      ps.push(j);
    }
    localParents[i] = ps;
    if (c.delay_s !== undefined && !(c.delay_s <= MAX_SPAN_S)) {
      throw err(c, 'delay_s', `delay_s ${showSeconds(c.delay_s)} s is beyond the limit of ${MAX_SPAN_TEXT}`);
    }
    if (ps.length === 0) {
      if (c.arrival_s === undefined) throw err(c, 'arrival_s', 'a root call (no parents) needs arrival_s');
      if (c.delay_s !== undefined && c.delay_s !== 0) {
        throw err(c, 'delay_s', `a root call arrives at arrival_s; delay_s must be 0 or absent, got ${c.delay_s}`);
      }
      if (arrival === undefined) {
        arrival = c.arrival_s;
        arrivalCall = c;
      } else if (c.arrival_s !== arrival) {
        throw err(
          c,
          'arrival_s',
          `roots of one program must share arrival_s: ${c.arrival_s} here, ${arrival} at call '${arrivalCall!.call_id}'${at(arrivalCall!)}`,
        );
      }
    } else if (c.arrival_s !== undefined) {
      throw err(c, 'arrival_s', 'a call with parents has no arrival_s: it is submitted delay_s after its last parent finishes');
    }
  }
  // Topological order: Kahn's algorithm, always taking the ready call met first.
  const pending = new Map<number, number>();
  const children = new Map<number, number[]>();
  for (const i of members) {
    const ps = localParents[i]!;
    pending.set(i, ps.length);
    for (const j of ps) {
      const ch = children.get(j);
      if (ch === undefined) children.set(j, [i]);
      else ch.push(i);
    }
  }
  const ready: number[] = members.filter((i) => pending.get(i) === 0); // sorted ascending
  const order: number[] = [];
  while (ready.length > 0) {
    const i = ready.shift()!;
    order.push(i);
    for (const k of children.get(i) ?? []) {
      const left = pending.get(k)! - 1;
      pending.set(k, left);
      if (left === 0) {
        let lo = 0;
        let hi = ready.length;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (ready[mid] < k) lo = mid + 1;
          else hi = mid;
        }
        ready.splice(lo, 0, k);
      }
    }
  }
  if (order.length < members.length) {
    // Walk parent links among the unplaced calls until one repeats: that is a cycle.
    const placed = new Set(order);
    let i = members.find((m) => !placed.has(m))!;
    const path: number[] = [];
    const onPath = new Map<number, number>();
    while (!onPath.has(i)) {
      onPath.set(i, path.length);
      path.push(i);
      i = localParents[i]!.find((j) => !placed.has(j))!;
    }
    // Parent -> child order, starting at the call met first in the file (the one reported).
    const loop = path.slice(onPath.get(i)!).reverse();
    const start = loop.indexOf(Math.min(...loop));
    const cycle = [...loop.slice(start), ...loop.slice(0, start)];
    const names = [...cycle, cycle[0]].map((j) => `'${calls[j].call_id}'`).join(' -> ');
    throw err(calls[cycle[0]], 'parents', `cycle in the program's calls (parent -> child): ${names}`);
  }
  if (arrival === undefined) throw new Error('unreachable: a program without roots has a cycle');
  return { id: pid, order, arrival, first, root: arrivalCall! };
}

/**
 * The prefix segments of call `c` (request indices in own/output ids): its `prefix_from` parent's
 * context, whole (it must fit in the prompt) or cut to `prefix_tokens`; none without `prefix_from`.
 * Parents are placed before their children, so their segments in `rows` are done.
 */
function prefixOf(
  c: ProgramCall,
  parents: number[],
  calls: ProgramCall[],
  position: Int32Array,
  rows: RowSegments[],
  prompt: Int32Array,
  output: Int32Array,
  err: (c: ProgramCall, field: string, msg: string) => InputError,
): RowSegments {
  if (c.prefix_from === undefined) return [];
  const j = parents.find((k) => calls[k].call_id === c.prefix_from);
  if (j === undefined) throw err(c, 'prefix_from', `prefix_from '${c.prefix_from}' is not one of the call's parents`);
  const q = position[j];
  if (c.prefix_tokens === undefined && prompt[q] + output[q] > c.prompt_tokens) {
    throw err(
      c,
      'prefix_from',
      `prefix_from '${c.prefix_from}': its context of ${prompt[q] + output[q]} tokens (prompt ${prompt[q]} + output ${output[q]}) does not fit in prompt_tokens ${c.prompt_tokens}`,
    );
  }
  return contextSegments(rows[q], q, prompt[q], output[q], c.prefix_tokens);
}

/**
 * Builds a Trace with `programs` from calls, checking the DAG. Calls are ordered by their
 * program's arrival (ties: the program met first), then topologically within the program (among
 * the calls whose parents are all placed, the one met first); arrivals are made relative to the
 * earliest root (which becomes 0). A non-root's `arrival_s` holds its program's arrival.
 *
 * @param calls   the calls, in file order (their `line`s are used in errors)
 * @param file    file name (or a generator description) for errors
 * @param source  the Trace's `source`
 * @param format  the Trace's `format` (the TraceFormat union has no program entry: readers use
 *   'generic', generators 'synthetic')
 * @returns the Trace; `prefix` is set when any call has `prefix_from`: such a call's segments are
 *   its parent's context (contextSegments: the parent's segments, own rest, output), cut to
 *   `prefix_tokens` when given
 * @throws InputError (file, line, field; the message names the program and call) for no calls, a
 *   duplicate call id within a program, a parent listed twice, a parent that is not a call of the
 *   program, a root without `arrival_s`, a call with parents and an `arrival_s`, a root with a
 *   non-zero `delay_s`, roots of one program with different `arrival_s`, a cycle (the message
 *   lists it), a `delay_s` above 1e9 s, a `prefix_from` that is not one of the call's parents or
 *   (without `prefix_tokens`) whose context does not fit in the call's prompt, or a program arriving more than 1e9 s after the first
 *   (a difference that could overflow)
 */
export function buildProgramTrace(calls: ProgramCall[], file: string, source: string, format: TraceFormat): Trace {
  if (calls.length === 0) throw new InputError('no calls: the program trace is empty', { file, line: 1 });
  const byProgram = new Map<string, number[]>();
  for (let i = 0; i < calls.length; i++) {
    const list = byProgram.get(calls[i].program_id);
    if (list === undefined) byProgram.set(calls[i].program_id, [i]);
    else list.push(i);
  }
  const err = (c: ProgramCall, field: string, msg: string) =>
    new InputError(`${callName(c.program_id, c.call_id)}: ${msg}`, { file, line: c.line, field });
  const progs: Prog[] = [];
  const localParents: (number[] | undefined)[] = new Array(calls.length); // call index -> parent call indices
  for (const [pid, members] of byProgram) progs.push(orderProgram(pid, members, calls, localParents, progs.length, err));
  progs.sort((a, b) => a.arrival - b.arrival || a.first - b.first);
  const last = progs[progs.length - 1];
  const span = last.arrival - progs[0].arrival;
  if (!(span <= MAX_SPAN_S)) {
    throw err(
      last.root,
      'arrival_s',
      `this program arrives ${showSeconds(span)} s after the first one (call '${progs[0].root.call_id}'${at(progs[0].root)}); arrivals must lie within ${MAX_SPAN_TEXT} of the first`,
    );
  }

  const n = calls.length;
  const t0 = progs[0].arrival;
  const arrival_s = new Float64Array(n);
  const prompt_tokens = new Int32Array(n);
  const output_tokens = new Int32Array(n);
  const program = new Int32Array(n);
  const delay_s = new Float64Array(n);
  const parentStart = new Int32Array(n + 1);
  const anyPrefix = calls.some((c) => c.prefix_from !== undefined);
  const rows: RowSegments[] | undefined = anyPrefix ? new Array<RowSegments>(n) : undefined;
  const callIds: string[] = new Array<string>(n);
  const position = new Int32Array(n); // call index -> request index
  const parentList: number[] = [];
  let r = 0;
  for (let p = 0; p < progs.length; p++) {
    const rel = progs[p].arrival - t0;
    for (const i of progs[p].order) {
      const c = calls[i];
      position[i] = r;
      arrival_s[r] = rel;
      prompt_tokens[r] = c.prompt_tokens;
      output_tokens[r] = c.output_tokens;
      program[r] = p;
      delay_s[r] = c.parents.length === 0 ? 0 : (c.delay_s ?? 0);
      if (rows !== undefined) rows[r] = prefixOf(c, localParents[i]!, calls, position, rows, prompt_tokens, output_tokens, err);
      callIds[r] = c.call_id;
      for (const j of localParents[i]!) parentList.push(position[j]);
      parentStart[r + 1] = parentList.length;
      r++;
    }
  }
  return {
    source,
    format,
    n,
    arrival_s,
    prompt_tokens,
    output_tokens,
    extra: {},
    ...(rows !== undefined ? { prefix: finishPrefix(rows) } : {}),
    programs: {
      count: progs.length,
      program,
      programIds: progs.map((p) => p.id),
      callIds,
      parentStart,
      parents: Int32Array.from(parentList),
      delay_s,
    },
    skipped: {},
    warnings: [],
  };
}

/**
 * Reads a program JSONL trace (format in docs/programs.md) line by line; blank lines are skipped.
 * @param file  a path (`-` for standard input), or a source already opened
 * @returns a Trace with format 'generic' and `programs` set; arrivals in seconds relative to the
 *   first root, lengths in tokens
 * @throws InputError for invalid JSON and every check of {@link parseProgramCall} and
 *   {@link buildProgramTrace}, naming the file, the line, the program and the call
 */
export async function readPrograms(file: string | TraceSource): Promise<Trace> {
  const source = await asTraceSource(file);
  const calls: ProgramCall[] = [];
  await readJsonLines(source, (obj, line) => {
    calls.push(parseProgramCall(obj, source.name, line));
  });
  return buildProgramTrace(calls, source.name, source.name, 'generic');
}

/**
 * Writes calls as program JSONL text, one line per call, keys in the documented order
 * (`program_id, call_id, parents, arrival_s` (roots) `| delay_s` (others)`, prompt_tokens,
 * output_tokens[, prefix_from]`; `prefix_tokens` is not a field of the format and is not written). Numbers are written by JSON.stringify, so they read back
 * exactly.
 * @returns the text, ending with a newline (empty for no calls)
 */
export function formatProgramJsonl(calls: readonly ProgramCall[]): string {
  let s = '';
  for (const c of calls) {
    const o: Record<string, unknown> = { program_id: c.program_id, call_id: c.call_id, parents: c.parents };
    if (c.parents.length === 0) o.arrival_s = c.arrival_s;
    else o.delay_s = c.delay_s ?? 0;
    o.prompt_tokens = c.prompt_tokens;
    o.output_tokens = c.output_tokens;
    if (c.prefix_from !== undefined) o.prefix_from = c.prefix_from;
    s += JSON.stringify(o) + '\n';
  }
  return s;
}

/**
 * The calls of a Trace in program form, in trace order: with `programs`, its DAG; without, each
 * request as a one-call program `r<i>` with call `0`. Root arrivals are the trace's (relative)
 * arrivals in seconds. A call whose prefix segments are exactly one parent's whole context gets
 * that parent as `prefix_from`; other prefixes (a cut context, as TraceLab's) are not expressed.
 */
export function traceToProgramCalls(trace: Trace): ProgramCall[] {
  const out: ProgramCall[] = [];
  const pr = trace.programs;
  for (let i = 0; i < trace.n; i++) {
    if (pr === undefined) {
      out.push({
        program_id: `r${i}`,
        call_id: '0',
        parents: [],
        arrival_s: trace.arrival_s[i],
        prompt_tokens: trace.prompt_tokens[i],
        output_tokens: trace.output_tokens[i],
      });
      continue;
    }
    const parents: string[] = [];
    for (let k = pr.parentStart[i]; k < pr.parentStart[i + 1]; k++) parents.push(pr.callIds[pr.parents[k]]);
    const c: ProgramCall = {
      program_id: pr.programIds[pr.program[i]],
      call_id: pr.callIds[i],
      parents,
      prompt_tokens: trace.prompt_tokens[i],
      output_tokens: trace.output_tokens[i],
    };
    if (parents.length === 0) c.arrival_s = trace.arrival_s[i];
    else c.delay_s = pr.delay_s[i];
    const px = trace.prefix;
    if (px !== undefined && px.start[i + 1] > px.start[i]) {
      const mine = rowSegments(px, i);
      for (let k = pr.parentStart[i]; k < pr.parentStart[i + 1]; k++) {
        const q = pr.parents[k];
        const ctx = contextSegments(rowSegments(px, q), q, trace.prompt_tokens[q], trace.output_tokens[q]);
        if (ctx.length === mine.length && ctx.every((v, m) => v === mine[m]) && segmentTokens(ctx) === trace.prompt_tokens[q] + trace.output_tokens[q]) {
          c.prefix_from = pr.callIds[q];
          break;
        }
      }
    }
    out.push(c);
  }
  return out;
}

/** Which JSONL reader a file's first line asks for (see {@link detectJsonlKind}). */
export type JsonlKind = 'programs' | 'tracelab' | 'mooncake' | 'llmservingsim';

/** Keys that mark each JSONL format (see {@link jsonlKindOf}). */
export const JSONL_KEYS: Readonly<Record<JsonlKind, readonly string[]>> = {
  programs: ['program_id', 'call_id', 'parents', 'arrival_s', 'delay_s', 'prompt_tokens', 'prefix_from'],
  tracelab: ['session_id', 'round_index', 'input_tokens_total', 'prefix_tokens', 'timing_events', 'tools'],
  mooncake: ['timestamp', 'input_length', 'output_length', 'hash_ids'],
  llmservingsim: ['input_toks', 'output_toks', 'arrival_time_ns', 'input_tok_ids', 'sub_requests'],
};

/** What each JSONL format looks like, for the message about an unrecognised line. */
const JSONL_EXPECTED =
  'expected a Mooncake line {"timestamp", "input_length", "output_length"}, a program call {"program_id", "call_id", "parents", "arrival_s" or "delay_s", "prompt_tokens", "output_tokens"}, a TraceLab round {"session_id", "round_index", "input_tokens_total", "output_tokens", "timing_events"} or an LLMServingSim request {"input_toks", "output_toks", "arrival_time_ns"} or session {"session_id", "arrival_time_ns", "sub_requests"}';

/**
 * The JSONL format a parsed first line belongs to: the one that has the most of its marking keys
 * ({@link JSONL_KEYS}); a line with `program_id` is always a program call. A value that is not an
 * object goes to the Mooncake reader, which reports it.
 * @param file, line  named in the error
 * @throws InputError (field `json`) for an object with none of the keys, or as many of one
 *   format's as another's, listing the keys it has and what each format needs
 */
export function jsonlKindOf(obj: unknown, file: string, line: number): JsonlKind {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return 'mooncake';
  if ('program_id' in obj) return 'programs';
  const keys = Object.keys(obj);
  const score = (k: JsonlKind) => JSONL_KEYS[k].filter((key) => keys.includes(key)).length;
  const ranked = (['programs', 'tracelab', 'mooncake', 'llmservingsim'] as const).map((k) => ({ k, s: score(k) })).sort((a, b) => b.s - a.s);
  if (ranked[0].s > 0 && ranked[0].s > ranked[1].s) return ranked[0].k;
  const has = keys.length === 0 ? 'an empty object' : `keys ${keys.slice(0, 8).map((k) => JSON.stringify(k)).join(', ')}${keys.length > 8 ? ', ...' : ''}`;
  throw new InputError(`cannot tell the JSONL format from ${has}; ${JSONL_EXPECTED}`, { file, line, field: 'json' });
}

/**
 * Picks the JSONL reader from the keys of the first non-blank line (read whole, however long),
 * with {@link jsonlKindOf}. A first line that is not valid JSON goes to the Mooncake reader, which
 * reports it.
 * @param file  a path, or a source already opened
 * @throws InputError for a first line whose keys fit no format (see {@link jsonlKindOf}), and
 *   the errors of opening the source
 */
export async function detectJsonlKind(file: string | TraceSource): Promise<JsonlKind> {
  const source = await asTraceSource(file);
  const first = await firstJsonLine(source);
  if (first === undefined) return 'mooncake';
  let obj: unknown;
  try {
    obj = JSON.parse(first.text);
  } catch {
    return 'mooncake';
  }
  return jsonlKindOf(obj, source.name, first.line);
}
