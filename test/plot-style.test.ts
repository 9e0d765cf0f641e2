/**
 * Figure style and layout of `sim plot` (notebooks/plot/figure.ts, kinds.ts, lines.ts): every
 * series has its own colour, marker and dash; the legend, notes and caption sit below the panels
 * (SVG geometry); lines that coincide are named in a note; --group/--filter/--facet regroup a
 * hand-made merged table whose values are known in closed form; PDF output is a one-page PDF.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JSDOM } from 'jsdom';
import { rateFigure, rateLines, ttftTpotFigure, logTicks } from '../notebooks/plot/kinds.ts';
import { captionOf, filterRows, type Table } from '../notebooks/plot/lines.ts';
import { seriesStyle, writeFigure, PALETTE } from '../notebooks/plot/figure.ts';
import { InputError } from '../sim/errors.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-plot-style-'));
const parse = (svg: string) => new new JSDOM('').window.DOMParser().parseFromString(svg, 'image/svg+xml');
const texts = (doc: Document) => [...doc.querySelectorAll('text')].map((t) => t.textContent ?? '');

const COLS = ['id', 'version', 'policy', 'predictor', 'trace', 'rate-scale', 'seed', 'model', 'gpu', 'tp', 'e2e_s.mean', 'e2e_s.p99', 'ttft_s.mean', 'tpot_s.mean'];

/** Policies × predictors × rates × seeds with e2e = 10·policy + predictor + rate + seed/10 (known truth); rows in reverse order. */
function table(policies: string[], predictors = ['oracle', 'ssjf-buckets'], seeds = [1], e2e?: (pi: number, qi: number, k: number, s: number) => number): Table {
  const rows: Record<string, string>[] = [];
  const f = e2e ?? ((pi, qi, k, s) => 10 * pi + qi + k + s / 10);
  for (const [pi, p] of policies.entries())
    for (const [qi, q] of predictors.entries())
      for (const k of [1, 2, 4])
        for (const s of seeds) {
          const e = f(pi, qi, k, s);
          rows.push({ id: String(rows.length), version: '0.1.0', policy: p, predictor: q, trace: '../traces/a.csv', 'rate-scale': String(k), seed: String(s), model: 'llama-3-8b', gpu: 'h100-80gb', tp: '1', 'e2e_s.mean': String(e), 'e2e_s.p99': String(3 * e), 'ttft_s.mean': String(e / 10), 'tpot_s.mean': String(k / 100) });
        }
  return { file: 'merged.csv', columns: COLS, rows: rows.reverse() };
}

/** Style of each drawn series line in a panel: stroke, dash, and the marker's path. */
function drawnStyles(panel: Element): { stroke: string; dash: string; marker: string }[] {
  const lines = [...panel.querySelectorAll('g[aria-label="line"]')];
  const dots = [...panel.querySelectorAll('g[aria-label="dot"]')];
  expect(lines).toHaveLength(dots.length);
  return lines.map((g, i) => ({ stroke: g.getAttribute('stroke') ?? '', dash: g.getAttribute('stroke-dasharray') ?? '', marker: dots[i].querySelector('path')?.getAttribute('d') ?? '' }));
}

