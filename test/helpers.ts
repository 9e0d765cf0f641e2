/**
 * Test helpers: build traces and engine settings directly, independent of the trace readers and
 * the CLI, so engine tests check the engine alone.
 */
import seedrandom from 'seedrandom';
import { expect } from 'vitest';
import { Writable } from 'node:stream';
import { InputError } from '../sim/errors.ts';
import { main } from '../sim/cli.ts';
import type { Trace } from '../traces/trace.ts';
import type { EngineConfig } from '../sim/engine.ts';

/** A trace from plain arrays (arrivals must be sorted). */
export function makeTrace(arrival: number[], prompt: number[], output: number[]): Trace {
  return {
    source: 'test',
    format: 'generic',
    n: arrival.length,
    arrival_s: Float64Array.from(arrival),
    prompt_tokens: Int32Array.from(prompt),
    output_tokens: Int32Array.from(output),
    extra: {},
    skipped: {},
    warnings: [],
  };
}

/** Engine settings for tests: unlimited unless overridden. */
export function engineConfig(over: Partial<EngineConfig> = {}): EngineConfig {
  return {
    maxNumSeqs: Number.MAX_SAFE_INTEGER,
    maxNumBatchedTokens: Number.MAX_SAFE_INTEGER,
    blockSize: 16,
    kvBlocks: 2 ** 40,
    watermarkBlocks: 0,
    chunkedPrefill: false,
    preemption: 'recompute',
    swapBlocks: 0,
    blockBytes: 1,
    pcieBandwidth: 1,
    skipAhead: true,
    ...over,
  };
}

/**
 * Poisson arrivals at rate `lambda` with output lengths 1 + K, K ~ Geometric(p) on {1, 2, ...}
 * (the ceiling of an exponential with mean `meanK`), prompts of 1 token.
 * Returns the trace and the exact moments of K: E[K] = 1/p, E[K²] = (2 − p)/p².
 */
export function poissonGeometricTrace(n: number, lambda: number, meanK: number, seed: string) {
  const rng = seedrandom.alea(seed);
  const p = 1 - Math.exp(-1 / meanK);
  const arrival: number[] = [];
  const output: number[] = [];
  let t = 0;
  for (let i = 0; i < n; i++) {
    t += -Math.log(1 - rng()) / lambda;
    arrival.push(t);
    output.push(1 + Math.ceil(-Math.log(1 - rng()) * meanK) || 2);
  }
  return { trace: makeTrace(arrival, new Array(n).fill(1), output), EK: 1 / p, EK2: (2 - p) / (p * p) };
}

/** Mean and standard error by batch means over `batches` contiguous batches of `xs`. */
export function batchMeans(xs: ArrayLike<number>, batches = 20): { mean: number; se: number } {
  const size = Math.floor(xs.length / batches);
  const means: number[] = [];
  for (let b = 0; b < batches; b++) {
    let s = 0;
    for (let i = b * size; i < (b + 1) * size; i++) s += xs[i];
    means.push(s / size);
  }
  const mean = means.reduce((a, b) => a + b, 0) / batches;
  const v = means.reduce((a, m) => a + (m - mean) ** 2, 0) / (batches - 1);
  return { mean, se: Math.sqrt(v / batches) };
}

/** Runs `f`, expects it to throw an InputError, and returns the error (for its message and fields). */
export function inputError(f: () => unknown): InputError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(InputError);
    return e as InputError;
  }
  throw new Error('expected an InputError');
}

/** A writable stream (not a TTY) that hands each chunk written to `f`. */
export function sink(f: (s: string) => void): NodeJS.WriteStream {
  return Object.assign(new Writable({ write(chunk, _enc, cb) { f(String(chunk)); cb(); } }), { isTTY: false }) as unknown as NodeJS.WriteStream;
}

/** Runs the `sim` CLI in process, capturing its exit code, stdout and stderr. */
export async function runSim(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, sink((s) => (out += s)), sink((s) => (err += s)));
  return { code, out, err };
}
