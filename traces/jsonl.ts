/**
 * Line-by-line JSONL reading shared by the Mooncake, program and TraceLab readers, from a
 * {@link TraceSource} (a file, gzip, standard input or a pipe).
 */
import type { Readable } from 'node:stream';
import { InputError } from '../sim/errors.ts';
import { MAX_LINE_CHARS, type TraceSource } from './source.ts';

/**
 * Calls `onLine` with each line of the text stream, in order, with its 1-based number: lines end
 * at `\n`, a `\r` before it is dropped (CRLF files), and the last line needs no `\n`. Lines are
 * split by hand (not node:readline) so that a line longer than `maxChars` is refused as soon as it
 * passes the limit, before it exhausts memory.
 * @returns the number of lines seen
 * @throws InputError (`file`, the line, field `line`) for a line longer than `maxChars`; whatever
 *   `onLine` throws; the stream's own errors, as they are
 */
export async function forEachLine(
  stream: Readable,
  file: string,
  onLine: (text: string, line: number) => void,
  maxChars = MAX_LINE_CHARS,
): Promise<number> {
  stream.setEncoding('utf8');
  let line = 0;
  // The unfinished last line, in pieces (joined once it ends, so a long line is not copied per chunk).
  let parts: string[] = [];
  let partChars = 0;
  const tooLong = () =>
    new InputError(`line longer than ${maxChars} characters; is this a trace? (JSONL needs one JSON object per line)`, {
      file,
      line: line + 1,
      field: 'line',
    });
  const emit = (text: string) => {
    line++;
    onLine(text.charCodeAt(text.length - 1) === 13 ? text.slice(0, -1) : text, line);
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let start = 0;
      let nl = chunk.indexOf('\n');
      if (nl < 0) {
        parts.push(chunk);
        partChars += chunk.length;
        if (partChars > maxChars) throw tooLong();
        continue;
      }
      if (parts.length > 0) {
        if (partChars + nl > maxChars) throw tooLong();
        parts.push(chunk.slice(0, nl));
        emit(parts.join(''));
        parts = [];
        partChars = 0;
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      while (nl >= 0) {
        if (nl - start > maxChars) throw tooLong();
        emit(chunk.slice(start, nl));
        start = nl + 1;
        nl = chunk.indexOf('\n', start);
      }
      if (start < chunk.length) {
        parts.push(chunk.slice(start));
        partChars = chunk.length - start;
        if (partChars > maxChars) throw tooLong();
      }
    }
  } finally {
    stream.destroy();
  }
  if (partChars > 0) emit(parts.join(''));
  return line;
}

/** A hint for a JSON parse error of a line, when its text suggests why. */
function parseHint(text: string, line: number): string {
  const t = text.trim();
  if (line === 1 && (t === '{' || t === '[')) return ' (a pretty-printed JSON document? JSONL needs one object per line)';
  if (text.includes('\r')) return ' (lines end in a bare CR: convert the line endings to LF)';
  return '';
}

/**
 * Reads the JSON value on each non-blank line of a source (a UTF-8 BOM on line 1 is ignored) and
 * calls `onValue` with it and its 1-based line number.
 * @returns the number of lines in the file (blank ones included)
 * @throws InputError naming the file and line for invalid JSON (field `json`) or a line too long
 *   (field `line`); `onValue`'s errors; stream errors as {@link TraceSource.readError} maps them
 */
export async function readJsonLines(source: TraceSource, onValue: (obj: unknown, line: number) => void): Promise<number> {
  const file = source.name;
  let at = 0;
  try {
    return await forEachLine(source.open(), file, (raw, line) => {
      at = line;
      const text = line === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
      if (text.trim() === '') return;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        throw new InputError(`invalid JSON: ${(e as Error).message}${parseHint(text, line)}`, { file, line, field: 'json' });
      }
      onValue(obj, line);
    });
  } catch (e) {
    throw source.readError(e, at);
  }
}

/**
 * The first non-blank line of a source (BOM removed) and its number, read whole however long
 * (up to the line limit); from `source.head` when it holds the whole line, else by streaming.
 * @returns undefined for a source with no non-blank line
 */
export async function firstJsonLine(source: TraceSource): Promise<{ text: string; line: number } | undefined> {
  // From the head: every line before its last newline is complete, and the last one too when the
  // head holds the whole content.
  const lines = source.head.split('\n');
  const complete = source.headIsAll ? lines.length : lines.length - 1;
  for (let i = 0; i < complete; i++) {
    const text = (i === 0 ? lines[i].replace(/^\uFEFF/, '') : lines[i]).replace(/\r$/, '');
    if (text.trim() !== '') return { text, line: i + 1 };
  }
  if (source.headIsAll) return undefined;
  let found: { text: string; line: number } | undefined;
  const stop = new Error('found');
  try {
    await forEachLine(source.open(), source.name, (raw, line) => {
      const text = line === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (text.trim() === '') return;
      found = { text, line };
      throw stop;
    });
  } catch (e) {
    if (e !== stop) throw source.readError(e);
  }
  return found;
}
