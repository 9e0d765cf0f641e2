/**
 * Program traces: the JSONL format (round trip, every bad-input case), topological order of read
 * and generated traces, generator determinism and means against their analytic values, the
 * TraceLab sample against values worked out by hand from the file, and `sim generate`.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { InputError } from '../sim/errors.ts';
import { readTrace } from '../traces/read.ts';
import { buildProgramTrace, formatProgramJsonl, traceToProgramCalls, type ProgramCall } from '../traces/programs.ts';
import { generatePrograms, generateProgramTrace, PROGRAM_KINDS, DEFAULT_MAX_CONTEXT, LONG_MAX_CONTEXT, MAX_CONTEXT_LIMIT, type GeneratorSpec } from '../traces/generators.ts';
import { outId, ownId, type Trace } from '../sim/trace.ts';
import { prefixReuseCounts } from '../traces/stats.ts';
import { inputErrorAsync, runSim } from './helpers.ts';

/** The TraceLab sample in shared/ beside the repository (the checkout's parent), as in CI. */
const BESIDE = path.resolve('../shared/traces/round_trace.jsonl');
const TRACELAB = fs.existsSync(BESIDE) ? BESIDE : '/work/shared/traces/round_trace.jsonl';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-programs-'));
let fileNo = 0;
/** Writes text to a fresh .jsonl file and returns its path. */
function jsonl(text: string): string {
  const f = path.join(dir, `t${fileNo++}.jsonl`);
  fs.writeFileSync(f, text);
  return f;
}
const line = (o: Record<string, unknown>) => JSON.stringify(o);

/** Checks the Trace invariants of a program trace; returns nothing, fails the test on a violation. */
function checkProgramTrace(t: Trace): void {
  const p = t.programs!;
  expect(p.program.length).toBe(t.n);
  expect(p.parentStart.length).toBe(t.n + 1);
  expect(p.parentStart[t.n]).toBe(p.parents.length);
  expect(t.arrival_s[0]).toBe(0);
  for (let i = 0; i < t.n; i++) {
    if (i > 0) expect(t.arrival_s[i]).toBeGreaterThanOrEqual(t.arrival_s[i - 1]);
    // calls of a program are contiguous, programs numbered in order
    if (i > 0) expect(p.program[i] === p.program[i - 1] || p.program[i] === p.program[i - 1] + 1).toBe(true);
    for (let k = p.parentStart[i]; k < p.parentStart[i + 1]; k++) {
      expect(p.parents[k]).toBeLessThan(i);
      expect(p.program[p.parents[k]]).toBe(p.program[i]);
    }
    if (p.parentStart[i] === p.parentStart[i + 1]) expect(p.delay_s[i]).toBe(0);
    expect(p.delay_s[i]).toBeGreaterThanOrEqual(0);
    expect(t.prompt_tokens[i]).toBeGreaterThanOrEqual(1);
    expect(t.output_tokens[i]).toBeGreaterThanOrEqual(1);
  }
}

/** Calls of a trace as comparable records, keyed by program/call (order-free). */
function byKey(calls: ProgramCall[]): Map<string, ProgramCall> {
  return new Map(calls.map((c) => [`${c.program_id}/${c.call_id}`, { ...c, line: undefined }]));
}

