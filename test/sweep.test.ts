/**
 * `sim sweep` and `sim merge`: grid parsing and errors, expansion order and stable ids, sharding,
 * resumability, determinism across worker counts, and the merged CSV / Parquet table. Truths are
 * independent: summaries are checked against an in-process `sim run` equivalent, ids against a
 * hand-computed hash, the CSV through csv-parse, Parquet by its magic bytes.
 */
import { inputError } from './helpers.ts';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { InputError } from '../sim/errors.ts';
import { parseGrid, loadGrid } from '../sim/sweep/grid.ts';
import { expandGrid, canonicalJson } from '../sim/sweep/tasks.ts';
import { parseShard, resolveShard, shardTasks } from '../sim/sweep/shard.ts';
import { runSweep, workerFile } from '../sim/sweep/sweep.ts';
import type { TaskRecord } from '../sim/sweep/sweep.ts';
import { mergeSweep } from '../sim/sweep/merge.ts';
import { normalizeOptions, resolveRun } from '../sim/config.ts';
import { simulate } from '../sim/simulator.ts';
import { requestMetrics, summarize } from '../sim/metrics.ts';
import { main } from '../sim/cli.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-sweep-'));

/** Newest modification time of the .ts files under the given folders. */
function newestSource(dirs: string[]): number {
  let t = 0;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts')) t = Math.max(t, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) walk(path.join(root, d));
  return t;
}

// The pool's threads load compiled JS: build dist/ when missing or older than the sources.
beforeAll(() => {
  const worker = path.join(root, 'dist', 'sim', 'sweep', 'worker.js');
  const stale = !fs.existsSync(worker) || fs.statSync(worker).mtimeMs < newestSource(['sim', 'policies', 'traces', 'calibrate']);
  if (stale) {
    try {
      execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' });
    } catch {
      // Type errors elsewhere still emit JS (noEmitOnError is off); the check below is what matters.
    }
  }
  expect(fs.existsSync(workerFile())).toBe(true);
}, 120_000); // may compile dist/ with tsc (vitest.config.ts)

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes a grid file into a fresh folder of tmp and returns its path. */
function gridFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(tmp, 'grid-'));
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

const TRACE = path.join(root, 'traces', 'azure-conv-2000.csv');
const TINY = `
traces: [${JSON.stringify(TRACE)}]
policies: [fcfs, sjf]
predictors: [oracle]
rate_scales: [1, 4]
seeds: [1, 2]
engine:
  limit: 200
  model: llama-3-8b
`;

function readDir(dir: string): Map<string, TaskRecord> {
  const m = new Map<string, TaskRecord>();
  for (const f of fs.readdirSync(path.join(dir, 'tasks'))) m.set(f.replace(/\.json$/, ''), JSON.parse(fs.readFileSync(path.join(dir, 'tasks', f), 'utf8')) as TaskRecord);
  return m;
}

function withoutWall(r: TaskRecord): unknown {
  return { ...r, summary: { ...r.summary, sim: { ...r.summary.sim, wall_s: 0 } } };
}


