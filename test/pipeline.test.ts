/**
 * Pipeline parallelism (`--pp`, docs/engine.md "Pipeline parallelism"): hand-worked timelines of
 * micro-batches through 2 and 3 stages under a linear cost model (the pipeline algebra in closed
 * form), vLLM's layer split and virtual-engine assignment, the stage-to-stage send against
 * Vidur's measured send_recv table, KV capacity per stage worked by hand from config.json, and
 * property tests (invariants, skip-ahead on = off, determinism, every micro-batch's exit time
 * recomputed by an independent max-plus recurrence) on random workloads at pp 2 and 3.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { EngineConfig, IterationRecord } from '../sim/engine-types.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { PipelineCost, stageLayers, sendTime, sendLink, SEND_DEFAULTS } from '../sim/cost/pipeline.ts';
import { kvCapacity, kvBytesPerToken, stageWeightBytes, weightBytes, swapBlocks } from '../sim/cost/memory.ts';
import { getModel } from '../sim/cost/models.ts';
import { getGpu } from '../sim/cost/gpus.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { normalizeOptions, buildRun } from '../app/config.ts';
import type { RunOptions } from '../app/config.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import { makeTrace, engineConfig, engineViolations, runDifferences, inputError, runSim } from './helpers.ts';

const GiB = 2 ** 30;
/** The shared reference data beside the repository (or the usual checkout). */
const BESIDE = path.resolve('../shared/reference/vidur-profiles/network');
const NETWORK = fs.existsSync(BESIDE) ? BESIDE : '/work/shared/reference/vidur-profiles/network';
const CONV = path.resolve('traces/azure-conv-2000.csv');

/**
 * A pipeline of `layers` stages priced by the linear model base + (prefill = decode = d per
 * token or sequence), with a send of `lat` s + τ s per token between stages (hidden 4096 at
 * 4096·2/τ bytes/s).
 */
function linearPipeline(layers: number[], base: number, d: number, lat: number, tau: number): PipelineCost {
  const cost = new LinearCostModel({ base, prefill: d, decode: d, kv: 0 });
  return new PipelineCost({ cost, layers, hidden: 4096, link: { latency_s: lat, bandwidth: tau > 0 ? (4096 * 2) / tau : Infinity } });
}

/** Runs `trace` through one replica of `pipe.stages` virtual engines (FCFS each). */
function runPipeline(trace: ReturnType<typeof makeTrace>, pipe: PipelineCost, engine: EngineConfig = engineConfig(), observer?: (r: IterationRecord) => void): SimulationResult {
  return simulate({ trace, policy: Array.from({ length: pipe.stages }, () => new Fcfs()), cost: pipe.cost, pipeline: pipe, engine, observer });
}

