/**
 * Learning to rank (Fu et al., "Efficient LLM scheduling by learning to rank", NeurIPS 2024,
 * arXiv 2408.15792, the τ ablation): mean and p99 normalized latency (s/token) of LTR against the
 * Kendall τ of its `rank-tau` predictor (τ = 0 random … 1 perfect ranking), FCFS as a flat
 * reference (log y), on the shipped Azure conv sample (Llama-2-7B, one A100-80GB) at ×1.2 rate (FCFS overloaded),
 * with chunked prefill (budget 512) as the authors' vLLM fork always runs.
 * Writes notebooks/figures/ltr-tau.svg. Run: `npm run build && node dist/bench/notebooks/ltr-tau.js`.
 */
import { readTrace, transformTrace } from '../../traces/index.ts';
import { runOnce, flatten, toTable, figurePath, azureSample } from './lib.ts';
import { rateFigure } from '../../notebooks/plot/kinds.ts';
import { writeFigure } from '../../notebooks/plot/figure.ts';

const TAUS = [0, 0.2, 0.4, 0.6, 0.8, 1.0];
const trace = transformTrace(await readTrace(azureSample()), { rate_scale: 1.2 });
const rows: Record<string, string | number>[] = [];
const fcfs = flatten(runOnce(trace, { policy: 'fcfs', 'chunked-prefill': true, seed: 1 }));
for (const tau of TAUS) {
  const s = runOnce(trace, { policy: 'ltr', predictor: 'rank-tau', 'predictor-opt': [`tau=${tau}`], 'chunked-prefill': true, seed: 1 });
  rows.push({ policy: 'ltr', model: 'llama-2-7b', gpu: 'a100-80gb', trace: 'azure-conv-2000.csv', tau, ...flatten(s) });
}
for (const tau of TAUS) rows.push({ policy: 'fcfs', model: 'llama-2-7b', gpu: 'a100-80gb', trace: 'azure-conv-2000.csv', tau, ...fcfs });
const t = toTable('ltr-tau', rows);
const out = figurePath('ltr-tau');
await writeFigure(out, rateFigure(t, { metric: 'normalized_latency_s', x: 'tau', log: true }));
console.log(`wrote ${out}`);
