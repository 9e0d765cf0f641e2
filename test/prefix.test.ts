/**
 * Prefix identities (Trace.prefix; docs/traces.md, "Prefix identities"): each format's mapping on
 * tiny hand-worked files, the transforms, and the prefixReuse statistic on hand-made traces.
 */
import { describe, expect, it } from 'vitest';
import { outId, ownId, type Trace, type TracePrefix } from '../sim/trace.ts';
import { readTrace, tileTrace, transformTrace } from '../traces/index.ts';
import { prefixReuse, prefixReuseCounts } from '../traces/stats.ts';
import { slicePrefix, tilePrefix } from '../traces/prefix.ts';
import { syntheticTrace } from '../traces/synthetic.ts';
import { formatProgramJsonl } from '../traces/programs.ts';
import { generatePrograms, generateProgramTrace, PROGRAM_KINDS } from '../traces/generators.ts';
import { normalizeOptions } from '../app/config.ts';
import { inputError, inputErrorAsync, makeTrace, tempFiles } from './helpers.ts';

const write = tempFiles('llmsched-prefix-');

/** Segments of request i as [id, tokens] pairs. */
function segs(p: TracePrefix, i: number): [number, number][] {
  const out: [number, number][] = [];
  for (let k = p.start[i]; k < p.start[i + 1]; k++) out.push([p.id[k], p.tokens[k]]);
  return out;
}

/** A trace with the given prompts and segments per request (outputs 1, arrivals 0, 1, ...). */
function withPrefix(prompt: number[], rows: [number, number][][], output?: number[]): Trace {
  const t = makeTrace(prompt.map((_, i) => i), prompt, output ?? prompt.map(() => 1));
  const start = new Int32Array(rows.length + 1);
  const flat = rows.flat();
  rows.forEach((r, i) => (start[i + 1] = start[i] + r.length));
  t.prefix = { start, id: Int32Array.from(flat.map((x) => x[0])), tokens: Int32Array.from(flat.map((x) => x[1])) };
  return t;
}

