/**
 * The CSV fast path (traces/csv-lines.ts) against csv-parse, which the reader falls back to: on
 * any text it accepts, it must give exactly csv-parse's records and the lines the reader counts
 * for them; on text it declines, what it passed on must be a prefix of csv-parse's records.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parse } from 'csv-parse/sync';
import { splitPlainCsv } from '../traces/csv-lines.ts';

/** csv-parse's records with the reader's options, each with the line it starts on (as traces/read.ts counts them). */
function reference(text: string): { rec: string[]; line: number }[] | undefined {
  let records: string[][];
  try {
    records = parse(text, { bom: true, relax_column_count: true, max_record_size: 64 * 1024 * 1024 }) as string[][];
  } catch {
    return undefined;
  }
  let line = 1;
  return records.map((rec) => {
    const at = line;
    line += 1 + rec.reduce((k, f) => k + f.split('\n').length - 1, 0);
    return { rec, line: at };
  });
}

/** `text` cut into chunks at the given offsets, as a stream of decoded text would come. */
async function* chunked(text: string, cuts: number[]): AsyncGenerator<string> {
  let at = 0;
  for (const c of [...new Set(cuts.map((x) => Math.min(x, text.length)))].sort((a, b) => a - b)) {
    yield text.slice(at, c);
    at = c;
  }
  yield text.slice(at);
}

async function split(text: string, cuts: number[] = []): Promise<{ plain: boolean; got: { rec: string[]; line: number }[] }> {
  const got: { rec: string[]; line: number }[] = [];
  const plain = await splitPlainCsv(chunked(text, cuts), (rec, line) => got.push({ rec, line }));
  return { plain, got };
}

describe('splitPlainCsv', () => {
  it('gives csv-parse records and lines on plain text: LF, CRLF, BOM, blank lines, no final newline', async () => {
    for (const text of ['a,b\n1,2\n', 'a,b\r\n1,2\r\n\r\n3,4', '\ufeffa,b\n\n 1 ,2\n', 'a,b\n1,2\r\n3,4\r', 'a,b\r\n1\r2,3\r\n', 'x', '', '\n\n', 'a,b\r\n1\r,2']) {
      const { plain, got } = await split(text, [1, 3, 5]);
      expect(plain, JSON.stringify(text)).toBe(true);
      expect(got, JSON.stringify(text)).toEqual(reference(text));
    }
  });

  it('declines quotes, a bare CR as the first line break, a LF inside CRLF text, and U+FFFD', async () => {
    for (const text of ['a,b\n"1",2\n', 'a,b\r1,2\r', 'a,b\r\n1,2\n3,4\r\n', 'a,b\n1,\ufffd\n', 'a,b\r', 'a,b\n1,2\nx"y,3\n']) {
      expect((await split(text)).plain, JSON.stringify(text)).toBe(false);
    }
  });

  it('agrees with csv-parse on random text cut into random chunks', async () => {
    // Quotes and U+FFFD rare enough that most texts are plain.
    const char = fc.oneof(
      { arbitrary: fc.constantFrom(',', ',', '\n', '\n', '\r', ' ', '1', '2', 'a', '\ufeff', 'é', '\t'), weight: 40 },
      { arbitrary: fc.constantFrom('"', '\ufffd'), weight: 1 },
    );
    let plainRuns = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(char, { maxLength: 40 }), fc.array(fc.nat({ max: 40 }), { maxLength: 4 }), fc.boolean(), async (chars, cuts, bom) => {
        const text = (bom ? '\ufeff' : '') + chars.join('');
        const { plain, got } = await split(text, cuts);
        const ref = reference(text);
        if (plain) plainRuns++;
        if (plain) expect(got).toEqual(ref);
        else if (ref !== undefined) expect(got).toEqual(ref.slice(0, got.length));
      }),
      { numRuns: 3000 },
    );
    expect(plainRuns).toBeGreaterThan(1000);
  });
});
