/**
 * Disaggregated prefill and decode (sim/disaggregation.ts, docs/disaggregation.md): hand-worked
 * timelines with the linear cost model (0.1 s per prefill token, 1 s per decoding sequence) and a
 * transfer of 100 bytes per token at 1000 bytes/s plus 0.05 s; then invariants and skip-ahead
 * equality on random workloads.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { simulate } from '../sim/simulator.ts';
import type { SimulationResult } from '../sim/simulator.ts';
import type { ReplicaLoad } from '../sim/router.ts';
import type { RequestTable } from '../sim/requests.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { Las } from '../policies/las.ts';
import { getRouter } from '../policies/routers.ts';
import { FINISHED, REJECTED } from '../sim/requests.ts';
import type { IterationRecord, EngineConfig } from '../sim/engine-types.ts';
import type { Trace } from '../sim/trace.ts';
import type { Policy } from '../sim/policy.ts';
import seedrandom from 'seedrandom';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { engineConfig, expectSameRun, makeTrace, withSegments, runSim } from './helpers.ts';

const cost = () => new LinearCostModel({ base: 0, prefill: 0.1, decode: 1, kv: 0 });

interface Setup {
  prefill: number;
  decode: number;
  prefillCfg?: Partial<EngineConfig>;
  decodeCfg?: Partial<EngineConfig>;
  policy?: () => Policy;
  router?: string;
  skipAhead?: boolean;
  records?: IterationRecord[];
}

function run(trace: Trace, o: Setup): SimulationResult {
  const policy = o.policy ?? (() => new Fcfs());
  const skipAhead = o.skipAhead ?? false;
  const router = (name: string) => (replicas: readonly ReplicaLoad[], requests: RequestTable) => getRouter(name).create({})({ replicas, requests, random: seedrandom.alea('r') });
  return simulate({
    trace,
    policy: Array.from({ length: o.prefill }, policy),
    router: router(o.router ?? 'round-robin'),
    cost: cost(),
    engine: engineConfig({ blockSize: 4, skipAhead, ...o.prefillCfg }),
    disaggregation: {
      decodePolicy: Array.from({ length: o.decode }, policy),
      decodeEngine: engineConfig({ blockSize: 4, skipAhead, ...o.decodeCfg }),
      decodeCost: cost(),
      decodeRouter: router(o.router ?? 'round-robin'),
      transferBytes: (tokens) => 100 * tokens,
      transferSeconds: (bytes) => 0.05 + bytes / 1000,
    },
    observer: o.records ? (r) => o.records!.push(r) : undefined,
  });
}

describe('disaggregated prefill and decode', () => {
  it('one request: TTFT = queue + prefill on the prefill replica; decode starts after the transfer, on the decode replica', () => {
    // Prompt 10, output 4, arrives at 0. Prefill 10 × 0.1 = 1.0 s: first token at 1.0 (TTFT 1.0,
    // queue 0, prefill 1.0). Transfer of 10 tokens' KV: 0.05 + 1000/1000 = 1.05 s, 1.0 -> 2.05.
    // Three decodes of 1 s on the decode replica: 3.05, 4.05, 5.05.
    const res = run(makeTrace([0], [10], [4]), { prefill: 1, decode: 1 });
    const R = res.requests;
    expect(R.state[0]).toBe(FINISHED);
    expect(R.firstScheduled[0]).toBe(0);
    expect(R.firstToken[0]).toBeCloseTo(1.0, 12);
    expect(R.transferStart[0]).toBeCloseTo(1.0, 12);
    expect(R.transferEnd[0]).toBeCloseTo(2.05, 12);
    expect(R.completion[0]).toBeCloseTo(5.05, 12);
    expect([R.prefillReplica[0], R.replica[0]]).toEqual([0, 1]);
    // Prefill replica: one prefill iteration; decode replica: three decodes.
    expect(res.replicas.map((s) => s.iterations)).toEqual([1, 3]);
    expect(res.replicas.map((s) => [s.movedOut, s.movedIn])).toEqual([
      [1, 0],
      [0, 1],
    ]);
    expect(res.pools).toEqual({ prefill: 1, decode: 1, transfers: 1, bytes: 1000 });
  });

  it('decode admission limited by the KV it can reserve: the request waits frozen on its prefill replica', () => {
    // Blocks of 4; the decode replica has 4 blocks, no watermark. A (prompt 10, output 4) as above
    // holds 3 blocks there from 1.0 (reserved, then adopted at 2.05), 4 from its last decode.
    // B (prompt 6, output 3) arrives at 0.5, prefills 1.0 -> 1.6 (queue 0.5, prefill 0.6), needs
    // ⌈7/4⌉ = 2 blocks: 1 free, so it waits on the prefill replica until A completes at 5.05; its
    // transfer takes 0.05 + 0.6 = 0.65 s -> 5.70; decodes at 6.70, 7.70.
    const res = run(makeTrace([0, 0.5], [10, 6], [4, 3]), { prefill: 1, decode: 1, decodeCfg: { kvBlocks: 4, watermarkBlocks: 0 } });
    const R = res.requests;
    expect(R.completion[0]).toBeCloseTo(5.05, 12);
    expect(R.firstScheduled[1]).toBeCloseTo(1.0, 12);
    expect(R.firstToken[1]).toBeCloseTo(1.6, 12);
    expect(R.transferStart[1]).toBeCloseTo(5.05, 12);
    expect(R.transferEnd[1]).toBeCloseTo(5.7, 12);
    expect(R.completion[1]).toBeCloseTo(7.7, 12);
    expect(res.replicas[1].kvMaxBlocks).toBe(4);
  });

  it('two requests share a decode batch once both have arrived', () => {
    // B (prompt 6, output 3) at 0.5: prefill 1.0 -> 1.6, transfer 0.65 -> 2.25, while A decodes
    // 2.05 -> 3.05; both decode 3.05 -> 5.05 (2 s), 5.05 -> 7.05: A's 4th and B's 3rd token.
    const res = run(makeTrace([0, 0.5], [10, 6], [4, 3]), { prefill: 1, decode: 1 });
    const R = res.requests;
    expect(R.transferEnd[1]).toBeCloseTo(2.25, 12);
    expect(R.completion[0]).toBeCloseTo(7.05, 12);
    expect(R.completion[1]).toBeCloseTo(7.05, 12);
    expect(res.replicas[1].iterations).toBe(3);
  });

  it('a one-token output completes on its prefill replica; a request that can never fit a decode replica is rejected', () => {
    // Decode replica: 3 blocks. C (prompt 8, output 1) never moves. D (prompt 10, output 4) needs
    // ⌈13/4⌉ = 4 blocks to finish there: rejected (kv) although its prompt fits the prefill replica.
    const res = run(makeTrace([0, 0], [8, 10], [1, 4]), { prefill: 1, decode: 1, decodeCfg: { kvBlocks: 3, watermarkBlocks: 0 }, prefillCfg: { kvBlocks: 3, watermarkBlocks: 0 } });
    const R = res.requests;
    expect(R.state[0]).toBe(FINISHED);
    expect(R.completion[0]).toBeCloseTo(0.8, 12);
    expect(R.replica[0]).toBe(0);
    expect(R.transferStart[0]).toBe(-1);
    expect(R.state[1]).toBe(REJECTED);
    expect(res.stats.rejectedKv).toBe(1);
    expect(res.pools!.transfers).toBe(0);
  });

  it(
    'random workloads: no request lost or duplicated, KV within capacity on both sides, skip-ahead = stepping',
    () => {
      fc.assert(
        fc.property(
          fc.record({
            n: fc.integer({ min: 1, max: 40 }),
            seed: fc.integer(),
            prefill: fc.integer({ min: 1, max: 3 }),
            decode: fc.integer({ min: 1, max: 3 }),
            kvP: fc.integer({ min: 8, max: 40 }),
            kvD: fc.integer({ min: 8, max: 40 }),
            chunked: fc.boolean(),
            rank: fc.boolean(),
            router: fc.constantFrom('round-robin', 'least-requests', 'least-tokens', 'llumnix', 'prefix-affinity'),
            caching: fc.boolean(),
          }),
          (c) => {
            const rng = seedrandom.alea(String(c.seed));
            const arrival: number[] = [];
            const prompt: number[] = [];
            const output: number[] = [];
            let t = 0;
            for (let i = 0; i < c.n; i++) {
              t += rng() * 2;
              arrival.push(t);
              prompt.push(1 + Math.floor(rng() * 40));
              output.push(1 + Math.floor(rng() * 30));
            }
            // With prefix caching, prompts open with one of 3 shared contents of up to 24 tokens.
            const shared = prompt.map((p): [number, number][] => [[Math.floor(rng() * 3), Math.min(p, 8 * (1 + Math.floor(rng() * 3)))]]);
            const trace = c.caching ? withSegments(makeTrace(arrival, prompt, output), shared) : makeTrace(arrival, prompt, output);
            const chunk = c.chunked ? { chunkedPrefill: true, maxNumBatchedTokens: 16 } : {};
            const setup = (skipAhead: boolean, records?: IterationRecord[]): Setup => ({
              prefill: c.prefill,
              decode: c.decode,
              prefillCfg: { kvBlocks: c.kvP, watermarkBlocks: 1, maxNumSeqs: 8, prefixCaching: c.caching, ...chunk },
              decodeCfg: { kvBlocks: c.kvD, watermarkBlocks: 1, maxNumSeqs: 8, prefixCaching: c.caching },
              policy: c.rank ? () => new Las() : () => new Fcfs(),
              router: c.router,
              skipAhead,
              records,
            });
            const records: IterationRecord[] = [];
            const stepped = run(trace, setup(false, records));
            const R = stepped.requests;
            let moved = 0;
            for (let i = 0; i < c.n; i++) {
              const st = R.state[i];
              expect(st === FINISHED || st === REJECTED, `request ${i}`).toBe(true);
              if (st !== FINISHED) continue;
              expect(R.generated[i]).toBe(output[i]);
              expect(R.blocks[i]).toBe(0);
              expect(R.reserved[i]).toBe(0);
              expect(R.prefillReplica[i]).toBeGreaterThanOrEqual(0);
              expect(R.prefillReplica[i]).toBeLessThan(c.prefill);
              if (output[i] > 1) {
                moved++;
                expect(R.replica[i]).toBeGreaterThanOrEqual(c.prefill);
                expect(R.replica[i]).toBeLessThan(c.prefill + c.decode);
                expect(R.transferStart[i]).toBeGreaterThanOrEqual(R.firstToken[i]);
                expect(R.transferEnd[i]).toBeCloseTo(R.transferStart[i] + 0.05 + (100 * prompt[i]) / 1000, 9);
                expect(R.completion[i]).toBeGreaterThan(R.transferEnd[i]);
              } else expect(R.replica[i]).toBe(R.prefillReplica[i]);
            }
            // Each moved request left one prefill replica and joined one decode replica, once.
            const out = stepped.replicas.reduce((a, s) => a + s.movedOut, 0);
            const inn = stepped.replicas.reduce((a, s) => a + s.movedIn, 0);
            expect([out, inn, stepped.pools!.transfers]).toEqual([moved, moved, moved]);
            for (const r of records) expect(r.kvBlocksUsed).toBeLessThanOrEqual(r.kvBlocks);
            // Prefill replicas only prefill: no iteration there decodes.
            for (const r of records) if (r.replica < c.prefill) expect(r.decodeSeqs).toBe(0);
            expectSameRun(run(trace, setup(true)), stepped);
          },
        ),
        { numRuns: 100, seed: 3 },
      );
    },
    60_000,
  );
});

describe('sim run with --prefill-replicas and --decode-replicas', () => {
  it(
    'writes the pools, the TTFT split and the transfers; TTFT = queue + prefill per request; config.json replays',
    async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'disagg-'));
      const args = ['--trace', 'traces/azure-conv-2000.csv', '--limit', '60', '--max-model-len', '4096', '--prefill-replicas', '1', '--decode-replicas', '2', '--decode-router', 'least-requests', '--link', 'roce-100g', '--link-latency', '0.001'];
      const r = await runSim(...args, '--out', dir, '--json');
      expect(r.code).toBe(0);
      const summary = JSON.parse(fs.readFileSync(path.join(dir, 'summary.json'), 'utf8'));
      const d = summary.disaggregation;
      expect([d.prefill_replicas, d.decode_replicas]).toEqual([1, 2]);
      const rows = fs.readFileSync(path.join(dir, 'requests.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
      const col = (name: string) => rows[0].indexOf(name);
      let moved = 0;
      let bytes = 0;
      for (const row of rows.slice(1)) {
        if (row[col('status')] !== 'completed') continue;
        const ttft = Number(row[col('ttft_s')]);
        expect(Number(row[col('queue_delay_s')]) + Number(row[col('prefill_s')])).toBeCloseTo(ttft, 9);
        expect(row[col('prefill_replica')]).toBe('0');
        if (Number(row[col('output_tokens')]) > 1) {
          moved++;
          // llama-2-7b at tp 1: 2 × 32 layers × 32 heads × 128 × 2 bytes = 524,288 bytes per token; RoCE 100 Gb/s = 12.5 GB/s.
          const prompt = Number(row[col('prompt_tokens')]);
          bytes += prompt * 524288;
          expect(Number(row[col('transfer_s')])).toBeCloseTo(0.001 + (prompt * 524288) / 12.5e9, 9);
          expect(['1', '2']).toContain(row[col('replica')]);
        }
      }
      expect(d.transfers).toBe(moved);
      expect(d.bytes_per_link).toBe(bytes);
      const replicas = fs.readFileSync(path.join(dir, 'replicas.csv'), 'utf8').trim().split('\n');
      expect(replicas[0].endsWith(',pool')).toBe(true);
      expect(replicas.slice(1).map((l) => l.split(',').at(-1))).toEqual(['prefill', 'decode', 'decode']);
      const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'));
      expect([config['prefill-replicas'], config['decode-replicas'], config['decode-router'], config.link]).toEqual([1, 2, 'least-requests', 'roce-100g']);
      const again = await runSim('--config', path.join(dir, 'config.json'), '--json');
      expect(JSON.parse(again.out).disaggregation).toEqual(d);
    },
    60_000,
  );

  it('refuses incomplete or contradictory options with a one-line error', async () => {
    const base = ['--trace', 'traces/azure-conv-2000.csv', '--limit', '5'];
    for (const [extra, field] of [
      [['--decode-replicas', '2'], '--prefill-replicas'],
      [['--decode-tp', '2'], '--decode-tp'],
      [['--prefill-replicas', '1', '--decode-replicas', '1', '--replicas', '2'], '--replicas'],
      [['--prefill-replicas', '1', '--decode-replicas', '1', '--pp', '2', '--model', 'llama-2-13b'], '--pp'],
      [['--prefill-replicas', '1', '--decode-replicas', '1', '--link', 'carrier-pigeon'], '--link'],
      [['--prefill-replicas', '1', '--decode-replicas', '1', '--decode-tp', '3', '--model', 'llama-2-70b'], '--decode-tp'],
    ] as const) {
      const r = await runSim(...base, ...extra);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toContain(`${field}:`);
    }
  });
});
