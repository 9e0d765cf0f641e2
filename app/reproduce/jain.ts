/**
 * The workload-aware router after Jain et al. ("Intelligent Router for LLM Workloads: Improving
 * Performance Through Workload-Aware Load Balancing", arXiv 2408.13510) against round-robin and
 * least-tokens, on a mix of short-output and long-prompt requests over 4 replicas, and on the
 * Azure conversation sample over 2. The paper's full text was not available: its setting is
 * known from the abstract and public summaries only (policies/workload-aware.ts).
 */
import path from 'node:path';
import type { Reproduction, ReproductionResult, Table } from './reproduction.ts';
import type { RunOptions } from '../config.ts';
import { normalizeOptions, buildRun } from '../config.ts';
import { runResolved } from '../run.ts';
import type { Summary } from '../../sim/metrics.ts';
import type { Trace } from '../../sim/trace.ts';
import { readTrace } from '../../traces/read.ts';
import { transformTrace } from '../../traces/transform.ts';
import { syntheticTrace } from '../../traces/synthetic.ts';
import { repoRoot } from '../regress/regress.ts';
import { improvement, verdict } from './verdict.ts';
import type { FactorRange } from './verdict.ts';
import { num, pct } from './format.ts';

/** Poisson rates of the mix over 4 replicas, requests/s (light, loaded, near saturation). */
export const JAIN_RATES = [8, 16, 22];
/** Seeds of the arrivals and length draws. */
export const JAIN_SEEDS = [1, 2, 3];
/** Requests per run. */
const N = 3000;
const ROUTERS = ['round-robin', 'least-tokens', 'workload-aware'] as const;
/** The paper's headline: 11.43% lower mean e2e than round-robin (abstract: "over 11%"). */
const PAPER: FactorRange = { lo: 1 / (1 - 0.1143), hi: 1 / (1 - 0.1143) };

const sample = () => path.join(repoRoot(), 'traces', 'azure-conv-2000.csv');