describe('grid parsing', () => {
  it('parses YAML and JSON alike, with defaults and paths relative to the grid file', () => {
    const y = parseGrid('traces: [t.csv]\npolicies: [fcfs, {name: ssjf, opts: {starvation: off}}]\n', '/data/g/grid.yaml');
    const j = parseGrid(JSON.stringify({ traces: ['t.csv'], policies: ['fcfs', { name: 'ssjf', opts: { starvation: 'off' } }] }), '/data/g/grid.json');
    for (const g of [y, j]) {
      expect(g.traces).toEqual([path.resolve('/data/g/t.csv')]);
      expect(g.policies).toEqual([{ name: 'fcfs', opts: {} }, { name: 'ssjf', opts: { starvation: 'off' } }]);
      expect(g.rateScales).toEqual([1]);
      expect(g.seeds).toEqual([1]);
      expect(g.predictors).toBeUndefined();
    }
  });

  it.each([
    ['unknown top-level key', 'traces: [t.csv]\npolicies: [fcfs]\nseed: [1]\n', 'seed', 3],
    ['unknown engine option', 'traces: [t.csv]\npolicies: [fcfs]\nengine:\n  chunked: true\n', 'engine.chunked', 4],
    ['grid axis in engine', 'traces: [t.csv]\npolicies: [fcfs]\nengine:\n  seed: 3\n', 'engine.seed', 4],
    ['missing policies', 'traces: [t.csv]\n', 'policies', undefined],
    ['wrong engine type', 'traces: [t.csv]\npolicies: [fcfs]\nengine:\n  chunked-prefill: [false, "yes"]\n', 'engine.chunked-prefill[1]', 4],
    ['bad seed', 'traces: [t.csv]\npolicies: [fcfs]\nseeds: [1.5]\n', 'seeds[0]', 3],
    ['bad policy entry key', 'traces: [t.csv]\npolicies: [{name: ssjf, options: {a: 1}}]\n', 'policies[0].options', 2],
  ])('%s → InputError naming the file and key', (_what, text, key, line) => {
    const e = inputError(() => parseGrid(text, '/x/grid.yaml'));
    expect(e.file).toBe('/x/grid.yaml');
    expect(e.field).toBe(key);
    if (line !== undefined) expect(e.line).toBe(line);
    expect(e.message).toContain(key);
  });

  it('JSON errors name the file and key too; other extensions are refused', () => {
    const e = inputError(() => parseGrid('{"policies": ["fcfs"], "traces": ["t"], "rate_scale": [2]}', 'g.json'));
    expect(e.message).toMatch(/^g\.json: rate_scale: unknown grid key/);
    expect(inputError(() => parseGrid('{', 'g.json')).file).toBe('g.json');
    expect(inputError(() => parseGrid('a: [', 'g.yaml')).file).toBe('g.yaml');
    expect(inputError(() => parseGrid('{}', 'g.toml')).message).toContain('.yaml');
    expect(inputError(() => loadGrid(path.join(tmp, 'missing.yaml'))).file).toContain('missing.yaml');
  });

  it('an unknown policy or an invalid combination fails at expansion, naming the grid file', () => {
    const bad = parseGrid('traces: [t.csv]\npolicies: [fifo]\n', '/x/g.yaml');
    expect(inputError(() => expandGrid(bad, '0')).message).toMatch(/^\/x\/g\.yaml: policies: unknown policy 'fifo'/);
    const fit = parseGrid('traces: [t.csv]\npolicies: [fcfs]\nengine: {tp: 0}\n', '/x/g.yaml');
    expect(inputError(() => expandGrid(fit, '0')).message).toContain('--tp');
  });
});

