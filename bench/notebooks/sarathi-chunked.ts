/**
 * Sarathi-Serve (Agrawal et al., "Taming throughput-latency tradeoff in LLM inference with
 * Sarathi-Serve", OSDI 2024): chunked prefill with stall-free batching (token budget 512) against
 * vLLM's prefill priority, FCFS, on the shipped Azure conv sample (Llama-2-7B, one A100-80GB) at
 * ×0.4…×1.0 rate: mean TTFT against mean TPOT, one marker per rate, joined per mode (log x). Chunked prefill
 * trades TTFT for lower TPOT (fewer decode stalls). Writes notebooks/figures/sarathi-chunked.svg.
 * Run: `npm run build && node dist/bench/notebooks/sarathi-chunked.js`.
 */
import { readTrace, transformTrace } from '../../traces/index.ts';
import { runOnce, flatten, toTable, figurePath, azureSample } from './lib.ts';
import { ttftTpotFigure } from '../../notebooks/plot/kinds.ts';
import { writeFigure } from '../../notebooks/plot/figure.ts';

const SCALES = [0.4, 0.6, 0.8, 1.0];
const trace0 = await readTrace(azureSample());
const rows: Record<string, string | number>[] = [];
for (const chunked of [false, true]) {
  for (const k of SCALES) {
    const s = runOnce(transformTrace(trace0, { rate_scale: k }), { policy: 'fcfs', 'chunked-prefill': chunked, seed: 1 });
    rows.push({ policy: chunked ? 'chunked prefill (512)' : 'prefill priority', model: 'llama-2-7b', gpu: 'a100-80gb', trace: 'azure-conv-2000.csv', rate_scale: k, ...flatten(s) });
  }
}
const out = figurePath('sarathi-chunked');
await writeFigure(out, ttftTpotFigure(toTable('sarathi-chunked', rows), { log: true }));
console.log(`wrote ${out}`);
