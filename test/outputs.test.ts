/**
 * Output that is never lost or mixed: `--out` checked before the run, an earlier run's folder
 * refused unless `--force` (which replaces all of its files), atomic writes that leave the old
 * files in place on failure, timeseries.csv streamed row for row as the engine reports it, and a
 * warning when requests are rejected.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSim } from './helpers.ts';
import { AtomicWriter, makeDir, prepareOutputDir, readTextFile, tryReadTextFile, writeFileAtomic } from '../sim/files.ts';
import { OutDir, TIMESERIES_COLUMNS } from '../app/report.ts';
import { normalizeOptions, resolveRun } from '../app/config.ts';
import { runResolved } from '../app/run.ts';
import type { IterationRecord } from '../sim/engine-types.ts';
import { InputError } from '../sim/errors.ts';

const SAMPLE = path.resolve('traces/azure-conv-2000.csv');
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-out-'));
const ls = (d: string) => fs.readdirSync(d).sort();

describe('--out', () => {
  it('refuses a folder holding an earlier run; --force replaces every file and removes the ones this run does not write', async () => {
    const d = tmp();
    const first = await runSim('--trace', SAMPLE, '--limit', '40', '--out', d, '--timeseries');
    expect(first.code).toBe(0);
    expect(ls(d)).toEqual(['config.json', 'replicas.csv', 'requests.csv', 'summary.json', 'timeseries.csv']);
    fs.writeFileSync(path.join(d, 'notes.txt'), 'mine');
    const before = fs.readFileSync(path.join(d, 'requests.csv'), 'utf8');

    const refused = await runSim('--trace', SAMPLE, '--limit', '20', '--out', d);
    expect(refused.code).toBe(2);
    expect(refused.out).toBe('');
    expect(refused.err).toMatch(/--out: holds an earlier run's summary\.json, config\.json, requests\.csv, replicas\.csv, timeseries\.csv: give --force/);
    expect(fs.readFileSync(path.join(d, 'requests.csv'), 'utf8')).toBe(before);

    const forced = await runSim('--trace', SAMPLE, '--limit', '20', '--out', d, '--force');
    expect(forced.code).toBe(0);
    // The old timeseries.csv is gone (this run wrote none); the user's own file stays; no temporary file is left.
    expect(ls(d)).toEqual(['config.json', 'notes.txt', 'replicas.csv', 'requests.csv', 'summary.json']);
    expect(fs.readFileSync(path.join(d, 'requests.csv'), 'utf8').trim().split('\n')).toHaveLength(21);
    expect(fs.readFileSync(path.join(d, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('fails in the first second, before the trace is read, when the folder cannot be made', async () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'file'), 'x');
    // The trace does not exist: an --out error first proves the folder is checked before reading it.
    const r = await runSim('--trace', path.join(d, 'missing.csv'), '--out', path.join(d, 'file', 'run'));
    expect(r.code).toBe(2);
    expect(r.err).toBe(`sim: ${path.join(d, 'file', 'run')}: --out: ${path.join(d, 'file')} is a file, not a folder\n`);
  });

  it('an aborted OutDir leaves the earlier files as they were and no temporary file behind', () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'summary.json'), 'old');
    const o = new OutDir(d, { force: true, timeseries: true });
    o.timeseries()!.add({ start: 0, end: 1, steps: 1, batchSize: 1, prefillTokens: 1, decodeSeqs: 0, kvBlocksUsed: 1, kvBlocks: 2, waiting: 0, running: 1, swapped: 0, replica: 0 } as IterationRecord);
    expect(ls(d)).toEqual(['.timeseries.csv.tmp-' + process.pid, 'summary.json']);
    o.abort();
    expect(ls(d)).toEqual(['summary.json']);
    expect(fs.readFileSync(path.join(d, 'summary.json'), 'utf8')).toBe('old');
  });

  it('timeseries.csv holds exactly the records the engine reports, one row each, in order', async () => {
    const d = tmp();
    const r = await runSim('--trace', SAMPLE, '--limit', '300', '--chunked-prefill', '--replicas', '2', '--out', d, '--timeseries');
    expect(r.code).toBe(0);
    const records: IterationRecord[] = [];
    const run = await resolveRun(normalizeOptions({ trace: SAMPLE, limit: 300, 'chunked-prefill': true, replicas: 2 }));
    runResolved(run, { observer: (x) => records.push({ ...x }) });
    const lines = fs.readFileSync(path.join(d, 'timeseries.csv'), 'utf8').trimEnd().split('\n');
    expect(lines[0]).toBe(TIMESERIES_COLUMNS.join(','));
    expect(lines.length - 1).toBe(records.length);
    for (const k of [0, 1, Math.floor(records.length / 2), records.length - 1]) {
      const x = records[k];
      const cells = lines[k + 1].split(',').map(Number);
      expect(cells).toEqual([x.start, x.end, x.steps, x.batchSize, x.prefillTokens, x.decodeSeqs, x.kvBlocksUsed, x.kvBlocksUsed / x.kvBlocks, x.waiting, x.running, x.swapped, x.replica, x.kvBlocksCached]);
    }
  });
});

describe('sim/files.ts', () => {
  it('readTextFile / tryReadTextFile: BOM dropped, one-line reasons, empty files refused unless allowed', () => {
    const d = tmp();
    const f = path.join(d, 'a.json');
    fs.writeFileSync(f, '\ufeff{"x": 1}\n');
    expect(tryReadTextFile(f)).toEqual({ text: '{"x": 1}\n' });
    expect(readTextFile(f, 'config')).toBe('{"x": 1}\n');
    expect(tryReadTextFile(path.join(d, 'none.json'))).toEqual({ problem: 'no such file' });
    expect(tryReadTextFile(d)).toEqual({ problem: 'is a folder, not a file' });
    expect(() => readTextFile(path.join(d, 'none.json'), 'profile')).toThrow(`${path.join(d, 'none.json')}: cannot read profile: no such file`);
    const empty = path.join(d, 'e.json');
    fs.writeFileSync(empty, ' \n');
    expect(() => readTextFile(empty, 'grid')).toThrow(`${empty}: empty grid file`);
    expect(readTextFile(empty, 'grid', true)).toBe(' \n');
  });

  it('AtomicWriter: chunks written across many small buffers read back exactly; nothing at the final name until commit', () => {
    const d = tmp();
    const f = path.join(d, 'out.txt');
    const w = new AtomicWriter(f, 64);
    let want = '';
    for (let i = 0; i < 1000; i++) {
      const s = `row ${i} ${'é'.repeat(i % 7)}\n`;
      w.write(s);
      want += s;
    }
    w.write(Buffer.from('bytes\n'));
    want += 'bytes\n';
    expect(fs.existsSync(f)).toBe(false);
    w.commit();
    expect(fs.readFileSync(f, 'utf8')).toBe(want);
    expect(ls(d)).toEqual(['out.txt']);
  });

  it('writeFileAtomic replaces a file; prepareOutputDir creates parents and names a file in the way', () => {
    const d = tmp();
    const f = path.join(d, 'a', 'b', 'x.json');
    prepareOutputDir(path.dirname(f), '--out');
    writeFileAtomic(f, '1');
    writeFileAtomic(f, '2');
    expect(fs.readFileSync(f, 'utf8')).toBe('2');
    expect(() => makeDir(path.join(f, 'sub'), '--out')).toThrow(InputError);
    expect(() => makeDir(path.join(f, 'sub'), '--out')).toThrow(`${f} is a file, not a folder`);
  });

  it('makeDir under /proc fails at once instead of looping (Node 20 mkdirSync recursive bug)', () => {
    if (!fs.existsSync('/proc/self')) return;
    expect(() => makeDir('/proc/llmsched-test/x/y', '--out')).toThrow(/cannot create/);
  });
});

describe('rejected requests', () => {
  it('a run where every request is rejected exits 0 with a warning that says so; a partial one counts them', async () => {
    const all = await runSim('--trace', SAMPLE, '--limit', '10', '--kv-tokens', '16', '--json');
    expect(all.code).toBe(0);
    expect(JSON.parse(all.out).requests).toEqual({ total: 10, completed: 0, rejected: 10, rejected_too_long: 0, rejected_kv: 10, rejected_ancestor: 0 });
    expect(all.err).toBe('sim: warning: every request (10) was rejected: they can never fit the KV cache of 16 tokens (prompt + output); the latency figures are empty\n');
    // The first 200 requests hold 10 longer than llama-2-7b's 4096-token context (rejected for
    // length first) and more that cannot fit 1024 KV tokens: one warning per reason.
    const some = await runSim('--trace', SAMPLE, '--limit', '200', '--kv-tokens', '1024', '--json');
    const r = JSON.parse(some.out).requests;
    expect(r.rejected_too_long).toBe(10);
    expect(r.rejected_kv).toBeGreaterThan(0);
    expect(r.rejected).toBe(r.rejected_too_long + r.rejected_kv);
    expect(some.err).toBe(
      'sim: warning: 10 of 200 requests rejected: prompt + output exceeds --max-model-len 4096 tokens\n' +
        `sim: warning: ${r.rejected_kv} of 200 requests rejected: they can never fit the KV cache of 1024 tokens (prompt + output)\n`,
    );
  });

  it('--max-model-len rejects prompt + output above it at arrival, with one warning for the run, and sets the default token budget', async () => {
    const lens = fs
      .readFileSync(SAMPLE, 'utf8')
      .trim()
      .split('\n')
      .slice(1, 301)
      .map((l) => l.split(','))
      .map(([, p, o]) => Number(p) + Number(o));
    // docs/engine.md: 143 of the sample's 2000 requests exceed llama-2-7b's 4096, 25 by the prompt alone.
    const rows = fs.readFileSync(SAMPLE, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number));
    expect(rows.filter(([, p, o]) => p + o > 4096).length).toBe(143);
    expect(rows.filter(([, p]) => p > 4096).length).toBe(25);
    for (const max of [4096, 2048]) {
      const res = await runSim('--trace', SAMPLE, '--limit', '300', ...(max === 4096 ? [] : ['--max-model-len', String(max)]), '--json');
      expect(res.code).toBe(0);
      const r = JSON.parse(res.out).requests;
      const want = lens.filter((n) => n > max).length;
      expect(want).toBeGreaterThan(0);
      expect(r).toMatchObject({ total: 300, rejected: want, rejected_too_long: want, rejected_kv: 0, completed: 300 - want });
      expect(res.err).toBe(`sim: warning: ${want} of 300 requests rejected: prompt + output exceeds --max-model-len ${max} tokens\n`);
    }
    const opts = normalizeOptions({ policy: 'fcfs', trace: SAMPLE, 'max-model-len': 3000 });
    const run = await resolveRun({ ...opts, limit: 5 });
    expect(run.engine.maxModelLen).toBe(3000);
    expect(run.engine.maxNumBatchedTokens).toBe(3000); // vLLM: max(max_model_len, 2048) without chunking
    expect((await resolveRun({ ...normalizeOptions({ policy: 'fcfs', trace: SAMPLE, model: 'llama-3.1-8b' }), limit: 5 })).engine.maxModelLen).toBe(131072);
  });

  it('warns once when swap-outs fell back to recompute because the swap space was full, naming --swap-space', async () => {
    const res = await runSim('--trace', SAMPLE, '--limit', '300', '--rate-scale', '4', '--kv-tokens', '20000', '--preemption', 'swap', '--swap-space', '0', '--json');
    expect(res.code).toBe(0);
    const s = JSON.parse(res.out);
    expect(s.swaps.recompute_fallbacks).toBeGreaterThan(1);
    const lines = res.err.trim().split('\n').filter((l) => l.includes('swap'));
    expect(lines).toEqual([`sim: warning: ${s.swaps.recompute_fallbacks} swap-outs fell back to recompute because the swap space of 0 tokens was full: raise --swap-space`]);
    const roomy = await runSim('--trace', SAMPLE, '--limit', '300', '--rate-scale', '4', '--kv-tokens', '20000', '--preemption', 'swap', '--json');
    expect(JSON.parse(roomy.out).swaps.recompute_fallbacks).toBe(0);
    expect(roomy.err).not.toMatch(/swap/);
  });
});

describe('text summary', () => {
  it("prints the ms block's vLLM names: mean, median and p99 TTFT, TPOT and ITL, 1000x the seconds table", async () => {
    const trace = path.resolve('traces/azure-conv-2000.csv');
    const text = await runSim('--trace', trace, '--limit', '200');
    const json = await runSim('--trace', trace, '--limit', '200', '--json');
    expect(text.code).toBe(0);
    const s = JSON.parse(json.out) as Record<string, { mean: number; p50: number; p99: number }>;
    const at = text.out.indexOf('ms (vLLM names)');
    expect(at).toBeGreaterThan(0);
    const block = text.out.slice(at).split('\n').slice(0, 2).join(' ');
    const got = new Map([...block.matchAll(/(\w+_ms)=([\d.]+)/g)].map((m) => [m[1], Number(m[2])]));
    expect([...got.keys()]).toEqual(['ttft', 'tpot', 'itl'].flatMap((m) => ['mean', 'median', 'p99'].map((st) => `${st}_${m}_ms`)));
    for (const m of ['ttft', 'tpot', 'itl']) {
      const sec = s[`${m}_s`];
      // Printed with 3 decimals from 1 to 1000 ms, whole numbers above: within half the last digit.
      const close = (printed: number, want: number) => expect(Math.abs(printed - want)).toBeLessThanOrEqual((want >= 1000 ? 0.5 : 0.0005) + 1e-9);
      close(got.get(`mean_${m}_ms`)!, 1000 * sec.mean);
      close(got.get(`median_${m}_ms`)!, 1000 * sec.p50);
      close(got.get(`p99_${m}_ms`)!, 1000 * sec.p99);
    }
  }, 60_000);
});
