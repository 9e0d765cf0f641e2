/**
 * The figure model of the sweep kinds (notebooks/plot/lines.ts, kinds.ts): a hand-made merged
 * table (columns as `sim merge` writes them, rows shuffled) is grouped into one line per
 * configuration with points sorted on x, seeds pooled to their mean and 95% t-interval (worked by
 * hand below), the `rate-scale` column is the x, and a missing x column is an error.
 */
import { describe, it, expect } from 'vitest';
import { rateLines, ttftTpotLines, rateFigure } from '../notebooks/plot/kinds.ts';
import { meanInterval, type Table } from '../notebooks/plot/lines.ts';

/** 2 policies × 2 predictors × 3 rates, with e2e = 10·policy + predictor + rate (a known truth). */
function table(): Table {
  const cols = ['id', 'version', 'policy', 'policy-opt', 'predictor', 'predictor-opt', 'trace', 'rate-scale', 'seed', 'model', 'e2e_s.mean', 'e2e_s.p99', 'ttft_s.mean', 'tpot_s.mean', 'throughput.requests_per_s', 'makespan_s', 'gpu_hours'];
  const rows: Record<string, string>[] = [];
  let n = 0;
  for (const [pi, p] of ['fcfs', 'ssjf'].entries())
    for (const [qi, q] of ['oracle', 'ssjf-buckets'].entries())
      for (const k of [1, 2, 4]) {
        const e = 10 * pi + qi + k;
        rows.push({ id: (n++).toString(16).padStart(16, '0'), version: '0.1.0', policy: p, 'policy-opt': '', predictor: q, 'predictor-opt': '', trace: '../traces/a.csv', 'rate-scale': String(k), seed: '1', model: 'llama-3-8b', 'e2e_s.mean': String(e), 'e2e_s.p99': String(3 * e), 'ttft_s.mean': String(e / 10), 'tpot_s.mean': String(k / 100), 'throughput.requests_per_s': String(5 - k), makespan_s: String(100 + n), gpu_hours: String(n / 7) });
      }
  // Shuffle deterministically (as sim merge's id order would): a fixed permutation.
  const order = [7, 2, 11, 0, 9, 4, 1, 10, 5, 3, 8, 6];
  return { file: 'merged.csv', columns: cols, rows: order.map((i) => rows[i]) };
}

describe('sweep figure model', () => {
  it('rate: 4 lines (policy × predictor), each sorted on rate-scale with the right points', () => {
    const lines = rateLines(table());
    expect(lines.map((l) => l.label).sort()).toEqual(['fcfs+oracle', 'fcfs+ssjf-buckets', 'ssjf+oracle', 'ssjf+ssjf-buckets']);
    for (const l of lines) {
      const pi = l.key.policy === 'ssjf' ? 1 : 0;
      const qi = l.key.predictor === 'oracle' ? 0 : 1;
      expect(l.points.map((p) => p.x)).toEqual([1, 2, 4]);
      expect(l.points.map((p) => p.y['e2e_s.mean'].mean)).toEqual([1, 2, 4].map((k) => 10 * pi + qi + k));
      expect(l.points.map((p) => p.y['e2e_s.p99'].mean)).toEqual([1, 2, 4].map((k) => 3 * (10 * pi + qi + k)));
      expect(l.points.every((p) => p.n === 1)).toBe(true);
    }
  });

  it('every varying option is an axis of the lines (chunked-prefill too), constant ones are not', () => {
    const t = table();
    t.columns.splice(t.columns.indexOf('model') + 1, 0, 'chunked-prefill'); // an option: before the summary, as merge writes it
    t.rows = [...t.rows.map((r) => ({ ...r, 'chunked-prefill': 'false' })), ...t.rows.map((r) => ({ ...r, 'chunked-prefill': 'true' }))];
    const lines = rateLines(t);
    expect(lines).toHaveLength(8);
    expect(lines.some((l) => l.label === 'ssjf+oracle chunked-prefill=true')).toBe(true);
    expect(Object.keys(lines[0].key).sort()).toEqual(['chunked-prefill', 'policy', 'predictor']);
  });

  it('seeds of one configuration at one x pool to their mean and 95% t-interval', () => {
    const t = table();
    // Seeds 2 and 3 of each row: e2e.mean + 1 and + 2, so the mean is e + 1 and sd 1;
    // the 95% interval is ± t(0.975, 2)·1/√3 = ± 4.303/√3.
    t.rows = t.rows.flatMap((r) => [0, 1, 2].map((d) => ({ ...r, seed: String(d + 1), 'e2e_s.mean': String(Number(r['e2e_s.mean']) + d) })));
    const lines = rateLines(t);
    expect(lines).toHaveLength(4);
    const l = lines.find((x) => x.label === 'ssjf+oracle')!;
    expect(l.points.map((p) => p.n)).toEqual([3, 3, 3]);
    const s = l.points[1].y['e2e_s.mean'];
    expect(s.mean).toBeCloseTo(10 + 2 + 1, 12);
    expect(s.hi - s.mean).toBeCloseTo(4.303 / Math.sqrt(3), 3);
    expect(s.mean - s.lo).toBeCloseTo(4.303 / Math.sqrt(3), 3);
    expect(meanInterval([5])).toEqual({ mean: 5, lo: 5, hi: 5 });
  });

  it('x: the rate-scale column, rate_scale as merge writes it or rate-scale as it did before; a missing x is a one-line error naming the columns', () => {
    const t = table();
    expect(rateFigure(t)).toContain('request rate (× trace rate)');
    const old = { ...t, columns: t.columns.map((c) => (c === 'rate-scale' ? 'rate_scale' : c)), rows: t.rows.map(({ 'rate-scale': k, ...r }) => ({ ...r, rate_scale: k })) };
    expect(rateLines(old).map((l) => l.points.map((p) => p.x))).toEqual([[1, 2, 4], [1, 2, 4], [1, 2, 4], [1, 2, 4]]);
    const none = { ...t, columns: t.columns.filter((c) => c !== 'rate-scale'), rows: t.rows.map(({ 'rate-scale': _, ...r }) => r) };
    expect(() => rateLines(none)).toThrow(/^merged\.csv: rate_scale: rate needs an x column, rate_scale or rate-scale \(or --x COL\); the table has id, version, policy, .*throughput\.requests_per_s, makespan_s, gpu_hours$/);
    expect(() => rateLines(t, { x: 'rate' })).toThrow(/^merged\.csv: rate: rate needs the x column rate; the table has id, /);
    // An x that is a measured column: seeds pooled at the rate scale, points sorted on x.
    const thr = rateLines(t, { x: 'throughput.requests_per_s' });
    expect(thr).toHaveLength(4);
    expect(thr[0].points.map((p) => p.x)).toEqual([1, 3, 4]);
  });

  it('a non-numeric x cell names the file, line and column', () => {
    const t = table();
    t.rows[3] = { ...t.rows[3], 'rate-scale': 'fast' };
    expect(() => rateLines(t)).toThrow("merged.csv:5: rate-scale: not a number: 'fast'");
  });

  it('ttft-tpot: points of a line sorted by rate scale, not by table (task id) order', () => {
    const lines = ttftTpotLines(table());
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l.points.map((p) => p.at)).toEqual([1, 2, 4]);
    const l = lines.find((x) => x.label === 'fcfs+ssjf-buckets')!;
    expect(l.points.map((p) => p.x)).toEqual([0.2, 0.3, 0.5]);
    expect(l.points.map((p) => p.y['tpot_s.mean'].mean)).toEqual([0.01, 0.02, 0.04]);
  });
});
