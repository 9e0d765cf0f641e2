/**
 * `sim compare`: a hand-made run folder against hand-made Vidur and vLLM result files whose
 * relative errors are worked out by hand; the readers' definitions (Vidur's TPOT over D − 1 tokens,
 * vLLM's e2e = TTFT + Σ ITL); a real run against itself; and the one-line errors.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readRun, readVidur, readVllm, VIDUR_ITL_FILE } from '../app/compare/sides.ts';
import { agreement, relativeError } from '../app/compare/agreement.ts';
import type { Agreement } from '../app/compare/agreement.ts';
import { runSim, inputError } from './helpers.ts';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-compare-'));

/**
 * Our side: 4 requests. r0 P=10 D=3 TTFT 1 TPOT 0.5 e2e 2; r1 P=20 D=1 TTFT 2 e2e 2; r2 P=30 D=5
 * rejected; r3 P=40 D=2 TTFT 4 TPOT 1 e2e 5. ITL of every token: mean 0.75, p50 0.6, p90 0.9, p99 1.
 */
function ourRun(dir: string): string {
  const run = path.join(dir, 'run');
  fs.mkdirSync(run);
  fs.writeFileSync(
    path.join(run, 'requests.csv'),
    [
      'id,arrival_s,prompt_tokens,output_tokens,status,ttft_s,tpot_s,max_tbt_s,e2e_s',
      '0,0,10,3,completed,1,0.5,0.6,2',
      '1,0.5,20,1,completed,2,,,2',
      '2,1,30,5,rejected,,,,',
      '3,1.5,40,2,completed,4,1,1,5',
    ].join('\n') + '\n',
  );
  fs.writeFileSync(path.join(run, 'summary.json'), JSON.stringify({ itl_s: { mean: 0.75, p50: 0.6, p90: 0.9, p95: 0.95, p99: 1, max: 1 } }));
  return run;
}

/** vLLM's side: r0 TTFT 0.8, ITLs 0.5 0.5 (e2e 1.8); r1 TTFT 2.5; r2 failed (HTTP 400); r3 TTFT 5, ITL 2 (e2e 7). */
const VLLM = {
  date: '20250101-000000',
  backend: 'vllm',
  completed: 3,
  input_lens: [10, 20, 30, 40],
  output_lens: [3, 1, 0, 2],
  ttfts: [0.8, 2.5, 0, 5],
  itls: [[0.5, 0.5], [], [], [2]],
  errors: ['', '', 'Bad Request', ''],
  generated_texts: ['a b c', 'a', '', 'a b'],
};

/** Vidur's request_metrics.csv header, as metrics_store.py writes it (Request Id, then the series in enum order). */
const VIDUR_HEADER =
  'Request Id,request_e2e_time,request_e2e_time_normalized,request_execution_time,request_execution_time_normalized,request_model_execution_time,request_model_execution_time_normalized,request_preemption_time,request_scheduling_delay,request_execution_plus_preemption_time,request_execution_plus_preemption_time_normalized,prefill_e2e_time,prefill_time_execution_plus_preemption,prefill_time_execution_plus_preemption_normalized,decode_time_execution_plus_preemption_normalized,request_inter_arrival_delay,request_num_tokens,request_num_prefill_tokens,request_num_decode_tokens,request_pd_ratio,request_num_restarts';

/** One Vidur row: only the columns compare reads carry meaning; the rest are plausible filler. */
function vidurRow(id: number, e2e: number | '', prefillE2e: number | '', P: number, D: number): string {
  const f = (x: number | '') => (x === '' ? '' : String(x));
  return [id, f(e2e), 0.1, 0.2, 0.01, 0.2, 0.01, 0, 0.05, f(e2e), 0.1, f(prefillE2e), 0.3, 0.001, 0.2, id === 0 ? '' : 1.5, P + D, P, D, P / D, 0].join(',');
}

/**
 * Vidur's side (rows out of id order, as a merge may leave them): r0 e2e 2.5, TTFT 1.25 (TPOT
 * (2.5 − 1.25)/2 = 0.625); r1 e2e 4 TTFT 4; r2 e2e 6 TTFT 1 (we rejected it); r3 e2e 5 TTFT 4
 * (TPOT 1). With its per-token CDF: quantile q·2 s at cdf q (p50 1, p90 1.8, p99 1.98, max 2).
 */
