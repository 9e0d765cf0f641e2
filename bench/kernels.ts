/**
 * `npm run bench:kernels`: times every WGSL kernel on a few shapes on the first WebGPU adapter found
 * and prints, per case, the median time, achieved GFLOP/s and GB/s, and the fraction of the
 * device's peak where known (NVIDIA parts from `sim/cost/gpus.ts`, matched by the adapter's
 * description; unknown on Mesa llvmpipe, which is a CPU).
 *
 * Software adapters (llvmpipe, SwiftShader) get small shapes; real GPUs get Llama-sized ones
 * (hidden 4096, 32 query / 8 KV heads of 128, intermediate 14336). Options:
 * `--backend NAME` (repeatable; the order to try, default as `createGpu`), `--repeats N`,
 * `--warmup N`, `--json FILE` (also write the rows as JSON).
 */
import fs from 'node:fs';
import {
  createGpu,
  decodeAttentionCase,
  matmulCase,
  prefillAttentionCase,
  residualAddCase,
  rmsNormCase,
  ropeCase,
  siluMulCase,
  timeKernel,
} from '../kernels/index.ts';
import type { GpuContext, KernelCase, Timing } from '../kernels/index.ts';
import { GPUS } from '../sim/cost/gpus.ts';
import type { GpuSpec } from '../sim/cost/gpus.ts';

/** The GpuSpec whose name appears in the adapter's description (H100, H200, A100, L40S, A10G), if any. */
export function matchGpu(description: string): GpuSpec | undefined {
  const d = description.toLowerCase();
  const keys: [RegExp, string][] = [
    [/h200/, 'h200'],
    [/h100/, 'h100-80gb'],
    [/a100/, 'a100-80gb'],
    [/l40s/, 'l40s'],
    [/a10g/, 'a10g'],
  ];
  for (const [re, key] of keys) if (re.test(d)) return GPUS[key];
  return undefined;
}

/** Whether the adapter is a software rasterizer running on the CPU. */
export function isSoftware(description: string): boolean {
  return /llvmpipe|lavapipe|swiftshader|softpipe/i.test(description);
}

type Bound = 'compute' | 'memory';
interface Planned {
  bound: Bound;
  make: (ctx: GpuContext) => KernelCase;
}

function plan(ctx: GpuContext, small: boolean): Planned[] {
  const out: Planned[] = [];
  const mm = (m: number, n: number, k: number, dtype: 'f32' | 'f16' = 'f32', variant: 'tiled' | 'subgroup' = 'tiled'): void => {
    out.push({ bound: m <= 16 ? 'memory' : 'compute', make: (c) => matmulCase(c, { m, n, k, dtype, variant }) });
  };
  const variants: ['f32' | 'f16', 'tiled' | 'subgroup'][] = [['f32', 'tiled']];
  if (ctx.features.subgroups) variants.push(['f32', 'subgroup']);
  if (ctx.features.shaderF16) variants.push(['f16', 'tiled']);
  if (ctx.features.shaderF16 && ctx.features.subgroups) variants.push(['f16', 'subgroup']);
  if (small) {
    for (const [dt, v] of variants) {
      mm(1, 1024, 1024, dt, v);
      mm(64, 512, 512, dt, v);
      mm(256, 256, 256, dt, v);
    }
    out.push({ bound: 'compute', make: (c) => prefillAttentionCase(c, { seqLen: 128, heads: 8, kvHeads: 8, headDim: 64 }) });
    out.push({ bound: 'compute', make: (c) => prefillAttentionCase(c, { seqLen: 256, heads: 4, kvHeads: 1, headDim: 128 }) });
    out.push({ bound: 'memory', make: (c) => decodeAttentionCase(c, { batch: 8, contextLen: 512, heads: 8, kvHeads: 8, headDim: 64, blockSize: 16 }) });
    out.push({ bound: 'memory', make: (c) => decodeAttentionCase(c, { batch: 1, contextLen: 2048, heads: 32, kvHeads: 8, headDim: 128, blockSize: 16 }) });
    out.push({ bound: 'memory', make: (c) => rmsNormCase(c, { tokens: 64, hidden: 4096 }) });
    out.push({ bound: 'memory', make: (c) => siluMulCase(c, { tokens: 64, intermediate: 11008 }) });
    out.push({ bound: 'memory', make: (c) => residualAddCase(c, { tokens: 64, hidden: 4096 }) });
    out.push({ bound: 'memory', make: (c) => ropeCase(c, { tokens: 64, heads: 32, kvHeads: 8, headDim: 128 }) });
  } else {
    for (const [dt, v] of variants) {
      mm(1, 4096, 4096, dt, v);
      mm(16, 4096, 4096, dt, v);
      mm(512, 4096, 4096, dt, v);
      mm(2048, 4096, 4096, dt, v);
      mm(2048, 14336, 4096, dt, v);
    }
    for (const seqLen of [512, 2048, 4096]) {
      out.push({ bound: 'compute', make: (c) => prefillAttentionCase(c, { seqLen, heads: 32, kvHeads: 8, headDim: 128 }) });
    }
    for (const [batch, contextLen] of [
      [1, 4096],
      [32, 2048],
      [128, 1024],
    ]) {
      out.push({ bound: 'memory', make: (c) => decodeAttentionCase(c, { batch, contextLen, heads: 32, kvHeads: 8, headDim: 128, blockSize: 16 }) });
    }
    out.push({ bound: 'memory', make: (c) => rmsNormCase(c, { tokens: 2048, hidden: 4096 }) });
    out.push({ bound: 'memory', make: (c) => siluMulCase(c, { tokens: 2048, intermediate: 14336 }) });
    out.push({ bound: 'memory', make: (c) => residualAddCase(c, { tokens: 2048, hidden: 4096 }) });
    out.push({ bound: 'memory', make: (c) => ropeCase(c, { tokens: 2048, heads: 32, kvHeads: 8, headDim: 128 }) });
  }
  return out;
}

