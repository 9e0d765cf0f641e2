/**
 * Fuzzing the bad-input contract (docs/output.md "Errors and exit codes"): malformed CSV and JSONL
 * trace rows and random option values never crash `sim`, never leak NaN or Infinity into the
 * output, and never get an internal error. Every run either succeeds (exit 0, a summary with
 * finite numbers) or is refused with exit 2 and one line `sim: ...` naming the file and line (for
 * a trace) or the option.
 */
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runSim } from './helpers.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-fuzz-'));
let seq = 0;
const tmpFile = (ext: string) => path.join(dir, `t${seq++}${ext}`);

/** A field as a hand-edited or corrupted trace may hold it. */
const field = fc.oneof(
  fc.integer({ min: -5, max: 5000 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.constantFrom('', ' ', '0x10', '0b11', '0o7', '1_000', '1e400', '-1e400', 'Infinity', '-0', 'NaN', '1e308', '-1e308', 'null', 'true', '"', '""', '12abc', '٣', '\t7', '1,5', '2147483648'),
  fc.string({ maxLength: 6 }),
);

/** Checks the contract on one outcome; `names` are texts the error line must contain (any one of them). */
function checkOutcome(r: { code: number; out: string; err: string }, names: string[]): void {
  const detail = `exit ${r.code}\nstdout: ${r.out.slice(0, 300)}\nstderr: ${r.err.slice(0, 500)}`;
  expect([0, 2], detail).toContain(r.code);
  expect(r.err, detail).not.toMatch(/internal error|\n\s+at |TypeError|RangeError/);
  if (r.code === 0) {
    const s = JSON.parse(r.out);
    expect(r.out, detail).not.toMatch(/NaN|Infinity/);
    expect(s.requests.completed + s.requests.rejected, detail).toBe(s.requests.total);
    expect(Number.isFinite(s.makespan_s), detail).toBe(true);
  } else {
    expect(r.out, detail).toBe('');
    const lines = r.err.trimEnd().split('\n');
    expect(lines, detail).toHaveLength(1);
    expect(lines[0].startsWith('sim: '), detail).toBe(true);
    expect(names.some((n) => lines[0].includes(n)), detail).toBe(true);
  }
}

describe('bad-input fuzzing (fast-check)', () => {
  it('generic CSV rows with arbitrary fields: a summary of finite numbers, or one line naming the file and line', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(field, field, field), { minLength: 1, maxLength: 6 }), async (rows) => {
        const f = tmpFile('.csv');
        const sorted = rows.map((r) => r.map((x) => (/[",\n\r]/.test(x) ? `"${x.replace(/"/g, '""')}"` : x)).join(','));
        fs.writeFileSync(f, ['arrival_s,prompt_tokens,output_tokens', ...sorted].join('\n') + '\n');
        const r = await runSim('--trace', f, '--json');
        checkOutcome(r, [`${f}:`]);
      }),
      { numRuns: 120, seed: 42 },
    );
  }, 120_000);

  it('Mooncake JSONL lines with arbitrary values: a summary, or one line naming the file and line', async () => {
    const value = fc.oneof(field, fc.integer({ min: -3, max: 4000 }), fc.double(), fc.constant(null), fc.boolean(), fc.array(fc.integer({ min: -1, max: 9 }), { maxLength: 3 }));
    const line = fc.record({ timestamp: value, input_length: value, output_length: value, hash_ids: value }, { requiredKeys: [] });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(line.map((o) => JSON.stringify(o)), fc.string({ maxLength: 12 })), { minLength: 1, maxLength: 5 }), async (lines) => {
        const f = tmpFile('.jsonl');
        fs.writeFileSync(f, lines.join('\n') + '\n');
        const r = await runSim('--trace', f, '--json');
        checkOutcome(r, [`${f}:`, `${f}: `]);
      }),
      { numRuns: 120, seed: 7 },
    );
  }, 120_000);

  it('random values for run options: a summary, or one line naming the option', async () => {
    const trace = tmpFile('.csv');
    fs.writeFileSync(trace, 'arrival_s,prompt_tokens,output_tokens\n0,100,20\n0.5,200,10\n1.25,50,5\n');
    const flags = [
      'policy', 'predictor', 'format', 'rate', 'rate-scale', 'limit', 'start', 'duration', 'model', 'gpu', 'tp', 'pp', 'cost-model',
      'max-num-seqs', 'max-num-batched-tokens', 'block-size', 'gpu-memory-utilization', 'kv-tokens', 'preemption', 'swap-space',
      'slo-ttft', 'slo-tpot', 'slo-e2e', 'vidur-max-tokens', 'seed', 'replicas', 'router', 'policy-opt', 'router-opt',
    ];
    const value = fc.oneof(field, fc.constantFrom('1', '2', '16', '64', '512', '0.5', '1e9', 'fcfs', 'unlimited', 'linear:base=0.01', 'c=0.5'));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom(...flags), value), { minLength: 1, maxLength: 3 }), async (pairs) => {
        const args = pairs.flatMap(([k, v]) => [`--${k}`, v]);
        const r = await runSim('--trace', trace, '--json', ...args);
        const given = [...new Set(pairs.map(([k]) => `--${k}`))];
        // A bad value names its flag; a combination may name the flag it conflicts with.
        checkOutcome(r, [...given, '--max-num-batched-tokens', '--max-num-seqs', '--block-size', '--kv-tokens', '--gpu', '--tp', '--pp', '--predictor', '--replicas', '--policy-opt', '--router-opt']);
      }),
      { numRuns: 150, seed: 3 },
    );
  }, 120_000);
});
