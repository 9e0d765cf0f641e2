/**
 * `sim plot`: every kind writes a standalone 320×240 SVG whose marks match the input (parsed as
 * XML with jsdom's DOMParser; lines, dots and legend entries counted), picks its kind from the
 * columns, writes a PNG with --png, and names the file and column on bad input.
 */
import { describe, it, expect, beforeAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { JSDOM } from 'jsdom';
import yargs from 'yargs';
import { main } from '../app/cli.ts';
import { makePlotCommand } from '../notebooks/plot/command.ts';
import { plotInput, detectKind, loadCdfSeries } from '../notebooks/plot/kinds.ts';
import { FONT_FAMILY } from '../notebooks/plot/figure.ts';
import { InputError } from '../sim/errors.ts';
import { sink } from './helpers.ts';

const SAMPLE = path.resolve('traces/azure-conv-2000.csv');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-plot-'));

/** Parses SVG text as XML; fails on a parser error. */
function parse(svg: string): Document {
  const doc = new new JSDOM('').window.DOMParser().parseFromString(svg, 'image/svg+xml');
  expect(doc.getElementsByTagName('parsererror')).toHaveLength(0);
  expect(doc.documentElement.tagName).toBe('svg');
  expect(doc.documentElement.getAttribute('viewBox')).toMatch(/^0 0 320 \d+$/);
  expect(doc.documentElement.getAttribute('font-family')).toBe(FONT_FAMILY);
  return doc;
}
const marks = (doc: Document, label: string) => [...doc.querySelectorAll(`g[aria-label="${label}"]`)];
const legend = (doc: Document) => [...doc.querySelectorAll('g[aria-label="legend entry"]')].map((g) => g.getAttribute('data-series'));
const texts = (doc: Document) => [...doc.querySelectorAll('text')].map((t) => t.textContent ?? '');

async function plotCmd(...args: string[]): Promise<string> {
  let out = '';
  await yargs(['plot', ...args]).command(makePlotCommand({ out: sink((s) => (out += s)), err: sink(() => {}) })).strict().exitProcess(false).fail((m, e) => { throw e ?? new Error(m); }).parseAsync();
  return out;
}

beforeAll(async () => {
  for (const [p, pred] of [['fcfs'], ['sjf', 'oracle'], ['ssjf', 'ssjf-buckets']]) {
    const args = ['--policy', p, '--trace', SAMPLE, '--limit', '300', '--out', path.join(dir, 'runs', p), '--timeseries'];
    if (pred) args.push('--predictor', pred);
    expect(await main(args, sink(() => {}), sink(() => {}))).toBe(0);
  }
  const rows = ['policy,rate_scale,e2e_s.mean,e2e_s.p99,ttft_s.mean,tpot_s.mean'];
  for (const p of ['fcfs', 'sjf', 'ssjf']) for (const k of [0.5, 1, 1.5, 2]) rows.push(`${p},${k},${k * 3},${k * 9},${k},${0.03 * k}`);
  fs.writeFileSync(path.join(dir, 'sweep.csv'), rows.join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'point.csv'), 'policy,ttft_s.mean,tpot_s.mean\nchunked,0.4,0.031\nprefill-priority,0.2,0.052\n');
});

