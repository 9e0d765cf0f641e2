/**
 * Trace readers and transforms, checked against independent truth: hand-computed timestamp
 * differences, the row counts and means of /work/shared/traces/README.md, and small hand-written
 * files for every bad-input case.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { InputError } from '../sim/errors.ts';
import {
  interArrivalCv,
  meanRate,
  prefixReuseCounts,
  readTrace,
  tileTrace,
  transformTrace,
  type Trace,
} from '../traces/index.ts';

const here = dirname(fileURLToPath(import.meta.url));
const SAMPLE = join(here, '..', 'traces', 'azure-conv-2000.csv');
const SHARED = '/work/shared/traces';
const tmp = mkdtempSync(join(tmpdir(), 'llmsched-traces-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let fileNo = 0;
/** Writes `content` to a fresh file in the temp dir and returns its path. */
function write(content: string, name = 'trace.csv'): string {
  const p = join(tmp, `${fileNo++}-${name}`);
  writeFileSync(p, content);
  return p;
}

/** Awaits `p`, expecting an InputError located at file:line with the given field. */
async function expectInputError(
  p: Promise<unknown>,
  where: { file: string; line?: number; field?: string },
  text?: string | RegExp,
): Promise<InputError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InputError);
  const e = err as InputError;
  expect(e.file).toBe(where.file);
  expect(e.message).toContain(where.file);
  if (where.line !== undefined) {
    expect(e.line).toBe(where.line);
    expect(e.message).toContain(`${where.file}:${where.line}`);
  }
  if (where.field !== undefined) {
    expect(e.field).toBe(where.field);
    expect(e.message).toContain(where.field);
  }
  if (text !== undefined) expect(e.message).toMatch(text);
  return e;
}

const mean = (a: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
};
const sum = (a: ArrayLike<number>): number => mean(a) * a.length;

function expectSortedFromZero(t: Trace): void {
  expect(t.arrival_s.length).toBe(t.n);
  expect(t.prompt_tokens.length).toBe(t.n);
  expect(t.output_tokens.length).toBe(t.n);
  expect(t.arrival_s[0]).toBe(0);
  for (let i = 1; i < t.n; i++) expect(t.arrival_s[i] >= t.arrival_s[i - 1]).toBe(true);
  for (let i = 0; i < t.n; i++) {
    if (!(t.prompt_tokens[i] >= 1 && t.output_tokens[i] >= 1)) throw new Error(`bad tokens at ${i}`);
  }
}

const AZ = 'TIMESTAMP,ContextTokens,GeneratedTokens\n';
const BG = 'Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n';

describe('shipped Azure conv sample (traces/azure-conv-2000.csv)', () => {
  it('reads 2,000 requests; first at 0, second at 18:15:50.9951690 − 18:15:46.6805900', async () => {
    const t = await readTrace(SAMPLE);
    expect(t.format).toBe('azure');
    expect(t.n).toBe(2000);
    expect(t.source).toBe(SAMPLE);
    expect(t.arrival_s[0]).toBe(0);
    expect(t.arrival_s[1]).toBe(4.314579);
    expect([t.prompt_tokens[0], t.output_tokens[0]]).toEqual([374, 44]);
    expect([t.prompt_tokens[1], t.output_tokens[1]]).toEqual([396, 109]);
    expect(t.warnings).toEqual([]);
    expect(t.skipped).toEqual({});
    expect(t.prefix).toBeUndefined();
    expectSortedFromZero(t);
  });

  it('is the header plus the first 2,000 rows of the shared file, byte for byte', () => {
    const mine = readFileSync(SAMPLE);
    const lines = mine.toString('utf8').split('\r\n');
    expect(lines[0]).toBe('TIMESTAMP,ContextTokens,GeneratedTokens');
    expect(lines.length).toBe(2002); // 2,001 lines, each with its newline
    const full = join(SHARED, 'AzureLLMInferenceTrace_conv.csv');
    if (existsSync(full)) expect(readFileSync(full).subarray(0, mine.length).equals(mine)).toBe(true);
  });
});

