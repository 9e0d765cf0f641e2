/**
 * Readers for other tools' workloads: LLMServingSim's JSONL and TSV request traces, ShareGPT JSON
 * (tokenized with cl100k_base, Poisson arrivals at --rate), and the error for a file in no known
 * format. Truths: hand-computed nanosecond differences (rows of LLMServingSim's own
 * `dataset/share-gpt-req100-rate10.tsv`), tiktoken's published cl100k_base encodings of short
 * strings ("Hello, world!" = [9906, 11, 1917, 0], "hello world" = [15339, 1917]), the synthetic
 * generator's Poisson stream with the same seed, and the prefix rule of docs/programs.md.
 */
import { describe, expect, it } from 'vitest';
import { outId, ownId } from '../sim/trace.ts';
import { readTrace, syntheticTrace } from '../traces/index.ts';
import { inputErrorAsync, runSim, tempFiles } from './helpers.ts';

const write = tempFiles('llmsched-interop-');

/** A ShareGPT file of the given conversations ([from, value] pairs), ids c0, c1, ... */
function sharegpt(convs: [string, string][][]): string {
  return JSON.stringify(convs.map((c, i) => ({ id: `c${i}`, conversations: c.map(([from, value]) => ({ from, value })) })), null, 2);
}

// cl100k_base token counts (tiktoken): 2, 4 and 10 tokens.
const HW = 'hello world';
const HW2 = 'Hello, world!';
const FOX = 'The quick brown fox jumps over the lazy dog.';

describe('LLMServingSim traces', () => {
  it('TSV: arrivals in nanoseconds become exact relative seconds', async () => {
    // The first three rows of LLMServingSim's dataset/share-gpt-req100-rate10.tsv.
    const f = write('input_toks\toutput_toks\tarrival_time_ns\n10\t70\t46926808\n22\t104\t347938952\n16\t69\t479613521\n', 'req.tsv');
    const t = await readTrace(f);
    expect(t.format).toBe('llmservingsim');
    expect([...t.prompt_tokens]).toEqual([10, 22, 16]);
    expect([...t.output_tokens]).toEqual([70, 104, 69]);
    expect([...t.arrival_s]).toEqual([0, 301012144 / 1e9, 432686713 / 1e9]);
  });

  it('JSONL flat requests (token ids ignored), and sessions as chained programs with tool delays', async () => {
    const flat = write(
      '{"input_toks": 5, "output_toks": 7, "arrival_time_ns": 2000000000, "input_tok_ids": [1, 2, 3, 4, 5]}\n{"input_toks": 3, "output_toks": 1, "arrival_time_ns": 500000000}\n',
      'flat.jsonl',
    );
    const t = await readTrace(flat);
    expect(t.format).toBe('llmservingsim');
    expect(t.programs).toBeUndefined();
    expect([...t.arrival_s]).toEqual([0, 1.5]); // sorted by arrival
    expect([...t.prompt_tokens]).toEqual([3, 5]);
    const mixed = write(
      [
        '{"input_toks": 16, "output_toks": 8, "arrival_time_ns": 0}',
        '{"session_id": "task-0", "arrival_time_ns": 4059740, "sub_requests": [{"input_toks": 1472, "output_toks": 133, "tool_duration_ns": 127348767}, {"input_toks": 1582, "output_toks": 125, "tool_duration_ns": 0}]}',
      ].join('\n'),
      'sessions.jsonl',
    );
    const s = await readTrace(mixed);
    expect(s.format).toBe('llmservingsim');
    const pr = s.programs!;
    expect(pr.programIds).toEqual(['line1', 'task-0']);
    expect(s.n).toBe(3);
    expect([...s.prompt_tokens]).toEqual([16, 1472, 1582]);
    expect([...s.output_tokens]).toEqual([8, 133, 125]);
    expect(s.arrival_s[1]).toBeCloseTo(0.00405974, 15);
    expect(pr.delay_s[2]).toBe(0.127348767); // the first sub-request's tool time, before the second
    expect([...pr.parents]).toEqual([1]); // call 2's one parent is call 1
  });

  it('bad fields are one-line errors naming the line and key', async () => {
    const e1 = await inputErrorAsync(readTrace(write('{"input_toks": 5, "output_toks": 7, "arrival_time_ns": "12"}\n', 'a.jsonl')));
    expect([e1.line, e1.field]).toEqual([1, 'arrival_time_ns']);
    expect(e1.message).toMatch(/must be a JSON number of nanoseconds, got the string '12'/);
    const e2 = await inputErrorAsync(
      readTrace(write('{"input_toks": 5, "output_toks": 7, "arrival_time_ns": 0}\n{"session_id": "s", "arrival_time_ns": 0, "sub_requests": [{"input_toks": 1, "output_toks": 1, "tool_duration_ns": -5}]}\n', 'b.jsonl')),
    );
    expect([e2.line, e2.field]).toEqual([2, 'sub_requests[0].tool_duration_ns']);
    expect(e2.message).toMatch(/negative/);
    const e3 = await inputErrorAsync(readTrace(write('{"session_id": "s", "arrival_time_ns": 0, "sub_requests": []}\n', 'c.jsonl')));
    expect([e3.line, e3.field]).toEqual([1, 'sub_requests']);
    const e4 = await inputErrorAsync(readTrace(write('input_toks\toutput_toks\tarrival_time_ns\n10\t0\t5\n', 'd.tsv')));
    expect([e4.line, e4.field]).toEqual([2, 'output_toks']);
    expect(e4.message).toMatch(/output tokens must be >= 1/);
    const e5 = await inputErrorAsync(readTrace(write('input_toks\toutput_toks\tarrival_time_ns\n10\t3\t1.5\n', 'e.tsv')));
    expect([e5.line, e5.field]).toEqual([2, 'arrival_time_ns']);
    const e6 = await inputErrorAsync(readTrace(write('input_toks\toutput_toks\tarrival_time_ns\n10\t3\n', 'f.tsv')));
    expect([e6.line, e6.field]).toEqual([2, 'arrival_time_ns']);
  });
});

