/**
 * SSJF vs FCFS (Qiu et al., "Efficient interactive LLM serving with proxy-model-based sequence
 * length prediction", AIOS 2024, Fig. "mean latency vs request rate"): mean and p99 end-to-end
 * latency against the request rate for FCFS, SSJF (proxy-model bucket predictor) and SJF with an
 * oracle, on the shipped Azure conv sample (Llama-2-7B, one A100-80GB, prefill priority), rate
 * scaled ×0.4…×1.2. Writes notebooks/figures/ssjf-vs-fcfs.svg.
 * Run: `npm run build && node dist/bench/notebooks/ssjf-vs-fcfs.js`.
 */
import { readTrace, transformTrace } from '../../traces/index.ts';
import { runOnce, flatten, toTable, figurePath, azureSample } from './lib.ts';
import { rateFigure } from '../../notebooks/plot/kinds.ts';
import { writeFigure } from '../../notebooks/plot/figure.ts';

const SCALES = [0.4, 0.6, 0.8, 1.0, 1.2];
const CASES = [
  { label: 'fcfs', policy: 'fcfs' },
  { label: 'ssjf', policy: 'ssjf', predictor: 'ssjf-buckets' },
  { label: 'sjf (oracle)', policy: 'sjf', predictor: 'oracle' },
];

const trace0 = await readTrace(azureSample());
const rows: Record<string, string | number>[] = [];
for (const c of CASES) {
  for (const k of SCALES) {
    const s = runOnce(transformTrace(trace0, { rate_scale: k }), { policy: c.policy, predictor: c.predictor, seed: 1 });
    rows.push({ policy: c.label, model: 'llama-2-7b', gpu: 'a100-80gb', trace: 'azure-conv-2000.csv', rate_scale: k, ...flatten(s) });
  }
}
const t = toTable('ssjf-vs-fcfs', rows);
const svg = rateFigure(t, { metric: 'e2e_s' });
const out = figurePath('ssjf-vs-fcfs');
await writeFigure(out, svg);
console.log(`wrote ${out}`);
