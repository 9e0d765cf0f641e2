/**
 * Disaggregated prefill and decode (DistServe, Zhong et al., OSDI 2024, arXiv 2401.09670;
 * Splitwise, Patel et al., ISCA 2024, arXiv 2311.18677; docs/disaggregation.md) against colocated
 * replicas on the same GPUs: goodput under TTFT and TPOT SLOs on the Azure conv sample
 * (traces/azure-conv-2000.csv), Llama-2-7B on A100s, the best prefill/decode split of 4 and of 8
 * GPUs against colocated prefill-priority replicas.
 */
import path from 'node:path';
import type { Reproduction, ReproductionResult, Table } from './reproduction.ts';
import type { RunOptions } from '../config.ts';
import { normalizeOptions, buildRun } from '../config.ts';
import { readTrace, transformTrace } from '../../traces/index.ts';
import { repoRoot } from '../regress/regress.ts';
import { runResolved } from '../run.ts';
import type { Summary } from '../../sim/metrics.ts';
import { improvement, verdict } from './verdict.ts';
import type { FactorRange } from './verdict.ts';
import { num, times } from './format.ts';

/** The trace shipped with the repository (1,857 of its 2,000 requests fit Llama-2's 4,096 tokens). */
const TRACE = 'traces/azure-conv-2000.csv';
/** SLOs (s): TTFT 1 s, TPOT 50 ms. */
const SLO_TTFT = 1;
const SLO_TPOT = 0.05;
const BASE: Partial<RunOptions> = { model: 'llama-2-7b', gpu: 'a100-80gb', 'max-model-len': 4096, 'slo-ttft': SLO_TTFT, 'slo-tpot': SLO_TPOT, router: 'least-tokens' };

/** DistServe's abstract: up to 7.4× more requests within SLO than colocated systems [RECALL: abstract, not re-read]. */
const PAPER: FactorRange = { lo: 7.4, hi: 7.4 };

/** The settings compared, per GPU count: rate multiplier and the splits tried. */
const CASES = [
  { gpus: 4, rates: [3, 4], splits: [[1, 3], [2, 2]] },
  { gpus: 8, rates: [6, 8], splits: [[2, 6], [3, 5]] },
] as const;