describe('ShareGPT', () => {
  it('first-turn mode: vLLM\'s rule (messages 0 and 1, its length limits), token counts from cl100k_base', async () => {
    const f = write(
      sharegpt([
        [['human', HW2], ['gpt', FOX], ['human', FOX], ['gpt', HW2]],
        [['human', HW]], // one message: skipped
        [['human', HW], ['gpt', FOX]], // prompt of 2 tokens < 4: skipped as vLLM does
        [['gpt', FOX], ['human', HW2]], // roles are not checked: prompt = message 0
      ]),
      'sg.json',
    );
    const t = await readTrace(f, { rate: 2, seed: 7, sharegptMode: 'first-turn' });
    expect(t.format).toBe('sharegpt');
    expect([...t.prompt_tokens]).toEqual([4, 10]);
    expect([...t.output_tokens]).toEqual([10, 4]);
    expect(t.skipped).toEqual({ 'with fewer than 2 messages': 1, "outside vLLM's length limits": 1 });
  });

  it('conversation mode: one call per reply, prompt = the conversation so far, prefix = the previous turn', async () => {
    const f = write(
      sharegpt([
        [['system', HW], ['human', HW2], ['gpt', FOX], ['human', HW], ['gpt', HW2]],
        [['gpt', HW], ['human', FOX], ['gpt', HW2]],
      ]),
      'conv.json',
    );
    const t = await readTrace(f, { rate: 1 });
    const pr = t.programs!;
    expect(pr.programIds).toEqual(['c0', 'c1']);
    // c0: turn 0 prompt 2 + 4, output 10; turn 1 prompt 6 + 10 + 2 = 18, output 4.
    // c1: the opening reply answers nothing; its tokens begin the only call's prompt: 2 + 10.
    expect([...t.prompt_tokens]).toEqual([6, 18, 12]);
    expect([...t.output_tokens]).toEqual([10, 4, 4]);
    expect([...pr.parentStart]).toEqual([0, 0, 1, 1]);
    expect(pr.delay_s[1]).toBe(0);
    const px = t.prefix!;
    const segs = (i: number) => [...px.id.subarray(px.start[i], px.start[i + 1])].map((id, k) => [id, px.tokens[px.start[i] + k]]);
    expect(segs(0)).toEqual([]);
    expect(segs(1)).toEqual([[ownId(0), 6], [outId(0), 10]]);
    expect(segs(2)).toEqual([]);
  });

  it('arrivals: Poisson at --rate, the same stream as --synthetic poisson with that seed', async () => {
    const convs: [string, string][][] = Array.from({ length: 400 }, () => [['human', HW2], ['gpt', FOX]]);
    const f = write(sharegpt(convs), 'many.json');
    const t = await readTrace(f, { rate: 4, seed: 3, sharegptMode: 'first-turn' });
    const s = syntheticTrace({ arrival: 'poisson', rate: 4, n: 400, seed: 3 });
    expect([...t.arrival_s]).toEqual([...s.arrival_s]);
    const again = await readTrace(f, { rate: 4, seed: 3, sharegptMode: 'first-turn' });
    expect([...again.arrival_s]).toEqual([...t.arrival_s]);
    const other = await readTrace(f, { rate: 4, seed: 4, sharegptMode: 'first-turn' });
    expect(other.arrival_s[1]).not.toBe(t.arrival_s[1]);
  });

  it('a file of many read chunks splits into the same elements as JSON.parse of the whole text', async () => {
    // Brackets, commas, quotes and backslashes inside strings, multi-byte text, and > 64 KiB in all,
    // so the stream delivers several chunks and elements straddle them.
    const tricky = (i: number) => `turn ${i}: "quoted ]}, [{" \\ back\\slash, naïve café 東京 ` + 'x'.repeat(i % 97);
    const convs: [string, string][][] = Array.from({ length: 600 }, (_, i) => [['human', tricky(i)], ['gpt', `${FOX} ${i}`]]);
    const text = sharegpt(convs);
    expect(text.length).toBeGreaterThan(3 * 65536);
    const t = await readTrace(write(text, 'chunks.json'), { rate: 1 });
    expect(t.n).toBe(600);
    expect(t.programs!.programIds).toEqual((JSON.parse(text) as { id: string }[]).map((e) => e.id));
    // Longer text, more tokens: the prompts grow with the padding of each message.
    expect(t.prompt_tokens[96]).toBeGreaterThan(t.prompt_tokens[0]);
  });

  it('without --rate: an error saying ShareGPT has no timestamps', async () => {
    const f = write(sharegpt([[['human', HW2], ['gpt', FOX]]]), 'norate.json');
    const e = await inputErrorAsync(readTrace(f));
    expect(e.field).toBe('--rate');
    expect(e.message).toMatch(/ShareGPT file, which has no timestamps: give --rate R/);
  });

  it('bad messages name the element\'s line and the field', async () => {
    const f = write('[\n  {"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]},\n  {"id": "b", "conversations": [{"from": "human", "value": 3}]}\n]\n', 'bad.json');
    const e = await inputErrorAsync(readTrace(f, { rate: 1 }));
    expect([e.line, e.field]).toEqual([3, 'conversations[0].value']);
    expect(e.message).toMatch(/element 1: value must be the message text \(a string\), got the number 3/);
    const g = write('[{"id": "a", "conversations": [{"from": "human", "value": "hi"}]},\n{"id": "b", "conversations": [}]\n', 'badjson.json');
    const e2 = await inputErrorAsync(readTrace(g, { rate: 1 }));
    expect([e2.line, e2.field]).toEqual([2, 'json']);
    const h = write('[{"id": "a", "conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "yo"}]}', 'open.json');
    const e3 = await inputErrorAsync(readTrace(h, { rate: 1 }));
    expect(e3.message).toMatch(/not closed/);
  });

  it('--sharegpt-mode on another format is refused', async () => {
    const f = write('arrival_s,prompt_tokens,output_tokens\n0,1,1\n', 'g.csv');
    const e = await inputErrorAsync(readTrace(f, { sharegptMode: 'first-turn' }));
    expect(e.field).toBe('--sharegpt-mode');
  });

  it('sim runs the shipped sample; --rate sets the arrivals rather than rescaling them', async () => {
    const r = await runSim('--trace', 'traces/sharegpt-sample.json', '--rate', '0.5', '--seed', '2', '--json');
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out);
    expect(summary.requests.total).toBe(8); // conversation mode: 1 + 3 + 2 + 0 + 1 + 1 replies
    expect(summary.requests.completed).toBe(8);
  }, 60_000);
});

