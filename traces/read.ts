/**
 * readTrace: reads a trace of any supported format into a {@link Trace}.
 *
 * Sources (traces/source.ts): a file, plain or gzip-compressed (detected by its magic bytes
 * whatever the extension), standard input (`-`), a FIFO, `/dev/stdin` or a process substitution.
 * Formats (see docs/traces.md): Azure CSV, BurstGPT CSV, generic CSV and Vidur's trace CSV,
 * detected by the header row; JSONL, detected by a `.jsonl` extension (after removing `.gz`) or a first non-blank
 * character `{`, then by the keys of its first line: program traces (`program_id`), TraceLab round
 * traces (`session_id`, `round_index`, ...), see docs/programs.md, Mooncake (`timestamp`,
 * `input_length`, ...) or LLMServingSim (`input_toks`, `arrival_time_ns`, `sub_requests`, ...);
 * LLMServingSim's TSV (a tab-separated first line); ShareGPT JSON (a first character `[` and a
 * first element with `conversations`). `opts.format` forces a format (`mooncake` forces the
 * Mooncake reader). Content in none of them is one error naming every format ({@link KNOWN_FORMATS}).
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkChoice, InputError } from '../sim/errors.ts';
import { azureFormat } from './azure.ts';
import { TraceBuilder } from './builder.ts';
import { burstgptFormat } from './burstgpt.ts';
import type { CsvFormat, CsvReadOptions, RowReader } from './csv-format.ts';
import { splitPlainCsv } from './csv-lines.ts';
import { genericFormat } from './generic.ts';
import { vidurFormat } from './vidur.ts';
import { readMooncake } from './mooncake.ts';
import { detectJsonlKind, readPrograms } from './programs.ts';
import { MAX_LINE_CHARS, openTraceSource, type TraceSource } from './source.ts';
import { readTraceLab } from './tracelab.ts';
import { LLMSERVINGSIM_EXPECTED, LLMSERVINGSIM_TSV_COLUMNS, readLlmServingSimJsonl, readLlmServingSimTsv } from './llmservingsim.ts';
import { readShareGpt, SHAREGPT_EXPECTED, type ShareGptMode } from './sharegpt.ts';
import { firstJsonArrayElement } from './json-array.ts';
import { TRACE_FORMATS, type Trace } from '../sim/trace.ts';

/** Options of {@link readTrace}. */
export interface ReadOptions {
  /** Force a format instead of detecting it (`--format`). */
  format?: 'azure' | 'burstgpt' | 'mooncake' | 'generic' | 'vidur';
  /** The stream read for the file `-` (default `process.stdin`). */
  stdin?: Readable;
  /**
   * Apply Vidur's `max_tokens` clipping (`--vidur-max-tokens`; traces/vidur.ts): only for a Vidur
   * trace, any other format is refused.
   */
  vidurMaxTokens?: number;
  /**
   * Mean arrival rate (req/s) for a ShareGPT file, which has no timestamps (`--rate`): Poisson
   * arrivals (traces/sharegpt.ts). Required for ShareGPT; other formats ignore it here (`sim run`
   * rescales their arrivals to it afterwards, traces/transform.ts).
   */
  rate?: number;
  /** Seed of a ShareGPT file's arrivals (`--seed`, default 1). */
  seed?: number | string;
  /** How a ShareGPT file becomes requests (`--sharegpt-mode`); any other format is refused with it. */
  sharegptMode?: ShareGptMode;
}

/** CSV formats, in detection order. */
const CSV_FORMATS: readonly CsvFormat[] = [azureFormat, burstgptFormat, genericFormat, vidurFormat];

/** The error for `--vidur-max-tokens` on a trace of another format. */
function notVidur(file: string, format: string): InputError {
  return new InputError(`applies to Vidur traces (header ${vidurFormat.expected}), not this ${format} trace ${file}`, { field: '--vidur-max-tokens' });
}

/** What every format expects, for the messages about a file that matches none. */
export const KNOWN_FORMATS =
  CSV_FORMATS.map((f) => `${f.name}: ${f.expected}`).join('; ') +
  '; JSONL (a .jsonl name or a first character {): mooncake {"timestamp", "input_length", "output_length", "hash_ids"}, program calls {"program_id", ...}, TraceLab rounds {"session_id", "round_index", ...} or ' +
  LLMSERVINGSIM_EXPECTED +
  '; ' +
  SHAREGPT_EXPECTED;