describe('pipeline parallelism, hand-worked', () => {
  it('2 stages, two micro-batches in flight: tokens every 2·s0 per request, one micro-batch every s0 per replica', () => {
    // Linear model: base B = 0.01 s, d = 0.001 s per prefill token or decoding sequence; each
    // virtual engine (VE) holds n = 2 requests of a 1-token prompt, so every micro-batch (the
    // prefill of both, then each decode step of both) costs W = B + 2d = 0.012 s over all layers
    // and sends 2 tokens: c = 1 ms + 2 × 0.1 ms = 1.2 ms. Layers 16/16:
    //   s0 = W/2 + c = 0.0072 s (stage 0, then the send), s1 = W/2 = 0.006 s.
    // Requests 0..3 arrive at 0: 0 -> VE0, 1 -> VE1, 2 -> VE0 (fewest unfinished, lowest index of
    // equals), 3 -> VE1. VE0 forms micro-batch 1 at 0, VE1 micro-batch 2 at 0. Micro-batch j
    // leaves stage 0 at j·s0 (stage 0 is never idle: m_{j+2} is formed when m_j comes out, at
    // j·s0 + s1 <= (j+1)·s0, before stage 0 frees) and stage 1 at j·s0 + s1 (stage 1 frees at
    // (j−1)·s0 + s1 <= j·s0). VE0 runs the odd micro-batches, VE1 the even ones, so with D = 4
    // output tokens: VE0's k-th token at (2k−1)·s0 + s1, VE1's at 2k·s0 + s1;
    //   TTFT 0.0132 (VE0) and 0.0204 (VE1); completion 7·s0 + s1 = 0.0564 and 8·s0 + s1 = 0.0636;
    //   TPOT 2·s0 = 0.0144 for every request; 2·D·2 = 16 tokens by 0.0636 s.
    const pipe = linearPipeline([16, 16], 0.01, 0.001, 0.001, 0.0001);
    const s0 = 0.0072;
    const s1 = 0.006;
    const records: IterationRecord[] = [];
    const res = runPipeline(makeTrace([0, 0, 0, 0], [1, 1, 1, 1], [4, 4, 4, 4]), pipe, engineConfig(), (r) => records.push(r));
    const R = res.requests;
    expect(Array.from(R.virtualEngine)).toEqual([0, 1, 0, 1]);
    for (let i = 0; i < 4; i++) {
      const ve = R.virtualEngine[i];
      expect(R.firstToken[i], `request ${i} TTFT`).toBeCloseTo((1 + ve) * s0 + s1, 12);
      expect(R.completion[i], `request ${i} completion`).toBeCloseTo((7 + ve) * s0 + s1, 12);
      expect((R.completion[i] - R.firstToken[i]) / 3, `request ${i} TPOT`).toBeCloseTo(2 * s0, 12);
    }
    // Micro-batch j formed when its VE's previous one came out, out at j·s0 + s1.
    expect(records.length).toBe(8);
    records.forEach((r, k) => {
      const j = k + 1;
      expect(r.virtualEngine).toBe((j - 1) % 2);
      expect(r.start).toBeCloseTo(j <= 2 ? 0 : (j - 2) * s0 + s1, 12);
      expect(r.end).toBeCloseTo(j * s0 + s1, 12);
    });
    // The replica: busy from 0 to the last token; 8 micro-batches of 2.
    expect(res.replicas[0]).toMatchObject({ iterations: 8, batchSizeSum: 16 });
    expect(res.stats.busy_s).toBeCloseTo(8 * s0 + s1, 12);
    expect(res.end_s).toBeCloseTo(8 * s0 + s1, 12);
  });

  it('2 stages against 1: the same micro-batches come out twice as often, at the same per-token latency, without a send', () => {
    // Without a send (c = 0) s0 = s1 = W/2 (W = 0.012 as above): micro-batch j comes out at
    // (j + 1)·W/2, each request gets a token every W, and the replica puts out a micro-batch of
    // 2 tokens every W/2; 8 micro-batches by 4.5·W. One stage with the same batches (max 2
    // sequences) runs them one at a time: the first pair's 4 iterations, then the second's, a
    // token every W per request, a batch every W, done at 8·W.
    const pipe = linearPipeline([16, 16], 0.01, 0.001, 0, 0);
    const W = 0.012;
    const trace = makeTrace([0, 0, 0, 0], [1, 1, 1, 1], [4, 4, 4, 4]);
    const two = runPipeline(trace, pipe);
    for (let i = 0; i < 4; i++) {
      expect(two.requests.completion[i]).toBeCloseTo((8 + two.requests.virtualEngine[i]) * (W / 2), 12);
      expect((two.requests.completion[i] - two.requests.firstToken[i]) / 3).toBeCloseTo(W, 12);
    }
    expect(two.end_s).toBeCloseTo(4.5 * W, 12);
    const one = simulate({ trace, policy: new Fcfs(), cost: pipe.cost, engine: engineConfig({ maxNumSeqs: 2 }) });
    expect(one.requests.completion[1]).toBeCloseTo(4 * W, 12);
    expect(one.end_s).toBeCloseTo(8 * W, 12);
    expect((one.requests.completion[0] - one.requests.firstToken[0]) / 3).toBeCloseTo(W, 12);
  });

  it('3 stages (layers 11/11/10): micro-batch j out at j·s0 + s1 + s2, a token every 3·s0 per request', () => {
    // W = B + d·n = 0.01 + 0.001 (one request per VE, 1-token prompts), c = 0.5 ms (no per-token
    // part). s0 = s1 = 11/32·W + c, s2 = 10/32·W. Stages 0 and 1 are the bottleneck; as in the
    // 2-stage case, m_j leaves stage 0 at j·s0 (m_{j+3} is formed at j·s0 + s1 + s2 <= (j+2)·s0)
    // and comes out at j·s0 + s1 + s2. With 3 requests at 0 on VE0, VE1, VE2 and D = 3 tokens:
    // request v's k-th token at (3(k−1) + v + 1)·s0 + s1 + s2.
    const W = 0.011;
    const c = 0.0005;
    const s0 = (11 / 32) * W + c;
    const s2 = (10 / 32) * W;
    const pipe = linearPipeline([11, 11, 10], 0.01, 0.001, c, 0);
    const res = runPipeline(makeTrace([0, 0, 0], [1, 1, 1], [3, 3, 3]), pipe);
    const R = res.requests;
    expect(Array.from(R.virtualEngine)).toEqual([0, 1, 2]);
    for (let v = 0; v < 3; v++) {
      expect(R.firstToken[v]).toBeCloseTo((v + 1) * s0 + s0 + s2, 12);
      expect(R.completion[v]).toBeCloseTo((6 + v + 1) * s0 + s0 + s2, 12);
    }
  });

  it('a micro-batch waits for a busy stage: a long prefill on one engine delays the other engine\'s decode', () => {
    // 2 stages, no send, linear prefill 0.01 s per token, decode 0.001 s per sequence.
    // A (P=1, D=3) at 0 on VE0; B (P=100, D=1) at 0 on VE1.
    // m1 (VE0, A's prefill, W = 0.01): stage 0 [0, 0.005], stage 1 [0.005, 0.01] -> A's 1st token 0.01.
    // m2 (VE1, B's prefill, W = 1): stage 0 [0.005, 0.505], stage 1 [0.505, 1.005] -> B done at 1.005.
    // m3 (VE0, A's decode, W = 0.001, formed at 0.01): stage 0 waits until 0.505, [0.505, 0.5055];
    //   stage 1 waits until 1.005, [1.005, 1.0055] -> A's 2nd token 1.0055.
    // m4 (VE0, formed at 1.0055, stages free): 1.0055 + 0.001 = 1.0065 -> A done.
    const cost = new LinearCostModel({ base: 0, prefill: 0.01, decode: 0.001, kv: 0 });
    const pipe = new PipelineCost({ cost, layers: [16, 16], hidden: 4096, link: { latency_s: 0, bandwidth: Infinity } });
    const res = runPipeline(makeTrace([0, 0], [1, 100], [3, 1]), pipe);
    const R = res.requests;
    expect(R.firstToken[0]).toBeCloseTo(0.01, 12);
    expect(R.completion[1]).toBeCloseTo(1.005, 12);
    expect(R.completion[0]).toBeCloseTo(1.0065, 12);
  });
});