describe('a file in no known format', () => {
  const known = /llmsched reads: azure: .*burstgpt: .*generic: .*vidur: .*JSONL.*mooncake.*LLMServingSim JSONL.*TSV.*ShareGPT JSON/;

  it('an unknown CSV header lists every format', async () => {
    const e = await inputErrorAsync(readTrace(write('a,b,c\n1,2,3\n', 'x.csv')));
    expect([e.line, e.field]).toEqual([1, 'header']);
    expect(e.message).toMatch(known);
    expect(e.message.split('\n')).toHaveLength(1);
  });

  it('text that is not even CSV is not called malformed CSV alone', async () => {
    const e = await inputErrorAsync(readTrace(write('"unclosed header\nmore text\n', 'x.txt')));
    expect(e.message).toMatch(/not a trace in any known format/);
    expect(e.message).toMatch(known);
  });

  it('a JSON array that is not ShareGPT, and an unknown TSV header', async () => {
    const a = await inputErrorAsync(readTrace(write('[{"timestamp": 0, "input_length": 1, "output_length": 1}]', 'arr.json')));
    expect([a.line, a.field]).toEqual([1, 'json']);
    expect(a.message).toMatch(/a JSON array; JSONL traces have one JSON object per line/);
    expect(a.message).toMatch(known);
    const t = await inputErrorAsync(readTrace(write('prompt\toutput\n1\t2\n', 'x.tsv')));
    expect([t.line, t.field]).toEqual([1, 'header']);
    expect(t.message).toMatch(known);
  });
});