describe('expansion and ids', () => {
  const grid = parseGrid(TINY, path.join(root, 'g.yaml'));

  it('expands in a fixed order; a policy without a predictor runs once', () => {
    const g = parseGrid(`traces: [a.csv]\npolicies: [fcfs, sjf]\npredictors: [oracle, {name: noisy-length, opts: {mae: 100}}]\nrate_scales: [1, 2]\nengine: {chunked-prefill: [false, true]}\n`, '/x/g.yaml');
    const t = expandGrid(g, '0');
    // fcfs: 2 chunked x 2 scales; sjf: 2 predictors x 2 x 2.
    expect(t.length).toBe(4 + 8);
    expect(t.map((x) => x.index)).toEqual([...t.keys()]);
    const key = (x: (typeof t)[0]) => [x.options.policy, x.options.predictor ?? '-', x.options['predictor-opt']?.join() ?? '', x.options['chunked-prefill'], x.options['rate-scale']].join(' ');
    expect(t.slice(0, 6).map(key)).toEqual(['fcfs -  false 1', 'fcfs -  false 2', 'fcfs -  true 1', 'fcfs -  true 2', 'sjf oracle  false 1', 'sjf oracle  false 2']);
    expect(key(t[11])).toBe('sjf noisy-length mae=100 true 2');
    expect(t.every((x) => x.options.trace === path.resolve('/x/a.csv') && x.config.trace === 'a.csv')).toBe(true);
  });

  it('ids are sha256 of the sorted-key JSON of config and version, first 16 hex digits', () => {
    const [t] = expandGrid(grid, '9.9.9');
    const sorted = (o: Record<string, unknown>) => Object.fromEntries(Object.keys(o).sort().map((k) => [k, o[k]]));
    const json = JSON.stringify({ config: sorted(t.config as unknown as Record<string, unknown>), version: '9.9.9' });
    expect(t.id).toBe(crypto.createHash('sha256').update(json).digest('hex').slice(0, 16));
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: 1 })).toBe('{"a":1,"b":[{"c":2,"d":1}]}');
  });

  it('ids are stable across expansions and grid key order, and change with any option or the version', () => {
    const a = expandGrid(grid, '1').map((t) => t.id);
    expect(expandGrid(parseGrid(TINY, path.join(root, 'g.yaml')), '1').map((t) => t.id)).toEqual(a);
    const reordered = `engine: {model: llama-3-8b, limit: 200}\nseeds: [1, 2]\nrate_scales: [1, 4]\npredictors: [oracle]\npolicies: [fcfs, sjf]\ntraces: [${JSON.stringify(TRACE)}]\n`;
    expect(expandGrid(parseGrid(reordered, path.join(root, 'g.yaml')), '1').map((t) => t.id)).toEqual(a);
    expect(new Set(a).size).toBe(8);
    const changed = [
      expandGrid(grid, '2'),
      expandGrid(parseGrid(TINY.replace('limit: 200', 'limit: 201'), path.join(root, 'g.yaml')), '1'),
      expandGrid(parseGrid(TINY + '  chunked-prefill: true\n', path.join(root, 'g.yaml')), '1'),
      expandGrid(parseGrid(TINY + '  max-num-seqs: 255\n', path.join(root, 'g.yaml')), '1'),
    ];
    for (const c of changed) for (const t of c) expect(a).not.toContain(t.id);
    // Explicit defaults are the same options: same ids.
    expect(expandGrid(parseGrid(TINY + '  tp: 1\n', path.join(root, 'g.yaml')), '1').map((t) => t.id)).toEqual(a);
  });
});