describe('pipeline parallelism, vLLM and Vidur rules', () => {
  it("layers split as vLLM's get_pp_indices does: the remainder goes to the stages before the last", () => {
    expect(stageLayers(32, 1)).toEqual([32]);
    expect(stageLayers(32, 2)).toEqual([16, 16]);
    expect(stageLayers(80, 3)).toEqual([27, 27, 26]);
    expect(stageLayers(40, 3)).toEqual([13, 14, 13]);
    expect(stageLayers(32, 5)).toEqual([6, 6, 7, 7, 6]);
    expect(stageLayers(7, 7)).toEqual([1, 1, 1, 1, 1, 1, 1]);
    for (const [L, pp] of [[80, 7], [32, 3], [126, 16]]) {
      const s = stageLayers(L, pp);
      expect(s.reduce((a, b) => a + b, 0)).toBe(L);
      expect(Math.max(...s) - Math.min(...s)).toBeLessThanOrEqual(1);
      expect(s[pp - 1]).toBe(Math.floor(L / pp));
    }
    expect(inputError(() => stageLayers(32, 33)).field).toBe('--pp');
    expect(inputError(() => stageLayers(32, 0)).field).toBe('--pp');
    expect(inputError(() => stageLayers(32, 1.5)).field).toBe('--pp');
  });

  it('a request joins the virtual engine with the fewest unfinished requests, the lowest index of equals', () => {
    // 2 engines; A (long) at 0 -> VE0; B (1 token) at 0 -> VE1; C at 0 -> VE0 (1 vs 1); B finishes;
    // D at 0.5 -> VE1 (VE0 still holds A and C).
    const pipe = linearPipeline([16, 16], 0.01, 0.001, 0, 0);
    const res = runPipeline(makeTrace([0, 0, 0, 0.5], [1, 1, 1, 1], [200, 1, 200, 5]), pipe);
    expect(Array.from(res.requests.virtualEngine)).toEqual([0, 1, 0, 1]);
  });

  it("the stage-to-stage send is within Vidur's send_recv measurements (A100 and H100 DGX, 2 KiB to 64 MiB)", () => {
    // Vidur's single-node point-to-point medians (ms) against latency + bytes / (0.8 × NVLink):
    // at most 30 µs off at any size, and within 5% in the median over the messages of 1 MiB and up.
    const dir = NETWORK;
    for (const [topology, gpu] of [['a100_dgx', 'a100-80gb'], ['h100_dgx', 'h100-80gb']] as const) {
      const lines = fs.readFileSync(path.join(dir, topology, 'send_recv.csv'), 'utf8').trim().split('\n');
      const head = lines[0].split(',');
      const [cSize, cMedian, cDevices] = ['size', 'time_stats.send_recv.median', 'devices_per_node'].map((c) => head.indexOf(c));
      const link = sendLink(getGpu(gpu));
      const rel: number[] = [];
      let rows = 0;
      for (const line of lines.slice(1)) {
        const f = line.split(',');
        if (f[cDevices] !== '2') continue;
        rows++;
        const bytes = Number(f[cSize]);
        const measured = Number(f[cMedian]) / 1000;
        const predicted = sendTime(bytes / (4096 * 2), 4096, link);
        expect(Math.abs(predicted - measured), `${topology} ${bytes} bytes`).toBeLessThan(30e-6);
        if (bytes >= 2 ** 20) rel.push(predicted / measured - 1);
      }
      expect(rows).toBeGreaterThan(900);
      rel.sort((a, b) => a - b);
      expect(Math.abs(rel[Math.floor(rel.length / 2)]), topology).toBeLessThan(0.05);
    }
    expect(SEND_DEFAULTS).toEqual({ latency_s: 6e-6, efficiency: 0.8 });
    expect(sendTime(0, 4096, sendLink(getGpu('a100-80gb')))).toBe(0);
  });

  it('each stage takes its layers\' share of the whole iteration plus the send (none on the last stage)', () => {
    const pipe = linearPipeline([11, 11, 10], 0.032, 0, 0.001, 0.0001);
    expect(pipe.stageTime(0, 0.032, 5)).toBeCloseTo(0.011 + 0.0015, 15);
    expect(pipe.stageTime(1, 0.032, 5)).toBeCloseTo(0.011 + 0.0015, 15);
    expect(pipe.stageTime(2, 0.032, 5)).toBeCloseTo(0.010, 15);
    expect(pipe.name).toBe('pipeline(linear(base=0.032, prefill=0, decode=0, kv=0), pp=3, layers=11/11/10)');
  });
});