/** The length pool: the 2,000 rows of the conv sample and the first 2,000 of the Azure code trace. */
async function mixPool(shared: string): Promise<Trace> {
  const conv = await readTrace(sample());
  const code = transformTrace(await readTrace(path.join(shared, 'traces', 'AzureLLMInferenceTrace_code.csv')), { limit: 2000 });
  const cat = <A extends Int32Array | Float64Array>(a: A, b: A): A => {
    const out = new (a.constructor as new (n: number) => A)(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
  };
  return { ...conv, source: 'azure conv sample + code', n: conv.n + code.n, arrival_s: cat(conv.arrival_s, code.arrival_s), prompt_tokens: cat(conv.prompt_tokens, code.prompt_tokens), output_tokens: cat(conv.output_tokens, code.output_tokens), extra: {}, skipped: {} };
}

async function run(o: Partial<RunOptions>, trace: Trace): Promise<Summary> {
  return runResolved(buildRun(normalizeOptions({ trace: sample(), ...o }), trace, () => {})).summary;
}

const e2e = (s: Summary) => s.e2e_s.mean!;

/** Runs the reproduction. */
export async function runJain(shared: string, log: (m: string) => void): Promise<ReproductionResult> {
  const pool = await mixPool(shared);
  // mean e2e [rate][router], averaged over seeds
  const mean: number[][] = [];
  const ttft: number[][] = [];
  for (const rate of JAIN_RATES) {
    log(`jain: mix at ${rate} req/s`);
    const m = ROUTERS.map(() => 0);
    const t = ROUTERS.map(() => 0);
    for (const seed of JAIN_SEEDS) {
      const trace = syntheticTrace({ arrival: 'poisson', rate, n: N, lengths_from: pool, seed });
      for (let i = 0; i < ROUTERS.length; i++) {
        const s = await run({ replicas: 4, router: ROUTERS[i], seed }, trace);
        m[i] += e2e(s) / JAIN_SEEDS.length;
        t[i] += s.ttft_s.mean! / JAIN_SEEDS.length;
      }
    }
    mean.push(m);
    ttft.push(t);
  }
  log('jain: azure conv sample');
  const conv = await readTrace(sample());
  const convRows: Summary[][] = [];
  for (const scale of [1, 1.6]) {
    const trace = transformTrace(conv, { rate_scale: scale });
    const row: Summary[] = [];
    for (const router of ROUTERS) row.push(await run({ replicas: 2, router }, trace));
    convRows.push(row);
  }
  const avg = (i: number) => mean.reduce((s, m) => s + m[i], 0) / mean.length;
  const claims: ReproductionResult['claims'] = [];
  for (const [b, label, paperText] of [
    [0, 'round-robin', '−11.43% vs round-robin (public summary; abstract: "over 11%")'],
    [1, 'least-tokens', 'over 11% lower than existing approaches (abstract)'],
  ] as const) {
    const f = improvement(avg(b), avg(2), 'lower');
    claims.push({
      what: `mean e2e, workload-aware vs ${label}, short/long mix on 4 replicas, mean over rates and seeds`,
      paperText,
      paper: PAPER,
      oursText: `${num(avg(2))} s vs ${num(avg(b))} s (${pct(avg(2), avg(b))})`,
      ours: f,
      verdict: verdict(PAPER, f),
    });
  }
  const mixTable: Table = {
    title: `Mean end-to-end latency (s; change against round-robin) / mean TTFT (s), short/long mix on 4 replicas, mean of seeds ${JAIN_SEEDS.join(', ')}:`,
    header: ['router', ...JAIN_RATES.map((r) => `${r} req/s`)],
    rows: ROUTERS.map((name, i) => [name, ...JAIN_RATES.map((_, r) => `${num(mean[r][i])}${i === 0 ? '' : ` (${pct(mean[r][i], mean[r][0])})`} / ${num(ttft[r][i])}`)]),
  };
  const convTable: Table = {
    title: 'Azure conv sample (traces/azure-conv-2000.csv) on 2 replicas: mean e2e (s; change against round-robin) / mean TTFT (s):',
    header: ['router', 'rate-scale 1', 'rate-scale 1.6'],
    rows: ROUTERS.map((name, i) => [name, ...convRows.map((row) => `${num(e2e(row[i]))}${i === 0 ? '' : ` (${pct(e2e(row[i]), e2e(row[0]))})`} / ${num(row[i].ttft_s.mean!)}`)]),
  };
  return {
    claim:
      'A router that classes requests by prompt and predicted decode length and estimates the latency impact of mixing them on each instance (guiding a reinforcement-learning policy) gives 11.43% lower mean end-to-end latency than round-robin on a mix of public datasets, and 7.8% on production traces (arXiv 2408.13510, abstract and public summaries; the full text was not available here).',
    paper: {
      model: 'not known from the public description',
      gpu: 'not known from the public description (homogeneous instances)',
      engine: 'vLLM-style continuous batching, with and without chunked prefill',
      workload: 'a mix of public datasets (short and long prompts and decodes); production traces of "Cloud Provider X"',
      rate: 'not known from the public description',
      metric: 'mean end-to-end latency',
    },
    ours: {
      model: 'llama-2-7b, FCFS on every replica; the router reads the `ssjf-buckets` predictor (SSJF\'s measured confusion, 5 classes)',
      gpu: "a100-80gb, the default cost model (Vidur's measured Llama-2-7B operators); the router prices its estimates with the same model",
      engine: 'prefill priority (vLLM v0), the defaults of `sim run`; 4 replicas (mix), 2 (conv)',
      workload: `Poisson arrivals, ${N} requests per run, (prompt, output) pairs resampled from the 2,000 rows of the Azure conv sample (mean prompt 1,105, output 265 tokens) and the first 2,000 of the Azure code trace (long prompts, outputs of tens of tokens); and the conv sample itself`,
      rate: `${JAIN_RATES.join(', ')} requests/s over 4 replicas, seeds ${JAIN_SEEDS.join(', ')}; conv at rate-scale 1 and 1.6`,
      metric: 'mean end-to-end latency (`e2e_s.mean`), averaged over seeds, then over rates',
    },
    deviations: [
      'The router is this project\'s greedy formulation (policies/workload-aware.ts, docs/policies.md), not the paper\'s heuristic-guided RL policy; the RL variant is not built.',
      'The paper\'s datasets, model and GPU are not known from its public description; the Azure conv and code traces stand in for a mix of short- and long-prompt requests.',
    ],
    claims,
    tables: [mixTable, convTable],
    notes: [
      'The workload-aware router and least-tokens are within 1% of each other in every cell, and both beat round-robin by 1–3%. Why the gap to the paper\'s 11% is not known: its workload, load and model are not in its public description, and its router is a trained RL policy, not this greedy estimate.',
    ],
  };
}

export const jainReproduction: Reproduction = {
  name: 'jain',
  title: 'Workload-aware router — Jain et al., arXiv 2408.13510',
  command: 'npx sim reproduce jain',
  run: (ctx) => runJain(ctx.shared, ctx.log),
};
