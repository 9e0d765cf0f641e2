/**
 * `sim run --trace-events FILE` (app/trace-events.ts): the file parses as JSON and follows the
 * Chrome trace-event format (required fields and types, `ph` values, one name per track, slices
 * of a track in order and not overlapping), and its slices account for the run exactly as the
 * summary counts it: Σ steps = iterations, Σ batch size × steps / iterations = mean batch size,
 * and per replica the time covered by its slices = its busy time (independent truth: summary.json,
 * computed by the engines' own counters, not from the records).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSim } from './helpers.ts';

const SAMPLE = path.resolve('traces/azure-conv-2000.csv');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-events-'));

interface Slice {
  name: string;
  ts: number;
  dur: number;
  pid: number;
  tid: number;
  args: Record<string, number>;
}

const ARGS = ['batch_size', 'prefill_seqs', 'prefill_tokens', 'decode_seqs', 'steps', 'kv_blocks_used', 'kv_blocks', 'kv_blocks_cached', 'waiting', 'running', 'swapped'];
const META = new Set(['process_name', 'thread_name', 'process_sort_index', 'thread_sort_index']);

/**
 * Checks `doc` against the trace-event format as this writer uses it and returns its complete
 * events. Throws (via expect) on: a missing or mistyped field, a `ph` other than "X" or "M", a
 * track without exactly one name, a slice whose start precedes the previous slice's end on its track.
 */
function validate(doc: unknown): { slices: Slice[]; processes: Map<number, string>; threads: Map<string, string> } {
  expect(typeof doc).toBe('object');
  const events = (doc as { traceEvents: unknown }).traceEvents;
  expect(Array.isArray(events)).toBe(true);
  const processes = new Map<number, string>();
  const threads = new Map<string, string>();
  const slices: Slice[] = [];
  for (const e of events as Record<string, unknown>[]) {
    expect(typeof e.name).toBe('string');
    expect(Number.isInteger(e.pid)).toBe(true);
    if (e.ph === 'M') {
      expect(META.has(e.name as string)).toBe(true);
      const args = e.args as Record<string, unknown>;
      if (e.name === 'process_name') {
        expect(processes.has(e.pid as number)).toBe(false);
        expect(typeof args.name).toBe('string');
        processes.set(e.pid as number, args.name as string);
      } else if (e.name === 'thread_name') {
        expect(Number.isInteger(e.tid)).toBe(true);
        const key = `${e.pid}/${e.tid}`;
        expect(threads.has(key)).toBe(false);
        expect(typeof args.name).toBe('string');
        threads.set(key, args.name as string);
      } else {
        expect(Number.isInteger(args.sort_index)).toBe(true);
      }
      continue;
    }
    expect(e.ph).toBe('X');
    expect(e.cat).toBe('batch');
    expect(Number.isInteger(e.tid)).toBe(true);
    for (const k of ['ts', 'dur'] as const) expect(Number.isFinite(e[k])).toBe(true);
    expect(e.ts as number).toBeGreaterThanOrEqual(0);
    expect(e.dur as number).toBeGreaterThanOrEqual(0);
    const args = e.args as Record<string, number>;
    expect(Object.keys(args)).toEqual(ARGS);
    for (const k of ARGS) expect(Number.isInteger(args[k]) && args[k] >= 0).toBe(true);
    slices.push(e as unknown as Slice);
  }
  // Every slice's track is named, and slices on a track follow one another without overlap.
  const last = new Map<string, Slice>();
  for (const s of slices) {
    const key = `${s.pid}/${s.tid}`;
    expect(processes.has(s.pid)).toBe(true);
    expect(threads.has(key)).toBe(true);
    const prev = last.get(key);
    if (prev) {
      expect(s.ts).toBeGreaterThanOrEqual(prev.ts);
      expect(s.ts).toBeGreaterThanOrEqual(prev.ts + prev.dur - 1e-9 * Math.max(1, s.ts)); // rounding of start·1e6 + (end − start)·1e6
    }
    last.set(key, s);
  }
  return { slices, processes, threads };
}

/** Length of the union of intervals [ts, ts + dur) (µs). */
function unionLength(slices: Slice[]): number {
  const iv = slices.map((s) => [s.ts, s.ts + s.dur]).sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [a, b] = [-Infinity, -Infinity];
  for (const [x, y] of iv) {
    if (x > b) {
      if (b > a) total += b - a;
      [a, b] = [x, y];
    } else if (y > b) b = y;
  }
  if (b > a) total += b - a;
  return total;
}