describe.skipIf(!existsSync(SHARED))('real shared traces (README row counts and means)', () => {
  it('Azure conv: 19,366 rows, 58.4 min, means 1155 / 211', async () => {
    // No time limit here: read speed is `npm run bench`'s read_s column, not a test.
    const t = await readTrace(join(SHARED, 'AzureLLMInferenceTrace_conv.csv'));
    expect(t.n).toBe(19366);
    expect(t.format).toBe('azure');
    expectSortedFromZero(t);
    // 19:14:08.4025270 − 18:15:46.6805900
    expect(t.arrival_s[t.n - 1]).toBe(3501.721937);
    expect(mean(t.prompt_tokens)).toBeCloseTo(1155, -0.5);
    expect(mean(t.output_tokens)).toBeCloseTo(211, -0.5);
    expect(t.n / t.arrival_s[t.n - 1]).toBeCloseTo(5.53, 2);
  });

  it('Azure code: 8,819 rows, means 2048 / 28', async () => {
    const t = await readTrace(join(SHARED, 'AzureLLMInferenceTrace_code.csv'));
    expect(t.n).toBe(8819);
    expectSortedFromZero(t);
    expect(t.arrival_s[t.n - 1] / 60).toBeCloseTo(57.3, 1);
    expect(mean(t.prompt_tokens)).toBeCloseTo(2048, -0.5);
    expect(mean(t.output_tokens)).toBeCloseTo(28, -0.5);
  });

  it('BurstGPT: 12,895 rows, 1,085 skipped as failed, model and log type kept', async () => {
    const t = await readTrace(join(SHARED, 'BurstGPT_1.csv'));
    expect(t.format).toBe('burstgpt');
    expect(t.skipped).toEqual({ failed: 1085 });
    expect(t.n).toBe(12895 - 1085);
    expectSortedFromZero(t);
    // The README's means count every row (failed ones as 0 tokens).
    expect(sum(t.prompt_tokens) / 12895).toBeCloseTo(632, -0.5);
    expect(sum(t.output_tokens) / 12895).toBeCloseTo(245, -0.5);
    expect(t.extra.model.length).toBe(t.n);
    expect(t.extra.log_type.length).toBe(t.n);
    expect(new Set(t.extra.model)).toEqual(new Set(['ChatGPT', 'GPT-4']));
    expect(new Set(t.extra.log_type)).toEqual(new Set(['Conversation log', 'API log']));
    expect([t.extra.model[0], t.extra.log_type[0], t.prompt_tokens[0], t.output_tokens[0]]).toEqual([
      'ChatGPT',
      'Conversation log',
      472,
      18,
    ]);
    expect(t.arrival_s[1]).toBe(40); // 45 − 5
    expect(t.arrival_s[t.n - 1] / 3600).toBeCloseTo(120, 0);
  });

  it('Mooncake conversation: 12,031 rows, means 12035 / 343, hash ids kept', async () => {
    const t = await readTrace(join(SHARED, 'conversation_trace.jsonl'));
    expect(t.format).toBe('mooncake');
    expect(t.n).toBe(12031);
    expectSortedFromZero(t);
    expect(mean(t.prompt_tokens)).toBeCloseTo(12035, -0.5);
    expect(mean(t.output_tokens)).toBeCloseTo(343, -0.5);
    expect(t.arrival_s[t.n - 1] / 60).toBeCloseTo(59, 0);
    const p = t.prefix!;
    expect(p.start.length).toBe(t.n + 1);
    const ids = (i: number) => Array.from(p.id.subarray(p.start[i], p.start[i + 1]));
    const toks = (i: number) => Array.from(p.tokens.subarray(p.start[i], p.start[i + 1]));
    expect(ids(3)).toEqual([0, 42, 43, 44, 45]);
    // 512 tokens per block, the last one the rest of the prompt (2290 = 4·512 + 242).
    expect(toks(3)).toEqual([512, 512, 512, 512, 242]);
    for (const i of [0, 1, 2, 3, 100, t.n - 1]) expect(toks(i).reduce((a, b) => a + b, 0)).toBe(t.prompt_tokens[i]);
    // An unbounded prefix cache hits 38.19% of the full 512-token prompt blocks (105,592 of 276,491).
    expect(prefixReuseCounts(t, 512)).toEqual({ blocks: 276491, hits: 105592 });
  });
});