/** The error for content that matches no format, naming every format and what it expects. */
function unknownFormat(file: string, line: number, what: string, field = 'format'): InputError {
  return new InputError(`${what}; llmsched reads: ${KNOWN_FORMATS}`, { file, line, field });
}

/** The error for `--sharegpt-mode` on a trace of another format. */
function notShareGpt(file: string, format: string): InputError {
  return new InputError(`applies to ShareGPT JSON files, not this ${format} trace ${file}`, { field: '--sharegpt-mode' });
}

/** Picks the CSV format for a header row (trimmed names), or throws an InputError on line 1. */
function csvFormatFor(header: string[], file: string, forced: string | undefined): CsvFormat {
  const seen = new Set<string>();
  for (const name of header) {
    if (name !== '' && seen.has(name)) {
      throw new InputError(`duplicate column '${name}' in header`, { file, line: 1, field: name });
    }
    seen.add(name);
  }
  if (forced !== undefined) {
    const f = CSV_FORMATS.find((c) => c.name === forced)!;
    if (!f.matches(header)) {
      throw new InputError(`header '${header.join(',')}' does not match format '${forced}': expected ${f.expected}`, {
        file,
        line: 1,
        field: 'header',
      });
    }
    return f;
  }
  const f = CSV_FORMATS.find((c) => c.matches(header));
  if (f === undefined) {
    throw unknownFormat(file, 1, `unknown header '${header.join(',')}'`, 'header');
  }
  return f;
}

/** Number of line breaks inside the fields of a record (quoted fields may span lines). */
function innerLineBreaks(rec: string[]): number {
  let k = 0;
  for (const f of rec) {
    for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) k++;
  }
  return k;
}

/**
 * Turns the records of a CSV trace, in order with their lines, into a trace: the first non-blank
 * record is the header, which picks the format; every later one is a row, read into typed arrays
 * by the format's row reader. Shared by both ways of splitting the text into records.
 */
class CsvRecords {
  readonly b = new TraceBuilder();
  header: string[] = [];
  format: CsvFormat | undefined;
  private read: RowReader | undefined;
  private readonly file: string;
  private readonly forced: string | undefined;
  private readonly opts: CsvReadOptions;

  /**
   * @param file   the trace, named in errors
   * @param forced the CSV format forced with `--format`, if any
   * @param opts   reading options for the formats that take them
   * @throws InputError (field `--vidur-max-tokens`) when that option meets a format other than Vidur's
   */
  constructor(file: string, forced: string | undefined, opts: CsvReadOptions) {
    this.file = file;
    this.forced = forced;
    this.opts = opts;
  }

  /**
   * Reads one record found on `line` (1-based, the header's line counted).
   * @throws InputError (file, line, column) for a bad header, a wrong number of fields or a bad field
   */
  record(rec: string[], line: number): void {
    if (rec.length === 1 && rec[0].trim() === '') return; // blank line
    const { file, header } = this;
    if (this.read === undefined) {
      this.header = rec.map((s) => s.trim());
      this.format = csvFormatFor(this.header, file, this.forced);
      if (this.opts.vidurMaxTokens !== undefined && this.format.name !== 'vidur') throw notVidur(file, this.format.name);
      this.read = this.format.bind(this.header, file, this.b, this.opts);
      return;
    }
    if (rec.length !== header.length) {
      const field = rec.length < header.length ? header[rec.length] : `field ${header.length + 1} (no such column)`;
      throw new InputError(`expected ${header.length} fields (${header.join(',')}), got ${rec.length}`, {
        file,
        line,
        field,
      });
    }
    this.read(rec, line, this.b);
  }

  /**
   * The trace read (see TraceBuilder.finish).
   * @throws InputError for a file without a header, no rows kept, or arrivals spanning too long
   */
  finish(): Trace {
    const { file, format } = this;
    if (format === undefined) throw new InputError('empty file: no header and no data rows', { file, line: 1 });
    this.read?.done?.();
    return this.b.finish(file, format.name, file, 2, format.arrivalField);
  }
}