async function runWithEvents(...args: string[]) {
  const d = tmp();
  const file = path.join(d, 'sub', 'events.json');
  const r = await runSim('--trace', SAMPLE, ...args, '--out', path.join(d, 'run'), '--trace-events', file);
  expect(r.code).toBe(0);
  const summary = JSON.parse(fs.readFileSync(path.join(d, 'run', 'summary.json'), 'utf8'));
  return { file, text: fs.readFileSync(file, 'utf8'), summary, dir: d };
}

describe('--trace-events', () => {
  it('2 replicas, chunked prefill: valid trace events; Σ steps, batch sizes and per-replica busy time match the summary', async () => {
    const { text, summary, dir } = await runWithEvents('--limit', '300', '--chunked-prefill', '--replicas', '2', '--rate-scale', '4');
    const { slices, processes, threads } = validate(JSON.parse(text));
    expect([...processes]).toEqual([[1, 'replica 0'], [2, 'replica 1']]);
    expect([...threads]).toEqual([['1/1', 'batches'], ['2/2', 'batches']]);
    const steps = slices.reduce((a, s) => a + s.args.steps, 0);
    expect(steps).toBe(summary.sim.iterations);
    // Skip-ahead bundles are one slice each: fewer slices than iterations.
    expect(slices.some((s) => s.args.steps > 1)).toBe(true);
    expect(slices.length).toBeLessThan(steps);
    expect(slices.reduce((a, s) => a + s.args.batch_size * s.args.steps, 0) / steps).toBeCloseTo(summary.batch_size_mean, 12);
    for (const s of slices) {
      expect(s.args.prefill_seqs + s.args.decode_seqs).toBe(s.args.batch_size);
      expect(s.name).toMatch(/^(prefill \d+ \(\d+ tok\)( \+ decode \d+)?|decode \d+)$/);
      if (s.args.steps > 1) expect(s.args.prefill_tokens).toBe(0);
    }
    for (const [i, rep] of (summary.replicas as { iterations: number; busy_fraction: number }[]).entries()) {
      const mine = slices.filter((s) => s.pid === i + 1);
      expect(mine.reduce((a, s) => a + s.args.steps, 0)).toBe(rep.iterations);
      const busy_s = rep.busy_fraction * summary.makespan_s;
      expect(mine.reduce((a, s) => a + s.dur, 0) / 1e6).toBeCloseTo(busy_s, 9);
    }
    // No temporary file is left beside it.
    expect(fs.readdirSync(path.join(dir, 'sub'))).toEqual(['events.json']);
  }, 60_000);

  it('--pp 2: a track per virtual engine; per replica, the union of its slices is its busy time', async () => {
    const { text, summary } = await runWithEvents('--limit', '200', '--model', 'llama-2-70b', '--tp', '2', '--pp', '2', '--replicas', '2', '--rate-scale', '4');
    const { slices, threads } = validate(JSON.parse(text));
    expect([...threads]).toEqual([['1/1', 'virtual engine 0'], ['1/2', 'virtual engine 1'], ['2/3', 'virtual engine 0'], ['2/4', 'virtual engine 1']]);
    expect(new Set(slices.map((s) => `${s.pid}/${s.tid}`)).size).toBe(4);
    expect(slices.reduce((a, s) => a + s.args.steps, 0)).toBe(summary.sim.iterations);
    for (const [i, rep] of (summary.replicas as { busy_fraction: number }[]).entries()) {
      const busy_s = rep.busy_fraction * summary.makespan_s;
      expect(unionLength(slices.filter((s) => s.pid === i + 1)) / 1e6).toBeCloseTo(busy_s, 9);
    }
  }, 60_000);

  it('is deterministic: the same run writes the same bytes', async () => {
    const a = await runWithEvents('--limit', '100', '--replicas', '2', '--router', 'power-of-two');
    const b = await runWithEvents('--limit', '100', '--replicas', '2', '--router', 'power-of-two');
    expect(a.text).toBe(b.text);
    expect(a.text.length).toBeGreaterThan(1000);
  }, 60_000);

  it('an unwritable path is one line naming the file and --trace-events, before the run; nothing is written', async () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'file'), 'x');
    const bad = path.join(d, 'file', 'events.json');
    const r = await runSim('--trace', SAMPLE, '--limit', '10', '--trace-events', bad);
    expect(r.code).toBe(2);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(r.err).toContain('--trace-events');
    expect(r.err).toContain(path.join(d, 'file'));
    const folder = await runSim('--trace', SAMPLE, '--limit', '10', '--trace-events', d);
    expect(folder.code).toBe(2);
    expect(folder.err).toMatch(/--trace-events: is a folder, not a file/);
  });
});