describe('figure style', () => {
  it('the first 64 series styles differ in at least one of colour, marker, dash; the first 8 in all three', () => {
    const key = (i: number) => { const s = seriesStyle(i); return `${s.color}|${s.marker.name}|${s.dash}`; };
    expect(new Set(Array.from({ length: 64 }, (_, i) => key(i))).size).toBe(64);
    const first = Array.from({ length: 8 }, (_, i) => seriesStyle(i));
    for (const f of ['color', 'dash'] as const) expect(new Set(first.map((s) => s[f])).size).toBe(8);
    expect(new Set(first.map((s) => s.marker.name)).size).toBe(8);
  });

  it('rate figure: 8 lines drawn with 8 colours, 8 dashes and 8 marker shapes, each line sorted on x', () => {
    const pols = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
    const doc = parse(rateFigure(table(pols, ['oracle'])));
    const panels = [...doc.documentElement.querySelectorAll(':scope > svg')];
    expect(panels).toHaveLength(2);
    for (const p of panels) {
      const st = drawnStyles(p);
      expect(st).toHaveLength(8);
      expect(new Set(st.map((s) => s.stroke))).toEqual(new Set(PALETTE.map((c) => c)));
      expect(new Set(st.map((s) => s.dash)).size).toBe(8);
      expect(new Set(st.map((s) => s.marker)).size).toBe(8);
      // Points in x order: each line's path moves only rightwards.
      for (const g of p.querySelectorAll('g[aria-label="line"] path')) {
        const xs = [...(g.getAttribute('d') ?? '').matchAll(/[ML]([\d.]+),/g)].map((m) => Number(m[1]));
        expect(xs).toHaveLength(3);
        expect([...xs].sort((a, b) => a - b)).toEqual(xs);
      }
    }
  });

  it('legend, notes and caption lie below every panel, inside the figure', () => {
    for (const svg of [rateFigure(table(['fcfs', 'ssjf'])), ttftTpotFigure(table(['fcfs', 'ssjf']))]) {
      const root = parse(svg).documentElement;
      const bottom = Math.max(...[...root.querySelectorAll(':scope > svg')].map((p) => Number(p.getAttribute('y')) + Number(p.getAttribute('height'))));
      const legend = root.querySelector('g[aria-label="legend"]')!;
      const y = Number(/translate\([^,]+,([\d.]+)\)/.exec(legend.getAttribute('transform') ?? '')![1]);
      expect(y).toBeGreaterThanOrEqual(bottom);
      const caption = root.querySelector('text[aria-label="caption"]')!;
      expect(Number(caption.getAttribute('y'))).toBeGreaterThan(y);
      expect(Number(caption.getAttribute('y'))).toBeLessThan(Number(root.getAttribute('height')));
      expect(caption.textContent).toBe('model llama-3-8b · GPU h100-80gb · trace a.csv');
    }
  });

  it('lines that coincide are named in a note; seeds that changed nothing are noted', () => {
    // Policies a and b give the same values (e2e independent of the policy); b comes first (rows reversed).
    const same = table(['a', 'b'], ['oracle'], [1], (_p, _q, k) => k);
    expect(texts(parse(rateFigure(same)))).toContain('a coincides with b (within 0.5%)');
    const seeds = table(['a'], ['oracle', 'ssjf-buckets'], [1, 2, 3], (_p, q, k) => k + q);
    const t = texts(parse(rateFigure(seeds)));
    expect(t).toContain('3 seeds gave identical results: one value shown');
    expect(t.some((s) => s.includes('95% CI'))).toBe(false);
    const varying = texts(parse(rateFigure(table(['a'], ['oracle'], [1, 2]))));
    expect(varying.some((s) => s.includes('identical'))).toBe(false);
    expect(varying).toContain('band: 95% CI of the mean over seeds');
  });

  it('log axes label every tick', () => {
    expect(logTicks([0.15, 0.45])).toEqual([0.15, 0.2, 0.25, 0.3, 0.4]);
    expect(logTicks([1, 1000])).toEqual([1, 10, 100, 1000]);
    expect(logTicks([3, 40])).toEqual([5, 10, 20]);
  });

  it('caption: single values named, varying ones counted, TP of 1 left out', () => {
    const t = table(['a']);
    expect(captionOf(t)).toBe('model llama-3-8b · GPU h100-80gb · trace a.csv');
    t.rows[0] = { ...t.rows[0], model: 'llama-2-7b', tp: '2' };
    expect(captionOf(t)).toBe('model (2 values) · GPU h100-80gb · TP (2 values) · trace a.csv');
  });
});

