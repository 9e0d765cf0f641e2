/**
 * Streaming reading of a JSON document that is one top-level array (ShareGPT's
 * `[{...}, {...}]`), element by element, so a file larger than one JavaScript string (ShareGPT V3
 * is about 640 MB) is read without holding its text, and each element is named by the line it
 * starts on.
 */
import { InputError } from '../sim/errors.ts';
import { MAX_LINE_CHARS, type TraceSource } from './source.ts';

/**
 * Calls `onElement` with each element of the top-level JSON array in `source` (parsed with
 * JSON.parse), its 0-based index and the 1-based line its first character is on. The text is
 * scanned once, tracking strings (with escapes) and bracket depth, and each element's text is cut
 * at its top-level comma or the closing `]`.
 *
 * @param maxElementChars longest element text accepted (default {@link MAX_LINE_CHARS})
 * @returns the number of elements
 * @throws InputError (file, line; field `json`) for content that does not start with `[`, an
 *   element that is not valid JSON, an element longer than `maxElementChars`, text after the
 *   closing `]`, or an array that is not closed; `onElement`'s errors; read errors as
 *   {@link TraceSource.readError} maps them
 */
export async function forEachJsonArrayElement(
  source: TraceSource,
  onElement: (value: unknown, index: number, line: number) => void,
  maxElementChars = MAX_LINE_CHARS,
): Promise<number> {
  const file = source.name;
  const stream = source.open();
  stream.setEncoding('utf8');
  let line = 1;
  // 0: before '['; 1: inside the array, between elements; 2: after ']'.
  let phase = 0;
  const open: number[] = []; // closing brackets expected inside the current element, innermost last
  let inString = false;
  let escaped = false;
  let parts: string[] = []; // the current element's text, in pieces
  let partChars = 0;
  let elementLine = 0; // 0: no element started
  let count = 0;
  const bad = (msg: string, at = line) => new InputError(msg, { file, line: at, field: 'json' });
  const finishElement = () => {
    const text = parts.join('').trim();
    parts = [];
    partChars = 0;
    if (text === '') throw bad(count === 0 ? 'an empty element in the array' : `an empty element after element ${count - 1} (a trailing comma?)`, elementLine || line);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (e) {
      throw bad(`element ${count} of the JSON array is not valid JSON: ${(e as Error).message}`, elementLine);
    }
    onElement(value, count, elementLine);
    count++;
    elementLine = 0;
  };
  try {
    for await (const chunk of stream as AsyncIterable<string>) {
      let start = 0; // start of the piece of this chunk that belongs to the current element
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk.charCodeAt(i);
        if (c === 10) line++;
        if (phase === 0) {
          if (c === 0xfeff || c === 32 || c === 9 || c === 10 || c === 13) continue;
          if (c !== 91 /* [ */) throw bad('a JSON array was expected (the first character is not [)');
          phase = 1;
          start = i + 1;
          continue;
        }
        if (phase === 2) {
          if (c === 32 || c === 9 || c === 10 || c === 13) continue;
          throw bad('text after the closing ] of the JSON array');
        }
        if (inString) {
          if (escaped) escaped = false;
          else if (c === 92 /* \ */) escaped = true;
          else if (c === 34 /* " */) inString = false;
          continue;
        }
        if (elementLine === 0 && c !== 32 && c !== 9 && c !== 10 && c !== 13 && c !== 44 && c !== 93) elementLine = line;
        if (c === 34) inString = true;
        else if (c === 123 /* { */ || c === 91 /* [ */) open.push(c + 2);
        else if ((c === 125 || c === 93) && open.length > 0) {
          const want = open.pop();
          if (c !== want) throw bad(`element ${count} of the JSON array is not valid JSON: '${String.fromCharCode(c)}' where '${String.fromCharCode(want!)}' closes an open bracket`);
        } else if (c === 125) throw bad(`element ${count} of the JSON array is not valid JSON: an unmatched '}'`);
        else if (open.length === 0 && (c === 44 /* , */ || c === 93 /* ] */)) {
          parts.push(chunk.slice(start, i));
          if (c === 44 || elementLine !== 0 || count > 0) finishElement();
          else {
            parts = [];
            partChars = 0;
          }
          start = i + 1;
          if (c === 93) phase = 2;
        }
      }
      if (phase === 1 && start < chunk.length) {
        parts.push(chunk.slice(start));
        partChars += chunk.length - start;
        if (partChars > maxElementChars) throw bad(`element ${count} of the JSON array is longer than ${maxElementChars} characters`, elementLine || line);
      }
    }
  } catch (e) {
    throw source.readError(e, line);
  } finally {
    stream.destroy();
  }
  if (phase === 0) throw bad('empty file: a JSON array was expected', 1);
  if (phase === 1) throw bad('the JSON array is not closed (no final ]): a truncated file?');
  return count;
}

/** Thrown to stop the scan after the first element (an InputError, so read errors pass it through). */
class Stop extends InputError {}

/**
 * The first element of the top-level JSON array in `source` and the line it starts on, read by
 * {@link forEachJsonArrayElement} (which stops there); undefined for an empty array.
 * @throws InputError as {@link forEachJsonArrayElement} does for what comes before the first
 *   element's end
 */
export async function firstJsonArrayElement(source: TraceSource): Promise<{ value: unknown; line: number } | undefined> {
  let found: { value: unknown; line: number } | undefined;
  const stop = new Stop('first element read');
  try {
    await forEachJsonArrayElement(source, (value, _index, line) => {
      found = { value, line };
      throw stop;
    });
  } catch (e) {
    if (e !== stop) throw e;
  }
  return found;
}