describe('sim plot', () => {
  it('cdf from a directory of runs: one line per run, legend names the policies', () => {
    const { kind, svg } = plotInput(path.join(dir, 'runs'));
    expect(kind).toBe('cdf');
    const doc = parse(svg);
    const lines = marks(doc, 'line');
    expect(lines).toHaveLength(3);
    for (const g of lines) expect(g.querySelectorAll('path')).toHaveLength(1);
    expect(legend(doc)).toEqual(['fcfs', 'sjf+oracle', 'ssjf+ssjf-buckets']);
    expect(texts(doc).some((t) => t.includes('end-to-end latency (s)'))).toBe(true);
    expect(texts(doc).some((t) => t.includes('fraction of requests'))).toBe(true);
  });

  it('cdf from one requests.csv: ECDF reaches 1 at the largest completed value', () => {
    const file = path.join(dir, 'runs', 'fcfs', 'requests.csv');
    const [s] = loadCdfSeries(file, 'ttft_s');
    expect(s.name).toBe('fcfs');
    // Independent count: completed rows of the CSV by a plain split.
    const completed = fs.readFileSync(file, 'utf8').trim().split('\n').slice(1).filter((l) => l.split(',')[4] === 'completed');
    expect(s.values).toHaveLength(completed.length);
    const doc = parse(plotInput(file, 'cdf', { metric: 'ttft_s' }).svg);
    expect(marks(doc, 'line')).toHaveLength(1);
    expect(marks(doc, 'line')[0].querySelectorAll('path')).toHaveLength(1);
    expect(texts(doc).some((t) => t.includes('TTFT (s)'))).toBe(true);
    // Caption from the run's config.json: the default model, GPU and the trace file.
    expect(texts(doc)).toContain('model llama-2-7b · GPU a100-80gb · trace azure-conv-2000.csv');
  });

  it('rate: mean and p99 panels, a line and a marker per (policy, rate) in each, legend per policy', () => {
    const file = path.join(dir, 'sweep.csv');
    expect(detectKind(file)).toBe('rate');
    const doc = parse(plotInput(file).svg);
    const panels = doc.documentElement.querySelectorAll(':scope > svg');
    expect(panels).toHaveLength(2);
    for (const p of panels) {
      expect(p.querySelectorAll('g[aria-label="line"]')).toHaveLength(3);
      expect([...p.querySelectorAll('g[aria-label="dot"]')].map((g) => g.querySelectorAll('path').length)).toEqual([4, 4, 4]);
    }
    expect(legend(doc)).toEqual(['fcfs', 'sjf', 'ssjf']);
    expect(texts(doc).some((t) => t.includes('mean end-to-end latency (s)'))).toBe(true);
    expect(texts(doc).some((t) => t.includes('p99 end-to-end latency (s)'))).toBe(true);
    expect(texts(doc).some((t) => t.includes('request rate'))).toBe(true);
  });

  it('ttft-tpot: one dot per row, no joining line for single points', () => {
    const file = path.join(dir, 'point.csv');
    expect(detectKind(file)).toBe('ttft-tpot');
    const doc = parse(plotInput(file).svg);
    expect(marks(doc, 'dot').map((g) => g.querySelectorAll('path').length)).toEqual([1, 1]);
    expect(marks(doc, 'line')).toHaveLength(0);
    expect(legend(doc)).toEqual(['chunked', 'prefill-priority']);
    expect(texts(doc).some((t) => t.includes('TPOT (ms)'))).toBe(true);
  });

  it('timeseries: batch size and KV utilization panels from sim run --timeseries', () => {
    const file = path.join(dir, 'runs', 'fcfs', 'timeseries.csv');
    expect(detectKind(file)).toBe('timeseries');
    const doc = parse(plotInput(file).svg);
    const panels = doc.documentElement.querySelectorAll(':scope > svg');
    expect(panels).toHaveLength(2);
    for (const p of panels) expect(p.querySelectorAll('g[aria-label="line"] path')).toHaveLength(1);
    expect(legend(doc)).toEqual(['batch size', 'KV utilization']);
    expect(texts(doc).some((t) => t.includes('simulated time (s)'))).toBe(true);
  });

  it('--png writes a PNG beside the SVG; output is deterministic', async () => {
    const out = path.join(dir, 'fig', 'rate.svg');
    expect(await plotCmd(path.join(dir, 'sweep.csv'), '--out', out, '--png')).toMatch(/^rate: wrote/);
    const png = fs.readFileSync(path.join(dir, 'fig', 'rate.png'));
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const first = fs.readFileSync(out, 'utf8');
    await plotCmd(path.join(dir, 'sweep.csv'), '--out', out, '--kind', 'rate');
    expect(fs.readFileSync(out, 'utf8')).toBe(first);
  });

  it('--out .pdf with --format svg writes both; --filter and --caption reach the figure; a bad --format exits 2', async () => {
    const out = path.join(dir, 'fig', 'only-fcfs.pdf');
    const svg = out.replace(/pdf$/, 'svg');
    expect(await plotCmd(path.join(dir, 'sweep.csv'), '--out', out, '--format', 'svg', '--filter', 'policy=fcfs', '--caption', 'hand-made table')).toBe(`rate: wrote ${out}, ${svg}\n`);
    expect(fs.readFileSync(out).subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const doc = parse(fs.readFileSync(svg, 'utf8'));
    expect(legend(doc)).toEqual(['fcfs']);
    expect(texts(doc)).toContain('hand-made table');
    let err = '';
    expect(await main(['plot', path.join(dir, 'sweep.csv'), '--out', path.join(dir, 'y.svg'), '--format', 'tiff'], sink(() => {}), sink((s) => (err += s)))).toBe(2);
    expect(err).toBe("sim: --format: unknown format 'tiff'; valid: svg, png, pdf\n");
  }, 60_000);

  it('bad input: InputError naming the file and the missing column; sim plot exits 2', async () => {
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, 'policy,foo\nfcfs,1\n');
    expect(() => plotInput(bad)).toThrow(InputError);
    expect(() => plotInput(bad)).toThrow(/bad\.csv.*give --kind/);
    expect(() => plotInput(bad, 'rate')).toThrow(/bad\.csv: rate_scale: rate needs an x column, rate_scale or rate-scale .*; the table has policy, foo$/);
    let err = '';
    const code = await main(['plot', bad, '--out', path.join(dir, 'x.svg'), '--kind', 'ttft-tpot'], sink(() => {}), sink((s) => (err += s)));
    expect(code).toBe(2);
    expect(err).toMatch(/bad\.csv: ttft_s\.mean/);
  });
});