describe('prefixReuse', () => {
  // Contents A = 0, B = 1. Prompts as pieces (B = 4 tokens per block):
  //   r0 A[0,6) own0[0,4)   blocks 2: both new
  //   r1 A[0,8) own1[0,1)   blocks 2: A[0,4) hit; A[0,8) new (r0's second block is A[4,6)+own0)
  //   r2 A[0,6) B[0,6)      blocks 3: A[0,4) hit; then new, new
  //   r3 A[0,6) B[0,2)      blocks 2: A[0,4) hit; A[0,6)B[0,2) hit (r2's second block)
  //   r4 own4[0,5)          blocks 1: new
  //   r5 B[0,4)             blocks 1: new (B was only seen after A[0,6))
  const t = withPrefix([10, 9, 12, 8, 5, 4], [[[0, 6]], [[0, 8]], [[0, 6], [1, 6]], [[0, 6], [1, 2]], [], [[1, 4]]]);

  it('counts full prompt blocks whose chained identity an earlier prompt had (hand-worked, B = 4 and 2)', () => {
    expect(prefixReuseCounts(t, 4)).toEqual({ blocks: 11, hits: 4 });
    expect(prefixReuse(t, 4)).toBe(4 / 11);
    // B = 2: r1 hits A[0,2), A[0,4), A[0,6); r2 the same three; r3 those and A[0,6)B[0,2).
    expect(prefixReuseCounts(t, 2)).toEqual({ blocks: 23, hits: 10 });
    // One block as long as the longest prompt: only whole 12-token prompts count (r2 alone, new).
    expect(prefixReuseCounts(t, 12)).toEqual({ blocks: 1, hits: 0 });
  });

  it('does not depend on the order of the requests, and a trace without prefix has none', () => {
    const order = [5, 3, 1, 4, 2, 0];
    const rows = order.map((i) => segs(t.prefix!, i));
    const u = withPrefix(order.map((i) => t.prompt_tokens[i]), rows);
    for (const b of [1, 2, 3, 4, 5, 16]) expect(prefixReuseCounts(u, b)).toEqual(prefixReuseCounts(t, b));
    expect(prefixReuseCounts(makeTrace([0, 1], [8, 8], [1, 1]), 4)).toEqual({ blocks: 4, hits: 0 });
    expect(prefixReuse(makeTrace([0], [3], [1]), 4)).toBe(0);
    expect(() => prefixReuse(t, 0)).toThrow(RangeError);
  });

  it('never counts outputs as cached: a chain hits its parent prompt, and the grandparent output', async () => {
    // a (prompt 8, output 4); b resends a's context + 4 new tokens; c resends b's.
    const f = write(
      [
        { program_id: 'P', call_id: 'a', parents: [], arrival_s: 0, prompt_tokens: 8, output_tokens: 4 },
        { program_id: 'P', call_id: 'b', parents: ['a'], prompt_tokens: 16, output_tokens: 4, prefix_from: 'a' },
        { program_id: 'P', call_id: 'c', parents: ['b'], prompt_tokens: 24, output_tokens: 4, prefix_from: 'b' },
      ]
        .map((o) => JSON.stringify(o))
        .join('\n') + '\n',
      'chain.jsonl',
    );
    const t = await readTrace(f);
    expect(segs(t.prefix!, 0)).toEqual([]);
    expect(segs(t.prefix!, 1)).toEqual([[ownId(0), 8], [outId(0), 4]]);
    expect(segs(t.prefix!, 2)).toEqual([[ownId(0), 8], [outId(0), 4], [ownId(1), 4], [outId(1), 4]]);
    // B = 4: a 0 of 2; b 2 of 4 (a's prompt; not a's output); c 4 of 6 (a's prompt and output, b's new tokens).
    expect(prefixReuseCounts(t, 4)).toEqual({ blocks: 12, hits: 6 });
  });
});