describe('pipeline parallelism, KV capacity per stage', () => {
  const a100 = getGpu('a100-80gb');
  const common = { gpuMemoryUtilization: 0.9, blockSize: 16, maxNumBatchedTokens: 4096, maxNumSeqs: 256 };

  it('Llama-2-70B, tp 2 x pp 2 on A100-80GB, by hand from config.json', () => {
    // config.json: 80 layers, hidden 8192, 64 heads, 8 KV heads of 128, intermediate 28672,
    // vocab 32000, untied. Per GPU at tp 2: q = 32·128 = 4096, kv = 4·128 = 512, i = 14336.
    const m = getModel('llama-2-70b');
    expect(m).toMatchObject({ layers: 80, hidden: 8192, heads: 64, kvHeads: 8, headDim: 128, intermediate: 28672, vocab: 32000 });
    const h = 8192;
    const perLayer = h * (4096 + 2 * 512) + 4096 * h + 3 * h * 14336 + 2 * h; // 427,835,392 elements
    expect(perLayer).toBe(427_835_392);
    const vocabRows = 16000 * h;
    // Stage 0: 40 layers + embedding; stage 1: 40 layers + final norm + LM head (2 bytes each).
    const w0 = (40 * perLayer + vocabRows) * 2;
    const w1 = (40 * perLayer + h + vocabRows) * 2;
    expect(stageWeightBytes(m, 2, 2, 0)).toBe(w0);
    expect(stageWeightBytes(m, 2, 2, 1)).toBe(w1);
    expect(w0 + w1).toBe(weightBytes(m, 2)); // the two stages hold the tp-2 replica's weights once
    // KV per token per GPU: 40 layers x 4 KV heads x 128 x 2 (K, V) x 2 bytes = 80 KiB.
    expect(kvBytesPerToken(m, 2, 40)).toBe(40 * 4 * 128 * 2 * 2);
    // Activations: forward 2 x 4096 x (2h + max(2q + 2kv, 3i)) on both; the sampler 4 x 256 x 32000 x 3 on the last only.
    const forward = 2 * 4096 * (2 * h + 3 * 14336);
    const sampler = 4 * 256 * 32000 * 3;
    const budget = 80 * GiB * 0.9;
    const b0 = Math.floor((budget - w0 - forward) / (16 * 81920));
    const b1 = Math.floor((budget - w1 - forward - sampler) / (16 * 81920));
    const cap = kvCapacity({ model: m, gpu: a100, tp: 2, pp: 2, ...common });
    expect(cap.stageBlocks).toEqual([b0, b1]);
    expect(cap.blocks).toBe(Math.min(b0, b1));
    expect(cap).toMatchObject({ stage: 1, tokens: b1 * 16, kvBytesPerToken: 81920, weightBytes: w1, activationBytes: forward + sampler });
    // Half the layers per GPU: more than twice the tokens of tp 2 alone (the weights are halved too).
    const tp2 = kvCapacity({ model: m, gpu: a100, tp: 2, ...common });
    expect(cap.tokens).toBeGreaterThan(2 * tp2.tokens);
    // pp 1 is the old computation.
    expect(kvCapacity({ model: m, gpu: a100, tp: 2, pp: 1, ...common })).toEqual(tp2);
    expect(stageWeightBytes(m, 2, 1, 0)).toBe(weightBytes(m, 2));
  });

  it('a stage that cannot hold its layers is refused naming the stage; the swap space follows the stage with the most layers', () => {
    const m = getModel('llama-2-70b');
    const e = inputError(() => kvCapacity({ model: m, gpu: getGpu('a10g'), tp: 1, pp: 2, ...common }));
    expect(e.field).toBe('--gpu');
    expect(e.message).toMatch(/tp=1, pp=2 does not fit on GPU a10g: stage 0 \(40 layers\)/);
    // 80 layers on 3 stages: 27/27/26; 4 GiB per GPU holds 4 GiB / (16 x 27 layers x 8 x 128 x 2 x 2) blocks.
    expect(swapBlocks(m, 1, 4, 16, 3)).toBe(Math.floor((4 * GiB) / (16 * 27 * 8 * 128 * 4)));
    expect(swapBlocks(m, 1, 4, 16, 1)).toBe(swapBlocks(m, 1, 4, 16));
  });

  it('each virtual engine gets 1/pp of the blocks (vLLM num_gpu_blocks //= pp): a request that fits the replica but not one engine is rejected', () => {
    // --kv-tokens 1000 --block-size 16: 62 blocks, 31 per engine, watermark 0 (1% of 31).
    const run = buildRun(normalizeOptions({ synthetic: 'poisson', pp: 2, 'kv-tokens': 1000, 'cost-model': 'linear:base=0.01' }), makeTrace([0, 0], [400, 700], [10, 10]));
    expect(run.engine.kvBlocks).toBe(31);
    expect(run.kvTokens).toBe(62 * 16);
    expect(run.policies.length).toBe(2);
    const res = simulate({ trace: run.trace, policy: run.policies, cost: run.cost, pipeline: run.pipeline, engine: run.engine, router: run.router });
    // 400 + 9 tokens: 26 blocks, fits 31; 700 + 9: 45 blocks, never fits one engine's 31.
    expect(res.requests.state[0]).toBe(FINISHED);
    expect(res.requests.state[1]).toBe(REJECTED);
    expect(res.stats.rejectedKv).toBe(1);
    expect(inputError(() => buildRun(normalizeOptions({ synthetic: 'poisson', pp: 2, 'kv-tokens': 16 }), makeTrace([0], [1], [1]))).field).toBe('--kv-tokens');
  });
});

