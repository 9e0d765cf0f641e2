/**
 * Plugins from files (app/plugins.ts, docs/plugins.md): the shipped examples (examples/lpf.mjs,
 * prompt-ratio.mjs, by-id.mjs) run through `sim` and the API, in order that a hand-worked schedule
 * predicts; they appear in the `--path` listings; config files and sweep grids name them relative
 * to their own folder, and sweep workers load them. The malformed plugin files are cases of the
 * bad-input corpus (test/bad-input/plugins.yaml).
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSim } from './helpers.ts';
import { run, isPluginSpec } from '../app/api.ts';
import { runSweep } from '../app/sweep/sweep.ts';

const EXAMPLES = path.resolve('examples');
const LPF = path.join(EXAMPLES, 'lpf.mjs');
const RATIO = path.join(EXAMPLES, 'prompt-ratio.mjs');
const BY_ID = path.join(EXAMPLES, 'by-id.mjs');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-plugins-'));

/**
 * Request 0 (prompt 64) arrives alone at t = 0 and runs first; requests 1..5 arrive at 1 ms, while
 * it runs (its prefill alone takes longer), and wait. Prompts and outputs are chosen so that
 * arrival order, prompt order and output order all differ.
 */
const PROMPTS = [64, 300, 900, 120, 600, 40];
const OUTPUTS = [20, 10, 30, 50, 5, 40];
const TRACE = path.join(tmp, 'six.csv');
fs.writeFileSync(TRACE, 'arrival_s,prompt_tokens,output_tokens\n' + PROMPTS.map((p, i) => `${i === 0 ? 0 : 0.001},${p},${OUTPUTS[i]}`).join('\n') + '\n');

/** Request ids in order of completion. */
function completionOrder(rows: { id: number; completion_s: number | null }[]): number[] {
  return [...rows].sort((a, b) => a.completion_s! - b.completion_s!).map((r) => r.id);
}

/** One request at a time, so the order of service is the policy's order. */
const ONE_AT_A_TIME = { 'max-num-seqs': 1, 'max-num-batched-tokens': 4096 } as const;

