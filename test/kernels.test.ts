/**
 * WGSL kernels against CPU references computed here in f64, on small shapes (llvmpipe is slow).
 * The GPU suites skip, saying so, only when no WebGPU adapter can be created; under CI (where
 * .ci/run installs Mesa's EGL/GLES) a missing adapter is a failure, unless the optional `webgpu`
 * package itself is not installed (`npm ci --omit=optional`): then everything GPU skips, saying so.
 */
import { afterAll, describe, expect, test } from 'vitest';
import {
  createGpu,
  decodeAttentionCase,
  DispatchLimitError,
  f16BitsToF32,
  f32ToF16Bits,
  matmulCase,
  NoAdapterError,
  prefillAttentionCase,
  quantile,
  randomArray,
  residualAddCase,
  rmsNormCase,
  ropeCase,
  runDecodeAttention,
  runMatmul,
  runPrefillAttention,
  runResidualAdd,
  runRmsNorm,
  runRope,
  runSiluMul,
  siluMulCase,
  timeKernel,
  WebgpuMissingError,
} from '../kernels/index.ts';
import type { GpuContext, KernelCase } from '../kernels/index.ts';
import { InputError } from '../sim/errors.ts';

let ctx: GpuContext | null = null;
let whyNot = '';
/** The optional `webgpu` package is not installed: nothing here can run, under CI or not. */
let noPackage = false;
try {
  ctx = await createGpu();
} catch (e) {
  whyNot = (e as Error).message;
  noPackage = e instanceof WebgpuMissingError;
  console.warn(`kernels.test.ts: GPU kernel tests skipped, ${noPackage ? 'webgpu not installed' : 'no WebGPU adapter'}: ${whyNot}`);
}
afterAll(() => ctx?.destroy());

function gpu(): GpuContext {
  if (!ctx) throw new Error('no GPU context');
  return ctx;
}

/** Largest |got − want| − tol(want, i) over all elements must be ≤ 0; reports the worst index. */
function expectClose(got: Float32Array, want: ArrayLike<number>, tol: (i: number) => number): void {
  expect(got.length).toBe(want.length);
  let worst = -Infinity;
  let at = -1;
  for (let i = 0; i < got.length; i++) {
    const excess = Math.abs(got[i] - want[i]) - tol(i);
    if (!(excess <= worst) || Number.isNaN(got[i])) {
      worst = Number.isNaN(got[i]) ? Infinity : excess;
      at = i;
    }
  }
  expect({ worst: worst <= 0 ? 'ok' : worst, at, got: got[at], want: want[at] }).toMatchObject({ worst: 'ok' });
}

/** C = A·B in f64, with Σ|a||b| per element for error bounds. */
function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, m: number, n: number, k: number): { c: Float64Array; mag: Float64Array } {
  const c = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      let t = 0;
      for (let q = 0; q < k; q++) {
        s += a[i * k + q] * b[q * n + j];
        t += Math.abs(a[i * k + q] * b[q * n + j]);
      }
      c[i * n + j] = s;
      mag[i * n + j] = t;
    }
  }
  return { c, mag };
}

/** Softmax-weighted sum of `vs` rows with scores `ss`, f64. */
function softmaxMix(ss: number[], vs: number[][]): number[] {
  const mx = Math.max(...ss);
  const w = ss.map((s) => Math.exp(s - mx));
  const z = w.reduce((x, y) => x + y, 0);
  const d = vs[0].length;
  const out = new Array<number>(d).fill(0);
  w.forEach((wi, j) => {
    for (let e = 0; e < d; e++) out[e] += (wi / z) * vs[j][e];
  });
  return out;
}

describe('CPU helpers', () => {
  test('binary16 conversion: known values and round-trip of every finite half', () => {
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(-2)).toBe(0xc000);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds up to +Inf
    expect(f32ToF16Bits(1 / 3)).toBe(0x3555);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // halfway to 0: ties to even
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie, to even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, to even (up)
    expect(f16BitsToF32(0x3555)).toBeCloseTo(0.333251953125, 12);
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) === 0x7c00) continue; // Inf, NaN
      expect(f32ToF16Bits(f16BitsToF32(h))).toBe(h);
    }
  });

  test('quantile interpolates between order statistics', () => {
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([1, 2, 3, 4], 0.5)).toBe(2.5);
    expect(quantile([0, 10], 0.1)).toBeCloseTo(1, 12);
  });

  test.skipIf(noPackage)('an unknown backend gives NoAdapterError naming it and the docs', async () => {
    const err = await createGpu({ backends: ['no-such-backend'] }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(NoAdapterError);
    expect(err).toBeInstanceOf(InputError);
    expect((err as Error).message).toMatch(/no-such-backend/);
    expect((err as Error).message).toMatch(/docs\/webgpu\.md/);
  });

  test.runIf(process.env.CI && !noPackage)('an adapter exists under CI', () => {
    expect(whyNot).toBe('');
    expect(ctx).not.toBeNull();
  });
});