/** Options of the property tests' runs (the CLI's builders; llama-2-7b's 32 layers and the A100 link). */
function pipelineOptions(pp: number, extra: Partial<RunOptions>): Partial<RunOptions> {
  return { synthetic: 'poisson', pp, 'cost-model': 'linear:base=0.004,prefill=0.00002,decode=0.0003', ...extra };
}

/**
 * Every record's exit time recomputed from the records alone by the pipeline algebra (an
 * independent max-plus recurrence over the replica's micro-batches in the order they were
 * formed): out_k(m) = max(out_{k−1}(m), out_k(previous m)) + stage time. Returns the mismatches.
 */
function algebraMismatches(records: readonly IterationRecord[], layers: readonly number[], link: { latency_s: number; bandwidth: number }, c: { base: number; prefill: number; decode: number }): string[] {
  const L = layers.reduce((a, b) => a + b, 0);
  const free = new Map<number, number[]>();
  const out: string[] = [];
  for (const r of records) {
    const f = free.get(r.replica) ?? layers.map(() => -Infinity);
    free.set(r.replica, f);
    const tokens = r.prefillTokens + r.decodeSeqs;
    const whole = c.base + c.prefill * r.prefillTokens + c.decode * r.decodeSeqs;
    let t = r.start;
    for (let k = 0; k < layers.length; k++) {
      const send = k < layers.length - 1 ? link.latency_s + (tokens * 4096 * 2) / link.bandwidth : 0;
      t = Math.max(t, f[k]) + (whole * layers[k]) / L + send;
      f[k] = t;
    }
    if (Math.abs(t - r.end) > 1e-9 * Math.max(1, t) && out.length < 5) out.push(`replica ${r.replica} engine ${r.virtualEngine} formed at ${r.start}: out at ${r.end}, algebra ${t}`);
  }
  return out;
}