describe('sharding', () => {
  it('parses i/n and reads Slurm and Kubernetes environments', () => {
    expect(parseShard('1/4')).toEqual({ index: 1, count: 4 });
    expect(inputError(() => parseShard('4/4')).field).toBe('--shard');
    expect(inputError(() => parseShard('1of4')).field).toBe('--shard');
    expect(resolveShard(undefined, undefined, {})).toBeUndefined();
    expect(resolveShard('0/2', undefined, { SLURM_ARRAY_TASK_ID: '1', SLURM_ARRAY_TASK_COUNT: '2' })).toEqual({ index: 0, count: 2 });
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 3, count: 4 });
    expect(resolveShard(undefined, undefined, { SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_COUNT: '4' })).toEqual({ index: 3, count: 4 });
    expect(resolveShard(undefined, 5, { JOB_COMPLETION_INDEX: '2' })).toEqual({ index: 2, count: 5 });
    expect(resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '2', JOB_COMPLETION_COUNT: '3' })).toEqual({ index: 2, count: 3 });
    expect(inputError(() => resolveShard(undefined, undefined, { JOB_COMPLETION_INDEX: '2' })).field).toBe('--shard-count');
    expect(inputError(() => resolveShard(undefined, 2, { JOB_COMPLETION_INDEX: '2' })).field).toBe('JOB_COMPLETION_INDEX');
  });

  it('shards partition the tasks by index % n', () => {
    const tasks = Array.from({ length: 7 }, (_, index) => ({ index }));
    expect(shardTasks(tasks, { index: 1, count: 3 }).map((t) => t.index)).toEqual([1, 4]);
    const all = [0, 1, 2].flatMap((i) => shardTasks(tasks, { index: i, count: 3 }).map((t) => t.index));
    expect(all.sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

describe('running a sweep', () => {
  const grid = gridFile('tiny.yaml', TINY);
  const one = path.join(tmp, 'one');
  const two = path.join(tmp, 'two');
  const sharded = path.join(tmp, 'sharded');

  it('gives the same results with 1 and 2 workers, equal to an in-process sim run', async () => {
    const r1 = await runSweep({ grid, out: one, workers: 1 });
    const r2 = await runSweep({ grid, out: two, workers: 2 });
    expect(r1).toMatchObject({ total: 8, inShard: 8, skipped: 0, ran: 8, failed: [] });
    expect(r2).toMatchObject({ total: 8, ran: 8, failed: [] });
    const a = readDir(one);
    const b = readDir(two);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBe(8);
    for (const [id, r] of a) {
      expect(r.id).toBe(id);
      expect(withoutWall(b.get(id)!)).toEqual(withoutWall(r));
    }
    // Independent truth: one task run in process the way `sim run` does.
    const rec = [...a.values()].find((r) => r.config.policy === 'sjf' && r.config['rate-scale'] === 4 && r.config.seed === 2)!;
    const opts = normalizeOptions({ policy: 'sjf', predictor: 'oracle', trace: TRACE, limit: 200, model: 'llama-3-8b', 'rate-scale': 4, seed: 2 });
    const run = await resolveRun(opts);
    const res = simulate({ trace: run.trace, policy: run.policies, router: run.router, cost: run.cost, engine: run.engine });
    const s = summarize(res, requestMetrics(res.requests), { kvBlocks: run.engine.kvBlocks, unlimitedKv: run.unlimitedKv, slo: run.slo });
    s.predictor = { name: run.predictor!.name, ...run.predictor!.quality() };
    expect(withoutWall({ ...rec, summary: s })).toEqual(withoutWall(rec));
    expect(rec.summary.requests.total).toBe(200);
    expect(rec.config.trace).toBe(path.relative(path.dirname(grid), TRACE));
  }, 120_000);

  it('shards 0/2 and 1/2 together give the whole sweep, disjointly', async () => {
    const s0 = await runSweep({ grid, out: sharded, workers: 1, shard: { index: 0, count: 2 } });
    const ids0 = new Set(readDir(sharded).keys());
    const s1 = await runSweep({ grid, out: sharded, workers: 1, shard: { index: 1, count: 2 } });
    expect(s0.ran + s1.ran).toBe(8);
    expect(s0.ran).toBe(4);
    const all = readDir(sharded);
    expect([...all.keys()].filter((id) => ids0.has(id)).length).toBe(4);
    expect([...all.keys()].sort()).toEqual([...readDir(one).keys()].sort());
  }, 120_000);

  it('re-running skips existing results and redoes only missing ones', async () => {
    const files = fs.readdirSync(path.join(one, 'tasks')).sort();
    const before = fs.readFileSync(path.join(one, 'tasks', files[0]), 'utf8');
    const again = await runSweep({ grid, out: one, workers: 2 });
    expect(again).toMatchObject({ total: 8, skipped: 8, ran: 0 });
    expect(fs.readFileSync(path.join(one, 'tasks', files[0]), 'utf8')).toBe(before);
    fs.rmSync(path.join(one, 'tasks', files[3]));
    const redo = await runSweep({ grid, out: one, workers: 1 });
    expect(redo).toMatchObject({ skipped: 7, ran: 1 });
    expect(fs.readdirSync(path.join(one, 'tasks')).sort()).toEqual(files);
  }, 120_000);

  it('merges to CSV (one row per task, sorted by id) and Parquet', async () => {
    const csv = path.join(tmp, 'merged.csv');
    expect(mergeSweep(one, csv)).toBe(8);
    const rows = parse(fs.readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[];
    expect(rows.length).toBe(8);
    const cols = Object.keys(rows[0]);
    expect(cols.slice(0, 3)).toEqual(['id', 'version', 'policy']);
    for (const c of ['predictor', 'trace', 'rate-scale', 'seed', 'limit', 'model', 'chunked-prefill', 'ttft_s.mean', 'ttft_s.p99', 'tpot_s.p50', 'e2e_s.max', 'throughput.requests_per_s', 'goodput.requests_per_s', 'preemptions', 'sim.wall_s', 'predictor.name']) {
      expect(cols).toContain(c);
    }
    const ids = rows.map((r) => r.id);
    expect(ids).toEqual([...ids].sort());
    const recs = readDir(one);
    for (const r of rows) {
      const rec = recs.get(r.id)!;
      expect(r.policy).toBe(rec.config.policy);
      expect(Number(r.seed)).toBe(rec.config.seed);
      expect(Number(r['ttft_s.p99'])).toBe(rec.summary.ttft_s.p99);
      expect(Number(r['throughput.requests_per_s'])).toBe(rec.summary.throughput.requests_per_s);
      expect(r['predictor.name']).toBe(rec.config.policy === 'sjf' ? 'oracle' : '');
      expect(r['goodput.slo_ttft_s']).toBe('');
    }
    const pq = path.join(tmp, 'merged.parquet');
    expect(mergeSweep(one, pq)).toBe(8);
    const bytes = fs.readFileSync(pq);
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('PAR1');
    expect(bytes.subarray(bytes.length - 4).toString('latin1')).toBe('PAR1');
    expect(inputError(() => mergeSweep(path.join(tmp, 'nothing'), csv)).file).toContain('nothing');
  });

  it('a task that fails writes no result and is reported; a re-run retries it', async () => {
    const g = gridFile('missing.yaml', `traces: [nope.csv, ${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nengine: {limit: 50}\n`);
    const out = path.join(tmp, 'failing');
    const r = await runSweep({ grid: g, out, workers: 1 });
    expect(r).toMatchObject({ total: 2, ran: 1 });
    expect(r.failed.length).toBe(1);
    expect(r.failed[0].inputError).toBe(true);
    expect(r.failed[0].message).toContain('nope.csv');
    expect(fs.readdirSync(path.join(out, 'tasks')).length).toBe(1);
    expect((await runSweep({ grid: g, out, workers: 1 })).failed.length).toBe(1);
  }, 120_000);

  it('runs through the CLI: exit 0, and 2 with one line for a bad grid', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let errText = '';
    err.on('data', (d: Buffer) => (errText += d.toString()));
    const io = [out as unknown as NodeJS.WriteStream, err as unknown as NodeJS.WriteStream] as const;
    expect(await main(['sweep', grid, '--out', one, '--workers', '1'], ...io)).toBe(0);
    expect(errText).toContain('8 done already');
    expect(await main(['merge', one, '--out', path.join(tmp, 'cli.csv')], ...io)).toBe(0);
    expect(fs.readFileSync(path.join(tmp, 'cli.csv'), 'utf8').split('\n').length).toBe(10);
    const bad = gridFile('bad.yaml', 'policies: [fcfs]\ntraces: [x.csv]\nengine: {chunk: 1}\n');
    errText = '';
    expect(await main(['sweep', bad, '--out', path.join(tmp, 'bad')], ...io)).toBe(2);
    expect(errText).toBe(`sim: ${bad}:3: engine.chunk: unknown engine option; valid: ${errText.split('valid: ')[1]}`);
    expect(errText.split('\n').length).toBe(2);
  }, 120_000);
});
