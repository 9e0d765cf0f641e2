/**
 * Timing of one kernel dispatch: GPU timestamp queries where the device has them, else wall-clock
 * time around `queue.submit` + `onSubmittedWorkDone` (which includes submission overhead).
 */
import type { GpuContext } from './gpu.ts';
import { checkErrors } from './gpu.ts';

/** One timeable kernel dispatch (buffers already created and filled with data). */
export interface KernelCase {
  /** Human-readable name with the shape, e.g. `matmul m=128 n=256 k=512 f32 tiled`. */
  name: string;
  /** Floating-point operations one run performs (a multiply-add counts 2), FLOPs. */
  flops: number;
  /** Bytes one run must move to or from device memory at the least (each input read once, output written once). */
  bytes: number;
  /** Records the dispatch(es) of one run into `pass` (pipelines and bind groups already made). */
  encode(pass: GPUComputePassEncoder): void;
  /** Frees the case's buffers. */
  destroy(): void;
}

/** Summary of repeated timings of a {@link KernelCase}, seconds. */
export interface Timing {
  /** Median over the timed repeats, s. */
  median_s: number;
  /** 10th percentile (linear interpolation), s. */
  p10_s: number;
  /** 90th percentile (linear interpolation), s. */
  p90_s: number;
  /** Number of timed runs. */
  repeats: number;
  /** The clock used: GPU timestamps of the compute pass, or host wall clock around submit+wait. */
  timer: 'timestamp-query' | 'wall-clock';
}

/** The `q` quantile (0..1) of `xs` by linear interpolation between order statistics (R type 7). */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) throw new RangeError('quantile of an empty list');
  const s = [...xs].sort((a, b) => a - b);
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

/**
 * Times `c`: `warmup` untimed runs (default 2), then `repeats` timed ones (default 10), each run its
 * own command buffer and submission, waited for before the next. With `timestamp-query` the time of
 * a run is the span between the pass's beginning and end timestamps; if any of those reads as
 * non-positive, every run's wall-clock time is used instead. Without it, `performance.now()`
 * around `queue.submit` + `queue.onSubmittedWorkDone()`.
 * @throws RangeError for repeats < 1 or warmup < 0; Error on a device validation error.
 */
export async function timeKernel(
  ctx: GpuContext,
  c: KernelCase,
  opts: { warmup?: number; repeats?: number } = {},
): Promise<Timing> {
  const warmup = opts.warmup ?? 2;
  const repeats = opts.repeats ?? 10;
  if (!Number.isInteger(repeats) || repeats < 1) throw new RangeError(`repeats must be a positive integer, got ${repeats}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`warmup must be a non-negative integer, got ${warmup}`);
  const device = ctx.device;
  const useTs = ctx.features.timestampQuery;
  const querySet = useTs ? device.createQuerySet({ type: 'timestamp', count: 2 }) : undefined;
  const resolve = useTs
    ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC })
    : undefined;
  const read = useTs ? device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : undefined;
  const wall: number[] = [];
  const gpu: number[] = [];
  try {
    for (let i = 0; i < warmup + repeats; i++) {
      const timed = i >= warmup;
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(
        querySet ? { timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {},
      );
      c.encode(pass);
      pass.end();
      if (querySet && resolve && read && timed) {
        enc.resolveQuerySet(querySet, 0, 2, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
      }
      const cmd = enc.finish();
      const t0 = performance.now();
      device.queue.submit([cmd]);
      await device.queue.onSubmittedWorkDone();
      const t1 = performance.now();
      if (i === 0) await checkErrors(ctx);
      if (!timed) continue;
      wall.push((t1 - t0) / 1e3);
      if (read) {
        await read.mapAsync(GPUMapMode.READ);
        const ts = new BigUint64Array(read.getMappedRange().slice(0));
        read.unmap();
        gpu.push(Number(ts[1] - ts[0]) / 1e9);
      }
    }
    await checkErrors(ctx);
  } finally {
    querySet?.destroy();
    resolve?.destroy();
    read?.destroy();
  }
  const tsOk = useTs && gpu.length === repeats && gpu.every((x) => x > 0 && Number.isFinite(x));
  const xs = tsOk ? gpu : wall;
  return {
    median_s: quantile(xs, 0.5),
    p10_s: quantile(xs, 0.1),
    p90_s: quantile(xs, 0.9),
    repeats,
    timer: tsOk ? 'timestamp-query' : 'wall-clock',
  };
}