describe('pipeline parallelism, properties (pp 2 and 3)', () => {
  it('random workloads: invariants, skip-ahead on = off, determinism, exit times by the pipeline algebra', () => {
    const rows = fc.array(
      fc.record({ gap: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.2, noNaN: true })), prompt: fc.integer({ min: 1, max: 300 }), output: fc.integer({ min: 1, max: 60 }) }),
      { minLength: 1, maxLength: 40 },
    );
    const settings = fc.record({
      pp: fc.constantFrom(2, 3),
      replicas: fc.constantFrom(1, 1, 2),
      'chunked-prefill': fc.boolean(),
      'max-num-seqs': fc.integer({ min: 1, max: 6 }),
      'kv-tokens': fc.integer({ min: 1500, max: 6000 }),
      'block-size': fc.constantFrom(1, 16),
      'prefix-caching': fc.constantFrom('on', 'off'),
      policy: fc.constantFrom('fcfs', 'ltr', 'mlfq', 'srpt'),
    });
    fc.assert(
      fc.property(rows, settings, (rs, { pp, policy, ...engine }) => {
        let t = 0;
        const trace = makeTrace(rs.map((r) => (t += r.gap) - rs[0].gap), rs.map((r) => r.prompt), rs.map((r) => r.output));
        const opts = normalizeOptions(pipelineOptions(pp, { ...engine, policy, 'max-num-batched-tokens': Math.max(engine['max-num-seqs'], 256), router: 'least-requests' }));
        const exec = (skipAhead: boolean) => {
          const run = buildRun(opts, trace);
          const records: IterationRecord[] = [];
          const result = simulate({ trace, policy: run.policies, router: run.router, cost: run.cost, pipeline: run.pipeline, engine: { ...run.engine, skipAhead }, observer: (r) => records.push(r) });
          return { run, records, result };
        };
        const on = exec(true);
        const off = exec(false);
        const label = JSON.stringify({ pp, policy, ...engine });
        expect(runDifferences(on.result, off.result).join('\n'), `${label}: skip-ahead on vs off`).toBe('');
        expect(engineViolations(on.result, on.records, on.run.engine).join('\n'), `${label}: invariants (skip-ahead on)`).toBe('');
        expect(engineViolations(off.result, off.records, off.run.engine).join('\n'), `${label}: invariants (skip-ahead off)`).toBe('');
        expect(runDifferences(on.result, exec(true).result, true).join('\n'), `${label}: same run twice`).toBe('');
        // Under FCFS no policy adds server time and nothing is swapped: every exit time is the algebra's.
        if (policy === 'fcfs') {
          const pipe = off.run.pipeline!;
          expect(pipe.layers).toEqual(stageLayers(32, pp));
          const mism = algebraMismatches(off.records, pipe.layers, sendLink(getGpu('a100-80gb')), { base: 0.004, prefill: 0.00002, decode: 0.0003 });
          expect(mism.join('\n'), `${label}: exit times`).toBe('');
        }
        // Every request on a virtual engine of its replica in range; records name only those.
        for (let i = 0; i < trace.n; i++) if (on.result.requests.replica[i] >= 0) expect(on.result.requests.virtualEngine[i]).toBeLessThan(pp);
        expect(on.records.every((r) => r.virtualEngine < pp)).toBe(true);
      }),
      { numRuns: 60, seed: 11 },
    );
  }, 120_000);

  it('skip-ahead still bundles while a replica runs a single micro-batch', () => {
    // One long request: the other engine is idle, so its decode steps are bundled, exactly.
    const trace = makeTrace([0], [100], [300]);
    const opts = normalizeOptions(pipelineOptions(2, {}));
    const run = buildRun(opts, trace);
    const records: IterationRecord[] = [];
    const on = simulate({ trace, policy: run.policies, cost: run.cost, pipeline: run.pipeline, engine: run.engine, observer: (r) => records.push(r) });
    const off = simulate({ trace, policy: buildRun(opts, trace).policies, cost: run.cost, pipeline: run.pipeline, engine: { ...run.engine, skipAhead: false } });
    expect(runDifferences(on, off).join('\n')).toBe('');
    expect(records.length).toBeLessThan(10);
    expect(on.stats.iterations).toBe(300);
  });
});

describe('pipeline parallelism, the CLI', () => {
  it('--pp 2 runs, says so in the header and config, and --pp 1 is the run without it', async () => {
    const trace = CONV;
    const two = await runSim('--trace', trace, '--limit', '200', '--model', 'llama-2-70b', '--tp', '2', '--pp', '2');
    expect(two.code, two.err).toBe(0);
    expect(two.out).toMatch(/model llama-2-70b on 4x a100-80gb \(tp 2 x pp 2\) \| cost pipeline\(profile\(llama-2-70b-vidur-a100-tp2.json, llama-2-70b, tp=2\), pp=2, layers=40\/40\)/);
    expect(two.out).toMatch(/KV cache 2 x \d+ blocks x 16 tokens = \d+ tokens \| max 256 seqs per micro-batch, 2 in flight/);
    const plain = await runSim('--trace', trace, '--limit', '200', '--json');
    const one = await runSim('--trace', trace, '--limit', '200', '--json', '--pp', '1');
    const strip = (s: string) => s.replace(/"wall_s":[0-9.e-]+/, '');
    expect(strip(one.out)).toBe(strip(plain.out));
    const bad = await runSim('--trace', trace, '--pp', '40');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--pp.*40 stages for a model of 32 layers/);
  }, 60_000);
});