describe('program JSONL format', () => {
  it('reads a small DAG: programs ordered by arrival, parents first, arrivals relative, delays kept', async () => {
    const f = jsonl(
      [
        line({ program_id: 'B', call_id: 'x', parents: [], arrival_s: 100, prompt_tokens: 5, output_tokens: 6 }),
        line({ program_id: 'A', call_id: 'r', parents: ['m1', 'm2'], delay_s: 0.5, prompt_tokens: 9, output_tokens: 1, prefix_from: 'm2' }),
        line({ program_id: 'A', call_id: 'm2', parents: ['s'], delay_s: 2, prompt_tokens: 3, output_tokens: 3 }),
        line({ program_id: 'A', call_id: 's', arrival_s: 90, prompt_tokens: 1, output_tokens: 2 }),
        '',
        line({ program_id: 'A', call_id: 'm1', parents: ['s'], prompt_tokens: 7, output_tokens: 8 }),
      ].join('\n') + '\n',
    );
    const t = await readTrace(f);
    checkProgramTrace(t);
    const p = t.programs!;
    expect(p.programIds).toEqual(['A', 'B']);
    expect(p.callIds).toEqual(['s', 'm2', 'm1', 'r', 'x']); // ready calls taken in file order
    expect(Array.from(p.program)).toEqual([0, 0, 0, 0, 1]);
    expect(Array.from(t.arrival_s)).toEqual([0, 0, 0, 0, 10]);
    expect(Array.from(p.delay_s)).toEqual([0, 2, 0, 0.5, 0]);
    expect(Array.from(p.parentStart)).toEqual([0, 0, 1, 2, 4, 4]);
    expect(Array.from(p.parents)).toEqual([0, 0, 2, 1]); // r's parents in the order listed: m1, m2
    expect(Array.from(t.prompt_tokens)).toEqual([1, 3, 7, 9, 5]);
    // r (request 3) begins with m2's (request 1's) context: its 3 prompt tokens, then its 3 output tokens.
    expect(Array.from(t.prefix!.start)).toEqual([0, 0, 0, 0, 2, 2]);
    expect(Array.from(t.prefix!.id)).toEqual([ownId(1), outId(1)]);
    expect(Array.from(t.prefix!.tokens)).toEqual([3, 3]);
    expect(traceToProgramCalls(t)[3].prefix_from).toBe('m2');
  });

  it('round-trips: generate → write → read gives the same structure for every kind', async () => {
    for (const kind of PROGRAM_KINDS) {
      const spec: GeneratorSpec = { kind, programs: 4, rate: 2, seed: `rt-${kind}` };
      const calls = generatePrograms(spec);
      const t = await readTrace(jsonl(formatProgramJsonl(calls)));
      checkProgramTrace(t);
      expect(traceToProgramCalls(t)).toEqual(calls);
      const direct = generateProgramTrace(spec);
      expect(t.programs).toEqual(direct.programs);
      expect(t.arrival_s).toEqual(direct.arrival_s);
      expect(t.prompt_tokens).toEqual(direct.prompt_tokens);
      expect(t.output_tokens).toEqual(direct.output_tokens);
    }
  });

  it('reads shuffled lines into a topological order with the same DAG (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...PROGRAM_KINDS),
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        async (kind, seed, programs, shuffleSeed) => {
          const spec: GeneratorSpec = { kind, programs, rate: 1, seed };
          if (kind === 'tree-search') Object.assign(spec, { branching: 3, depth: 2 });
          const calls = generatePrograms(spec);
          // Fisher–Yates with a small LCG from the drawn seed.
          const lines = calls.map((c) => formatProgramJsonl([c]));
          let s = shuffleSeed >>> 0;
          for (let i = lines.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
            const j = s % (i + 1);
            [lines[i], lines[j]] = [lines[j], lines[i]];
          }
          const t = await readTrace(jsonl(lines.join('')));
          checkProgramTrace(t);
          expect(byKey(traceToProgramCalls(t))).toEqual(byKey(calls));
        },
      ),
      { numRuns: 40, seed: 6 },
    );
  });

  /** Bad-input cases: file lines, and the line, field, program and call the error must name. */
  const R = (o: Record<string, unknown>) => line({ program_id: 'P', parents: [], arrival_s: 0, prompt_tokens: 1, output_tokens: 1, ...o });
  const C = (o: Record<string, unknown>) => line({ program_id: 'P', prompt_tokens: 1, output_tokens: 1, ...o });
  const bad: { name: string; lines: string[]; at: number; field: string; call: string; msg: RegExp }[] = [
    { name: 'missing parent', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['zz'] })], at: 2, field: 'parents', call: 'b', msg: /parent 'zz' is not a call/ },
    { name: 'parent in another program', lines: [R({ call_id: 'a' }), R({ program_id: 'Q', call_id: 'q' }), C({ call_id: 'b', parents: ['q'] })], at: 3, field: 'parents', call: 'b', msg: /not a call of program 'P'/ },
    { name: 'cycle', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['a', 'c'] }), C({ call_id: 'c', parents: ['b'] })], at: 2, field: 'parents', call: 'b', msg: /cycle in the program's calls \(parent -> child\): 'b' -> 'c' -> 'b'/ },
    { name: 'self-parent', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['b'] })], at: 2, field: 'parents', call: 'b', msg: /cycle.*'b' -> 'b'/ },
    { name: 'duplicate call id', lines: [R({ call_id: 'a' }), C({ call_id: 'a', parents: [] , arrival_s: 0})], at: 2, field: 'call_id', call: 'a', msg: /duplicate call id.*line 1/ },
    { name: 'duplicate parent', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['a', 'a'] })], at: 2, field: 'parents', call: 'b', msg: /listed twice/ },
    { name: 'root without arrival_s', lines: [C({ call_id: 'a', parents: [] })], at: 1, field: 'arrival_s', call: 'a', msg: /root call .* needs arrival_s/ },
    { name: 'non-root with arrival_s', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['a'], arrival_s: 3 })], at: 2, field: 'arrival_s', call: 'b', msg: /with parents has no arrival_s/ },
    { name: 'root with a delay', lines: [R({ call_id: 'a', delay_s: 2 })], at: 1, field: 'delay_s', call: 'a', msg: /delay_s must be 0/ },
    { name: 'roots with different arrivals', lines: [R({ call_id: 'a' }), R({ call_id: 'b', arrival_s: 1 })], at: 2, field: 'arrival_s', call: 'b', msg: /share arrival_s/ },
    { name: 'negative delay', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['a'], delay_s: -1 })], at: 2, field: 'delay_s', call: 'b', msg: />= 0/ },
    { name: 'negative prompt tokens', lines: [R({ call_id: 'a', prompt_tokens: -3 })], at: 1, field: 'prompt_tokens', call: 'a', msg: /negative/ },
    { name: 'non-integer output tokens', lines: [R({ call_id: 'a', output_tokens: 2.5 })], at: 1, field: 'output_tokens', call: 'a', msg: /not an integer/ },
    { name: 'zero output tokens', lines: [R({ call_id: 'a', output_tokens: 0 })], at: 1, field: 'output_tokens', call: 'a', msg: />= 1/ },
    { name: 'missing prompt tokens', lines: [line({ program_id: 'P', call_id: 'a', arrival_s: 0, output_tokens: 1 })], at: 1, field: 'prompt_tokens', call: 'a', msg: /missing prompt_tokens/ },
    { name: 'cached_tokens (no longer read)', lines: [R({ call_id: 'a', prompt_tokens: 4, cached_tokens: 2 })], at: 1, field: 'cached_tokens', call: 'a', msg: /cached_tokens is no longer read; give prefix_from/ },
    { name: 'prefix_from not a parent', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['a'] }), C({ call_id: 'c', parents: ['b'], prefix_from: 'a' })], at: 3, field: 'prefix_from', call: 'c', msg: /prefix_from 'a' is not one of the call's parents/ },
    { name: 'prefix_from too long', lines: [R({ call_id: 'a', prompt_tokens: 4, output_tokens: 3 }), C({ call_id: 'b', parents: ['a'], prompt_tokens: 6, prefix_from: 'a' })], at: 2, field: 'prefix_from', call: 'b', msg: /context of 7 tokens \(prompt 4 \+ output 3\) does not fit in prompt_tokens 6/ },
    { name: 'prefix_from not an id', lines: [R({ call_id: 'a' }), C({ call_id: 'b', parents: ['a'], prefix_from: [] })], at: 2, field: 'prefix_from', call: 'b', msg: /prefix_from must be a non-empty string or an integer/ },
    { name: 'parents not an array', lines: [R({ call_id: 'a', parents: 'x' })], at: 1, field: 'parents', call: 'a', msg: /array of call ids/ },
    { name: 'bad arrival', lines: [R({ call_id: 'a', arrival_s: 'soon' })], at: 1, field: 'arrival_s', call: 'a', msg: /finite JSON number/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}, naming file, line, program and call`, async () => {
      const f = jsonl(c.lines.join('\n') + '\n');
      const e = await inputErrorAsync(readTrace(f));
      expect(e.file).toBe(f);
      expect(e.line).toBe(c.at);
      expect(e.field).toBe(c.field);
      expect(e.message).toContain(`program 'P'`);
      expect(e.message).toContain(`call '${c.call}'`);
      expect(e.message).toMatch(c.msg);
    });
  }

  it('rejects invalid JSON, a missing call_id, and an empty program list with file and line', async () => {
    const f1 = jsonl(R({ call_id: 'a' }) + '\n{oops\n');
    expect(await inputErrorAsync(readTrace(f1))).toMatchObject({ file: f1, line: 2, field: 'json' });
    const f2 = jsonl(line({ program_id: 'P', arrival_s: 0, prompt_tokens: 1, output_tokens: 1 }) + '\n');
    const e2 = await inputErrorAsync(readTrace(f2));
    expect(e2).toMatchObject({ file: f2, line: 1, field: 'call_id' });
    expect(e2.message).toContain(`program 'P'`);
    expect(() => buildProgramTrace([], 'none', 'none', 'generic')).toThrow(InputError);
  });

  it('still sends Mooncake JSONL to the Mooncake reader', async () => {
    const f = jsonl(line({ timestamp: 0, input_length: 3, output_length: 4 }) + '\n');
    const t = await readTrace(f);
    expect(t.format).toBe('mooncake');
    expect(t.programs).toBeUndefined();
  });
});

describe('generators', () => {
  it('keep parents before children for any kind, seed and shape (property)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PROGRAM_KINDS),
        fc.integer({ min: 0, max: 1e9 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (kind, seed, programs, branching, depth, expand_p) => {
          const spec: GeneratorSpec = { kind, programs, rate: 3, seed };
          if (kind === 'tree-search') Object.assign(spec, { branching, depth, expand_p });
          if (kind === 'map-reduce') spec.width = `uniform:1,${branching + 1}`;
          const t = generateProgramTrace(spec);
          checkProgramTrace(t);
          expect(t.programs!.count).toBe(programs);
        },
      ),
      { numRuns: 150, seed: 7 },
    );
  });

  it('are deterministic per seed, and the seed matters', () => {
    for (const kind of PROGRAM_KINDS) {
      const a = formatProgramJsonl(generatePrograms({ kind, programs: 5, rate: 1, seed: 11 }));
      const b = formatProgramJsonl(generatePrograms({ kind, programs: 5, rate: 1, seed: 11 }));
      const c = formatProgramJsonl(generatePrograms({ kind, programs: 5, rate: 1, seed: 12 }));
      expect(a).toBe(b);
      expect(a).not.toBe(c);
    }
  });

  /** Sample mean and its standard error. */
  function meanSe(xs: number[]): { mean: number; se: number } {
    const n = xs.length;
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const v = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1);
    return { mean, se: Math.sqrt(v / n) };
  }
  /** Expects the sample mean of xs within 3 standard errors of `truth`. */
  function near(xs: number[], truth: number, what: string): void {
    const { mean, se } = meanSe(xs);
    expect(Math.abs(mean - truth), `${what}: mean ${mean} vs ${truth} (se ${se})`).toBeLessThanOrEqual(3 * se);
  }
  /** E[min(N, M)] for N geometric on 1, 2, ... with mean m: Σ_{k<M} P(N > k) = (1 − q^M)/p. */
  const truncGeomMean = (m: number, M: number) => (1 - (1 - 1 / m) ** M) * m;
  /** Per-program call counts, and the calls grouped by program. */
  function groups(calls: ProgramCall[]): ProgramCall[][] {
    const g = new Map<string, ProgramCall[]>();
    for (const c of calls) (g.get(c.program_id) ?? g.set(c.program_id, []).get(c.program_id)!).push(c);
    return [...g.values()];
  }
  const rootsArrivals = (calls: ProgramCall[]) => groups(calls).map((g) => g[0].arrival_s!);
  const gaps = (xs: number[]) => xs.slice(1).map((x, i) => x - xs[i]);

  it('react matches Autellix BFCL: calls per program, prompt (first, then new tokens per step), decode, tool delay, Poisson rate', () => {
    const calls = generatePrograms({ kind: 'react', programs: 3000, rate: 2, seed: 'm-react' });
    near(groups(calls).map((g) => g.length), truncGeomMean(10.75, 70), 'calls per program');
    expect(Math.max(...groups(calls).map((g) => g.length))).toBeLessThanOrEqual(70);
    near(groups(calls).map((g) => g[0].prompt_tokens), 735.06, 'first prompt');
    const app: number[] = [];
    for (const g of groups(calls)) {
      for (let k = 1; k < g.length; k++) {
        expect(g[k].prefix_from).toBe(g[k - 1].call_id); // resends the trajectory
        app.push(g[k].prompt_tokens - g[k - 1].prompt_tokens - g[k - 1].output_tokens);
      }
    }
    near(app, 735.06, 'new tokens per step');
    near(calls.map((c) => c.output_tokens), 34.14, 'decode');
    near(calls.filter((c) => c.parents.length > 0).map((c) => c.delay_s!), 1, 'tool delay');
    near(gaps(rootsArrivals(calls)), 1 / 2, 'inter-arrival gap');
  });

  it('tree-search: the full tree by default (1 + 5 + 25 + 125 = 156 calls), mean Σ (b·p)^k with expand_p', () => {
    const full = generatePrograms({ kind: 'tree-search', programs: 20, rate: 1, seed: 't' });
    for (const g of groups(full)) expect(g.length).toBe(156);
    near(full.filter((c) => c.parents.length === 0).map((c) => c.prompt_tokens), 467.2, 'root prompt');
    const byId = new Map(full.map((c) => [`${c.program_id}/${c.call_id}`, c]));
    const app: number[] = [];
    for (const c of full) {
      if (c.parents.length === 0) continue;
      const p = byId.get(`${c.program_id}/${c.parents[0]}`)!;
      expect(c.prefix_from).toBe(p.call_id); // a child resends its parent's context
      app.push(c.prompt_tokens - p.prompt_tokens - p.output_tokens);
    }
    near(app, 467.2, 'new tokens per child');
    near(full.map((c) => c.output_tokens), 72.6, 'decode');
    const part = generatePrograms({ kind: 'tree-search', programs: 3000, rate: 1, seed: 't2', branching: 3, depth: 3, expand_p: 0.5 });
    near(groups(part).map((g) => g.length), 1 + 1.5 + 1.5 ** 2 + 1.5 ** 3, 'calls per program');
  });

  it('multi-turn and coding-agent: chain lengths, growing context (prompt_k = prompt_{k-1} + output_{k-1} + append)', () => {
    const cases: [GeneratorSpec, number, number, number, number, number][] = [
      // The growth itself, without the context cap (the cap has its own test below).
      [{ kind: 'multi-turn', programs: 3000, rate: 1, seed: 'mt', max_context: MAX_CONTEXT_LIMIT }, truncGeomMean(6.66, 80), 256, 256, 277, 10],
      [{ kind: 'coding-agent', programs: 800, rate: 1, seed: 'ca', max_context: MAX_CONTEXT_LIMIT }, truncGeomMean(20, 200), 20798, 492, 597, 7.27],
    ];
    for (const [spec, callsMean, first, append, out, delay] of cases) {
      const gs = groups(generatePrograms(spec));
      near(gs.map((g) => g.length), callsMean, `${spec.kind} calls`);
      near(gs.map((g) => g[0].prompt_tokens), first, `${spec.kind} first prompt`);
      const app: number[] = [];
      for (const g of gs) {
        for (let k = 1; k < g.length; k++) {
          expect(g[k].parents).toEqual([g[k - 1].call_id]);
          expect(g[k].prefix_from).toBe(g[k - 1].call_id);
          app.push(g[k].prompt_tokens - g[k - 1].prompt_tokens - g[k - 1].output_tokens);
        }
      }
      near(app, append, `${spec.kind} appended tokens`);
      near(gs.flat().map((c) => c.output_tokens), out, `${spec.kind} output`);
      near(gs.flat().filter((c) => c.parents.length > 0).map((c) => c.delay_s!), delay, `${spec.kind} delay`);
    }
  });

  it('map-reduce: width maps as roots then one reduce with all maps as parents, prompt = Σ map outputs + append', () => {
    const gs = groups(generatePrograms({ kind: 'map-reduce', programs: 3000, rate: 1, seed: 'mr', max_context: MAX_CONTEXT_LIMIT }));
    near(gs.map((g) => g.length), 1 + 9, 'calls per program'); // uniform:2,16 maps + 1 reduce
    const extra: number[] = [];
    for (const g of gs) {
      const maps = g.slice(0, -1);
      const red = g[g.length - 1];
      for (const m of maps) expect(m.parents).toEqual([]);
      expect(red.parents).toEqual(maps.map((m) => m.call_id));
      extra.push(red.prompt_tokens - maps.reduce((s, m) => s + m.output_tokens, 0));
    }
    near(extra, 256, 'reduce instruction');
    near(gs.flatMap((g) => g.slice(0, -1)).map((c) => c.prompt_tokens), 1024, 'map prompt');
  });

  it('every call fits --max-context (default 4096 for chatbot and map-reduce, else 131072): output clamped to max-1, then the prompt to max-output', () => {
    for (const kind of PROGRAM_KINDS) {
      const long = kind !== 'chatbot' && kind !== 'map-reduce';
      const limit = long ? LONG_MAX_CONTEXT : DEFAULT_MAX_CONTEXT;
      expect(limit).toBe(long ? 131072 : 4096);
      const dflt = generatePrograms({ kind, programs: 300, rate: 1, seed: `ctx-${kind}` });
      for (const c of dflt) expect(c.prompt_tokens + c.output_tokens, `${kind} ${c.program_id}/${c.call_id}`).toBeLessThanOrEqual(limit);
      const small = generatePrograms({ kind, programs: 100, rate: 1, seed: `ctx-${kind}`, max_context: 600 });
      const free = generatePrograms({ kind, programs: 100, rate: 1, seed: `ctx-${kind}`, max_context: MAX_CONTEXT_LIMIT });
      expect(small.length).toBe(free.length); // the same shapes: clamping draws nothing
      let clamped = 0;
      for (let i = 0; i < small.length; i++) {
        const [c, f] = [small[i], free[i]];
        expect(c.prompt_tokens + c.output_tokens).toBeLessThanOrEqual(600);
        expect(c.output_tokens).toBe(Math.min(f.output_tokens, 599));
        // Roots keep their drawn prompt unless it does not fit; later calls grow from the clamped one.
        if (c.parents.length === 0) expect(c.prompt_tokens).toBe(Math.min(f.prompt_tokens, 600 - c.output_tokens));
        if (c.prompt_tokens !== f.prompt_tokens || c.output_tokens !== f.output_tokens) clamped++;
      }
      expect(clamped, kind).toBeGreaterThan(0);
    }
    // A workload that fits is unchanged by the cap.
    const react = generatePrograms({ kind: 'react', programs: 20, rate: 1, seed: 'fits' });
    expect(Math.max(...react.map((c) => c.prompt_tokens + c.output_tokens))).toBeLessThanOrEqual(LONG_MAX_CONTEXT);
    expect(generatePrograms({ kind: 'react', programs: 20, rate: 1, seed: 'fits', max_context: MAX_CONTEXT_LIMIT })).toEqual(react);
  });

  it('chatbot: one call per program, ShareGPT means', () => {
    const calls = generatePrograms({ kind: 'chatbot', programs: 5000, rate: 4, seed: 'cb' });
    for (const g of groups(calls)) expect(g.length).toBe(1);
    near(calls.map((c) => c.prompt_tokens), 256, 'prompt');
    near(calls.map((c) => c.output_tokens), 277, 'output');
    near(gaps(rootsArrivals(calls)), 1 / 4, 'inter-arrival gap');
  });

  it('reject bad options, naming the option', () => {
    const bad: [Partial<GeneratorSpec>, string][] = [
      [{ kind: 'nope' as never }, '--kind'],
      [{ programs: 0 }, '--programs'],
      [{ rate: -1 }, '--rate'],
      [{ kind: 'chatbot', width: 'const:3' }, '--width'],
      [{ kind: 'react', calls: 'weird:1' }, '--calls'],
      [{ kind: 'react', delay_s: -1 }, '--delay-s'],
      [{ kind: 'tree-search', expand_p: 2 }, '--expand-p'],
      [{ kind: 'tree-search', branching: 0 }, '--branching'],
      [{ kind: 'react', max_calls: 0 }, '--max-calls'],
      [{ kind: 'chatbot', max_context: 1 }, '--max-context'],
      [{ kind: 'react', max_context: 2048.5 }, '--max-context'],
      [{ kind: 'react', max_context: 2 ** 24 + 1 }, '--max-context'],
    ];
    for (const [over, field] of bad) {
      try {
        generatePrograms({ kind: 'react', programs: 1, rate: 1, seed: 0, ...over });
        throw new Error(`accepted ${JSON.stringify(over)}`);
      } catch (e) {
        expect(e).toBeInstanceOf(InputError);
        expect((e as InputError).field).toBe(field);
      }
    }
  });
});

describe('TraceLab round_trace.jsonl', () => {
  it('reads the sample as 2 programs of 10 and 9 chained calls with the hand-worked times', async () => {
    const t = await readTrace(TRACELAB);
    checkProgramTrace(t);
    const p = t.programs!;
    expect(t.n).toBe(19);
    expect(p.count).toBe(2);
    // The Codex session (2026-03-21) arrives before the Claude one (2026-06-01).
    expect(p.programIds[0]).toMatch(/^codex:/);
    expect(p.programIds[1]).toMatch(/^claude:/);
    const sizes = [0, 0];
    for (let i = 0; i < t.n; i++) sizes[p.program[i]]++;
    expect(sizes).toEqual([9, 10]);
    for (let i = 0; i < t.n; i++) {
      const first = i === 0 || p.program[i] !== p.program[i - 1];
      expect(Array.from(p.parents.subarray(p.parentStart[i], p.parentStart[i + 1]))).toEqual(first ? [] : [i - 1]);
      expect(p.callIds[i]).toBe(String(first ? 0 : Number(p.callIds[i - 1]) + 1));
      expect(p.delay_s[i]).toBeGreaterThanOrEqual(0);
    }
    // Arrivals: user messages 2026-03-21T10:05:59.328Z and 2026-06-01T05:40:20.151Z.
    expect(t.arrival_s[9]).toBeCloseTo((Date.parse('2026-06-01T05:40:20.151Z') - Date.parse('2026-03-21T10:05:59.328Z')) / 1000, 6);
    // Codex round 1: last tool result 10:06:06.704 − round 0's last event (usage report) 10:06:05.542.
    expect(p.delay_s[1]).toBeCloseTo(1.162, 9);
    // Claude round 1: WebSearch emitted 05:40:31.647 + 19,291 ms = 05:40:50.938; round 0 ended 05:40:31.647.
    expect(p.delay_s[10]).toBeCloseTo(19.291, 9);
    // Claude round 5: no tools in round 4 (ended 05:42:23.420); user message at 05:42:43.333.
    expect(p.delay_s[14]).toBeCloseTo(19.913, 9);
    // Tokens: codex round 0 and claude round 0 as in the file.
    expect([t.prompt_tokens[0], t.output_tokens[0]]).toEqual([9324, 444]);
    expect([t.prompt_tokens[9], t.output_tokens[9]]).toEqual([32272, 931]);
    // Prefix: a first round has none; claude round 1 (prefix_tokens 29380) begins with round 0's
    // own segments (none), its prompt (32272 > 29380, cut).
    const px = t.prefix!;
    expect(px.start[1] - px.start[0]).toBe(0);
    expect(Array.from(px.id.subarray(px.start[10], px.start[11]))).toEqual([ownId(9)]);
    expect(Array.from(px.tokens.subarray(px.start[10], px.start[11]))).toEqual([29380]);
    // Claude round 2 (prefix_tokens 35738): round 1's segments (29380 tokens), then the rest of its prompt, cut at 35738.
    expect(Array.from(px.id.subarray(px.start[11], px.start[12]))).toEqual([ownId(9), ownId(10)]);
    expect(Array.from(px.tokens.subarray(px.start[11], px.start[12]))).toEqual([29380, 35738 - 29380]);
    expect(prefixReuseCounts(t, 512)).toEqual({ blocks: 994, hits: 850 });
    expect(t.extra.model[9]).toBe('claude-opus-4-8');
  });

  it('rejects a duplicate round and a bad timestamp, naming file, line, program and call', async () => {
    const rows = fs.readFileSync(TRACELAB, 'utf8').split('\n').filter((l) => l !== '');
    const f1 = jsonl([rows[0], rows[1], rows[1]].join('\n'));
    const e1 = await inputErrorAsync(readTrace(f1));
    expect(e1).toMatchObject({ file: f1, line: 3, field: 'round_index' });
    expect(e1.message).toMatch(/program 'claude:.*', call '1': duplicate round_index \(first on line 2\)/);
    const o = JSON.parse(rows[1]);
    o.timing_events[0].timestamp = 'yesterday';
    const f2 = jsonl([rows[0], JSON.stringify(o)].join('\n'));
    const e2 = await inputErrorAsync(readTrace(f2));
    expect(e2).toMatchObject({ file: f2, line: 2, field: 'timing_events[0].timestamp' });
    expect(e2.message).toMatch(/program 'claude:.*', call '1': unparsable timestamp/);
  });
});

describe('sim generate', () => {
  const sim = runSim;

  it('writes the program JSONL that readTrace reads back, identical to the library generator', async () => {
    const f = path.join(dir, 'gen.jsonl');
    const r = await sim('generate', '--kind', 'tree-search', '--out', f, '--programs', '3', '--rate', '0.5', '--seed', '9', '--depth', '2');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wrote 93 calls of 3 programs/);
    expect(fs.readFileSync(f, 'utf8')).toBe(
      formatProgramJsonl(generatePrograms({ kind: 'tree-search', programs: 3, rate: 0.5, seed: '9', depth: 2 })),
    );
    checkProgramTrace(await readTrace(f));
  });

  it('fails with exit code 2 and one line for an option the kind does not take', async () => {
    const r = await sim('generate', '--kind', 'chatbot', '--out', path.join(dir, 'x.jsonl'), '--depth', '2');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/--depth.*kind 'chatbot' does not take --depth/);
  });
});

describe('trace transforms on program traces', () => {
  it('--rate-scale and --rate scale program arrivals and keep the DAG; a window or limit is refused', async () => {
    const { transformTrace } = await import('../traces/transform.ts');
    const t = generateProgramTrace({ kind: 'react', programs: 50, rate: 1, seed: 'transform' });
    const fast = transformTrace(t, { rate_scale: 4 });
    expect(fast.programs).toBe(t.programs);
    for (let i = 0; i < t.n; i++) expect(fast.arrival_s[i]).toBeCloseTo(t.arrival_s[i] / 4, 12);
    const roots = (x: Trace) => {
      const a: number[] = [];
      for (let i = 0; i < x.n; i++) if (x.programs!.parentStart[i + 1] === x.programs!.parentStart[i]) a.push(x.arrival_s[i]);
      return a.sort((p, q) => p - q);
    };
    const r = roots(transformTrace(t, { rate: 10 }));
    expect((r.length - 1) / (r[r.length - 1] - r[0])).toBeCloseTo(10, 9);
    expect(() => transformTrace(t, { limit: 10 })).toThrow(/--limit: not supported on a program trace/);
    expect(() => transformTrace(t, { start_s: 5 })).toThrow(/--start: not supported on a program trace/);
  });
});