async function runDisagg(log: (m: string) => void): Promise<ReproductionResult> {
  const file = path.join(repoRoot(), TRACE);
  const trace = await readTrace(file);
  // buildRun takes the trace as given: the rate scaling is applied here.
  const go = (o: Partial<RunOptions>): Summary => runResolved(buildRun(normalizeOptions({ ...BASE, ...o, trace: file }), transformTrace(trace, { rate_scale: o['rate-scale'] }), () => {})).summary;
  const rows: string[][] = [];
  const claims: ReproductionResult['claims'] = [];
  const row = (gpus: number, rate: number, setup: string, s: Summary) =>
    rows.push([String(gpus), `${rate}×`, setup, `${num(s.ttft_s.mean!)} / ${num(s.ttft_s.p99!)}`, `${num(1000 * s.tpot_s.mean!)} / ${num(1000 * s.tpot_s.p99!)}`, s.disaggregation ? num(s.disaggregation.kv_wait_s.mean ?? 0) : '–', num(s.goodput.requests_per_s), num(s.goodput.slo_attainment!)]);
  for (const c of CASES) {
    for (const rate of c.rates) {
      log(`disagg: ${c.gpus} GPUs at ${rate}x`);
      const coloc = go({ 'rate-scale': rate, replicas: c.gpus });
      row(c.gpus, rate, 'colocated', coloc);
      row(c.gpus, rate, 'colocated, chunked prefill', go({ 'rate-scale': rate, replicas: c.gpus, 'chunked-prefill': true }));
      let best: { split: string; s: Summary } | undefined;
      for (const [p, d] of c.splits) {
        const s = go({ 'rate-scale': rate, 'prefill-replicas': p, 'decode-replicas': d });
        row(c.gpus, rate, `${p}P + ${d}D`, s);
        if (!best || s.goodput.requests_per_s > best.s.goodput.requests_per_s) best = { split: `${p}P + ${d}D`, s };
      }
      const f = improvement(coloc.goodput.requests_per_s, best!.s.goodput.requests_per_s, 'higher');
      claims.push({
        what: `goodput (TTFT ≤ ${SLO_TTFT} s, TPOT ≤ ${SLO_TPOT * 1000} ms), best split of ${c.gpus} GPUs (${best!.split}) vs ${c.gpus} colocated replicas, conv at ${rate}× rate`,
        paperText: 'up to 7.4× more requests within SLO (DistServe abstract)',
        paper: PAPER,
        oursText: `${num(best!.s.goodput.requests_per_s)} vs ${num(coloc.goodput.requests_per_s)} req/s (${times(f)})`,
        ours: f,
        verdict: verdict(PAPER, f),
      });
    }
  }
  const table: Table = {
    title: 'Per setting: TTFT mean / p99 (s), TPOT mean / p99 (ms), mean wait for decode KV (s), goodput (req/s) and the fraction of completed requests within both SLOs:',
    header: ['GPUs', 'rate', 'setup', 'TTFT s', 'TPOT ms', 'KV wait s', 'goodput req/s', 'within SLO'],
    rows,
  };
  return {
    claim:
      'Disaggregating prefill and decode onto separate GPUs removes prefill-decode interference and lets each phase be provisioned for its SLO: DistServe serves up to 7.4× more requests within SLO than colocated systems (abstract); Splitwise reports 1.4× throughput at 20% lower cost (abstract).',
    paper: {
      model: 'OPT-13B to OPT-175B (DistServe); Llama-2-70B, BLOOM-176B (Splitwise)',
      gpu: 'A100 clusters (DistServe), DGX-A100/H100 (Splitwise)',
      engine: 'prefill and decode instances with per-phase parallelism chosen by a placement search (DistServe) vs vLLM colocated',
      workload: 'ShareGPT chatbot, HumanEval, LongBench (DistServe); Azure coding and conversation traces (Splitwise)',
      rate: 'rates swept up to where SLO attainment falls below 90%',
      metric: 'requests per second per GPU within SLO (goodput), SLO attainment',
    },
    ours: {
      model: 'llama-2-7b (the shipped measured A100 profile)',
      gpu: 'a100-80gb; 4 and 8 GPUs, tp 1 everywhere; KV over InfiniBand NDR (50 GB/s per GPU, 5 µs)',
      engine: '`fcfs`, prefill priority (and chunked prefill for the colocated variant), prefix caching on; `--router least-tokens` for both pools',
      workload: `${TRACE} (1,857 requests within --max-model-len 4096), arrivals scaled by --rate-scale`,
      rate: '3× and 4× the trace rate on 4 GPUs, 6× and 8× on 8 GPUs',
      metric: `goodput: completed requests with TTFT ≤ ${SLO_TTFT} s and TPOT ≤ ${SLO_TPOT * 1000} ms per second of makespan (TTFT counted at the prefill instance's first token, docs/disaggregation.md)`,
    },
    deviations: [
      'A 7B model on 4–8 GPUs with two or three fixed splits, not a placement search over parallelism per phase; the split granularity is one whole GPU.',
      'The 2,000-request sample of the Azure conversation trace rather than DistServe\'s ShareGPT workload; the SLOs are ours (DistServe\'s figures are from its abstract, not re-read).',
    ],
    claims,
    tables: [table],
    notes: [
      'Disaggregation removes the decode stalls (TPOT p99 of 1P + 3D stays near 31 ms where colocated replicas reach 55–99 ms), but at equal GPU count the pool sized one replica too small binds: 1P + 3D is prefill-bound (TTFT of seconds), 2P + 2D decode-KV-bound (requests wait frozen for decode KV, which lands in TPOT). Causes of the gap to the paper: docs/disaggregation.md, "Disaggregated vs colocated".',
    ],
  };
}

export const disaggReproduction: Reproduction = {
  name: 'disagg',
  title: 'Disaggregated prefill and decode — DistServe (Zhong et al., arXiv 2401.09670), Splitwise (Patel et al., arXiv 2311.18677)',
  command: 'npx sim reproduce disagg',
  run: (ctx) => runDisagg(ctx.log),
};