describe.skipIf(!ctx)('GPU kernels', () => {
  test('the context describes its adapter', () => {
    const c = gpu();
    expect(c.adapter.backend).toBeTruthy();
    expect(['core', 'compatibility']).toContain(c.adapter.featureLevel);
    expect(c.adapter.description.length).toBeGreaterThan(0);
    console.info(`kernels.test.ts: adapter ${JSON.stringify(c.adapter)} features ${JSON.stringify(c.features)}`);
  });

  describe('matmul', () => {
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [67, 45, 33], // no dimension a multiple of the 64×64×16 tile
      [64, 128, 32],
      [3, 257, 70],
    ];
    const variants: ['f32' | 'f16', 'tiled' | 'subgroup'][] = [
      ['f32', 'tiled'],
      ['f32', 'subgroup'],
      ['f16', 'tiled'],
      ['f16', 'subgroup'],
    ];
    for (const [dtype, variant] of variants) {
      test(`${dtype} ${variant} matches the f64 reference`, async (t) => {
        const c = gpu();
        if ((dtype === 'f16' && !c.features.shaderF16) || (variant === 'subgroup' && !c.features.subgroups)) {
          console.info(`kernels.test.ts: matmul ${dtype} ${variant} skipped: the adapter lacks ${dtype === 'f16' && !c.features.shaderF16 ? 'shader-f16' : 'subgroups'}`);
          t.skip();
          return;
        }
        for (const [m, n, k] of shapes) {
          let a = randomArray(m * k, m + 1);
          let b = randomArray(k * n, n + 2);
          if (dtype === 'f16') {
            a = a.map((x) => f16BitsToF32(f32ToF16Bits(x)));
            b = b.map((x) => f16BitsToF32(f32ToF16Bits(x)));
          }
          const got = await runMatmul(c, a, b, m, n, k, dtype, variant);
          const { c: want, mag } = matmulRef(a, b, m, n, k);
          const rel = dtype === 'f16' ? 2 ** -10 : 0;
          expectClose(got, want, (i) => rel * Math.abs(want[i]) + 1e-5 * mag[i] + 1e-6);
        }
      });
    }

    test('a shape past the dispatch limits throws DispatchLimitError before allocating', () => {
      expect(() => matmulCase(gpu(), { m: 64 * 70000, n: 1, k: 1 })).toThrow(DispatchLimitError);
      expect(() => matmulCase(gpu(), { m: 0, n: 1, k: 1 })).toThrow(RangeError);
    });
  });

  describe('prefill attention (causal, grouped-query)', () => {
    function ref(q: Float32Array, k: Float32Array, v: Float32Array, s: { seqLen: number; heads: number; kvHeads: number; headDim: number }): Float64Array {
      const { seqLen: n, heads: h, kvHeads: kh, headDim: d } = s;
      const out = new Float64Array(n * h * d);
      for (let head = 0; head < h; head++) {
        const kvh = Math.floor(head / (h / kh));
        for (let i = 0; i < n; i++) {
          const ss: number[] = [];
          const vs: number[][] = [];
          for (let j = 0; j <= i; j++) {
            let dot = 0;
            for (let e = 0; e < d; e++) dot += q[(i * h + head) * d + e] * k[(j * kh + kvh) * d + e];
            ss.push(dot / Math.sqrt(d));
            vs.push(Array.from(v.subarray((j * kh + kvh) * d, (j * kh + kvh + 1) * d)));
          }
          out.set(softmaxMix(ss, vs), (i * h + head) * d);
        }
      }
      return out;
    }
    const shapes = [
      { seqLen: 37, heads: 4, kvHeads: 2, headDim: 16 }, // seqLen not a multiple of the 16-token tile
      { seqLen: 20, heads: 2, kvHeads: 1, headDim: 128 },
      { seqLen: 9, heads: 3, kvHeads: 3, headDim: 12 }, // headDim not a multiple of 8
      { seqLen: 1, heads: 2, kvHeads: 1, headDim: 8 },
    ];
    for (const s of shapes) {
      test(`seqLen=${s.seqLen} heads=${s.heads} kvHeads=${s.kvHeads} headDim=${s.headDim}`, async () => {
        const q = randomArray(s.seqLen * s.heads * s.headDim, 101, -2, 2);
        const k = randomArray(s.seqLen * s.kvHeads * s.headDim, 102, -2, 2);
        const v = randomArray(s.seqLen * s.kvHeads * s.headDim, 103);
        const got = await runPrefillAttention(gpu(), q, k, v, s);
        expectClose(got, ref(q, k, v, s), () => 2e-5);
      });
    }

    test('rejects heads not a multiple of kvHeads and headDim > 128', () => {
      expect(() => prefillAttentionCase(gpu(), { seqLen: 4, heads: 3, kvHeads: 2, headDim: 8 })).toThrow(RangeError);
      expect(() => prefillAttentionCase(gpu(), { seqLen: 4, heads: 2, kvHeads: 1, headDim: 160 })).toThrow(RangeError);
    });
  });

  describe('decode attention (paged KV cache)', () => {
    async function check(s: { heads: number; kvHeads: number; headDim: number; blockSize: number }, lens: number[], seed: number): Promise<void> {
      const batch = lens.length;
      const { heads: h, kvHeads: kh, headDim: d, blockSize: bs } = s;
      const maxBlocks = Math.max(...lens.map((l) => Math.ceil(l / bs))) + 1;
      const needed = lens.reduce((x, l) => x + Math.ceil(l / bs), 0);
      const numBlocks = needed + 3; // a few blocks no sequence uses
      // A shuffled assignment of cache blocks to (sequence, logical block).
      const order = Array.from({ length: numBlocks }, (_, i) => i);
      const r = randomArray(numBlocks, seed, 0, 1);
      for (let i = numBlocks - 1; i > 0; i--) {
        const j = Math.floor(r[i] * (i + 1));
        [order[i], order[j]] = [order[j], order[i]];
      }
      const table = new Int32Array(batch * maxBlocks).fill(-1);
      let next = 0;
      lens.forEach((l, b) => {
        for (let j = 0; j < Math.ceil(l / bs); j++) table[b * maxBlocks + j] = order[next++];
      });
      const q = randomArray(batch * h * d, seed + 1, -2, 2);
      const kc = randomArray(numBlocks * bs * kh * d, seed + 2, -2, 2);
      const vc = randomArray(numBlocks * bs * kh * d, seed + 3);
      const got = await runDecodeAttention(gpu(), q, kc, vc, table, Int32Array.from(lens), { batch, ...s });
      const want = new Float64Array(batch * h * d);
      for (let b = 0; b < batch; b++) {
        for (let head = 0; head < h; head++) {
          const kvh = Math.floor(head / (h / kh));
          const ss: number[] = [];
          const vs: number[][] = [];
          for (let j = 0; j < lens[b]; j++) {
            const at = ((table[b * maxBlocks + Math.floor(j / bs)] * bs + (j % bs)) * kh + kvh) * d;
            let dot = 0;
            for (let e = 0; e < d; e++) dot += q[(b * h + head) * d + e] * kc[at + e];
            ss.push(dot / Math.sqrt(d));
            vs.push(Array.from(vc.subarray(at, at + d)));
          }
          want.set(softmaxMix(ss, vs), (b * h + head) * d);
        }
      }
      expectClose(got, want, () => 2e-5);
    }

    test('several sequences of different lengths (one past a 512-token partition), shuffled blocks, GQA', async () => {
      await check({ heads: 8, kvHeads: 2, headDim: 32, blockSize: 16 }, [1, 17, 100, 600], 201);
    });

    test('headDim 128, block size 8, no grouping', async () => {
      await check({ heads: 2, kvHeads: 2, headDim: 128, blockSize: 8 }, [5, 64, 9], 301);
    });

    test('headDim 80 (not a multiple of 64), block size 1', async () => {
      await check({ heads: 4, kvHeads: 1, headDim: 80, blockSize: 1 }, [3, 70], 401);
    });

    test('rejects a context longer than its block table', async () => {
      const s = { batch: 1, heads: 1, kvHeads: 1, headDim: 8, blockSize: 4 };
      const kc = new Float32Array(2 * 4 * 8);
      await expect(runDecodeAttention(gpu(), new Float32Array(8), kc, kc, Int32Array.from([0, 1]), Int32Array.from([9]), s)).rejects.toThrow(RangeError);
    });
  });

  describe('layer operators', () => {
    test('RMSNorm', async () => {
      for (const [tokens, hidden] of [
        [5, 300],
        [2, 4096],
        [1, 7],
      ]) {
        const x = randomArray(tokens * hidden, tokens + 501, -3, 3);
        const w = randomArray(hidden, 502, 0.5, 1.5);
        const got = await runRmsNorm(gpu(), x, w, { tokens, hidden });
        const want = new Float64Array(tokens * hidden);
        for (let t = 0; t < tokens; t++) {
          let ss = 0;
          for (let i = 0; i < hidden; i++) ss += x[t * hidden + i] ** 2;
          const inv = 1 / Math.sqrt(ss / hidden + 1e-5);
          for (let i = 0; i < hidden; i++) want[t * hidden + i] = x[t * hidden + i] * inv * w[i];
        }
        expectClose(got, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-6);
      }
    });

    test('SiLU-and-multiply', async () => {
      const tokens = 3;
      const inter = 1000;
      const x = randomArray(tokens * 2 * inter, 601, -20, 20);
      const got = await runSiluMul(gpu(), x, { tokens, intermediate: inter });
      const want = new Float64Array(tokens * inter);
      for (let t = 0; t < tokens; t++) {
        for (let i = 0; i < inter; i++) {
          const g = x[t * 2 * inter + i];
          want[t * inter + i] = (g / (1 + Math.exp(-g))) * x[t * 2 * inter + inter + i];
        }
      }
      expectClose(got, want, (i) => 1e-5 * Math.abs(want[i]) + 1e-6);
    });

    test('residual add is exact in f32', async () => {
      const n = 3 * 1000 + 17;
      const x = randomArray(n, 701, -100, 100);
      const r = randomArray(n, 702);
      const got = await runResidualAdd(gpu(), x, r, { tokens: 1, hidden: n });
      expectClose(got, Array.from(x, (xi, i) => Math.fround(xi + r[i])), () => 0);
    });

    test('rotary embedding on q and k (rotate-half pairs, base 10000)', async () => {
      const s = { tokens: 7, heads: 4, kvHeads: 2, headDim: 64 };
      const positions = Int32Array.from([0, 1, 2, 5, 4000, 12345, 3]);
      const q = randomArray(s.tokens * s.heads * s.headDim, 801);
      const k = randomArray(s.tokens * s.kvHeads * s.headDim, 802);
      const got = await runRope(gpu(), q, k, positions, s);
      const d = s.headDim;
      const rotate = (x: Float32Array, nh: number): number[] => {
        const out = Array.from(x);
        for (let t = 0; t < s.tokens; t++) {
          for (let head = 0; head < nh; head++) {
            const base = (t * nh + head) * d;
            for (let i = 0; i < d / 2; i++) {
              const theta = positions[t] / 10000 ** ((2 * i) / d);
              const [x1, x2] = [x[base + i], x[base + i + d / 2]];
              out[base + i] = x1 * Math.cos(theta) - x2 * Math.sin(theta);
              out[base + i + d / 2] = x2 * Math.cos(theta) + x1 * Math.sin(theta);
            }
          }
        }
        return out;
      };
      expectClose(got, [...rotate(q, s.heads), ...rotate(k, s.kvHeads)], () => 1e-6);
    });
  });

  describe('timing', () => {
    test('every case builder times to positive finite medians', async () => {
      const c = gpu();
      const cases: KernelCase[] = [
        matmulCase(c, { m: 16, n: 32, k: 24 }),
        prefillAttentionCase(c, { seqLen: 20, heads: 2, kvHeads: 1, headDim: 16 }),
        decodeAttentionCase(c, { batch: 2, contextLen: 40, heads: 2, kvHeads: 1, headDim: 16, blockSize: 16 }),
        rmsNormCase(c, { tokens: 4, hidden: 64 }),
        siluMulCase(c, { tokens: 4, intermediate: 64 }),
        residualAddCase(c, { tokens: 4, hidden: 64 }),
        ropeCase(c, { tokens: 4, heads: 2, kvHeads: 1, headDim: 16 }),
      ];
      if (c.features.shaderF16) cases.push(matmulCase(c, { m: 16, n: 32, k: 24, dtype: 'f16' }));
      if (c.features.subgroups) cases.push(matmulCase(c, { m: 16, n: 32, k: 24, variant: 'subgroup' }));
      try {
        for (const kc of cases) {
          const t = await timeKernel(c, kc, { warmup: 1, repeats: 3 });
          expect(t.repeats).toBe(3);
          expect(['timestamp-query', 'wall-clock']).toContain(t.timer);
          if (!c.features.timestampQuery) expect(t.timer).toBe('wall-clock');
          for (const x of [t.median_s, t.p10_s, t.p90_s]) {
            expect(Number.isFinite(x) && x > 0).toBe(true);
          }
          expect(t.p10_s).toBeLessThanOrEqual(t.median_s);
          expect(t.median_s).toBeLessThanOrEqual(t.p90_s);
          expect(kc.flops).toBeGreaterThan(0);
          expect(kc.bytes).toBeGreaterThan(0);
        }
      } finally {
        for (const kc of cases) kc.destroy();
      }
      expect(cases[0].flops).toBe(2 * 16 * 32 * 24);
    });

    test('timeKernel rejects zero repeats', async () => {
      const kc = residualAddCase(gpu(), { tokens: 1, hidden: 4 });
      await expect(timeKernel(gpu(), kc, { repeats: 0 })).rejects.toThrow(RangeError);
      kc.destroy();
    });
  });
});
