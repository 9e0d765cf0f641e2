/**
 * The `llumnix` router's freeness on a real engine, against the code's dispatch load worked by
 * hand (AlibabaPAI/llumnix e4048ac8 `instance_info.py` `DispatchAndScalingLoadComputation`,
 * `remaining_steps`): (free blocks − watermark − Σ waiting (prompt + generated) / block size) /
 * (running + waiting), and an empty replica freest. Blocks of 4 tokens, 20 blocks, watermark 1.
 */
import { describe, it, expect } from 'vitest';
import { Engine } from '../sim/engine.ts';
import { RequestTable } from '../sim/requests.ts';
import { LinearCostModel } from '../sim/cost/linear.ts';
import { Fcfs } from '../policies/fcfs.ts';
import { engineConfig, makeTrace } from './helpers.ts';

describe('llumnix dispatch freeness', () => {
  it('counts every waiting request, fractionally, over running + waiting requests', () => {
    // Requests: 0 (prompt 10) runs; 1 (prompt 6) and 2 (prompt 9) wait behind a batch of one.
    const cfg = engineConfig({ blockSize: 4, kvBlocks: 20, watermarkBlocks: 1, maxNumSeqs: 1, skipAhead: false });
    const R = new RequestTable(makeTrace([0, 0, 0], [10, 6, 9], [5, 5, 5]));
    const e = new Engine(cfg, R, new Fcfs(), new LinearCostModel({ base: 0, prefill: 0.1, decode: 1, kv: 0 }));
    expect(e.freeness).toBe(Infinity);
    expect(e.freenessRequests).toBe(0);
    for (const id of [0, 1, 2]) e.arrive(id, 0);
    // Nothing admitted yet: 20 free − 1 watermark − (10 + 6 + 9) / 4 = 12.75 over 3 waiting.
    expect(e.freeness).toBeCloseTo(12.75 / 3, 12);
    e.finish(e.start(0, Infinity));
    // Request 0 prefilled (10 tokens: 3 blocks) and sampled its first token; 1 and 2 wait:
    // (20 − 3 − 1 − (6 + 9) / 4) / (1 running + 2 waiting) = 12.25 / 3.
    expect(e.freenessRequests).toBe(3);
    expect(e.freeness).toBeCloseTo(12.25 / 3, 12);
  });
});
