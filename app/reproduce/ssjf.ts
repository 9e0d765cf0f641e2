/**
 * SSJF (Qiu et al., "Efficient Interactive LLM Serving with Proxy Model-based Sequence Length
 * Prediction", arXiv 2404.08509; docs/spec.md §3) in its own setting: the authors' scheduling
 * simulator (James-QiuHaoran/LLM-serving-with-proxy-models, `model-serving/`): 50 jobs per
 * experiment drawn from the released predictions, 20 experiments per arrival rate, Poisson rates
 * 1–10 jobs/s, a job of L output tokens taking 0.1 + 0.02·L s, no batching or batches of 2.
 */
import seedrandom from 'seedrandom';
import { randomPoisson } from 'd3-random';
import type { Reproduction, ReproductionResult, Table } from './reproduction.ts';
import { readSsjfPredictions, blockTrace, checkDrained, runOn, meanOf } from './workloads.ts';
import type { Blocks, RequestRow, SsjfPredictions } from './workloads.ts';
import type { RunOptions } from '../config.ts';
import type { RunOutput } from '../run.ts';
import { factorFromChange, improvement, verdict } from './verdict.ts';
import { pct, num } from './format.ts';

/** Arrival rates, jobs/s (the repo's `auto_eval.py` experiment 1). */
export const SSJF_RATES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
/** Experiments per rate (`util.py` NUM_EXP_RUNS) and jobs per experiment (NUM_JOBS). */
export const SSJF_RUNS = 20;
export const SSJF_JOBS = 50;
/** Distance between experiments laid end to end in one trace, s (50 jobs take at most 50 × 10.32 s). */
const GAP_S = 1000;
/**
 * A predicted class's length for the `trace` predictor, tokens: the midpoint of the class's range
 * under the cuts 42/141/294/503 and the cap 511 (docs/spec.md §3). SSJF keys by class; any
 * increasing map gives its order, and midpoints keep the starvation guard's "10 × execution time"
 * near the job's real length.
 */
export const CLASS_MIDPOINTS = [21, 91.5, 217.5, 398.5, 507];
/**
 * The authors' job pricing as the linear cost model: a 1-token prompt's prefill costs 0.02 + 0.1 s
 * and samples the first token, each further token 0.02 s whatever the batch size (their simulator
 * runs a batch at one job's speed): L tokens cost 0.1 + 0.02·L s.
 */
export const SSJF_COST = 'linear:base=0.02,prefill=0.1,decode=0,kv=0';

/**
 * The jobs of one experiment: `jobs` rows sampled without replacement from the predictions, at
 * arrival times drawn as the repo's `create_jobs_from_llm_data` draws them (a Poisson(rate) count
 * of jobs at each whole second 0, 1, 2, …, until `jobs` have arrived); seeded by rate and run.
 */
export function ssjfExperiment(p: SsjfPredictions, rate: number, run: number, jobs = SSJF_JOBS): RequestRow[] {
  const count = randomPoisson.source(seedrandom.alea(`ssjf-arrivals:${rate}:${run}`))(rate);
  const arrivals: number[] = [];
  for (let slot = 0; arrivals.length < jobs; slot++) {
    for (let c = count(); c > 0 && arrivals.length < jobs; c--) arrivals.push(slot);
  }
  const pick = seedrandom.alea(`ssjf-jobs:${rate}:${run}`);
  const seen = new Set<number>();
  const rows: RequestRow[] = [];
  while (rows.length < jobs) {
    const i = Math.floor(pick() * p.output.length);
    if (seen.has(i)) continue;
    seen.add(i);
    rows.push({ arrival_s: arrivals[rows.length], prompt: 1, output: p.output[i], predicted: CLASS_MIDPOINTS[p.predictedClass[i]] });
  }
  return rows;
}

/** Every experiment of the reproduction in one trace: block r·runs + k is run k at rates[r]. */
export function ssjfWorkload(p: SsjfPredictions, rates = SSJF_RATES, runs = SSJF_RUNS, jobs = SSJF_JOBS): Blocks {
  const blocks = rates.flatMap((rate) => Array.from({ length: runs }, (_, k) => ssjfExperiment(p, rate, k, jobs)));
  return blockTrace(`ssjf: ${rates.length} rates × ${runs} runs × ${jobs} jobs (shared/reference/ssjf-predictions)`, blocks, GAP_S);
}

/**
 * The run options of the reproduction for `policy` at `batch` sequences (model and GPU are
 * irrelevant under the linear cost model): `ssjf` replays the real predicted classes (`trace`
 * predictor), `ssjf-model` draws them from the simulator's model of that predictor (`ssjf-buckets`).
 */