describe('Azure timestamps', () => {
  it('honours 2024-style zones: +00:00, other offsets and Z', async () => {
    const f = write(
      AZ +
        '2024-05-10 00:00:00.0112140+00:00,10,5\n' +
        '2024-05-10 00:00:01.5000000+00:00,20,6\n' +
        '2024-05-10 02:00:02.2500000+02:00,30,7\n' + // 00:00:02.25 UTC
        '2024-05-09 19:00:03.0000000-05:00,40,8\n' + // 00:00:03 UTC
        '2024-05-10T00:00:04Z,50,9',
    );
    const t = await readTrace(f);
    expect(t.format).toBe('azure');
    expect(Array.from(t.arrival_s)).toEqual([0, 1.488786, 2.238786, 2.988786, 3.988786]);
    expect(Array.from(t.prompt_tokens)).toEqual([10, 20, 30, 40, 50]);
    expect(t.warnings).toEqual([]);
  });

  it('accepts ±HHMM, a space before the zone, and 1–9 fractional digits', async () => {
    const f = write(
      AZ +
        '2024-05-10 00:00:00+0000,1,1\n' +
        '2024-05-10 01:00:00.5 +0100,1,1\n' + // 00:00:00.5 UTC
        '2024-05-10 00:00:00.123456789,1,1\n',
    );
    const t = await readTrace(f);
    expect(Array.from(t.arrival_s)).toEqual([0, 0.123456789, 0.5]);
    expect(t.warnings[0]).toMatch(/1 of 3 rows/);
  });

  it('orders by the instant, not the wall-clock text, across offsets', async () => {
    const f = write(AZ + '2024-05-10 01:00:00.0000000+01:00,1,1\n2024-05-10 00:30:00.0000000+00:00,2,2\n');
    const t = await readTrace(f); // 00:00 UTC, then 00:30 UTC: already in order
    expect(Array.from(t.arrival_s)).toEqual([0, 1800]);
    expect(t.warnings).toEqual([]);
  });

  it('keeps 7-digit fractions exact across a day boundary', async () => {
    const f = write(AZ + '2023-12-31 23:59:59.9999999,1,1\n2024-01-01 00:00:00.0000001,1,1');
    const t = await readTrace(f);
    expect(t.arrival_s[1]).toBe(0.0000002);
  });
});

describe('format detection', () => {
  it('reads a generic CSV with columns in any order and keeps extra columns', async () => {
    const f = write('id,output_tokens,arrival_s,prompt_tokens,class\na,5,0.5,10,x\nb,6,1.25,11,y\n');
    const t = await readTrace(f);
    expect(t.format).toBe('generic');
    expect(Array.from(t.arrival_s)).toEqual([0, 0.75]);
    expect(Array.from(t.prompt_tokens)).toEqual([10, 11]);
    expect(Array.from(t.output_tokens)).toEqual([5, 6]);
    expect(t.extra).toEqual({ id: ['a', 'b'], class: ['x', 'y'] });
  });

  it('reads JSONL by extension, and by a leading { under another name', async () => {
    const body =
      '{"timestamp": 3000, "input_length": 600, "output_length": 2, "hash_ids": [0, 1]}\n' +
      '{"timestamp": 4500, "input_length": 1100, "output_length": 3, "hash_ids": [0, 2, 3]}\n';
    for (const name of ['t.jsonl', 't.txt']) {
      const t = await readTrace(write(body, name));
      expect(t.format).toBe('mooncake');
      expect(Array.from(t.arrival_s)).toEqual([0, 1.5]);
      expect(Array.from(t.prefix!.start)).toEqual([0, 2, 5]);
      expect(Array.from(t.prefix!.id)).toEqual([0, 1, 0, 2, 3]);
      expect(Array.from(t.prefix!.tokens)).toEqual([512, 88, 512, 512, 76]);
    }
  });

  it('handles CRLF line endings, a BOM and blank lines', async () => {
    const f = write('\uFEFF' + AZ.replace('\n', '\r\n') + '2023-11-16 18:15:46.0,1,2\r\n\r\n2023-11-16 18:15:47.5,3,4\r\n');
    const t = await readTrace(f);
    expect(Array.from(t.arrival_s)).toEqual([0, 1.5]);
    expect(Array.from(t.output_tokens)).toEqual([2, 4]);
  });

  it('--format forces a format, and a mismatching header is an error naming the expected one', async () => {
    const f = write(AZ + '2023-11-16 18:15:46.0,1,2\n');
    expect((await readTrace(f, { format: 'azure' })).n).toBe(1);
    await expectInputError(readTrace(f, { format: 'burstgpt' }), { file: f, line: 1, field: 'header' }, /Request tokens/);
    await expectInputError(readTrace(f, { format: 'mooncake' }), { file: f, line: 1, field: 'json' });
    await expect(readTrace(f, { format: 'parquet' as 'azure' })).rejects.toBeInstanceOf(InputError);
  });
});