function vidurFiles(dir: string, withCdf = true): string {
  const out = path.join(dir, 'simulator_output');
  fs.mkdirSync(path.join(out, 'plots'), { recursive: true });
  fs.writeFileSync(
    path.join(out, 'request_metrics.csv'),
    [VIDUR_HEADER, vidurRow(1, 4, 4, 20, 1), vidurRow(0, 2.5, 1.25, 10, 3), vidurRow(3, 5, 4, 40, 2), vidurRow(2, 6, 1, 30, 5)].join('\n') + '\n',
  );
  if (withCdf) {
    const rows = [',cdf,decode_token_execution_plus_preemption_time'];
    for (let k = 0; k <= 100; k++) rows.push(`${k},${k / 100},${(2 * k) / 100}`);
    fs.writeFileSync(path.join(out, VIDUR_ITL_FILE), rows.join('\n') + '\n');
  }
  return out;
}

const cell = (a: Agreement, metric: string, stat: string) => a.rows.find((r) => r.metric === metric && r.stat === stat)!;

describe('sim compare: hand-made files with known relative errors', () => {
  it('vLLM: TTFT, TPOT (Σ ITL / (D − 1)), ITL (every entry) and e2e (TTFT + Σ ITL) over the requests completed on both', () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'vllm.json'), JSON.stringify(VLLM));
    const v = readVllm(path.join(dir, 'vllm.json'));
    expect(Array.from(v.completed)).toEqual([1, 1, 0, 1]);
    expect(Array.from(v.e2e)).toEqual([1.8, 2.5, -1, 7]);
    expect(Array.from(v.tpot)).toEqual([0.5, -1, -1, 2]);
    const a = agreement(readRun(ourRun(dir)), v);
    expect(a.completed_both).toBe(3);
    // TTFT: ours [1, 2, 4], theirs [0.8, 2.5, 5]. Means 7/3 vs 8.3/3; p50 2 vs 2.5; p90 at 1.8: 3.6 vs 4.5.
    expect(cell(a, 'ttft_s', 'mean').rel_err!).toBeCloseTo(7 / 8.3 - 1, 12);
    expect(cell(a, 'ttft_s', 'p50')).toMatchObject({ ours: 2, theirs: 2.5, rel_err: -0.2 });
    expect(cell(a, 'ttft_s', 'p90').rel_err!).toBeCloseTo(-0.2, 12);
    // TPOT over r0 and r3 (r1 has one token): ours [0.5, 1], theirs [0.5, 2]: mean 0.75 vs 1.25.
    expect(cell(a, 'tpot_s', 'mean')).toMatchObject({ ours: 0.75, theirs: 1.25, rel_err: -0.4 });
    // ITL: ours from summary.json; theirs [0.5, 0.5, 2]: mean 1, p50 0.5, p99 at 1.98: 0.5 + 0.98·1.5.
    expect(cell(a, 'itl_s', 'mean')).toMatchObject({ ours: 0.75, theirs: 1, rel_err: -0.25 });
    expect(cell(a, 'itl_s', 'p50').rel_err!).toBeCloseTo(0.2, 12);
    expect(cell(a, 'itl_s', 'p99').theirs!).toBeCloseTo(1.97, 12);
    // e2e: ours [2, 2, 5], theirs [1.8, 2.5, 7]: means 3 vs 11.3/3.
    expect(cell(a, 'e2e_s', 'mean').rel_err!).toBeCloseTo(9 / 11.3 - 1, 12);
    expect(a.rows.map((r) => `${r.metric}.${r.stat}`)).toEqual(['ttft_s', 'tpot_s', 'itl_s', 'e2e_s'].flatMap((m) => ['mean', 'p50', 'p90', 'p99'].map((s) => `${m}.${s}`)));
  });

  it("Vidur: matched by Request Id, TPOT over D − 1 tokens, ITL from its sketch's quantiles (no mean); a request completed on one side only is noted", () => {
    const dir = tmp();
    const out = vidurFiles(dir);
    const v = readVidur(out); // the folder: its request_metrics.csv
    expect(Array.from(v.ttft)).toEqual([1.25, 4, 1, 4]);
    expect(Array.from(v.tpot)).toEqual([0.625, -1, 1.25, 1]);
    const a = agreement(readRun(ourRun(dir)), v);
    expect(a.completed_both).toBe(3);
    expect(a.theirs).toMatchObject({ name: 'vidur', requests: 4, completed: 4 });
    // TTFT ours [1, 2, 4], theirs [1.25, 4, 4]: p50 2 vs 4.
    expect(cell(a, 'ttft_s', 'p50')).toMatchObject({ ours: 2, theirs: 4, rel_err: -0.5 });
    // TPOT over r0 and r3: ours [0.5, 1], theirs [0.625, 1]: means 0.75 vs 0.8125.
    expect(cell(a, 'tpot_s', 'mean').rel_err!).toBeCloseTo(0.75 / 0.8125 - 1, 12);
    expect(cell(a, 'itl_s', 'mean')).toMatchObject({ ours: 0.75, theirs: null, rel_err: null });
    expect(cell(a, 'itl_s', 'p90')).toMatchObject({ ours: 0.9, theirs: 1.8, rel_err: -0.5 });
    expect(cell(a, 'e2e_s', 'p50')).toMatchObject({ ours: 2, theirs: 4, rel_err: -0.5 });
    expect(a.notes.join('\n')).toContain('0 requests completed only in llmsched, 1 only in vidur');
    // Without the CDF file: no ITL for Vidur, and the note says how to get it.
    const bare = agreement(readRun(ourRun(tmp())), readVidur(path.join(vidurFiles(tmp(), false), 'request_metrics.csv')));
    expect(cell(bare, 'itl_s', 'p50').theirs).toBeNull();
    expect(bare.notes.join('\n')).toContain('--metrics_config_store_token_completion_metrics');
  });

  it('relative error: (ours − theirs) / theirs, 0 for 0 vs 0, null when undefined', () => {
    expect(relativeError(1.5, 1)).toBe(0.5);
    expect(relativeError(0, 0)).toBe(0);
    expect(relativeError(1, 0)).toBeNull();
    expect(relativeError(null, 1)).toBeNull();
  });
});