describe('formats', () => {
  it('Mooncake: id k = prompt tokens [512k, min(512(k+1), prompt)); any block size sees pieces of them', async () => {
    const t = await readTrace(
      write(
        '{"timestamp": 0, "input_length": 1000, "output_length": 1, "hash_ids": [7, 8]}\n' +
          '{"timestamp": 1, "input_length": 700, "output_length": 1, "hash_ids": [7, 9]}\n' +
          '{"timestamp": 2, "input_length": 300, "output_length": 1}\n',
        'm.jsonl',
      ),
    );
    expect(segs(t.prefix!, 0)).toEqual([[7, 512], [8, 488]]);
    expect(segs(t.prefix!, 1)).toEqual([[7, 512], [9, 188]]);
    expect(segs(t.prefix!, 2)).toEqual([]);
    // 512: blocks 1 + 1 + 0, the second hits. 16: 62 + 43 + 18 blocks; 32 of request 1 hit.
    expect(prefixReuseCounts(t, 512)).toEqual({ blocks: 2, hits: 1 });
    expect(prefixReuseCounts(t, 16)).toEqual({ blocks: 62 + 43 + 18, hits: 32 });
  });

  it('generic CSV: prefix_group and prefix_tokens give one declared segment (groups numbered as met)', async () => {
    const t = await readTrace(
      write(
        'arrival_s,prompt_tokens,output_tokens,prefix_group,prefix_tokens,id\n0,10,1,sys,4,a\n1,12,1,,,b\n2,8,2,other,8,c\n3,9,1,sys,6,d\n',
        'g.csv',
      ),
    );
    expect(Array.from(t.prefix!.start)).toEqual([0, 1, 1, 2, 3]);
    expect([segs(t.prefix!, 0), segs(t.prefix!, 2), segs(t.prefix!, 3)]).toEqual([[[0, 4]], [[1, 8]], [[0, 6]]]);
    expect(t.extra).toEqual({ id: ['a', 'b', 'c', 'd'] });
    // B = 2: d hits sys[0,2) and sys[0,4) (a's prompt), not sys[0,6).
    expect(prefixReuseCounts(t, 2)).toEqual({ blocks: 5 + 6 + 4 + 4, hits: 2 });
    // Unsorted rows keep their segments.
    const u = await readTrace(write('arrival_s,prompt_tokens,output_tokens,prefix_group,prefix_tokens\n5,10,1,x,3\n1,12,1,y,2\n', 'u.csv'));
    expect([segs(u.prefix!, 0), segs(u.prefix!, 1)]).toEqual([[[1, 2]], [[0, 3]]]);
    expect((await readTrace(write('arrival_s,prompt_tokens,output_tokens\n0,1,1\n', 'n.csv'))).prefix).toBeUndefined();
  });

  it('generic CSV: prefix errors name file, line and field', async () => {
    const H = 'arrival_s,prompt_tokens,output_tokens,prefix_group,prefix_tokens\n';
    const cases: [string, number, string, RegExp][] = [
      ['arrival_s,prompt_tokens,output_tokens,prefix_group\n0,1,1,a\n', 1, 'prefix_group', /column 'prefix_group' needs column 'prefix_tokens'/],
      ['arrival_s,prompt_tokens,output_tokens,prefix_tokens\n0,1,1,1\n', 1, 'prefix_tokens', /column 'prefix_tokens' needs column 'prefix_group'/],
      [H + '0,4,1,a,2\n1,4,1,a,\n', 3, 'prefix_tokens', /prefix_group is set but prefix_tokens is blank/],
      [H + '0,4,1,,2\n', 2, 'prefix_group', /prefix_tokens is set but prefix_group is blank/],
      [H + '0,4,1,a,5\n', 2, 'prefix_tokens', /prefix_tokens 5 exceeds prompt_tokens 4/],
      [H + '0,4,1,a,0\n', 2, 'prefix_tokens', /prefix tokens must be >= 1/],
      [H + '0,4,1,a,1.5\n', 2, 'prefix_tokens', /integer/],
    ];
    for (const [body, line, field, msg] of cases) {
      const f = write(body, 'bad.csv');
      const e = await inputErrorAsync(readTrace(f));
      expect([e.file, e.line, e.field]).toEqual([f, line, field]);
      expect(e.message).toMatch(msg);
    }
  });

  it('synthetic --shared-prefix COUNT:TOKENS: prompt = TOKENS + the drawn length, one prompt of COUNT each, arrivals and lengths unchanged', () => {
    const spec = { arrival: 'poisson' as const, rate: 2, n: 4000, seed: 3 };
    const plain = syntheticTrace(spec);
    const t = syntheticTrace({ ...spec, shared_prefix: '4:100' });
    expect(t.arrival_s).toEqual(plain.arrival_s);
    expect(t.output_tokens).toEqual(plain.output_tokens);
    for (let i = 0; i < t.n; i++) expect(t.prompt_tokens[i]).toBe(plain.prompt_tokens[i] + 100);
    const p = t.prefix!;
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < t.n; i++) {
      expect([p.start[i + 1] - p.start[i], p.tokens[p.start[i]]]).toEqual([1, 100]);
      counts[p.id[p.start[i]]]++;
    }
    for (const c of counts) expect(c).toBeGreaterThan(900);
    expect(syntheticTrace({ ...spec, shared_prefix: '4:100' })).toEqual(t);
    expect(t.source).toContain('shared_prefix=4:100');
    // Block 100: each shared prompt is a full block: all hit but the first of each of the 4.
    expect(prefixReuseCounts(t, 100).hits).toBe(t.n - 4);
    for (const bad of ['0:5', '3', '2:0', '1:2000000', 'a:b', '1.5:3']) {
      expect(inputError(() => syntheticTrace({ ...spec, shared_prefix: bad })).field).toBe('--shared-prefix');
    }
    expect(inputError(() => normalizeOptions({ policy: 'fcfs', trace: 'x.csv', 'shared-prefix': '2:10' })).field).toBe('--shared-prefix');
    expect(normalizeOptions({ policy: 'fcfs', synthetic: 'poisson', 'shared-prefix': '2:10' })['shared-prefix']).toBe('2:10');
  });
});