describe('--group, --filter, --facet', () => {
  it('--group policy pools the predictors: mean e2e = 10·policy + 0.5 + rate + 0.1', () => {
    const lines = rateLines(table(['fcfs', 'ssjf']), { group: ['policy'] });
    expect(lines.map((l) => l.label)).toEqual(['ssjf', 'fcfs']);
    for (const l of lines) {
      const pi = l.key.policy === 'ssjf' ? 1 : 0;
      expect(l.points.map((p) => p.x)).toEqual([1, 2, 4]);
      expect(l.points.map((p) => p.n)).toEqual([2, 2, 2]);
      for (const p of l.points) expect(p.y['e2e_s.mean'].mean).toBeCloseTo(10 * pi + 0.5 + p.x + 0.1, 12);
    }
  });

  it('--filter keeps matching rows (values of one column OR-ed, the trace also by file name)', () => {
    const t = table(['fcfs', 'ssjf', 'sjf']);
    expect(rateLines(t, { filter: ['predictor=oracle'] }).map((l) => l.label)).toEqual(['sjf', 'ssjf', 'fcfs']);
    expect(rateLines(t, { filter: ['policy=fcfs', 'policy=sjf', 'predictor=oracle'] }).map((l) => l.label)).toEqual(['sjf', 'fcfs']);
    expect(filterRows(t, ['trace=a.csv']).rows).toHaveLength(t.rows.length);
    expect(() => filterRows(t, ['nope=1'])).toThrow(/merged\.csv: --filter: no column 'nope' to filter on; its option columns: policy, predictor, trace, rate-scale, seed, model, gpu, tp$/);
    expect(() => filterRows(t, ['policy'])).toThrow(InputError);
    expect(() => filterRows(t, ['policy=x'])).toThrow(/no row matches policy=x/);
    expect(() => rateLines(t, { group: ['nope'] })).toThrow(/--group: no column nope to group by/);
  });

  it('--facet predictor: a mean and a p99 panel per predictor under its header, one legend for all', () => {
    const doc = parse(rateFigure(table(['fcfs', 'ssjf']), { facet: 'predictor' }));
    const root = doc.documentElement;
    expect(root.querySelectorAll(':scope > svg')).toHaveLength(4);
    expect([...root.querySelectorAll('text[aria-label="facet"]')].map((t) => t.textContent)).toEqual(['predictor=ssjf-buckets', 'predictor=oracle']);
    expect([...root.querySelectorAll('g[aria-label="legend entry"]')].map((g) => g.getAttribute('data-series'))).toEqual(['ssjf', 'fcfs']);
    // The same series keeps its colour in every facet.
    const strokes = [...root.querySelectorAll(':scope > svg')].map((p) => drawnStyles(p).map((s) => s.stroke).join());
    expect(new Set(strokes).size).toBe(1);
    expect(() => rateFigure(table(['a']), { facet: 'nope' })).toThrow(/--facet: no column 'nope'/);
  });
});

describe('PDF output', () => {
  it('writes a one-page PDF (by extension, and beside an SVG with --format), the same bytes each time', async () => {
    const svg = rateFigure(table(['fcfs', 'ssjf']));
    const pdf = path.join(dir, 'rate.pdf');
    expect(await writeFigure(pdf, svg)).toEqual([pdf]);
    const a = fs.readFileSync(pdf);
    expect(a.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    expect(a.subarray(-6).toString('latin1')).toMatch(/%%EOF\s*$/);
    const text = a.toString('latin1');
    expect(text.match(/\/Type \/Page\b/g)).toHaveLength(1);
    expect(/\/Type \/Pages[\s\S]*?\/Count (\d+)/.exec(text)?.[1]).toBe('1');
    // Page size: the SVG's viewBox at 0.75 pt/px.
    const h = Number(/viewBox="0 0 320 (\d+)"/.exec(svg)![1]);
    expect(/\/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]/.exec(text)?.slice(1).map(Number)).toEqual([240, h * 0.75]);
    await writeFigure(pdf, svg);
    expect(fs.readFileSync(pdf).equals(a)).toBe(true);
    const files = await writeFigure(path.join(dir, 'both.svg'), svg, ['pdf']);
    expect(files).toEqual([path.join(dir, 'both.svg'), path.join(dir, 'both.pdf')]);
    expect(fs.readFileSync(path.join(dir, 'both.pdf')).equals(a)).toBe(true);
  }, 60_000);
});