describe('sim compare on the command line', () => {
  it('prints the table, or one JSON object', async () => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'vllm.json'), JSON.stringify(VLLM));
    const run = ourRun(dir);
    const text = await runSim('compare', '--run', run, '--vllm', path.join(dir, 'vllm.json'));
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/ttft_s\s+p50\s+2\.000\s+2\.500\s+-20\.00%/);
    expect(text.out).toMatch(/tpot_s\s+mean\s+0\.7500\s+1\.250\s+-40\.00%/);
    expect(text.out).toContain('completed on both: 3');
    const json = await runSim('compare', '--run', run, '--vllm', path.join(dir, 'vllm.json'), '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out).rows).toHaveLength(16);
  });

  it('a real run against a vLLM file built from its own TTFT and TPOT agrees to rounding', async () => {
    const dir = tmp();
    const run = path.join(dir, 'run');
    const r = await runSim('--trace', path.resolve('traces/azure-conv-2000.csv'), '--limit', '120', '--out', run);
    expect(r.code).toBe(0);
    const lines = fs.readFileSync(path.join(run, 'requests.csv'), 'utf8').trim().split('\n');
    const head = lines[0].split(',');
    const col = (row: string[], c: string) => row[head.indexOf(c)];
    const res = { input_lens: [] as number[], output_lens: [] as number[], ttfts: [] as number[], itls: [] as number[][], errors: [] as string[] };
    for (const l of lines.slice(1)) {
      const row = l.split(',');
      const D = Number(col(row, 'output_tokens'));
      const ok = col(row, 'status') === 'completed';
      res.input_lens.push(Number(col(row, 'prompt_tokens')));
      res.output_lens.push(ok ? D : 0);
      res.ttfts.push(ok ? Number(col(row, 'ttft_s')) : 0);
      res.itls.push(ok ? new Array(D - 1).fill(Number(col(row, 'tpot_s'))) : []);
      res.errors.push(ok ? '' : 'Bad Request');
    }
    fs.writeFileSync(path.join(dir, 'vllm.json'), JSON.stringify(res));
    const out = await runSim('compare', '--run', run, '--vllm', path.join(dir, 'vllm.json'), '--json');
    expect(out.code).toBe(0);
    const a = JSON.parse(out.out) as Agreement;
    for (const row of a.rows.filter((x) => x.metric !== 'itl_s')) expect(Math.abs(row.rel_err!), `${row.metric}.${row.stat}`).toBeLessThan(1e-9);
  }, 60_000);

  it('refuses mismatches and bad files with one line naming the file, line and field', async () => {
    const dir = tmp();
    const run = ourRun(dir);
    const vidurOut = vidurFiles(dir);
    const write = (name: string, x: unknown) => {
      const f = path.join(dir, name);
      fs.writeFileSync(f, typeof x === 'string' ? x : JSON.stringify(x));
      return f;
    };
    const cases: [string[], string[]][] = [
      [['--vllm', write('short.json', { ...VLLM, ttfts: [1, 2, 3], itls: [[], [], []], input_lens: [10, 20, 30], output_lens: [3, 1, 1], errors: ['', '', ''] })], ['short.json: requests:', '3 requests, but the run']],
      [['--vllm', write('ragged.json', { ...VLLM, itls: [[0.5]] })], ['ragged.json', 'itls:', '1 entries, but ttfts has 4']],
      [['--vllm', write('nokey.json', { ...VLLM, ttfts: undefined })], ['nokey.json: ttfts:', 'missing key']],
      [['--vllm', write('badval.json', { ...VLLM, ttfts: [0.8, '2.5', 0, 5] })], ['badval.json:1: ttfts[1]:', 'expected seconds']],
      [['--vllm', write('prompt.json', { ...VLLM, input_lens: [10, 21, 30, 40] })], ['prompt.json: input_lens[1]:', 'not the same trace']],
      [['--vllm', write('eos.json', { ...VLLM, output_lens: [2, 1, 0, 2], itls: [[0.5], [], [], [2]] })], ['eos.json: output_lens[0]:', '--ignore-eos']],
      [['--vllm', write('notjson.json', '{"ttfts": [1,\n')], ['notjson.json', 'not valid JSON']],
      [['--vidur', write('nocol.csv', 'Request Id,request_e2e_time\n0,1\n')], ['nocol.csv:1: prefill_e2e_time:', 'missing column']],
      [['--vidur', write('dup.csv', [VIDUR_HEADER, vidurRow(0, 1, 0.5, 10, 3), vidurRow(0, 1, 0.5, 20, 1), vidurRow(2, 1, 0.5, 30, 5), vidurRow(3, 1, 0.5, 40, 2)].join('\n'))], ['dup.csv:3: Request Id:', 'appears twice']],
      [['--vidur', write('clipped.csv', [VIDUR_HEADER, vidurRow(0, 1, 0.5, 10, 3), vidurRow(1, 1, 0.5, 19, 1), vidurRow(2, 1, 0.5, 30, 5), vidurRow(3, 1, 0.5, 40, 2)].join('\n'))], ['clipped.csv:3: request_num_prefill_tokens:', '--vidur-max-tokens']],
      [['--vidur', write('badnum.csv', [VIDUR_HEADER, vidurRow(0, 1, 0.5, 10, 3).replace(/^0,1,/, '0,0x1,')].join('\n'))], ['badnum.csv:2: request_e2e_time:', 'not a finite decimal']],
      [['--vidur', path.join(dir, 'missing.csv')], ['missing.csv', 'no such file']],
      [['--vidur', vidurOut, '--vllm', write('v.json', VLLM)], ['--vllm', 'give one of']],
      [[], ['--vidur', 'give one of']],
    ];
    for (const [args, want] of cases) {
      const r = await runSim('compare', '--run', run, ...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.out).toBe('');
      expect(r.err.trim().split('\n')).toHaveLength(1);
      for (const w of want) expect(r.err, args.join(' ')).toContain(w);
    }
    // Our side's file too: a run folder without requests.csv, an id out of order.
    const noRun = await runSim('compare', '--run', path.join(dir, 'nothing'), '--vidur', vidurOut);
    expect(noRun.err).toContain('nothing/requests.csv: cannot read requests.csv: no such file');
    fs.writeFileSync(path.join(run, 'requests.csv'), 'id,arrival_s,prompt_tokens,output_tokens,status,ttft_s,tpot_s,e2e_s\n1,0,10,3,completed,1,0.5,2\n');
    expect(inputError(() => readRun(run)).message).toMatch(/requests\.csv:2: id: expected id 0/);
  });
});