export function ssjfOptions(policy: 'fcfs' | 'ssjf' | 'ssjf-model' | 'sjf', batch: number): Partial<RunOptions> {
  const base: Partial<RunOptions> = { 'cost-model': SSJF_COST, 'max-num-seqs': batch, 'kv-tokens': 'unlimited', 'prefix-caching': 'off' };
  if (policy === 'ssjf') return { ...base, policy, predictor: 'trace' };
  if (policy === 'ssjf-model') return { ...base, policy: 'ssjf', predictor: 'ssjf-buckets' };
  if (policy === 'sjf') return { ...base, policy, predictor: 'oracle' };
  return { ...base, policy };
}

/**
 * Throughput at 25% completion of one experiment, jobs/s, as the repo's `get_throughput`:
 * with n jobs, pos = ⌊0.25·(n − 1)⌋ and throughput = pos / (the (pos+1)-th completion time, from
 * the experiment's time 0).
 */
export function throughputAt25(completions: readonly number[]): number {
  const sorted = [...completions].sort((a, b) => a - b);
  const pos = Math.floor(0.25 * (sorted.length - 1));
  return pos / sorted[pos];
}

interface PolicyStats {
  /** Mean JCT per rate (s), and pooled over rates. */
  jct: number[];
  jctAll: number;
  /** Mean throughput at 25% completion per rate (jobs/s), and pooled. */
  thr: number[];
  thrAll: number;
}

function stats(out: RunOutput, b: Blocks, rates: number, runs: number): PolicyStats {
  checkDrained(out, b);
  const R = out.result.requests;
  const jct: number[] = [];
  const thr: number[] = [];
  for (let r = 0; r < rates; r++) {
    jct.push(meanOf(out.metrics.e2e, b.start[r * runs], b.start[(r + 1) * runs]));
    let t = 0;
    for (let k = r * runs; k < (r + 1) * runs; k++) {
      const c: number[] = [];
      for (let i = b.start[k]; i < b.start[k + 1]; i++) c.push(R.completion[i] - b.origin[k]);
      t += throughputAt25(c);
    }
    thr.push(t / runs);
  }
  const avg = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  return { jct, jctAll: avg(jct), thr, thrAll: avg(thr) };
}

/** The paper's figures (abstract, docs/spec.md §3). */
const PAPER_JCT = { lo: factorFromChange(-30.5), hi: factorFromChange(-39.6) };
const PAPER_THR = { lo: 2.2, hi: 3.6 };