/**
 * Reads a CSV trace: by hand when its text is plain (no quotes; traces/csv-lines.ts), else through
 * csv-parse from the start. Any error met on the fast path is also left to csv-parse's reading,
 * which reports it: the messages (which error comes first, csv-parse's own text, the line a read
 * error comes after) are then those of one reader whatever the path.
 */
async function readCsv(source: TraceSource, forced: string | undefined, opts: CsvReadOptions): Promise<Trace> {
  let rows: CsvRecords | undefined = new CsvRecords(source.name, forced, opts);
  try {
    const stream = source.open();
    stream.setEncoding('utf8');
    try {
      if (!(await splitPlainCsv(stream as AsyncIterable<string>, (rec, line) => rows!.record(rec, line)))) rows = undefined;
    } finally {
      stream.destroy();
    }
  } catch {
    rows = undefined;
  }
  return (rows ?? (await parseCsv(source, forced, opts))).finish();
}

/**
 * Streams a CSV trace through csv-parse (loaded on first use), record by record. Records come out
 * as plain string arrays (csv-parse's per-record `info` objects cost about as much as the parse
 * itself), so line numbers are counted here: a blank line comes out as `['']` and a quoted field
 * may hold line breaks.
 */
async function parseCsv(source: TraceSource, forced: string | undefined, opts: CsvReadOptions): Promise<CsvRecords> {
  const { CsvError, parse } = await import('csv-parse');
  const file = source.name;
  const rows = new CsvRecords(file, forced, opts);
  let nextLine = 1; // line on which the next record starts
  // An error thrown by `consume` may reach the pipeline's caller as an AbortError (the streams are
  // torn down on the way), so it is kept here and rethrown as is.
  let failure: unknown;
  const consume = async (records: AsyncIterable<string[]>): Promise<void> => {
    try {
      for await (const rec of records) {
        const line = nextLine;
        nextLine += 1 + innerLineBreaks(rec);
        rows.record(rec, line);
      }
    } catch (e) {
      failure = e;
      throw e;
    }
  };
  try {
    await pipeline(source.open(), parse({ bom: true, relax_column_count: true, max_record_size: MAX_LINE_CHARS }), consume);
  } catch (caught) {
    const e = failure ?? caught;
    if (e instanceof InputError) throw e;
    if (e instanceof CsvError && rows.format === undefined) {
      // Not even a header could be read: the file is not CSV, whatever else it is.
      throw unknownFormat(file, typeof e.lines === 'number' ? e.lines : 1, `not a trace in any known format (malformed CSV header: ${e.message.replace(/^[^:]*: /, '')})`);
    }
    if (e instanceof CsvError) {
      const line = typeof e.lines === 'number' ? e.lines : nextLine;
      const col = typeof e.column === 'number' ? rows.header[e.column] : undefined;
      if (e.code === 'CSV_MAX_RECORD_SIZE') {
        throw new InputError(`a record longer than ${MAX_LINE_CHARS} characters; is this a trace?`, { file, line, field: 'csv' });
      }
      const message = e.message.replace(/^[^:]*: /, '');
      throw new InputError(`malformed CSV (${e.code}): ${message}`, {
        file,
        line,
        field: col ?? (typeof e.column === 'string' ? e.column : 'csv'),
      });
    }
    throw source.readError(e, nextLine - 1);
  }
  return rows;
}