describe('sorting', () => {
  it('sorts unsorted rows stably, with a warning counting the rows out of order', async () => {
    const f = write('arrival_s,prompt_tokens,output_tokens,id\n5,1,1,a\n3,2,2,b\n3,3,3,c\n7,4,4,d\n1,5,5,e\n');
    const t = await readTrace(f);
    expect(Array.from(t.arrival_s)).toEqual([0, 2, 2, 4, 6]);
    expect(t.extra.id).toEqual(['e', 'b', 'c', 'a', 'd']); // b before c: file order kept for the tie
    expect(Array.from(t.prompt_tokens)).toEqual([5, 2, 3, 1, 4]);
    expect(t.warnings.length).toBe(1);
    expect(t.warnings[0]).toMatch(/3 of 5 rows were out of order/);
  });

  it('sorts Mooncake rows together with their hash ids', async () => {
    const f = write(
      '{"timestamp": 2000, "input_length": 1, "output_length": 1, "hash_ids": [2]}\n' +
        '{"timestamp": 1000, "input_length": 2, "output_length": 2, "hash_ids": [1]}\n',
      'u.jsonl',
    );
    const t = await readTrace(f);
    expect(Array.from(t.arrival_s)).toEqual([0, 1]);
    expect(Array.from(t.prefix!.id)).toEqual([1, 2]);
    expect(Array.from(t.prefix!.tokens)).toEqual([2, 1]);
    expect(t.warnings[0]).toMatch(/1 of 2 rows/);
  });

  it('keeps ties in file order without a warning', async () => {
    const f = write(BG + '10,ChatGPT,1,1,2,API log\n10,GPT-4,2,2,4,API log\n');
    const t = await readTrace(f);
    expect(t.extra.model).toEqual(['ChatGPT', 'GPT-4']);
    expect(t.warnings).toEqual([]);
  });
});

