/**
 * `sim sweep` and `sim merge`: grid parsing and errors, expansion order and stable ids, sharding,
 * resumability, determinism across worker counts, and the merged CSV / Parquet table. Truths are
 * independent: summaries are checked against an in-process `sim run` equivalent, ids against a
 * hand-computed hash, the CSV through csv-parse, Parquet read back with hyparquet (the writer's
 * companion reader): its schema's types and its values against the task records.
 */
import { inputError, runSim } from './helpers.ts';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { parse } from 'csv-parse/sync';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { InputError } from '../sim/errors.ts';
import { parseGrid, loadGrid } from '../app/sweep/grid.ts';
import { expandGrid, canonicalJson, taskId, GridPlan } from '../app/sweep/tasks.ts';
import { CONFIRM_TASKS, MAX_TASKS } from '../app/sweep/limits.ts';
import { parseShard, resolveShard, shardTasks } from '../app/sweep/shard.ts';
import { runSweep, workerFile, checkGridSize } from '../app/sweep/sweep.ts';
import { checkRecord } from '../app/sweep/record.ts';
import type { TaskRecord } from '../app/sweep/sweep.ts';
import { mergeSweep, mergeTable } from '../app/sweep/merge.ts';
import { normalizeOptions, resolveRun, readRunOption } from '../app/config.ts';
import type { RunOptions } from '../app/config.ts';
import { simulate } from '../sim/simulator.ts';
import { requestMetrics, summarize } from '../sim/metrics.ts';
import { FINISHED } from '../sim/requests.ts';
import { GPUS, runCost } from '../sim/cost/index.ts';
import { main } from '../app/cli.ts';

const root = path.resolve(import.meta.dirname, '..');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-sweep-'));

