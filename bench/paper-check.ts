/**
 * `npm run paper-check`: the length-aware policies against FCFS on the real Azure conv and code
 * traces (Llama-3-8B on one A100-80GB), at the load where FCFS's median TTFT first exceeds 1 s
 * (the rate scale is searched by bisection). Prints a markdown table of mean and p99 end-to-end
 * latency and TTFT, and mean normalized latency, per policy and predictor, with the change vs
 * FCFS — the figures compared with the papers' headlines in docs/policies.md.
 *
 * Set SHARED to the shared/ folder if it is not at ../shared.
 */
import path from 'node:path';
import { readTrace, transformTrace } from '../traces/index.ts';
import type { Trace } from '../sim/trace.ts';
import { normalizeOptions, buildRun } from '../app/config.ts';
import type { RunOptions } from '../app/config.ts';
import type { Summary } from '../sim/metrics.ts';
import { runResolved } from '../app/run.ts';

const shared = process.env.SHARED ?? path.resolve('..', 'shared');

/** Policies and predictors compared (each with its paper's predictor). */
const CASES: { policy: string; predictor?: string; opts?: Partial<RunOptions> }[] = [
  { policy: 'fcfs' },
  { policy: 'sjf', predictor: 'oracle' },
  { policy: 'srpt', predictor: 'oracle' },
  { policy: 'ssjf', predictor: 'ssjf-buckets' },
  { policy: 'ssjf', predictor: 'ssjf-buckets', opts: { 'predictor-opt': ['classes=2'] } },
  { policy: 'ssjf', predictor: 'ssjf-buckets', opts: { 'policy-opt': ['starvation=off'] } },
  { policy: 'ltr', predictor: 'rank-tau' },
  { policy: 'ltr', predictor: 'rank-tau', opts: { 'predictor-opt': ['tau=0.21'] } },
  { policy: 'ltr', predictor: 'oracle' },
  { policy: 'trail', predictor: 'trail' },
  { policy: 'trail', predictor: 'oracle' },
  { policy: 'skippredict', predictor: 'cheap-bit' },
  { policy: 'las' },
  { policy: 'mlfq' },
];

const BASE: Partial<RunOptions> = { model: 'llama-3-8b', gpu: 'a100-80gb' };

function run(trace: Trace, o: Partial<RunOptions>): Summary {
  const opts = normalizeOptions({ ...BASE, ...o, trace: trace.source });
  return runResolved(buildRun(opts, trace)).summary;
}

/** Smallest rate scale (to 2%) at which FCFS's median TTFT exceeds 1 s. */
function findLoad(trace: Trace, extra: Partial<RunOptions>): number {
  const p50 = (k: number) => run(transformTrace(trace, { rate_scale: k }), { policy: 'fcfs', ...extra }).ttft_s.p50 ?? 0;
  let lo = 0.25;
  let hi = 1;
  while (p50(hi) <= 1) {
    lo = hi;
    hi *= 1.5;
  }
  while (hi / lo > 1.02) {
    const mid = Math.sqrt(lo * hi);
    if (p50(mid) > 1) hi = mid;
    else lo = mid;
  }
  return hi;
}

const pct = (x: number, base: number) => `${x < base ? '' : '+'}${(100 * (x / base - 1)).toFixed(0)}%`;
const f = (x: number | null) => (x === null ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

async function main(): Promise<void> {
  for (const file of ['AzureLLMInferenceTrace_conv.csv', 'AzureLLMInferenceTrace_code.csv']) {
    const trace0 = await readTrace(path.join(shared, 'traces', file));
    for (const chunked of [false, true]) {
      const extra: Partial<RunOptions> = chunked ? { 'chunked-prefill': true } : {};
      const k = findLoad(trace0, extra);
      const trace = transformTrace(trace0, { rate_scale: k });
      console.log(`\n### ${file}, Llama-3-8B on 1×A100-80GB, ${chunked ? 'chunked prefill (budget 512)' : 'prefill priority'}, rate ×${k.toFixed(3)} (${(((trace.n - 1) / trace.arrival_s[trace.n - 1])).toFixed(2)} req/s)\n`);
      console.log('| policy | predictor (τ, MAE, acc.) | mean e2e s | p99 e2e s | mean TTFT s | p99 TTFT s | mean norm. s/token | preemptions |');
      console.log('|---|---|---|---|---|---|---|---|');
      let base: Summary | undefined;
      for (const c of CASES) {
        const s = run(trace, { policy: c.policy, predictor: c.predictor, ...extra, ...c.opts });
        base ??= s;
        const q = s.predictor;
        const extraOpts = [...(c.opts?.['predictor-opt'] ?? []), ...(c.opts?.['policy-opt'] ?? [])];
        const pred = q ? `${q.name}${extraOpts.length ? ` ${extraOpts.join(' ')}` : ''} (${f(q.kendall_tau)}, ${f(q.mae_tokens)}, ${f(q.bucket_accuracy)})` : '-';
        const cell = (x: number | null, b: number | null) => (x === null || b === null || s === base ? f(x) : `${f(x)} (${pct(x, b)})`);
        console.log(
          `| ${c.policy} | ${pred} | ${cell(s.e2e_s.mean, base.e2e_s.mean)} | ${cell(s.e2e_s.p99, base.e2e_s.p99)} | ${cell(s.ttft_s.mean, base.ttft_s.mean)} | ${cell(s.ttft_s.p99, base.ttft_s.p99)} | ${cell(s.normalized_latency_s.mean, base.normalized_latency_s.mean)} | ${s.preemptions} |`,
        );
      }
    }
  }
}

await main();
