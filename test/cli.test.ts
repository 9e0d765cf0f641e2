/**
 * The `sim` command line end to end, in process: the summary keys, --out files, --config replay,
 * determinism, and one-line errors with exit code 2.
 */
import { describe, it, expect } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSim } from './helpers.ts';

const SAMPLE = path.resolve('traces/azure-conv-2000.csv');

const sim = runSim;

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-cli-'));

describe('sim CLI', () => {
  it('runs FCFS on the shipped trace and prints the JSON summary with the documented keys', async () => {
    const { code, out } = await sim('--policy', 'fcfs', '--trace', SAMPLE, '--limit', '300', '--json');
    expect(code).toBe(0);
    const s = JSON.parse(out);
    // 12 of the first 300 are longer than llama-2-7b's 4096-token context (--max-model-len's default).
    expect(s.requests).toEqual({ total: 300, completed: 288, rejected: 12, rejected_too_long: 12, rejected_kv: 0, rejected_ancestor: 0 });
    for (const k of ['ttft_s', 'tpot_s', 'itl_s', 'e2e_s', 'normalized_latency_s', 'queue_delay_s']) {
      expect(Object.keys(s[k])).toEqual(['mean', 'p50', 'p90', 'p95', 'p99', 'max']);
      expect(s[k].p50).toBeLessThanOrEqual(s[k].p99);
      expect(s[k].mean).toBeGreaterThan(0);
    }
    expect(s.throughput.requests_per_s).toBeCloseTo(288 / s.makespan_s, 9);
    expect(s.sim.iterations).toBeGreaterThan(0);
    expect(typeof s.preemptions).toBe('number');
    expect(out).not.toContain('NaN');
  });

  it('sim run is the explicit name of the default command', async () => {
    const a = await sim('--trace', SAMPLE, '--limit', '50', '--json');
    const b = await sim('run', '--trace', SAMPLE, '--limit', '50', '--json');
    const strip = (s: string) => ({ ...JSON.parse(s), sim: null });
    expect(strip(a.out)).toEqual(strip(b.out));
  });

  it('--out writes summary, requests and config; --config replays byte-identically', async () => {
    const d1 = tmp();
    const d2 = tmp();
    const r1 = await sim('--trace', SAMPLE, '--limit', '400', '--chunked-prefill', '--kv-tokens', '30000', '--slo-ttft', '1', '--out', d1);
    expect(r1.code).toBe(0);
    expect(r1.out).toContain('TTFT');
    const r2 = await sim('run', '--config', path.join(d1, 'config.json'), '--out', d2);
    expect(r2.code).toBe(0);
    expect(fs.readFileSync(path.join(d2, 'requests.csv'), 'utf8')).toBe(fs.readFileSync(path.join(d1, 'requests.csv'), 'utf8'));
    const s1 = JSON.parse(fs.readFileSync(path.join(d1, 'summary.json'), 'utf8'));
    const s2 = JSON.parse(fs.readFileSync(path.join(d2, 'summary.json'), 'utf8'));
    s1.sim.wall_s = s2.sim.wall_s = 0;
    expect(s2).toEqual(s1);
    expect(s1.goodput.slo_ttft_s).toBe(1);
    const csv = fs.readFileSync(path.join(d1, 'requests.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('id,arrival_s,prompt_tokens,output_tokens,status,first_scheduled_s,first_token_s,completion_s,ttft_s,tpot_s,max_tbt_s,e2e_s,normalized_latency_s,queue_delay_s,preemptions,replica,cached_tokens');
    expect(csv.length).toBe(401);
    const config = JSON.parse(fs.readFileSync(path.join(d1, 'config.json'), 'utf8'));
    expect(config['chunked-prefill']).toBe(true);
    expect(config.trace).toBe(SAMPLE);
  });

  it('a request that can never fit is rejected and counted', async () => {
    const { code, out } = await sim('--trace', SAMPLE, '--limit', '200', '--kv-tokens', '1024', '--json');
    expect(code).toBe(0);
    const s = JSON.parse(out);
    expect(s.requests.rejected).toBeGreaterThan(0);
    expect(s.requests.completed + s.requests.rejected).toBe(200);
  });

  it.each([
    [['--policy', 'nope', '--trace', SAMPLE], /unknown policy 'nope'; valid: fcfs/],
    [['--trace', SAMPLE, '--model', 'gpt-9'], /unknown model 'gpt-9'; valid: .*llama-2-7b/],
    [['--trace', SAMPLE, '--gpu', 'tpu'], /unknown gpu 'tpu'; valid: .*a100-80gb/],
    [['--trace', '/nonexistent/trace.csv'], /trace\.csv.*no such file/],
    [['--trace', SAMPLE, '--bogus', '1'], /Unknown argument: bogus/],
    [['--trace', SAMPLE, '--tp', '3'], /--tp/],
    [['--trace', SAMPLE, '--gpu-memory-utilization', '1.5'], /--gpu-memory-utilization/],
    [['--trace', SAMPLE, '--model', 'llama-2-70b', '--gpu', 'a10g'], /does not fit/],
    [['--trace', SAMPLE, '--policy-opt', 'x=1'], /fcfs takes no options/],
    [[], /--trace/],
  ])('bad input %j: one line on stderr, exit 2', async (args, msg) => {
    const { code, err, out } = await sim(...(args as string[]));
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toMatch(msg);
    expect(err.trim().split('\n')).toHaveLength(1);
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('a malformed trace names the file, line and column', async () => {
    const d = tmp();
    const f = path.join(d, 'bad.csv');
    fs.writeFileSync(f, 'arrival_s,prompt_tokens,output_tokens\n0,10,5\n1.5,abc,7\n');
    const { code, err } = await sim('--trace', f);
    expect(code).toBe(2);
    expect(err).toContain(`${f}:3`);
    expect(err).toContain('prompt_tokens');
  });

  it('lists models, GPUs and policies with their sources', async () => {
    const m = await sim('models');
    expect(m.out).toMatch(/llama-3-70b.*config\.json/);
    const g = await sim('gpus');
    expect(g.out).toMatch(/h100-80gb/);
    const p = await sim('policies');
    expect(p.out).toMatch(/fcfs.*vLLM/);
  });
});