/** Runs the reproduction on the given rates × runs × jobs (the defaults are the paper's). */
export function runSsjf(p: SsjfPredictions, log: (m: string) => void, rates = SSJF_RATES, runs = SSJF_RUNS, jobs = SSJF_JOBS): ReproductionResult {
  const w = ssjfWorkload(p, rates, runs, jobs);
  const claims: ReproductionResult['claims'] = [];
  const tables: Table[] = [];
  for (const batch of [1, 2]) {
    log(`ssjf: batch ${batch}: fcfs, ssjf (real and modelled predictions), sjf on ${w.trace.n} jobs`);
    const [fcfs, ssjf, model, sjf] = (['fcfs', 'ssjf', 'ssjf-model', 'sjf'] as const).map((pol) => stats(runOn(w.trace, ssjfOptions(pol, batch)), w, rates.length, runs));
    const mode = batch === 1 ? 'no batching (batch 1)' : 'batch 2';
    const fJct = improvement(fcfs.jctAll, ssjf.jctAll, 'lower');
    claims.push({
      what: `mean JCT, SSJF vs FCFS, ${mode}, mean over rates`,
      paperText: '−30.5 to −39.6%',
      paper: PAPER_JCT,
      oursText: `${num(ssjf.jctAll)} s vs ${num(fcfs.jctAll)} s (${pct(ssjf.jctAll, fcfs.jctAll)})`,
      ours: fJct,
      verdict: verdict(PAPER_JCT, fJct),
    });
    const fThr = improvement(fcfs.thrAll, ssjf.thrAll, 'higher');
    claims.push({
      what: `throughput at 25% completion, SSJF vs FCFS, ${mode}`,
      paperText: '2.2–3.6×',
      paper: PAPER_THR,
      oursText: `${num(ssjf.thrAll)} vs ${num(fcfs.thrAll)} jobs/s (${fThr.toFixed(2)}×)`,
      ours: fThr,
      verdict: verdict(PAPER_THR, fThr),
    });
    tables.push({
      title: `Per rate, ${mode} (means over ${runs} experiments of ${jobs} jobs; JCT in s, throughput at 25% completion in jobs/s):`,
      header: ['rate /s', 'FCFS JCT', 'SSJF JCT', 'SSJF, modelled predictor', 'SJF (exact) JCT', 'FCFS thr.', 'SSJF thr.'],
      rows: rates.map((rate, r) => [
        String(rate),
        num(fcfs.jct[r]),
        `${num(ssjf.jct[r])} (${pct(ssjf.jct[r], fcfs.jct[r])})`,
        `${num(model.jct[r])} (${pct(model.jct[r], fcfs.jct[r])})`,
        `${num(sjf.jct[r])} (${pct(sjf.jct[r], fcfs.jct[r])})`,
        num(fcfs.thr[r]),
        `${num(ssjf.thr[r])} (${(ssjf.thr[r] / fcfs.thr[r]).toFixed(2)}×)`,
      ]),
    });
  }
  return {
    claim:
      'SSJF (shortest predicted job first, lengths from a BERT proxy model) lowers the average job completion time (JCT) by 30.5–39.6% and raises throughput 2.2–3.6× against FCFS, without batching and with dynamic or continuous batching (abstract; docs/spec.md §3).',
    paper: {
      model: 'vicuna-13b output lengths on LMSYS-Chat-1M prompts; no model is run',
      gpu: "none: the authors' simulator prices a job of L output tokens at 0.1 s + 0.02 s × L",
      engine: 'their scheduling simulator: no batching, or dynamic batching (batches of 2–10); SSJF non-preemptive with a starvation guard',
      workload: '50 jobs per experiment sampled from the released predictions, 20 experiments per point',
      rate: 'Poisson 1–10 jobs/s (a Poisson count of jobs at each whole second)',
      metric: 'mean JCT; throughput at 25% completion (jobs done ÷ time of the 13th of 50 completions)',
    },
    ours: {
      model: 'the same released rows (shared/reference/ssjf-predictions, 5-class file: true length and predicted class), prompts of 1 token',
      gpu: `none: linear cost model \`${SSJF_COST}\`, so a job of L tokens alone takes 0.1 + 0.02·L s and a batch runs at one job's speed`,
      engine: 'prefill priority (vLLM v0), `--max-num-seqs` 1 and 2, KV cache unlimited; `ssjf` (guard on, defaults of `util.py`) with the `trace` predictor holding the real predicted class (as its length midpoint), `sjf` with exact lengths, `fcfs`',
      workload: `${runs} experiments × ${jobs} jobs per rate, drawn by the repo's procedure (seeded), run back to back in one trace ${GAP_S} s apart (each drains before the next starts: checked)`,
      rate: `Poisson ${rates[0]}–${rates[rates.length - 1]} jobs/s, the same per-second process`,
      metric: 'mean JCT (end-to-end latency), averaged over the rates; throughput at 25% completion as the repo computes it',
    },
    deviations: [
      "Batch 2 is vLLM's continuous batching: a running job keeps its slot until it finishes and a newcomer's prefill iteration (0.12 s) holds the other job back. The authors' dynamic batching instead re-forms the batch whenever its shortest job finishes, returning the unfinished one to the queue.",
      "The starvation guard compares the wait with 10 × the *predicted* execution time (the class midpoint); the repo's compares it with 10 × the job's *true* execution time.",
      'Throughput at 25% completion is measured from each experiment\'s time 0 (its first arrival slot), as the repo does.',
    ],
    claims,
    tables,
    notes: [
      'The "modelled predictor" column runs SSJF with the simulator\'s model of this proxy (`ssjf-buckets`: classes drawn from the real confusion matrix, docs/predictors.md) instead of its recorded outputs: the two should be close, and are the check on that model in this setting.',
      'The regression set (`sim regress`, group `repro-ssjf`) replays this very workload at batch 1 (app/regress/repro/ssjf.csv, written by `sim reproduce ssjf --export app/regress/repro`), so CI keeps the batch-1 verdict.',
    ],
  };
}

export const ssjfReproduction: Reproduction = {
  name: 'ssjf',
  title: 'SSJF — Qiu et al., arXiv 2404.08509',
  command: 'npx sim reproduce ssjf',
  check(ctx) {
    readSsjfPredictions(ctx.shared);
  },
  async run(ctx) {
    return runSsjf(readSsjfPredictions(ctx.shared), ctx.log);
  },
  workloads(ctx) {
    return [{ file: 'ssjf.csv', trace: ssjfWorkload(readSsjfPredictions(ctx.shared)).trace }];
  },
};