describe('bad input: InputError naming file, line and column', () => {
  it('missing file', async () => {
    const f = join(tmp, 'does-not-exist.csv');
    await expectInputError(readTrace(f), { file: f }, /no such file/);
  });

  it('empty file, header only, blank data', async () => {
    const f0 = write('');
    await expectInputError(readTrace(f0), { file: f0, line: 1 }, /empty/);
    const f1 = write(AZ);
    await expectInputError(readTrace(f1), { file: f1, line: 2 }, /empty trace: no data rows/);
    const f2 = write('\n\n', 'e.jsonl');
    await expectInputError(readTrace(f2), { file: f2 }, /empty trace/);
  });

  it('BurstGPT file whose every row failed', async () => {
    const f = write(BG + '1,ChatGPT,0,0,0,API log\n');
    await expectInputError(readTrace(f), { file: f, line: 2 }, /1 failed/);
  });

  it('unknown header lists the expected header of each format', async () => {
    const f = write('time,in,out\n1,2,3\n');
    const e = await expectInputError(readTrace(f), { file: f, line: 1, field: 'header' }, /unknown header/);
    for (const h of [
      'TIMESTAMP,ContextTokens,GeneratedTokens',
      'Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type',
      'arrival_s,prompt_tokens,output_tokens',
      'mooncake',
    ]) {
      expect(e.message).toContain(h);
    }
  });

  it('duplicate column in the header', async () => {
    const f = write('arrival_s,prompt_tokens,output_tokens,x,x\n0,1,1,a,b\n');
    await expectInputError(readTrace(f), { file: f, line: 1, field: 'x' }, /duplicate/);
  });

  it('wrong number of fields (too few, too many)', async () => {
    const f = write(AZ + '2023-11-16 18:15:46.0,1,2\n2023-11-16 18:15:47.0,1\n');
    await expectInputError(readTrace(f), { file: f, line: 3, field: 'GeneratedTokens' }, /expected 3 fields.*got 2/);
    const g = write(AZ + '2023-11-16 18:15:46.0,1,2,9\n');
    await expectInputError(readTrace(g), { file: g, line: 2 }, /got 4/);
  });

  it('counts blank lines and multi-line quoted fields in line numbers', async () => {
    const f = write('arrival_s,prompt_tokens,output_tokens,note\n0,1,1,"two\nlines"\n\n1,1,x,ok\n');
    await expectInputError(readTrace(f), { file: f, line: 5, field: 'output_tokens' });
  });

  const badTokens: [string, RegExp][] = [
    ['abc', /not a decimal integer/],
    ['NaN', /not a decimal integer/],
    ['', /empty/],
    ['-5', /negative/],
    ['1.5', /not an integer/],
    ['1e12', /too large/],
  ];
  for (const [v, msg] of badTokens) {
    it(`token count '${v}'`, async () => {
      const f = write(AZ + '2023-11-16 18:15:46.0,1,2\n' + `2023-11-16 18:15:47.0,${v},3\n`);
      await expectInputError(readTrace(f), { file: f, line: 3, field: 'ContextTokens' }, msg);
    });
  }

  it('prompt tokens < 1 and output tokens < 1', async () => {
    const f = write(AZ + '2023-11-16 18:15:46.0,0,2\n');
    await expectInputError(readTrace(f), { file: f, line: 2, field: 'ContextTokens' }, /prompt tokens must be >= 1/);
    const g = write(AZ + '2023-11-16 18:15:46.0,3,0\n');
    await expectInputError(readTrace(g), { file: g, line: 2, field: 'GeneratedTokens' }, /output tokens must be >= 1/);
    const h = write('arrival_s,prompt_tokens,output_tokens\n0,1,0\n');
    await expectInputError(readTrace(h), { file: h, line: 2, field: 'output_tokens' }, /output tokens/);
    const k = write(BG + '1,ChatGPT,0,5,5,API log\n');
    await expectInputError(readTrace(k), { file: k, line: 2, field: 'Request tokens' }, /prompt tokens/);
  });

  it("BurstGPT's 0 response tokens mark a failed request: skipped and counted", async () => {
    const f = write(BG + '1,ChatGPT,0,0,0,API log\n2,GPT-4,5,0,5,Conversation log\n3,ChatGPT,7,8,15,API log\n');
    const t = await readTrace(f);
    expect(t.n).toBe(1);
    expect(t.skipped).toEqual({ failed: 2 });
    expect(t.extra.model).toEqual(['ChatGPT']);
    const g = write(BG + '1,ChatGPT,7,-1,6,API log\n');
    await expectInputError(readTrace(g), { file: g, line: 2, field: 'Response tokens' }, /negative/);
  });

  it('unparsable timestamps', async () => {
    for (const ts of [
      'yesterday',
      '2023-13-01 00:00:00',
      '2023-02-30 00:00:00',
      '2023-11-16 25:00:00',
      '2023-11-16 18:15:46.',
      '2023-11-16 18:15:46.1234567890',
      '2023-11-16 18:15:46+1',
      '2023-11-16 18:15:46 UTC',
      '2023-11-16 18:15:46.5Zulu',
      '2023/11/16 18:15:46',
      '',
    ]) {
      const f = write(AZ + `${ts},1,1\n`);
      await expectInputError(readTrace(f), { file: f, line: 2, field: 'TIMESTAMP' }, /unparsable timestamp/);
    }
    const b = write(BG + 'soon,ChatGPT,1,1,2,API log\n');
    await expectInputError(readTrace(b), { file: b, line: 2, field: 'Timestamp' }, /unparsable timestamp/);
    const g = write('arrival_s,prompt_tokens,output_tokens\n0,1,1\n,1,1\n');
    await expectInputError(readTrace(g), { file: g, line: 3, field: 'arrival_s' }, /unparsable timestamp/);
  });

  it("csv-parse's own errors become InputErrors with the file and line", async () => {
    const f = write('arrival_s,prompt_tokens,output_tokens\n0,1,1\n1,"2,1\n');
    const e = await expectInputError(readTrace(f), { file: f }, /malformed CSV/);
    expect(e.line).toBeGreaterThanOrEqual(3);
    const g = write('arrival_s,prompt_tokens,output_tokens\n0,1,1\n1,"2"x,1\n');
    await expectInputError(readTrace(g), { file: g, line: 3 }, /malformed CSV/);
  });

  it('bad JSONL lines', async () => {
    const ok = '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": []}\n';
    const cases: [string, string, RegExp][] = [
      ['{"timestamp": 1, "input_length": 1,', 'json', /invalid JSON/],
      ['[1, 2]', 'json', /JSON object/],
      ['{"input_length": 1, "output_length": 1}', 'timestamp', /missing timestamp/],
      ['{"timestamp": "noon", "input_length": 1, "output_length": 1}', 'timestamp', /timestamp must be a JSON number of milliseconds, got the string 'noon'/],
      ['{"timestamp": 1, "output_length": 1}', 'input_length', /token count/],
      ['{"timestamp": 1, "input_length": 0, "output_length": 1}', 'input_length', /prompt tokens must be >= 1/],
      ['{"timestamp": 1, "input_length": 4, "output_length": 2.5}', 'output_length', /not an integer/],
      ['{"timestamp": 1, "input_length": 4, "output_length": 2, "hash_ids": 7}', 'hash_ids', /array/],
      ['{"timestamp": 1, "input_length": 4, "output_length": 2, "hash_ids": [1.5]}', 'hash_ids', /integer/],
      ['{"timestamp": 1, "input_length": 4, "output_length": 2, "hash_ids": [-3]}', 'hash_ids', /hash_ids\[0\] = -3 is negative/],
      ['{"timestamp": 1, "input_length": 512, "output_length": 2, "hash_ids": [1, 2]}', 'hash_ids', /hash_ids cover 513 or more tokens \(2 blocks of 512\), more than the prompt's 512/],
    ];
    for (const [line, field, msg] of cases) {
      const f = write(ok + '\n' + line + '\n', 'bad.jsonl');
      await expectInputError(readTrace(f), { file: f, line: 3, field }, msg);
    }
  });
});

describe('transformTrace', () => {
  let base: Trace;
  const load = async () => (base ??= await readTrace(SAMPLE));

  it('window [start, start + duration) in relative time, re-zeroed', async () => {
    const t = await load();
    const a = Array.from(t.arrival_s);
    const keep = a.map((v, i) => [v, i] as const).filter(([v]) => v >= 10 && v < 70);
    const w = transformTrace(t, { start_s: 10, duration_s: 60 });
    expect(w.n).toBe(keep.length);
    const lo = keep[0][1];
    expect(Array.from(w.arrival_s)).toEqual(keep.map(([v]) => v - a[lo]));
    expect(Array.from(w.prompt_tokens)).toEqual(keep.map(([, i]) => t.prompt_tokens[i]));
    expect(w.arrival_s[0]).toBe(0);
    // start only / duration only
    expect(transformTrace(t, { start_s: 400 }).n).toBe(a.filter((v) => v >= 400).length);
    expect(transformTrace(t, { duration_s: 30 }).n).toBe(a.filter((v) => v < 30).length);
    expect(transformTrace(t, { start_s: 0 }).n).toBe(t.n);
  });

  it('limit keeps the first N, after the window', async () => {
    const t = await load();
    const l = transformTrace(t, { limit: 100 });
    expect(l.n).toBe(100);
    expect(Array.from(l.arrival_s)).toEqual(Array.from(t.arrival_s.subarray(0, 100)));
    const wl = transformTrace(t, { start_s: 100, limit: 5 });
    const lo = t.arrival_s.findIndex((v) => v >= 100);
    expect(Array.from(wl.output_tokens)).toEqual(Array.from(t.output_tokens.subarray(lo, lo + 5)));
    expect(transformTrace(t, { limit: 1e9 }).n).toBe(t.n);
  });

  it('rate_scale k divides arrival times by k', async () => {
    const t = await load();
    const s = transformTrace(t, { rate_scale: 4 });
    expect(s.n).toBe(t.n);
    for (let i = 0; i < t.n; i += 97) expect(s.arrival_s[i]).toBeCloseTo(t.arrival_s[i] / 4, 9);
    expect(meanRate(s.arrival_s)).toBeCloseTo(4 * meanRate(t.arrival_s), 9);
  });

  it('rate r sets the measured mean rate (n−1)/span to r and keeps the inter-arrival CV', async () => {
    const t = await load();
    for (const r of [0.5, 20, 1000]) {
      const s = transformTrace(t, { start_s: 50, limit: 1500, rate: r });
      expect(s.n).toBe(1500);
      expect(s.arrival_s[0]).toBe(0);
      expect(Math.abs(meanRate(s.arrival_s) / r - 1)).toBeLessThan(1e-12);
      const before = transformTrace(t, { start_s: 50, limit: 1500 });
      expect(interArrivalCv(s.arrival_s)).toBeCloseTo(interArrivalCv(before.arrival_s), 9);
    }
  });

  it('keeps extra columns and hash ids aligned, and does not change its input', async () => {
    const f = write('arrival_s,prompt_tokens,output_tokens,id\n0,1,1,a\n1,2,2,b\n2,3,3,c\n3,4,4,d\n');
    const t = await readTrace(f);
    const copy = Array.from(t.arrival_s);
    const w = transformTrace(t, { start_s: 1, duration_s: 2, rate: 2 });
    expect(w.extra.id).toEqual(['b', 'c']);
    expect(Array.from(w.arrival_s)).toEqual([0, 0.5]);
    expect(Array.from(t.arrival_s)).toEqual(copy);
    const m = await readTrace(
      write(
        '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [5]}\n' +
          '{"timestamp": 10000, "input_length": 1, "output_length": 1, "hash_ids": [6]}\n',
        'h.jsonl',
      ),
    );
    const w2 = transformTrace(m, { start_s: 5 });
    expect(Array.from(w2.prefix!.start)).toEqual([0, 1]);
    expect(Array.from(w2.prefix!.id)).toEqual([6]);
  });

  it('rejects bad options with the option name', async () => {
    const t = await load();
    const bad: [Parameters<typeof transformTrace>[1], string][] = [
      [{ rate_scale: 0 }, '--rate-scale'],
      [{ rate_scale: -2 }, '--rate-scale'],
      [{ rate_scale: Infinity }, '--rate-scale'],
      [{ rate: NaN }, '--rate'],
      [{ rate: 0 }, '--rate'],
      [{ limit: 0 }, '--limit'],
      [{ limit: 2.5 }, '--limit'],
      [{ start_s: -1 }, '--start'],
      [{ start_s: NaN }, '--start'],
      [{ duration_s: 0 }, '--duration'],
      [{ duration_s: -Infinity }, '--duration'],
      [{ rate: 1, rate_scale: 2 }, '--rate'],
    ];
    for (const [x, field] of bad) {
      let err: unknown;
      try {
        transformTrace(t, x);
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(x)).toBeInstanceOf(InputError);
      expect((err as InputError).field).toBe(field);
      expect((err as InputError).message).toContain(field);
    }
  });

  it('an empty result is an InputError', async () => {
    const t = await load();
    expect(() => transformTrace(t, { start_s: 1e6 })).toThrow(/no requests left after/);
    expect(() => transformTrace(t, { start_s: 1.0, duration_s: 0.5 })).toThrow(InputError);
  });

  it('rate on simultaneous arrivals is an error; on one request, a warning', async () => {
    const same = await readTrace(write('arrival_s,prompt_tokens,output_tokens\n5,1,1\n5,2,2\n'));
    expect(() => transformTrace(same, { rate: 3 })).toThrow(/same instant/);
    const one = transformTrace(same, { limit: 1, rate: 3 });
    expect(one.n).toBe(1);
    expect(one.warnings.some((w) => w.includes('--rate'))).toBe(true);
  });
});

describe('tileTrace', () => {
  it('tiles copies with shift j·(span + mean gap), non-decreasing, tokens repeated', async () => {
    const t = await readTrace(SAMPLE);
    const k = 3;
    const x = tileTrace(t, k);
    expect(x.n).toBe(t.n * k);
    const span = t.arrival_s[t.n - 1];
    const shift = span + span / (t.n - 1);
    for (let i = 1; i < x.n; i++) if (!(x.arrival_s[i] >= x.arrival_s[i - 1])) throw new Error(`not sorted at ${i}`);
    expect(x.arrival_s[t.n]).toBeCloseTo(shift, 9);
    expect(x.arrival_s[t.n] - x.arrival_s[t.n - 1]).toBeCloseTo(span / (t.n - 1), 9);
    expect(x.arrival_s[2 * t.n + 7]).toBeCloseTo(2 * shift + t.arrival_s[7], 9);
    expect(x.prompt_tokens[2 * t.n + 7]).toBe(t.prompt_tokens[7]);
    expect(x.output_tokens[t.n + 11]).toBe(t.output_tokens[11]);
    expect(() => tileTrace(t, 0)).toThrow(InputError);
    expect(() => tileTrace(t, 1.5)).toThrow(InputError);
  });

  it('builds a 1M-request trace', async () => {
    const t = await readTrace(SAMPLE);
    const x = tileTrace(t, 500);
    expect(x.n).toBe(1_000_000);
    let ok = x.arrival_s[0] === 0;
    for (let i = 1; i < x.n; i++) ok &&= x.arrival_s[i] >= x.arrival_s[i - 1];
    expect(ok).toBe(true);
    expect(meanRate(x.arrival_s)).toBeCloseTo(meanRate(t.arrival_s), 6);
  });

  it('repeats extra columns and hash ids', async () => {
    const t = await readTrace(
      write(
        '{"timestamp": 0, "input_length": 1, "output_length": 1, "hash_ids": [5]}\n' +
          '{"timestamp": 10000, "input_length": 1, "output_length": 1, "hash_ids": [6]}\n',
        'h.jsonl',
      ),
    );
    const x = tileTrace(t, 2);
    expect(Array.from(x.arrival_s)).toEqual([0, 10, 20, 30]);
    expect(Array.from(x.prefix!.id)).toEqual([5, 6, 5, 6]);
    expect(Array.from(x.prefix!.start)).toEqual([0, 1, 2, 3, 4]);
    const g = await readTrace(write('arrival_s,prompt_tokens,output_tokens,id\n0,1,1,a\n'));
    const y = tileTrace(g, 3);
    expect(y.extra.id).toEqual(['a', 'a', 'a']);
    expect(Array.from(y.arrival_s)).toEqual([0, 1, 2]); // n = 1: 1 s apart
  });
});
