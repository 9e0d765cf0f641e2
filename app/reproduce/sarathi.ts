/**
 * Sarathi-Serve (Agrawal et al., "Taming Throughput-Latency Tradeoff in LLM Inference with
 * Sarathi-Serve", OSDI'24, arXiv 2403.02310; docs/spec.md §2) in its own setting: Mistral-7B on one
 * A100, the capacity (largest Poisson rate) meeting a P99 time-between-tokens SLO with median
 * scheduling delay at most 2 s, for vLLM's prefill-priority scheduling and for chunked prefills
 * with stall-free batching (token budget 512 under the strict SLO, 2048 under the relaxed one).
 */
import type { Reproduction, ReproductionResult, Table } from './reproduction.ts';
import type { RunOptions } from '../config.ts';
import { normalizeOptions, buildRun } from '../config.ts';
import { syntheticTrace } from '../../traces/index.ts';
import { runResolved } from '../run.ts';
import type { Trace } from '../../sim/trace.ts';
import { emptyBatchShape } from '../../sim/cost/cost-model.ts';
import { largestRate } from './search.ts';
import { improvement, verdict } from './verdict.ts';
import type { FactorRange } from './verdict.ts';
import { num, times } from './format.ts';

/** openchat_sharegpt4's prompt median, 1,730 tokens (docs/spec.md §2); σ from its P90 of 5,696 [RECALL]. */
export const SARATHI_PROMPT = 'lognormal:7.456,0.93';
/** Output lengths: median 415, P90 834 tokens [RECALL: Sarathi-Serve's dataset table, not re-read]. */
export const SARATHI_OUTPUT = 'lognormal:6.028,0.545';
/** Requests per capacity probe. */
export const SARATHI_REQUESTS = 600;
/** Median scheduling delay bound of the capacity definition, s. */
const MAX_P50_DELAY_S = 2;

const BASE: Partial<RunOptions> = {
  model: 'mistral-7b',
  gpu: 'a100-80gb',
  'max-num-seqs': 128,
  'prefix-caching': 'off',
  synthetic: 'poisson',
  'num-requests': SARATHI_REQUESTS,
  prompt: SARATHI_PROMPT,
  output: SARATHI_OUTPUT,
};

/** The two systems: vLLM (prefill priority, its default budget) and Sarathi-Serve (chunked, `budget` tokens). */
export function sarathiOptions(rate: number, budget?: number): Partial<RunOptions> {
  return budget === undefined ? { ...BASE, rate, policy: 'fcfs' } : { ...BASE, rate, policy: 'fcfs', 'chunked-prefill': true, 'max-num-batched-tokens': budget };
}

/** One probe: P99 TBT and median scheduling delay (s) at a rate. */
interface Probe {
  p99Tbt: number;
  p50Delay: number;
  rejected: number;
}

/** The workload at `rate` (seed 1; the same requests at every rate, only the gaps scale). */
function workload(rate: number): Trace {
  return syntheticTrace({ arrival: 'poisson', rate, n: SARATHI_REQUESTS, prompt: SARATHI_PROMPT, output: SARATHI_OUTPUT, seed: 1 });
}

function probe(rate: number, budget: number | undefined): Probe {
  const o = normalizeOptions(sarathiOptions(rate, budget));
  const trace = workload(rate);
  // P99 TBT over every token of every request: the summary's exact inter-token latency (docs/output.md).
  const { summary } = runResolved(buildRun(o, trace, () => {}));
  return { p99Tbt: summary.itl_s.p99 ?? Infinity, p50Delay: summary.queue_delay_s.p50 ?? Infinity, rejected: summary.requests.rejected };
}

/**
 * The SLO's reference time (s): one decode iteration of 32 requests with 4,096-token contexts
 * under the run's cost model (Sarathi-Serve §5: the strict and relaxed SLOs are 5× and 25× it).
 */
export function decodeReference_s(): number {
  const run = buildRun(normalizeOptions(sarathiOptions(1)), workload(1), () => {});
  const b = emptyBatchShape();
  b.decodeSeqs = 32;
  b.decodeKvTokens = 32 * 4096;
  b.sampledSeqs = 32;
  return run.cost.iterationTime(b);
}

/** The paper's figures (docs/spec.md §2). */
const PAPER_STRICT: FactorRange = { lo: 3.5, hi: 3.5 };
const PAPER_ABSTRACT: FactorRange = { lo: 2.6, hi: 2.6 };

