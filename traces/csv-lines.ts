/**
 * The fast path of the CSV reader: splits the decoded text of a CSV trace into records by hand
 * when the text is plain (no quotes), the common case for traces, and gives up as soon as it is
 * not, so that csv-parse (traces/read.ts) reads the file instead, from its start.
 *
 * For plain text the records are exactly those csv-parse gives with the options the reader uses
 * (`bom: true`, `relax_column_count`, no trimming, no comments, record delimiter discovered from
 * the first line break): a UTF-8 byte-order mark at the start is dropped; the record delimiter is
 * `\r\n` when the first line break is `\r\n` and `\n` when it is `\n`; fields are split at every
 * `,`; a blank line is the record `['']`; an empty last line (the text ends with the delimiter)
 * is no record. Anything else is left to csv-parse: a `"` anywhere (quoted fields, or a stray
 * quote csv-parse reports), a first line break that is a bare `\r` (old Mac text), a `\n` without
 * its `\r` in a `\r\n` file (csv-parse keeps it inside a field), a line of more than
 * {@link PLAIN_LINE_MAX_CHARS} characters (csv-parse's own record limit then applies), and U+FFFD
 * (invalid UTF-8: csv-parse decodes field by field, which may replace bytes differently).
 */

/**
 * Longest line the fast path splits, in characters: 16 Mi, at most 48 MiB of UTF-8, so within
 * csv-parse's record limit of 64 Mi; a longer one goes to csv-parse, which applies that limit.
 */
export const PLAIN_LINE_MAX_CHARS = 16 * 1024 * 1024;

/** Receives one record (its fields, unquoted text) and its 1-based line. */
export type RecordSink = (fields: string[], line: number) => void;

const CR = 13;

/**
 * Splits plain CSV text, given as a stream of decoded chunks, into records, calling `onRecord`
 * with each record and its 1-based line in order (line 1 is the first line, a BOM dropped).
 * @param chunks the decoded text (e.g. a Readable with `setEncoding('utf8')`), read to its end
 *   unless the text turns out not to be plain
 * @returns true when every record was passed on; false as soon as the text is not plain (see the
 *   module comment), after passing on only records that csv-parse would give the same
 * @throws whatever `onRecord` or the stream throws, as it is
 */
export async function splitPlainCsv(chunks: AsyncIterable<string>, onRecord: RecordSink): Promise<boolean> {
  let line = 0;
  let delimiter: 'unknown' | '\n' | '\r\n' = 'unknown';
  let carry = ''; // the unfinished last line
  let first = true;
  // Passes on one line, `text` without its delimiter; false when it is too long.
  const emit = (text: string): boolean => {
    if (text.length > PLAIN_LINE_MAX_CHARS) return false;
    onRecord(text.split(','), ++line);
    return true;
  };
  for await (let chunk of chunks) {
    if (first && chunk.length > 0) {
      first = false;
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
    }
    if (chunk.indexOf('"') >= 0 || chunk.indexOf('\ufffd') >= 0) return false;
    let nl = chunk.indexOf('\n');
    if (nl < 0) {
      carry += chunk;
      if (carry.length > PLAIN_LINE_MAX_CHARS) return false;
      continue;
    }
    if (delimiter === 'unknown') {
      // The first line break decides, as in csv-parse: a bare `\r` before it means `\r` records.
      const text = carry + chunk.slice(0, nl);
      const cr = text.indexOf('\r');
      if (cr >= 0 && cr < text.length - 1) return false;
      delimiter = cr >= 0 ? '\r\n' : '\n';
    }
    let start = 0;
    if (carry.length > 0) {
      const text = carry + chunk.slice(0, nl);
      carry = '';
      if (!emitLine(text)) return false;
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    while (nl >= 0) {
      if (!emitLine(chunk.slice(start, nl))) return false;
      start = nl + 1;
      nl = chunk.indexOf('\n', start);
    }
    if (start < chunk.length) {
      carry = chunk.slice(start);
      if (carry.length > PLAIN_LINE_MAX_CHARS) return false;
    }
  }
  // The last line, without a line break: its fields keep any `\r` (no `\r\n` ends it).
  if (carry.length > 0) {
    if (delimiter === 'unknown' && carry.indexOf('\r') >= 0) return false; // a bare `\r` would be the delimiter
    if (!emit(carry)) return false;
  }
  return true;

  // A line ended by `\n`: with `\r\n` records it must end in `\r`, which is dropped.
  function emitLine(text: string): boolean {
    if (delimiter === '\r\n') {
      if (text.charCodeAt(text.length - 1) !== CR) return false;
      return emit(text.slice(0, -1));
    }
    return emit(text);
  }
}
