/**
 * TRAIL (Shahout et al., "Don't Stop Me Now: Embedding Based Scheduling for LLMs", ICLR 2025,
 * arXiv 2410.01035; docs/spec.md §5, §12.6): mean and p99 end-to-end latency against
 * the limited-preemption parameter c (0 = never preempt, 1 = SPRPT), with the `trail` predictor
 * (refined every 8 tokens) and with exact lengths, FCFS as a flat reference, on the shipped Azure
 * conv sample (Llama-2-7B, one A100-80GB) at ×1.2 rate with chunked prefill.
 * Writes notebooks/figures/trail-c.svg. Run: `npm run build && node dist/bench/notebooks/trail-c.js`.
 */
import { readTrace, transformTrace } from '../../traces/index.ts';
import { runOnce, flatten, toTable, figurePath, azureSample } from './lib.ts';
import { rateFigure } from '../../notebooks/plot/kinds.ts';
import { writeFigure } from '../../notebooks/plot/figure.ts';

const CS = [0, 0.2, 0.5, 0.8, 1];
const trace = transformTrace(await readTrace(azureSample()), { rate_scale: 1.2 });
const rows: Record<string, string | number>[] = [];
const fcfs = flatten(runOnce(trace, { policy: 'fcfs', 'chunked-prefill': true, seed: 1 }));
for (const c of CS) {
  for (const predictor of ['trail', 'oracle']) {
    const s = runOnce(trace, { policy: 'trail', predictor, 'policy-opt': [`c=${c}`], 'chunked-prefill': true, seed: 1 });
    rows.push({ policy: predictor === 'trail' ? 'trail' : 'trail (exact)', model: 'llama-2-7b', gpu: 'a100-80gb', trace: 'azure-conv-2000.csv', c, ...flatten(s) });
  }
  rows.push({ policy: 'fcfs', model: 'llama-2-7b', gpu: 'a100-80gb', trace: 'azure-conv-2000.csv', c, ...fcfs });
}
const t = toTable('trail-c', rows);
const out = figurePath('trail-c');
await writeFigure(out, rateFigure(t, { metric: 'e2e_s', x: 'c' }));
console.log(`wrote ${out}`);
