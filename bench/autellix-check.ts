/**
 * `npm run paper-check:autellix`: Autellix's headline (arXiv 2502.13965 §6; docs/spec.md
 * §6: 4–15× throughput at the same latency versus vLLM) on generated ReAct (BFCL-like) and tree
 * search (LATS-like) workloads and on the Azure conv trace as one-call programs, Llama-3.1-8B
 * (128k context: generated calls resend their parent's context) on A100-80GB, with prefix
 * caching on (vLLM v1's default; the generated calls declare `prefix_from`), 1 and 4 replicas. For each workload, program arrival rates are multiples of the rate
 * r0 at which FCFS's mean program token latency (program latency / its output tokens) first
 * exceeds twice its light-load value (bisection); prints markdown tables of program p50 and p99
 * latency and mean token latency per rate and policy, and the rate at which each policy's token
 * latency crosses that SLO (interpolated: the throughput at equal latency), relative to FCFS.
 *
 * Policies: FCFS (vLLM), MLFQ (Autellix's baseline, `autellix-mlfq`), PLAS, ATLAS. With 4
 * replicas FCFS and MLFQ sit behind least-requests (the paper's "least used") and PLAS and ATLAS
 * behind Autellix's locality-aware balancer; "PLAS (LR)" is PLAS behind least-requests, to
 * separate the balancer's gain from the policy's. Engines: prefill priority (vLLM v0.6's default for
 * an 8B model, the paper's baseline) and chunked prefill (budget 512, stall-free); swap space
 * 16 GiB. Workloads grow with the replica count (programs × replicas).
 *
 * The engines, policies, generated workloads, FCFS knee and rate-at-SLO search are shared with
 * `sim reproduce autellix` (app/reproduce/autellix.ts, app/reproduce/search.ts), which runs a
 * reduced version of this check.
 *
 * Set SHARED to the shared/ folder if it is not at ../shared. `--quick` runs fewer rates.
 */
import path from 'node:path';
import { readTrace, transformTrace } from '../traces/index.ts';
import {
  AUTELLIX_ENGINES as ENGINES,
  AUTELLIX_POLICIES as POLICIES,
  generatedWorkload,
  programPoint as simulate,
  fcfsKnee as knee,
  type ProgramWorkload as Workload,
} from '../app/reproduce/autellix.ts';
import { crossing as rateAt } from '../app/reproduce/search.ts';

const shared = process.env.SHARED ?? path.resolve('..', 'shared');
const quick = process.argv.includes('--quick');

const f = (x: number | null) => (x === null ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toPrecision(2));

async function main(): Promise<void> {
  const azure = await readTrace(path.join(shared, 'traces', 'AzureLLMInferenceTrace_conv.csv'));
  const workloads: Workload[] = [
    generatedWorkload('ReAct (generated, BFCL-like: 10.75 calls, 735 prompt / 34 output tokens)', 'react', quick ? 120 : 300),
    generatedWorkload('tree search (generated, LATS-like: 156 calls, 467 / 73 tokens)', 'tree-search', quick ? 12 : 30),
    { name: 'Azure conv as one-call programs (first 3,000 requests per replica)', at: (rate, replicas) => transformTrace(transformTrace(azure, { limit: 3000 * replicas }), { rate }) },
  ];
  const multiples = quick ? [0.5, 1, 2, 4] : [0.5, 1, 1.5, 2, 3, 4];
  for (const w of workloads) {
    for (const engine of ENGINES) for (const replicas of [1, 4]) {
      const k = knee(w, replicas, engine.opts);
      const title = `${w.name}; ${engine.label}; ${replicas} replica${replicas > 1 ? 's' : ''}`;
      if (k === null) {
        console.log(`\n### ${title}: FCFS never reaches twice its light-load token latency (below 1000/s)\n`);
        continue;
      }
      const { r0, slo } = k;
      console.log(`\n### ${title}; FCFS knee r0 = ${r0.toPrecision(3)} /s, token-latency SLO ${slo.toPrecision(3)} s/token\n`);
      console.log(`| rate /s | ${POLICIES.map((p) => `${p.label} p50 / p99 s (s/token)`).join(' | ')} |`);
      console.log(`|---|${POLICIES.map(() => '---').join('|')}|`);
      const curves: [number, number][][] = POLICIES.map(() => []);
      for (const m of multiples) {
        const rate = m * r0;
        const trace = w.at(rate, replicas);
        const cells = POLICIES.map((p, i) => {
          const pt = simulate(trace, p, replicas, engine.opts);
          curves[i].push([rate, pt.token ?? Infinity]);
          return `${f(pt.p50)} / ${f(pt.p99)} (${f(pt.token)})`;
        });
        console.log(`| ${rate.toPrecision(3)} (×${m}) | ${cells.join(' | ')} |`);
      }
      const best = curves.map((c) => rateAt(c, slo));
      const show = (x: number) => (x === Infinity ? `> ${(multiples[multiples.length - 1] * r0).toPrecision(3)}` : x === 0 ? `< ${(multiples[0] * r0).toPrecision(3)}` : x.toPrecision(3));
      console.log(`\nRate at the SLO (interpolated): ${POLICIES.map((p, i) => `${p.label} ${show(best[i])}${i > 0 && Number.isFinite(best[i]) && best[i] > 0 && best[0] > 0 && Number.isFinite(best[0]) ? ` (${(best[i] / best[0]).toFixed(2)}× FCFS)` : ''}`).join(', ')}`);
    }
  }
}

await main();
