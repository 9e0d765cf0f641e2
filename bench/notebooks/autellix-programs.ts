/**
 * Autellix (Luo et al., arXiv 2502.13965 §6; docs/spec.md §6): mean (top panel) and p99
 * (bottom panel) program latency against program arrival rate for FCFS, Autellix's MLFQ baseline, PLAS
 * and ATLAS on a generated ReAct workload (300 BFCL-like chain programs, ~3,200 calls; seeded),
 * Llama-3.1-8B (its calls resend their parent's context, so they outgrow an 8k model) on one
 * A100-80GB, chunked prefill (budget 512), prefix caching on (the default), 1 to 4 programs/s.
 * Writes notebooks/figures/autellix-programs.svg.
 * Run: `npm run build && node dist/bench/notebooks/autellix-programs.js`.
 */
import { generateProgramTrace } from '../../traces/generators.ts';
import { runOnce, flatten, toTable, figurePath } from './lib.ts';
import { rateFigure } from '../../notebooks/plot/kinds.ts';
import { writeFigure } from '../../notebooks/plot/figure.ts';

const RATES = [1, 1.5, 2, 2.5, 3, 3.5, 4];
const POLICIES: [string, string][] = [
  ['fcfs', 'FCFS'],
  ['autellix-mlfq', 'MLFQ'],
  ['plas', 'PLAS'],
  ['atlas', 'ATLAS'],
];
const rows: Record<string, string | number>[] = [];
for (const rate of RATES) {
  const trace = generateProgramTrace({ kind: 'react', programs: 300, rate, seed: 'notebook' });
  for (const [policy, label] of POLICIES) {
    const s = runOnce(trace, { policy, model: 'llama-3.1-8b', 'chunked-prefill': true, seed: 1 });
    rows.push({ policy: label, model: 'llama-3.1-8b', gpu: 'a100-80gb', trace: 'ReAct, 300 programs', program_rate: rate, ...flatten(s) });
  }
}
const out = figurePath('autellix-programs');
await writeFigure(out, rateFigure(toTable('autellix-programs', rows), { metric: 'programs.e2e_s', x: 'program_rate' }));
console.log(`wrote ${out}`);