/**
 * Streams a trace into a {@link Trace}: CSV split by hand when it has no quotes (else through
 * csv-parse, which also reports every CSV error), JSONL line by line.
 *
 * Source: a path, or `-` for standard input (named `stdin` in messages); gzip content (magic bytes
 * 1f 8b) is decompressed on the fly whatever the extension; standard input, FIFOs and character
 * devices are buffered once in memory (see traces/source.ts).
 *
 * Detection (unless `opts.format` forces one): JSONL when the extension (without `.gz`) is
 * `.jsonl` or the first non-blank character is `{` (then the keys of the first line pick the
 * reader, see {@link detectJsonlKind}); otherwise CSV, whose format is chosen by its exact header
 * row (Azure `TIMESTAMP,ContextTokens,GeneratedTokens`; BurstGPT
 * `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`; generic: contains
 * `arrival_s,prompt_tokens,output_tokens`; Vidur: contains `arrived_at,num_prefill_tokens,num_decode_tokens`).
 * `opts.vidurMaxTokens` applies Vidur's `max_tokens` clipping to a Vidur trace (traces/vidur.ts).
 *
 * Rows are sorted stably by arrival if needed (with a warning in `warnings` counting the rows that
 * were out of order) and arrivals are made relative to the first, which is exactly 0. Units:
 * seconds for arrivals, tokens for lengths.
 *
 * @param file  path of the trace file, or `-` for standard input
 * @throws InputError (with file, 1-based line counting the header, and column) for a missing or
 *   unreadable file, a directory, compressed (other than gzip) or binary content, corrupt gzip,
 *   an empty trace, a JSON array, an unknown or mismatching header, a wrong number of fields, a
 *   bad token count (non-decimal, negative, non-integer, or < 1; BurstGPT's 0 response tokens
 *   mark a failed request, skipped and counted in `skipped.failed`), an unparsable timestamp,
 *   arrivals spanning more than 1e9 s, a line over 64 Mi characters, malformed CSV or JSON;
 *   `vidurMaxTokens` with a trace that is not Vidur's (field `--vidur-max-tokens`), or a Vidur row
 *   whose output alone reaches it; content in no known format (an unknown CSV or TSV header,
 *   text whose first CSV record cannot be split, a JSON array that is not ShareGPT: the message
 *   lists {@link KNOWN_FORMATS}); a ShareGPT file without `opts.rate` (field `--rate`), or
 *   `opts.sharegptMode` with any other format (field `--sharegpt-mode`); and the errors of the
 *   LLMServingSim and ShareGPT readers (traces/llmservingsim.ts, traces/sharegpt.ts)
 */
export async function readTrace(file: string, opts: ReadOptions = {}): Promise<Trace> {
  const forced = opts.format === undefined ? undefined : checkChoice('--format', opts.format, TRACE_FORMATS);
  const source = await openTraceSource(file, { stdin: opts.stdin });
  const first = source.head.replace(/^\uFEFF/, '').trimStart().charAt(0);
  const jsonl = forced !== undefined ? forced === 'mooncake' : source.extension === '.jsonl' || first === '{';
  const name = source.name;
  if (first === '[' && forced === undefined) {
    const el = await firstJsonArrayElement(source);
    if (el !== undefined && (typeof el.value !== 'object' || el.value === null || !('conversations' in el.value))) {
      throw unknownFormat(name, el.line, "a JSON array; JSONL traces have one JSON object per line (convert with 'jq -c .[]'), and its first element is no ShareGPT conversation (no \"conversations\" key)", 'json');
    }
    if (opts.vidurMaxTokens !== undefined) throw notVidur(name, 'ShareGPT');
    return readShareGpt(source, { rate: opts.rate, seed: opts.seed, mode: opts.sharegptMode });
  }
  if (opts.sharegptMode !== undefined) throw notShareGpt(name, jsonl ? 'JSONL' : 'CSV');
  if (!jsonl) {
    const firstLine = source.head.replace(/^\uFEFF/, '').trimStart().split('\n', 1)[0].replace(/\r$/, '');
    if (forced === undefined && firstLine.includes('\t') && !firstLine.includes(',')) {
      const cols = firstLine.split('\t').map((c) => c.trim());
      if (!LLMSERVINGSIM_TSV_COLUMNS.every((c) => cols.includes(c))) {
        throw unknownFormat(name, 1, `unknown tab-separated header '${cols.join('<TAB>')}'`, 'header');
      }
      if (opts.vidurMaxTokens !== undefined) throw notVidur(name, 'LLMServingSim TSV');
      return readLlmServingSimTsv(source);
    }
    return readCsv(source, forced, { vidurMaxTokens: opts.vidurMaxTokens });
  }
  if (opts.vidurMaxTokens !== undefined) throw notVidur(name, 'JSONL');
  if (forced === 'mooncake') return readMooncake(source);
  const kind = await detectJsonlKind(source);
  if (kind === 'llmservingsim') return readLlmServingSimJsonl(source);
  return kind === 'programs' ? readPrograms(source) : kind === 'tracelab' ? readTraceLab(source) : readMooncake(source);
}