describe('transforms', () => {
  // r0 declared 5; r1 resends r0's context; r2 resends r1's.
  const t = withPrefix(
    [4, 10, 16],
    [[[5, 2]], [[5, 2], [ownId(0), 2], [outId(0), 3]], [[5, 2], [ownId(0), 2], [outId(0), 3], [ownId(1), 3], [outId(1), 3]]],
    [3, 3, 3],
  );

  it('a window renumbers own/output ids of kept requests; those of dropped requests become fresh declared ids', () => {
    const p = slicePrefix(t.prefix!, 1, 3);
    expect(segs(p, 0)).toEqual([[5, 2], [6, 2], [7, 3]]);
    expect(segs(p, 1)).toEqual([[5, 2], [6, 2], [7, 3], [ownId(0), 3], [outId(0), 3]]);
    const w = transformTrace(t, { start_s: 1 });
    expect(w.prefix).toEqual(p);
    expect(transformTrace(t, { limit: 1 }).prefix).toEqual(slicePrefix(t.prefix!, 0, 1));
    expect(transformTrace(t, { rate_scale: 2 }).prefix).toEqual(t.prefix);
    // The reuse of what is kept is unchanged by the renaming (r2 hits what r1 had).
    expect(prefixReuseCounts(w, 1)).toEqual({ blocks: 26, hits: 10 });
  });

  it('tiling: copies share declared ids, never own or output ids', () => {
    const x = tileTrace(t, 2);
    expect(x.prefix).toEqual(tilePrefix(t.prefix!, 2));
    expect(segs(x.prefix!, 4)).toEqual([[5, 2], [ownId(3), 2], [outId(3), 3]]);
    expect(segs(x.prefix!, 3)).toEqual([[5, 2]]);
    // B = 1: the original's hits, again in the copy, plus the copy's first declared tokens (r0' hits 5[0,2)).
    const one = prefixReuseCounts(t, 1);
    expect(prefixReuseCounts(x, 1)).toEqual({ blocks: 2 * one.blocks, hits: 2 * one.hits + 2 });
  });
});

describe('sim generate prefix_from', () => {
  it('is deterministic per seed and marks every resent context (multi-turn, coding-agent, react, tree-search)', () => {
    for (const kind of PROGRAM_KINDS) {
      const spec = { kind, programs: 6, rate: 1, seed: 'pf', ...(kind === 'tree-search' ? { depth: 2, branching: 2 } : {}) };
      const a = formatProgramJsonl(generatePrograms(spec));
      expect(formatProgramJsonl(generatePrograms(spec))).toBe(a);
      const has = a.includes('"prefix_from"');
      expect(has).toBe(['multi-turn', 'coding-agent', 'react', 'tree-search'].includes(kind));
      const t = generateProgramTrace(spec);
      expect(t.prefix !== undefined).toBe(has);
    }
  });

  it("a generated chain's call k begins with call k−1's context", () => {
    const t = generateProgramTrace({ kind: 'multi-turn', programs: 1, rate: 1, seed: 'hand', calls: 'const:3' });
    expect(t.n).toBe(3);
    const [p0, p1] = [t.prompt_tokens[0], t.prompt_tokens[1]];
    const [o0, o1] = [t.output_tokens[0], t.output_tokens[1]];
    expect(segs(t.prefix!, 1)).toEqual([[ownId(0), p0], [outId(0), o0]]);
    expect(segs(t.prefix!, 2)).toEqual([[ownId(0), p0], [outId(0), o0], [ownId(1), p1 - p0 - o0], [outId(1), o1]]);
  });
});