describe('plugin files', () => {
  it('tells paths from registry names', () => {
    for (const s of ['./lpf.mjs', '../x/lpf.mjs', '/abs/lpf', 'lpf.mjs', 'lpf.js']) expect(isPluginSpec(s), s).toBe(true);
    for (const s of ['fcfs', 'ssjf-buckets', 'round-robin', 'lpf']) expect(isPluginSpec(s), s).toBe(false);
  });

  it('LPF (examples/lpf.mjs) serves the waiting requests longest prompt first', async () => {
    const r = await run({ trace: TRACE, policy: LPF, ...ONE_AT_A_TIME });
    expect(r.summary.requests.completed).toBe(6);
    // 0 first (alone), then the rest by prompt, longest first: 900, 600, 300, 120, 40.
    expect(completionOrder(r.rows())).toEqual([0, 2, 4, 1, 3, 5]);
    expect(r.run.policies[0].name).toBe('LPF');
    // FCFS on the same trace keeps arrival order: the plugin, not the trace, made the order.
    const f = await run({ trace: TRACE, policy: 'fcfs', ...ONE_AT_A_TIME });
    expect(completionOrder(f.rows())).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('a predictor plugin (prompt-ratio) drives SJF: shortest predicted (ratio x prompt) first, its MAE reported', async () => {
    const r = await run({ trace: TRACE, policy: 'sjf', predictor: RATIO, 'predictor-opt': ['ratio=0.25'], ...ONE_AT_A_TIME });
    // Predictions 0.25 x prompt: 16, 75, 225, 30, 150, 10; after 0, ascending: 5, 3, 1, 4, 2.
    expect(completionOrder(r.rows())).toEqual([0, 5, 3, 1, 4, 2]);
    const predicted = PROMPTS.map((p) => Math.max(1, Math.round(0.25 * p)));
    const mae = predicted.reduce((s, p, i) => s + Math.abs(p - OUTPUTS[i]), 0) / PROMPTS.length;
    expect(r.summary.predictor).toMatchObject({ name: 'prompt-ratio', mae_tokens: mae, kendall_tau: null });
  });

  it('a router plugin (by-id) sends request i to replica i mod N', async () => {
    const r = await run({ trace: path.resolve('traces/azure-conv-2000.csv'), limit: 60, replicas: 3, router: BY_ID });
    const rows = r.rows().filter((x) => x.status === 'completed');
    expect(rows.length).toBeGreaterThan(50);
    for (const x of rows) expect(x.replica).toBe(x.id % 3);
  });

  it('sim runs them by relative path and lists them with --path', async () => {
    const rel = path.relative(process.cwd(), LPF);
    const a = await runSim('--trace', TRACE, '--policy', `./${rel}`, '--max-num-seqs', '1', '--json');
    expect(a.code, a.err).toBe(0);
    const b = await run({ trace: TRACE, policy: LPF, 'max-num-seqs': 1 });
    const { sim: _a, ...cli } = JSON.parse(a.out);
    const { sim: _b, ...api } = b.summary;
    expect(cli).toEqual(JSON.parse(JSON.stringify(api)));
    for (const [cmd, file, name, builtIn] of [['policies', LPF, 'lpf', 'fcfs'], ['predictors', RATIO, 'prompt-ratio', 'oracle'], ['routers', BY_ID, 'by-id', 'round-robin']] as const) {
      const l = await runSim(cmd, '--path', file);
      expect(l.code, l.err).toBe(0);
      const names = l.out.split('\n').slice(1).map((line) => line.split(/\s{2,}/)[0]);
      expect(names).toContain(builtIn);
      expect(names).toContain(`${file} (${name})`);
    }
  });

  it('a config file names a plugin relative to its own folder', async () => {
    const dir = path.join(tmp, 'cfg');
    fs.mkdirSync(dir, { recursive: true });
    fs.copyFileSync(LPF, path.join(dir, 'lpf.mjs'));
    fs.copyFileSync(TRACE, path.join(dir, 'six.csv'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ trace: 'six.csv', policy: './lpf.mjs', 'max-num-seqs': 1 }));
    const out = path.join(tmp, 'cfg-out');
    const a = await runSim('run', '--config', path.join(dir, 'config.json'), '--out', out);
    expect(a.code, a.err).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(out, 'config.json'), 'utf8')).policy).toBe(path.join(dir, 'lpf.mjs'));
    const csv = fs.readFileSync(path.join(out, 'requests.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    expect(completionOrder(csv.map((c) => ({ id: Number(c[0]), completion_s: Number(c[7]) })))).toEqual([0, 2, 4, 1, 3, 5]);
  });

  it('a sweep grid names plugins relative to itself, and its workers run them', async () => {
    const dir = path.join(tmp, 'grid');
    fs.mkdirSync(path.join(dir, 'plugins'), { recursive: true });
    for (const f of [LPF, RATIO]) fs.copyFileSync(f, path.join(dir, 'plugins', path.basename(f)));
    const grid = path.join(dir, 'grid.yaml');
    fs.writeFileSync(grid, `traces: [${JSON.stringify(TRACE)}]\npolicies: [plugins/lpf.mjs, sjf]\npredictors: [{name: ./plugins/prompt-ratio.mjs, opts: {ratio: 0.25}}]\nengine:\n  max-num-seqs: 1\n`);
    const out = path.join(tmp, 'grid-out');
    const r = await runSweep({ grid, out, workers: 1 });
    expect(r).toMatchObject({ total: 2, ran: 2, failed: [] });
    const records = fs.readdirSync(path.join(out, 'tasks')).map((f) => JSON.parse(fs.readFileSync(path.join(out, 'tasks', f), 'utf8')));
    const policies = records.map((x) => x.config.policy).sort();
    expect(policies).toEqual(['./plugins/lpf.mjs', 'sjf']);
    const sjf = records.find((x) => x.config.policy === 'sjf');
    expect(sjf.config.predictor).toBe('./plugins/prompt-ratio.mjs');
    expect(sjf.summary.predictor.name).toBe('prompt-ratio');
    for (const x of records) expect(x.summary.requests.completed).toBe(6);
  }, 120_000);
});