/** Runs the reproduction. */
export async function runSarathi(log: (m: string) => void): Promise<ReproductionResult> {
  const ref = decodeReference_s();
  const slos = [
    { label: 'strict', slo: 5 * ref, budget: 512, paper: PAPER_STRICT, paperText: '3.5× (strict SLO, budget 512)' },
    { label: 'relaxed', slo: 25 * ref, budget: 2048, paper: PAPER_ABSTRACT, paperText: 'up to 2.6× (abstract, Mistral-7B on one A100)' },
  ];
  const claims: ReproductionResult['claims'] = [];
  const rows: string[][] = [];
  for (const s of slos) {
    const cap: Record<string, { rate: number; at?: Probe; binding: string }> = {};
    for (const [sys, budget] of [
      ['vLLM', undefined],
      ['Sarathi-Serve', s.budget],
    ] as const) {
      log(`sarathi: ${sys}, ${s.label} SLO`);
      const seen = new Map<number, Probe>();
      const rate = largestRate((r) => {
        const p = probe(r, budget);
        seen.set(r, p);
        return p.p99Tbt <= s.slo && p.p50Delay <= MAX_P50_DELAY_S;
      }, SEARCH);
      // The bound that failed first above capacity: the probe at the smallest failing rate tried.
      const above = [...seen.keys()].filter((r) => r > rate).sort((a, b) => a - b)[0];
      const fail = above === undefined ? undefined : seen.get(above)!;
      const binding = fail === undefined ? '—' : fail.p99Tbt > s.slo ? (fail.p50Delay > MAX_P50_DELAY_S ? 'both' : 'P99 TBT') : 'median delay';
      cap[sys] = { rate, at: seen.get(rate), binding };
    }
    const f = improvement(cap.vLLM.rate, cap['Sarathi-Serve'].rate, 'higher');
    claims.push({
      what: `capacity under the ${s.label} P99 TBT SLO (${num(s.slo * 1000)} ms), Sarathi-Serve (budget ${s.budget}) vs vLLM`,
      paperText: s.paperText,
      paper: s.paper,
      oursText: `${num(cap['Sarathi-Serve'].rate)} vs ${num(cap.vLLM.rate)} req/s (${times(f)})`,
      ours: f,
      verdict: verdict(s.paper, f),
    });
    for (const sys of ['vLLM', 'Sarathi-Serve']) {
      const c = cap[sys];
      rows.push([s.label, `${num(s.slo * 1000)} ms`, sys === 'vLLM' ? 'vLLM (prefill priority)' : `Sarathi-Serve (chunked, ${s.budget})`, num(c.rate), c.at ? num(c.at.p99Tbt * 1000) : '—', c.at ? num(c.at.p50Delay) : '—', c.binding]);
    }
  }
  const table: Table = {
    title: `Capacity (req/s, to 2%) and, at that rate, P99 TBT (ms) and median scheduling delay (s), with the bound that fails just above it; the SLO reference, one decode iteration of 32 × 4k-token contexts, is ${num(ref * 1000)} ms here:`,
    header: ['SLO', 'P99 TBT bound', 'system', 'capacity req/s', 'P99 TBT ms', 'median delay s', 'binding bound'],
    rows,
  };
  return {
    claim:
      'Chunked prefills with stall-free batching raise serving capacity under a tail time-between-tokens SLO: 2.6× for Mistral-7B on one A100 (abstract), 3.5× under the strict SLO with a 512-token budget (docs/spec.md §2).',
    paper: {
      model: 'Mistral-7B',
      gpu: 'one A100',
      engine: 'vLLM (prefill-priority iterations) vs Sarathi-Serve (chunked prefills, stall-free batches; budget 512 strict, 2048 relaxed); batch size up to 128',
      workload: 'openchat_sharegpt4 (median prompt 1,730 tokens)',
      rate: 'capacity search: the largest Poisson rate meeting the SLOs',
      metric: 'capacity: P99 TBT within 5× (strict) or 25× (relaxed) one decode iteration of 32 requests with 4k prompts, median scheduling delay ≤ 2 s',
    },
    ours: {
      model: 'mistral-7b (published config; its 4,096-token sliding window is not modelled)',
      gpu: "a100-80gb; the default cost model: no measured Mistral-7B profile ships, so the analytical model with efficiencies fitted to Vidur's A100 tables",
      engine: '`fcfs`; vLLM: prefill priority with its default budget (max(2048, max-model-len)); Sarathi-Serve: `--chunked-prefill --max-num-batched-tokens 512 / 2048`; `--max-num-seqs 128`, prefix caching off',
      workload: `${SARATHI_REQUESTS} requests per probe, prompts \`${SARATHI_PROMPT}\` (median 1,730), outputs \`${SARATHI_OUTPUT}\` (median 415), seed 1`,
      rate: 'the largest Poisson rate meeting both bounds, by doubling then geometric bisection to 2%',
      metric: 'the same definition; P99 TBT over every token of every request (the summary\'s `itl_s`, exact)',
    },
    deviations: [
      'The openchat_sharegpt4 lengths are not in this repository: log-normal prompts with its median (1,730) and outputs with a median of 415, the spreads recalled from the paper\'s dataset table (P90s of 5,696 and 834 tokens), not re-read.',
      `${SARATHI_REQUESTS} requests per probe (a few minutes of arrivals near capacity) instead of the paper's longer runs.`,
    ],
    claims,
    tables: [table],
    notes: [],
  };
}

const SEARCH = { lo: 0.25, hi: 0.5, tol: 0.02, max: 200 };

export const sarathiReproduction: Reproduction = {
  name: 'sarathi',
  title: 'Sarathi-Serve — Agrawal et al., arXiv 2403.02310',
  command: 'npx sim reproduce sarathi',
  run: (ctx) => runSarathi(ctx.log),
};