interface Row extends Timing {
  case: string;
  bound: Bound | '-';
  gflops: number;
  gbps: number;
  /** Fraction of the peak that bounds the case (FLOP/s or bytes/s), or null when unknown. */
  peak_fraction: number | null;
  error?: string;
}

function args(): { backends?: string[]; repeats?: number; warmup?: number; json?: string } {
  const a = process.argv.slice(2);
  const out: { backends?: string[]; repeats?: number; warmup?: number; json?: string } = {};
  for (let i = 0; i < a.length; i += 2) {
    const [flag, v] = [a[i], a[i + 1]];
    if (v === undefined) throw new Error(`bench:kernels: ${flag} needs a value`);
    if (flag === '--backend') (out.backends ??= []).push(v);
    else if (flag === '--repeats') out.repeats = Number(v);
    else if (flag === '--warmup') out.warmup = Number(v);
    else if (flag === '--json') out.json = v;
    else throw new Error(`bench:kernels: unknown argument ${flag}`);
  }
  return out;
}

function fmt(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toPrecision(digits) : '-';
}

async function main(): Promise<void> {
  const opt = args();
  let ctx: GpuContext;
  try {
    ctx = await createGpu(opt.backends ? { backends: opt.backends } : {});
  } catch (e) {
    console.error(`bench:kernels: ${(e as Error).message}`);
    process.exitCode = 1;
    return;
  }
  try {
    const a = ctx.adapter;
    const small = isSoftware(a.description);
    const spec = matchGpu(a.description);
    const lim = ctx.device.limits;
    console.log(`adapter: ${a.description || '(no description)'} | vendor '${a.vendor}' architecture '${a.architecture}' | backend ${a.backend}, ${a.featureLevel}`);
    console.log(
      `features: shader-f16 ${ctx.features.shaderF16}, subgroups ${ctx.features.subgroups}, timestamp-query ${ctx.features.timestampQuery}; ` +
        `limits: storage binding ${lim.maxStorageBufferBindingSize} B, workgroup memory ${lim.maxComputeWorkgroupStorageSize} B, ` +
        `${lim.maxComputeInvocationsPerWorkgroup} invocations/workgroup`,
    );
    console.log(
      spec
        ? `peak: ${spec.name} from sim/cost/gpus.ts: ${spec.bf16Flops / 1e12} TFLOP/s (BF16 dense tensor; WGSL f32/f16 kernels here use no tensor cores), ${spec.memBandwidth / 1e9} GB/s`
        : small
          ? 'peak: unknown (a software rasterizer: the timings describe this CPU, not a GPU)'
          : 'peak: unknown (no entry in sim/cost/gpus.ts matches the adapter description)',
    );
    const warmup = opt.warmup ?? (small ? 1 : 3);
    const repeats = opt.repeats ?? (small ? 5 : 20);
    const rows: Row[] = [];
    const empty: KernelCase = { name: 'empty pass (timer floor)', flops: 0, bytes: 0, encode() {}, destroy() {} };
    const floor = await timeKernel(ctx, empty, { warmup, repeats });
    rows.push({ ...floor, case: empty.name, bound: '-', gflops: NaN, gbps: NaN, peak_fraction: null });
    for (const p of plan(ctx, small)) {
      let c: KernelCase | undefined;
      try {
        c = p.make(ctx);
        const t = await timeKernel(ctx, c, { warmup, repeats });
        const gflops = c.flops / t.median_s / 1e9;
        const gbps = c.bytes / t.median_s / 1e9;
        const frac = spec ? (p.bound === 'compute' ? (gflops * 1e9) / spec.bf16Flops : (gbps * 1e9) / spec.memBandwidth) : null;
        rows.push({ ...t, case: c.name, bound: p.bound, gflops, gbps, peak_fraction: frac });
      } catch (e) {
        const name = c?.name ?? '(case)';
        rows.push({ case: name, bound: p.bound, gflops: NaN, gbps: NaN, peak_fraction: null, median_s: NaN, p10_s: NaN, p90_s: NaN, repeats: 0, timer: 'wall-clock', error: (e as Error).message });
      } finally {
        c?.destroy();
      }
    }
    const header = ['case', 'timer', 'median ms', 'p10 ms', 'p90 ms', 'GFLOP/s', 'GB/s', 'bound', 'of peak'];
    const table = rows.map((r) =>
      r.error
        ? [r.case, 'error', r.error, '', '', '', '', '', '']
        : [
            r.case,
            r.timer,
            fmt(r.median_s * 1e3),
            fmt(r.p10_s * 1e3),
            fmt(r.p90_s * 1e3),
            fmt(r.gflops),
            fmt(r.gbps),
            r.bound,
            r.peak_fraction === null ? 'unknown' : `${(100 * r.peak_fraction).toFixed(1)}%`,
          ],
    );
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
    const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
    console.log(line(header));
    for (const row of table) console.log(line(row));
    console.log(`(${warmup} warm-up and ${repeats} timed runs per case; 'of peak' is FLOP/s against BF16 tensor peak for compute-bound cases, bytes/s against memory bandwidth for memory-bound ones)`);
    if (opt.json) fs.writeFileSync(opt.json, JSON.stringify({ adapter: a, features: ctx.features, rows }, null, 2) + '\n');
    if (rows.some((r) => r.error)) process.exitCode = 1;
  } finally {
    ctx.destroy();
  }
}

await main();