// The pool's threads load compiled JS: test/global-setup.ts builds dist/ when stale.
beforeAll(() => {
  expect(fs.existsSync(workerFile())).toBe(true);
});

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
    expect(e.message).toMatch(/^g\.json:1: rate_scale: unknown grid key/);
    expect(inputError(() => parseGrid('{', 'g.json')).file).toBe('g.json');
    expect(inputError(() => parseGrid('a: [', 'g.yaml')).file).toBe('g.yaml');
    expect(inputError(() => parseGrid('{}', 'g.toml')).message).toContain('.yaml');
    expect(inputError(() => loadGrid(path.join(tmp, 'missing.yaml'))).file).toContain('missing.yaml');
  });

  it('an unknown policy or an invalid combination fails at expansion, naming the grid file', () => {
    const bad = parseGrid('traces: [t.csv]\npolicies: [fifo]\n', '/x/g.yaml');
    expect(inputError(() => expandGrid(bad, '0')).message).toMatch(/^\/x\/g\.yaml:2: policies\[0\]: unknown policy 'fifo'/);
    const fit = parseGrid('traces: [t.csv]\npolicies: [fcfs]\nengine: {tp: 3}\n', '/x/g.yaml');
    const e = inputError(() => expandGrid(fit, '0'));
    expect(e.message).toContain('--tp');
    expect([e.file, e.line, e.field]).toEqual(['/x/g.yaml', 3, 'engine.tp']);
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
    const r1 = await runSweep({ allSeeds: true, grid, out: one, workers: 1 });
    const r2 = await runSweep({ allSeeds: true, grid, out: two, workers: 2 });
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
    const s = summarize(res, requestMetrics(res.requests), { kvBlocks: run.engine.kvBlocks, unlimitedKv: run.unlimitedKv, slo: run.slo, peak: run.peak });
    s.predictor = { name: run.predictor!.name, ...run.predictor!.quality() };
    let output = 0;
    let prompt = 0;
    for (let i = 0; i < res.requests.n; i++) {
      if (res.requests.state[i] !== FINISHED) continue;
      output += res.requests.output[i];
      prompt += res.requests.prompt[i];
    }
    Object.assign(s, runCost(1, s.makespan_s, GPUS['a100-80gb'].usdPerHour, { output, total: output + prompt }));
    s.sim.random_draws = 0; // the oracle predictor and one replica draw no random number
    expect(withoutWall({ ...rec, summary: s })).toEqual(withoutWall(rec));
    expect(rec.summary.requests.total).toBe(200);
    expect(rec.config.trace).toBe(path.relative(path.dirname(grid), TRACE));
  }, 120_000);

  it('shards 0/2 and 1/2 together give the whole sweep, disjointly', async () => {
    const s0 = await runSweep({ allSeeds: true, grid, out: sharded, workers: 1, shard: { index: 0, count: 2 } });
    const ids0 = new Set(readDir(sharded).keys());
    const s1 = await runSweep({ allSeeds: true, grid, out: sharded, workers: 1, shard: { index: 1, count: 2 } });
    expect(s0.ran + s1.ran).toBe(8);
    expect(s0.ran).toBe(4);
    const all = readDir(sharded);
    expect([...all.keys()].filter((id) => ids0.has(id)).length).toBe(4);
    expect([...all.keys()].sort()).toEqual([...readDir(one).keys()].sort());
  }, 120_000);

  it('re-running skips existing results and redoes only missing ones', async () => {
    const files = fs.readdirSync(path.join(one, 'tasks')).sort();
    const before = fs.readFileSync(path.join(one, 'tasks', files[0]), 'utf8');
    const again = await runSweep({ allSeeds: true, grid, out: one, workers: 2 });
    expect(again).toMatchObject({ total: 8, skipped: 8, ran: 0 });
    expect(fs.readFileSync(path.join(one, 'tasks', files[0]), 'utf8')).toBe(before);
    fs.rmSync(path.join(one, 'tasks', files[3]));
    const redo = await runSweep({ allSeeds: true, grid, out: one, workers: 1 });
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
    for (const c of cols) expect(c).toMatch(/^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/); // snake_case, dots for nesting
    for (const c of ['predictor', 'trace', 'rate_scale', 'seed', 'limit', 'model', 'chunked_prefill', 'ttft_s.mean', 'ttft_s.p99', 'tpot_s.p50', 'e2e_s.max', 'throughput.requests_per_s', 'goodput.requests_per_s', 'preemptions', 'sim.wall_s', 'predictor.name']) {
      expect(cols).toContain(c);
    }
    const ids = rows.map((r) => r.id);
    expect(ids).toEqual([...ids].sort());
    const recs = readDir(one);
    for (const r of rows) {
      const rec = recs.get(r.id)!;
      expect(r.policy).toBe(rec.config.policy);
      expect(Number(r.seed)).toBe(rec.config.seed);
      expect(Number(r.rate_scale)).toBe(rec.config['rate-scale']);
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

  it('merged columns: flag names in snake_case, one column per name, types from the option or field, not the values', () => {
    const rec = (id: string, replicas: number, scale: number, kv: number | string) =>
      ({
        id,
        version: '0.1.0',
        config: { policy: 'fcfs', 'policy-opt': ['a=1', 'b=2'], 'rate-scale': scale, replicas, 'kv-tokens': kv, 'chunked-prefill': false },
        summary: { requests: { total: 3 }, goodput: { slo_attainment: 1, slo_ttft_s: null }, replicas: [{ replica: 0 }, { replica: 1 }], predictor: { name: 'oracle' } },
      }) as unknown as TaskRecord;
    const t = mergeTable([rec('a', 2, 1, 1000), rec('b', 4, 2, 'unlimited')]);
    expect(t.columns).toEqual(['id', 'version', 'policy', 'policy_opt', 'rate_scale', 'kv_tokens', 'chunked_prefill', 'replicas', 'requests.total', 'goodput.slo_attainment', 'goodput.slo_ttft_s', 'predictor.name']);
    expect(t.types).toEqual(['string', 'string', 'string', 'string', 'float', 'string', 'bool', 'int', 'int', 'float', 'float', 'string']);
    expect(t.rows[0]).toEqual(['a', '0.1.0', 'fcfs', 'a=1,b=2', 1, 1000, false, 2, 3, 1, null, 'oracle']);
    // kv-tokens is a count when every task gives one.
    expect(mergeTable([rec('a', 2, 1, 1000)]).types[5]).toBe('int');
  });

  it('writes Parquet with typed columns: INT64 counts, DOUBLE measures (also when null in every task), BOOLEAN, UTF-8 strings', async () => {
    const pq = path.join(tmp, 'typed.parquet');
    expect(mergeSweep(one, pq)).toBe(8);
    const b = fs.readFileSync(pq);
    const file = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
    const schema = parquetMetadata(file).schema.slice(1); // [0] is the root
    const csv = path.join(tmp, 'typed.csv');
    mergeSweep(one, csv);
    const csvCols = Object.keys((parse(fs.readFileSync(csv, 'utf8'), { columns: true }) as Record<string, string>[])[0]);
    expect(schema.map((e) => e.name)).toEqual(csvCols);
    const type = new Map(schema.map((e) => [e.name, e]));
    for (const e of schema) expect(e.repetition_type, e.name).toBe('OPTIONAL');
    // Counts and integer options: INT64, though a rate scale of 1 and 4 is DOUBLE (a multiplier).
    for (const c of ['seed', 'limit', 'requests.total', 'requests.completed', 'preemptions', 'swaps.bytes', 'sim.events', 'sim.iterations']) expect(type.get(c)?.type, c).toBe('INT64');
    // A fraction that is 1 in every task (no SLO set) and SLO columns null in every task stay DOUBLE.
    for (const c of ['rate_scale', 'ttft_s.p99', 'throughput.requests_per_s', 'goodput.slo_attainment', 'goodput.slo_ttft_s', 'sim.wall_s']) expect(type.get(c)?.type, c).toBe('DOUBLE');
    expect(type.get('chunked_prefill')?.type).toBe('BOOLEAN');
    for (const c of ['id', 'version', 'policy', 'model', 'trace', 'predictor.name']) {
      expect(type.get(c)?.type, c).toBe('BYTE_ARRAY');
      expect(type.get(c)?.converted_type, c).toBe('UTF8');
    }
    const rows = (await parquetReadObjects({ file })) as Record<string, unknown>[];
    expect(rows.length).toBe(8);
    const recs = readDir(one);
    for (const r of rows) {
      const rec = recs.get(r.id as string)!;
      expect(r.seed).toBe(BigInt(rec.config.seed as number));
      expect(r['requests.total']).toBe(BigInt(rec.summary.requests.total));
      expect(r.rate_scale).toBe(rec.config['rate-scale']);
      expect(r['ttft_s.p99']).toBe(rec.summary.ttft_s.p99);
      expect(r['goodput.slo_ttft_s']).toBeNull();
      expect(r['predictor.name']).toBe(rec.config.policy === 'sjf' ? 'oracle' : null);
    }
  });

  it('a task that fails while running writes no result and is reported; a re-run retries it', async () => {
    // The file exists and is readable (checked up front) but is not a trace: only reading it fails.
    const dir = fs.mkdtempSync(path.join(tmp, 'grid-'));
    fs.writeFileSync(path.join(dir, 'garbage.csv'), 'this,is\nnot,a trace\n');
    const g = path.join(dir, 'failing.yaml');
    fs.writeFileSync(g, `traces: [garbage.csv, ${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nengine: {limit: 50}\n`);
    const out = path.join(tmp, 'failing');
    const r = await runSweep({ allSeeds: true, grid: g, out, workers: 1 });
    expect(r).toMatchObject({ total: 2, ran: 1 });
    expect(r.failed.length).toBe(1);
    expect(r.failed[0].inputError).toBe(true);
    expect(r.failed[0].message).toContain('garbage.csv');
    expect(fs.readdirSync(path.join(out, 'tasks')).length).toBe(1);
    expect((await runSweep({ allSeeds: true, grid: g, out, workers: 1 })).failed.length).toBe(1);
  }, 120_000);

  it('runs through the CLI: exit 0, and 2 with one line for a bad grid', async () => {
    const out = new PassThrough();
    const err = new PassThrough();
    let errText = '';
    err.on('data', (d: Buffer) => (errText += d.toString()));
    const io = [out as unknown as NodeJS.WriteStream, err as unknown as NodeJS.WriteStream] as const;
    expect(await main(['sweep', grid, '--out', one, '--workers', '1', '--all-seeds'], ...io)).toBe(0);
    expect(errText).toContain('8 done already');
    expect(await main(['merge', one, '--out', path.join(tmp, 'cli.csv')], ...io)).toBe(0);
    expect(fs.readFileSync(path.join(tmp, 'cli.csv'), 'utf8').split('\n').length).toBe(10);
    const bad = gridFile('bad.yaml', 'policies: [fcfs]\ntraces: [x.csv]\nengine: {chunk: 1}\n');
    errText = '';
    expect(await main(['sweep', bad, '--out', path.join(tmp, 'bad')], ...io)).toBe(2);
    expect(errText).toBe(`sim: ${bad}:3: engine.chunk: unknown engine option; valid: ${errText.split('valid: ')[1]}`);
    expect(errText.split('\n').length).toBe(2);
  }, 120_000);
  it('runs one seed where the seed changes nothing (trace file, no random draws), all seeds where it does', async () => {
    const g = gridFile('seeds.yaml', `
traces: [${JSON.stringify(TRACE)}]
policies: [fcfs, sjf]
predictors: [noisy-length]
rate_scales: [2]
seeds: [1, 2, 3]
engine:
  limit: 150
  model: llama-3-8b
`);
    const out = path.join(tmp, 'seeds');
    const collapsed: number[] = [];
    const r = await runSweep({ grid: g, out, workers: 2, onCollapse: (n) => collapsed.push(n) });
    expect(r).toMatchObject({ total: 6, ran: 4, collapsed: 2, skipped: 0, failed: [] });
    expect(collapsed).toEqual([2]);
    const recs = [...readDir(out).values()];
    const fcfs = recs.filter((x) => x.config.policy === 'fcfs');
    expect(fcfs).toHaveLength(1);
    expect(fcfs[0].summary.sim.random_draws).toBe(0);
    const sjf = recs.filter((x) => x.config.policy === 'sjf');
    expect(sjf.map((x) => x.config.seed).sort()).toEqual([1, 2, 3]);
    expect(sjf.every((x) => x.summary.sim.random_draws! > 0)).toBe(true);
    // Independent truth: with --all-seeds the skipped seeds run, and give fcfs's first seed's summary.
    const all = path.join(tmp, 'seeds-all');
    expect(await runSweep({ grid: g, out: all, workers: 2, allSeeds: true })).toMatchObject({ ran: 6, collapsed: 0 });
    const fcfsAll = [...readDir(all).values()].filter((x) => x.config.policy === 'fcfs');
    expect(fcfsAll).toHaveLength(3);
    for (const x of fcfsAll) expect(withoutWall({ ...x, id: '', config: { ...x.config, seed: 1 } })).toEqual(withoutWall({ ...fcfs[0], id: '' }));
    // Resumed: the known seed-free group is not run again, and its other seeds are not counted as to run.
    expect(await runSweep({ grid: g, out, workers: 1 })).toMatchObject({ ran: 0, skipped: 4, collapsed: 2 });
  }, 120_000);
});

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** The result files (`<id>.json`) of a sweep folder, sorted. */
function results(out: string): string[] {
  const dir = path.join(out, 'tasks');
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((n) => /^[0-9a-f]{16}\.json$/.test(n)).sort() : [];
}

/** Runs `f`, expects a rejected InputError, returns it. */
async function rejectsInput(f: () => Promise<unknown>): Promise<InputError> {
  try {
    await f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

describe('grid cells are read as sim run reads its flags', () => {
  // Each (option, text as written in YAML): the grid accepts it exactly when readRunOption (what
  // the CLI and --config use) accepts the same text, and refuses it for the same reason.
  it.each([
    ['max-num-seqs', '0'],
    ['max-num-seqs', '0x10'],
    ['max-num-seqs', '64'],
    ['limit', '1.5'],
    ['limit', '-3'],
    ['limit', '1e3'],
    ['tp', '65'],
    ['gpu-memory-utilization', '1.5'],
    ['gpu-memory-utilization', '0.5'],
    ['swap-space', '1e400'],
    ['swap-space', '.inf'],
    ['chunked-prefill', 'yes'],
    ['chunked-prefill', '1'],
    ['chunked-prefill', 'true'],
    ['kv-tokens', 'unlimited'],
    ['kv-tokens', '0o17'],
    ['kv-tokens', '4096'],
    ['preemption', 'drop'],
    ['slo-ttft', '0'],
    ['replicas', '1025'],
  ])('engine.%s: %s', (key, text) => {
    let cli: string | undefined;
    try {
      readRunOption(key, text);
    } catch (e) {
      cli = (e as InputError).message;
    }
    let grid: InputError | undefined;
    try {
      parseGrid(`traces: [t.csv]\npolicies: [fcfs]\nengine:\n  ${key}: ${text}\n`, '/x/g.yaml');
    } catch (e) {
      expect(e).toBeInstanceOf(InputError);
      grid = e as InputError;
    }
    expect(grid === undefined, `${key}: ${text}: cli ${cli}, grid ${grid?.message}`).toBe(cli === undefined);
    if (grid && cli) {
      expect([grid.file, grid.line, grid.field]).toEqual(['/x/g.yaml', 4, `engine.${key}`]);
      const reason = (m: string) => m.replace(/^.*?: (must|unknown)/, '$1').replace(/ \(got .*\)$/, '');
      expect(reason(grid.message)).toBe(reason(cli));
    }
  });

  it('refuses hex, octal and .inf wherever a grid holds a number, naming the line and key', () => {
    const cases: [string, number, string][] = [
      ['traces: [t.csv]\npolicies: [fcfs]\nrate_scales: [1, 0x2]\n', 3, 'rate_scales[1]'],
      ['traces: [t.csv]\npolicies: [fcfs]\nseeds:\n  - 1\n  - 0o7\n', 5, 'seeds[1]'],
      ['traces: [t.csv]\npolicies: [fcfs]\nengine:\n  limit: [10, .inf]\n', 4, 'engine.limit[1]'],
      ['{"traces": ["t.csv"],\n "policies": ["fcfs"],\n "seeds": [1, 2.5]}', 3, 'seeds[1]'],
    ];
    for (const [text, line, field] of cases) {
      const e = inputError(() => parseGrid(text, text.startsWith('{') ? '/x/g.json' : '/x/g.yaml'));
      expect([e.line, e.field], text).toEqual([line, field]);
    }
    // In policy and predictor options the text is kept as written, so their own readers refuse it.
    const g = parseGrid('traces: [t.csv]\npolicies: [sjf]\npredictors:\n  - {name: noisy-length, opts: {mae: 0x10}}\n', '/x/g.yaml');
    expect(g.predictors![0].opts.mae).toBe('0x10');
    const e = inputError(() => expandGrid(g, '0'));
    expect([e.line, e.field]).toEqual([4, 'predictors[0].opts']);
    expect(e.message).toContain("'0x10'");
  });

  it("refuses standard input ('-') as a trace and an empty trace path", () => {
    expect(inputError(() => parseGrid('traces: [t.csv, "-"]\npolicies: [fcfs]\n', '/x/g.yaml')).field).toBe('traces[1]');
    expect(inputError(() => parseGrid('traces: [""]\npolicies: [fcfs]\n', '/x/g.yaml')).field).toBe('traces[0]');
    const e = inputError(() => parseGrid('policies: [fcfs]\nengine:\n  synthetic: poisson\n  lengths-from: "-"\n', '/x/g.yaml'));
    expect([e.line, e.field]).toEqual([4, 'engine.lengths-from']);
    expect(e.message).toContain('standard input');
  });

  it('takes router-opt as an engine axis, one key=value string per value', () => {
    const g = parseGrid('traces: [t.csv]\npolicies: [fcfs]\nengine:\n  replicas: 2\n  router: power-of-two\n  router-opt: [a=1, b=2]\n', '/x/g.yaml');
    expect(g.engine).toContainEqual(['router-opt', ['a=1', 'b=2']]);
    const e = inputError(() => expandGrid(g, '0'));
    expect([e.line, e.field]).toEqual([6, 'engine.router-opt[0]']);
    expect(e.message).toContain('unknown power-of-two option a');
  });

  it('refuses a YAML alias bomb with one InputError naming the file and line', () => {
    const rows = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [p, c] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f'], ['f', 'g'], ['g', 'h'], ['h', 'i']]) rows.push(`${c}: &${c} [${Array(9).fill('*' + p).join(', ')}]`);
    const e = inputError(() => parseGrid(rows.join('\n') + '\npolicies: [fcfs]\n', '/x/bomb.yaml'));
    expect([e.file, e.line]).toEqual(['/x/bomb.yaml', 2]);
    expect(e.message).toContain('alias');
    // A few aliases are fine.
    expect(parseGrid('traces: &t [a.csv]\npolicies: [fcfs]\nx_: 1\n'.replace('x_: 1\n', ''), '/x/g.yaml').traces).toEqual(['/x/a.csv']);
  });
});

describe('every task is checked before the first runs', () => {
  const dir = fs.mkdtempSync(path.join(tmp, 'upfront-'));
  fs.mkdirSync(path.join(dir, 'a-folder.csv'));
  fs.writeFileSync(path.join(dir, 'locked.csv'), 'x');
  fs.chmodSync(path.join(dir, 'locked.csv'), 0o000);
  // The bad value is always the last of its axis, so a sweep checking lazily would run tasks first.
  const T = JSON.stringify(TRACE);
  it.each([
    ['a bad policy-opt', `traces: [${T}]\npolicies:\n  - fcfs\n  - {name: ssjf, opts: {starve: off}}\n`, 4, 'policies[1].opts', '--policy-opt'],
    ['a bad predictor-opt', `traces: [${T}]\npolicies: [sjf]\npredictors:\n  - oracle\n  - {name: noisy-length, opts: {mae: -1}}\n`, 5, 'predictors[1].opts', '--predictor-opt'],
    ['a bad router-opt', `traces: [${T}]\npolicies: [fcfs]\nengine:\n  replicas: 2\n  router-opt: ["", x=1]\n`, 5, 'engine.router-opt[0]', 'router-opt'],
    ['a bad limit', `traces: [${T}]\npolicies: [fcfs]\nengine:\n  limit: [100, 0]\n`, 4, 'engine.limit[1]', 'integer'],
    ['a combination refused', `traces: [${T}]\npolicies: [fcfs]\nengine:\n  max-num-seqs: [64, 512]\n  max-num-batched-tokens: 300\n`, 5, 'engine.max-num-batched-tokens', 'below --max-num-seqs 512'],
    ['a model that does not fit', `traces: [${T}]\npolicies: [fcfs]\nengine:\n  model: [llama-2-7b, llama-2-70b]\n`, 3, 'engine', 'does not fit'],
    ['a missing trace', `traces:\n  - ${T}\n  - nope.csv\npolicies: [fcfs]\n`, 3, 'traces[1]', 'no such file'],
    ['a folder as trace', `traces: [${T}, a-folder.csv]\npolicies: [fcfs]\n`, 1, 'traces[1]', 'is a folder'],
    ['a missing profile', `traces: [${T}]\npolicies: [fcfs]\nengine:\n  profile: [nope.json]\n`, 4, 'engine.profile[0]', 'no such file'],
    ['an unreadable trace', `traces: [${T}, locked.csv]\npolicies: [fcfs]\n`, 1, 'traces[1]', 'permission denied'],
  ])('%s', async (what, text, line, field, says) => {
    if (what === 'an unreadable trace' && isRoot) return;
    const g = path.join(dir, `${what.replaceAll(' ', '-')}.yaml`);
    fs.writeFileSync(g, text);
    const out = path.join(dir, `out-${what.replaceAll(' ', '-')}`);
    const e = await rejectsInput(() => runSweep({ allSeeds: true, grid: g, out, workers: 1 }));
    expect([e.file, e.line, e.field]).toEqual([g, line, field]);
    expect(e.message).toContain(says);
    expect(results(out)).toEqual([]);
  }, 120_000);
});

describe('task counts and limits', () => {
  it('counts the tasks from the axes, equal to the expansion, and numbers them in order', () => {
    // 2 traces x (fcfs, sjf x 2 predictors) x (2 x 3 engine) x 2 rate scales x 3 seeds = 216.
    const g = parseGrid('traces: [a.csv, b.csv]\npolicies: [fcfs, sjf]\npredictors: [oracle, ssjf-buckets]\nrate_scales: [1, 2]\nseeds: [1, 2, 3]\nengine:\n  chunked-prefill: [false, true]\n  limit: [10, 20, 30]\n', '/x/g.yaml');
    const plan = new GridPlan(g, '0');
    expect(plan.combinations).toBe(216);
    expect(plan.describe()).toBe('2 traces x 3 policy/predictor pairs x 6 engine settings x 2 rate scales x 3 seeds');
    const tasks = expandGrid(g, '0');
    expect(tasks.length).toBe(216);
    expect(tasks.map((t) => t.index)).toEqual([...tasks.keys()]);
    // A policy listed twice: combinations count it twice, the tasks once, indices stay consecutive.
    const dup = parseGrid('traces: [a.csv]\npolicies: [fcfs, las, fcfs]\nseeds: [1, 2]\n', '/x/g.yaml');
    expect(new GridPlan(dup, '0').combinations).toBe(6);
    const dt = expandGrid(dup, '0');
    expect(dt.map((t) => [t.index, t.options.policy, t.options.seed])).toEqual([[0, 'fcfs', 1], [1, 'fcfs', 2], [2, 'las', 1], [3, 'las', 2]]);
  });

  it('gives every task the id of its options normalized on their own', () => {
    const g = parseGrid('traces: [a.csv]\npolicies: [fcfs, sjf]\npredictors: [oracle]\nrate_scales: [1, 2.5]\nseeds: [3, -1]\nengine: {limit: [10, 20]}\n', '/x/g.yaml');
    const seen: string[] = [];
    new GridPlan(g, '7').scan((t) => seen.push(t.id));
    // The expansion order written out by hand, each task normalized and hashed independently.
    const want: string[] = [];
    for (const [policy, predictor] of [['fcfs', undefined], ['sjf', 'oracle']] as const) {
      for (const limit of [10, 20]) {
        for (const scale of [1, 2.5]) {
          for (const seed of [3, -1]) {
            const o = normalizeOptions({ policy, predictor, trace: '/x/a.csv', limit, 'rate-scale': scale, seed });
            const config = Object.fromEntries(Object.entries({ ...o, trace: 'a.csv' }).filter(([, v]) => v !== undefined)) as unknown as RunOptions;
            want.push(taskId(config, '7'));
          }
        }
      }
    }
    expect(seen).toEqual(want);
  });

  it(`refuses more than ${CONFIRM_TASKS} tasks without --yes and more than ${MAX_TASKS} always, before creating anything`, async () => {
    const seeds = (n: number) => `[${Array.from({ length: n }, (_, i) => i + 1).join(', ')}]`;
    const over = gridFile('over.yaml', `traces: [${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nseeds: ${seeds(CONFIRM_TASKS + 1)}\n`);
    const out = path.join(tmp, 'over-out');
    const e = await rejectsInput(() => runSweep({ allSeeds: true, grid: over, out }));
    expect(e.file).toBe(over);
    expect(e.message).toContain(`${CONFIRM_TASKS + 1} tasks (1 trace x 1 policy/predictor pair x 1 rate scale x ${CONFIRM_TASKS + 1} seeds): more than ${CONFIRM_TASKS} need --yes`);
    expect(fs.existsSync(out)).toBe(false);
    const at = (n: number) => new GridPlan(parseGrid(`traces: [a.csv]\npolicies: [fcfs]\nseeds: ${seeds(n)}\n`, '/x/g.yaml'), '0');
    expect(() => checkGridSize(at(CONFIRM_TASKS), false)).not.toThrow();
    expect(() => checkGridSize(at(CONFIRM_TASKS + 1), true)).not.toThrow();
    // 101 x 9901 = 1,000,001 tasks: refused even with --yes.
    const huge = gridFile('huge.yaml', `traces: [${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nrate_scales: ${seeds(101)}\nseeds: ${seeds(9901)}\n`);
    const h = await rejectsInput(() => runSweep({ allSeeds: true, grid: huge, out, yes: true }));
    expect(h.message).toContain(`1000001 tasks`);
    expect(h.message).toContain(`more than ${MAX_TASKS}, the most one grid may have`);
    expect(fs.existsSync(out)).toBe(false);
    expect(() => checkGridSize(new GridPlan(parseGrid(`traces: [a.csv]\npolicies: [fcfs]\nrate_scales: ${seeds(1000)}\nseeds: ${seeds(1000)}\n`, '/x/g.yaml'), '0'), true)).not.toThrow();
  });

  it(`walks the largest grid allowed (${MAX_TASKS} tasks) keeping only ids`, () => {
    const seq = (n: number, f: (i: number) => number) => `[${Array.from({ length: n }, (_, i) => f(i)).join(', ')}]`;
    // 5 policy/predictor pairs x 4 engine settings x 50 rate scales x 1000 seeds.
    const g = parseGrid(`traces: [a.csv]\npolicies: [fcfs, sjf, srpt]\npredictors: [oracle, ssjf-buckets]\nrate_scales: ${seq(50, (i) => (i + 1) / 10)}\nseeds: ${seq(1000, (i) => i)}\nengine: {chunked-prefill: [false, true], max-num-seqs: [128, 256]}\n`, '/x/g.yaml');
    const plan = new GridPlan(g, '0');
    expect(plan.combinations).toBe(MAX_TASKS);
    let n = 0;
    let last = -1;
    let ordered = true;
    let lastId = '';
    let reports = 0;
    const distinct = plan.scan(
      (t) => {
        if (t.combo <= last) ordered = false; // no expect() here: a million calls
        last = t.combo;
        lastId = t.id;
        n++;
      },
      () => reports++,
    );
    expect([distinct, n, ordered, reports]).toEqual([MAX_TASKS, MAX_TASKS, true, 10]);
    // Holding only ids: far below the 2 GB the expansion into option objects took.
    expect(process.memoryUsage().heapUsed).toBeLessThan(1e9);
    // Spot check: the last task built on its own has the id the scan gave it.
    expect(plan.task(MAX_TASKS - 1, MAX_TASKS - 1).id).toBe(lastId);
  }, 120_000);
});

describe('resume and merge check every result file', () => {
  const grid = gridFile('resume.yaml', `traces: [${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nseeds: [1, 2, 3, 4, 5, 6]\nengine: {limit: 30}\n`);
  const out = path.join(tmp, 'resume');
  let original: Map<string, string>;

  it('re-runs a cut-short, empty, foreign, summary-less or wrong-config result, with one warning naming each file', async () => {
    expect((await runSweep({ allSeeds: true, grid, out, workers: 1 })).ran).toBe(6);
    const names = results(out);
    expect(names.length).toBe(6);
    const file = (i: number) => path.join(out, 'tasks', names[i]);
    original = new Map(names.map((n, i) => [n, fs.readFileSync(file(i), 'utf8')]));
    const rec = (i: number) => JSON.parse(original.get(names[i])!) as TaskRecord;
    fs.writeFileSync(file(0), original.get(names[0])!.slice(0, 200)); // cut short
    fs.writeFileSync(file(1), ''); // empty
    fs.writeFileSync(file(2), JSON.stringify({ ...rec(2), id: rec(3).id })); // another id
    fs.writeFileSync(file(3), JSON.stringify({ ...rec(3), summary: undefined })); // no summary
    fs.writeFileSync(file(4), JSON.stringify({ ...rec(5), id: rec(4).id })); // another task's config under this id
    const warnings: string[] = [];
    const r = await runSweep({ allSeeds: true, grid, out, workers: 2, onWarning: (m) => warnings.push(m) });
    expect(r).toMatchObject({ total: 6, skipped: 1, ran: 5, invalid: 5, failed: [] });
    expect(warnings.length).toBe(5);
    for (let i = 0; i < 5; i++) {
      const w = warnings.find((x) => x.startsWith(file(i) + ':'));
      expect(w, names[i]).toBeDefined();
      expect(w).toMatch(/running the task again$/);
    }
    expect(warnings.find((w) => w.startsWith(file(0)))).toContain('not valid JSON');
    expect(warnings.find((w) => w.startsWith(file(1)))).toContain('empty file');
    expect(warnings.find((w) => w.startsWith(file(2)))).toContain('is not its file name');
    expect(warnings.find((w) => w.startsWith(file(3)))).toContain('no summary');
    expect(warnings.find((w) => w.startsWith(file(4)))).toContain('hash to another id');
    // Redone: the same results as the first time (but for the wall time).
    for (const [i, n] of names.entries()) {
      const now = JSON.parse(fs.readFileSync(file(i), 'utf8')) as TaskRecord;
      expect(withoutWall(now)).toEqual(withoutWall(JSON.parse(original.get(n)!) as TaskRecord));
      expect('record' in checkRecord(fs.readFileSync(file(i), 'utf8'), n.slice(0, 16))).toBe(true);
    }
  }, 120_000);

  it('removes stale temporary files, leaves fresh ones (another shard may be writing), counts neither', async () => {
    const names = results(out);
    const stale = path.join(out, 'tasks', `.${names[0]}.tmp-4242`);
    const legacy = path.join(out, 'tasks', `${names[1]}.tmp-4243`);
    const fresh = path.join(out, 'tasks', `.${names[2]}.tmp-4244`);
    for (const f of [stale, legacy, fresh]) fs.writeFileSync(f, '{"id": "cut');
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(stale, old, old);
    fs.utimesSync(legacy, old, old);
    const r = await runSweep({ allSeeds: true, grid, out, workers: 1 });
    expect(r).toMatchObject({ skipped: 6, ran: 0, invalid: 0 });
    expect([fs.existsSync(stale), fs.existsSync(legacy), fs.existsSync(fresh)]).toEqual([false, false, true]);
    const csv = path.join(tmp, 'resume.csv');
    expect(mergeSweep(out, csv)).toBe(6);
    fs.rmSync(fresh);
  }, 120_000);

  it('merge refuses a corrupt result with one line naming the file, leaving an earlier table as it was', async () => {
    const csv = path.join(tmp, 'resume.csv');
    const before = fs.readFileSync(csv, 'utf8');
    const victim = path.join(out, 'tasks', results(out)[3]);
    fs.writeFileSync(victim, fs.readFileSync(victim, 'utf8').slice(0, 50));
    const e = inputError(() => mergeSweep(out, csv));
    expect(e.file).toBe(victim);
    expect(e.message).toContain('not a valid sweep result');
    expect(e.message.split('\n').length).toBe(1);
    expect(fs.readFileSync(csv, 'utf8')).toBe(before);
    expect(fs.readdirSync(tmp).filter((n) => n.includes('.tmp-'))).toEqual([]);
    const r = await runSim('merge', out, '--out', csv);
    expect([r.code, r.out, r.err]).toEqual([2, '', `sim: ${victim}: ${e.message.slice(victim.length + 2)}\n`]);
  });
});

describe('output and flags of sweep and merge', () => {
  const grid = gridFile('flags.yaml', `traces: [${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nengine: {limit: 20}\n`);

  it('an --out that cannot be written fails with one line before anything runs', async () => {
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'x');
    for (const out of [file, path.join(file, 'sub')]) {
      const r = await runSim('sweep', grid, '--out', out);
      expect(r.code).toBe(2);
      expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
      expect(r.err).toMatch(/^sim: .*a-file.*: --out: .*is a file, not a folder\n$/);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe('x');
  });

  it('merge --out is checked before any result is read, and written atomically', async () => {
    // The folder has no tasks/: reading would fail too, but --out is named first.
    const r = await runSim('merge', path.join(tmp, 'no-sweep-here'), '--out', tmp);
    expect([r.code, r.err]).toEqual([2, `sim: ${tmp}: --out: is a folder, not a file\n`]);
    const sweepOut = path.join(tmp, 'flags-out');
    expect((await runSim('sweep', grid, '--out', sweepOut, '--workers', '1', '--all-seeds')).code).toBe(0);
    const csvDir = path.join(tmp, 'merged-here');
    expect((await runSim('merge', sweepOut, '--out', path.join(csvDir, 'deep', 't.csv'))).code).toBe(0);
    expect(fs.readdirSync(path.join(csvDir, 'deep'))).toEqual(['t.csv']);
  }, 120_000);

  it('a result that cannot be written stops the sweep with an InputError naming it, no task started after', async () => {
    const g3 = gridFile('three.yaml', `traces: [${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nseeds: [1, 2, 3]\nengine: {limit: 20}\n`);
    const out = path.join(tmp, 'unwritable');
    let done = 0;
    const e = await rejectsInput(() =>
      runSweep({
        allSeeds: true,
        grid: g3,
        out,
        workers: 1,
        // After the checks: tasks/ becomes a file, so writing any result fails (also as root).
        onStart: () => {
          fs.rmSync(path.join(out, 'tasks'), { recursive: true });
          fs.writeFileSync(path.join(out, 'tasks'), 'x');
        },
        onTask: () => done++,
      }),
    );
    expect(e.file).toMatch(new RegExp(`^${out.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/tasks/[0-9a-f]{16}\\.json$`));
    expect(e.message).toContain('cannot write');
    expect(done).toBe(0);
  }, 120_000);

  it.each([
    [['--workers', '0x2'], '--workers: must be an integer in [1, 256], written in decimal'],
    [['--workers', '0'], '--workers: must be an integer in [1, 256]'],
    [['--workers', '257'], '--workers: must be at most 256 (worker threads)'],
    [['--workers', '1', '--workers', '2'], '--workers: given 2 times; give it once'],
    [['--out', 'b'], '--out: given 2 times; give it once'],
    [['--shard-count', '0b11'], '--shard-count: must be an integer in [1, 1000000], written in decimal'],
    [['--shard', '0/2', '--shard', '1/2'], '--shard: given 2 times'],
  ])('sweep %j: one line, exit 2', async (extra, says) => {
    const r = await runSim('sweep', grid, '--out', path.join(tmp, 'never'), ...extra);
    expect([r.code, r.out, r.err]).toEqual([2, '', `sim: ${says}${r.err.slice(5 + says.length)}`]);
    expect(r.err.split('\n')).toHaveLength(2);
    expect(fs.existsSync(path.join(tmp, 'never'))).toBe(false);
  });

  it('--yes runs a grid above the confirmation limit, its size reported first', async () => {
    const n = CONFIRM_TASKS + 1;
    const big = gridFile('big.yaml', `traces: [${JSON.stringify(TRACE)}]\npolicies: [fcfs]\nseeds: [${Array.from({ length: n }, (_, i) => i).join(', ')}]\nengine: {limit: 20}\n`);
    const out = path.join(tmp, 'big-out');
    const no = await runSim('sweep', big, '--out', out, '--shard', '0/5001');
    expect(no.code).toBe(2);
    expect(no.err).toBe(`sim: ${big}: ${n} tasks (1 trace x 1 policy/predictor pair x 1 engine setting x 1 rate scale x ${n} seeds): more than ${CONFIRM_TASKS} need --yes (check the grid, then give --yes to run them all)\n`);
    // Shard 0 of 5001 holds tasks 0 and 5001 of the 10001.
    const yes = await runSim('sweep', big, '--out', out, '--shard', '0/5001', '--yes', '--workers', '1', '--all-seeds');
    expect(yes.code).toBe(0);
    const lines = yes.err.split('\n');
    expect(lines[0]).toBe(`sweep: ${big}: ${n} tasks (1 trace x 1 policy/predictor pair x 1 engine setting x 1 rate scale x ${n} seeds); checking each before running`);
    expect(lines[1]).toBe(`sweep: ${n} tasks, 2 in shard 0/5001, 0 done already, running 2 on 1 workers`);
    const seeds = results(out).map((f) => (JSON.parse(fs.readFileSync(path.join(out, 'tasks', f), 'utf8')) as TaskRecord).config.seed).sort((a, b) => a - b);
    expect(seeds).toEqual([0, 5001]);
  }, 120_000);
});
