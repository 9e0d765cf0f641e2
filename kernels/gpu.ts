/**
 * WebGPU device creation through Dawn's Node bindings (the `webgpu` package) and the small helpers
 * every kernel runner shares: buffers, uniform blocks, dispatch-size splitting against
 * `device.limits`, read-back, validation-error capture, f16 conversion and seeded random data.
 *
 * See docs/webgpu.md for what works where (Vulkan on NVIDIA, OpenGL ES on Mesa llvmpipe).
 */
/// <reference types="@webgpu/types" />
import { InputError } from '../sim/errors.ts';

/** What the adapter reported, plus how it was reached. Strings are as Dawn reports them ('' when unknown). */
export interface AdapterDescription {
  /** `GPUAdapterInfo.vendor`, e.g. `nvidia`; empty on Dawn's OpenGL ES backend. */
  vendor: string;
  /** `GPUAdapterInfo.architecture`, e.g. `hopper`; empty on Dawn's OpenGL ES backend. */
  architecture: string;
  /**
   * `GPUAdapterInfo.device` and `GPUAdapterInfo.description` joined by ` / ` (each once, empty ones
   * left out), e.g. `llvmpipe-llvm-15-0-6-256-bits- / OpenGL version OpenGL ES 3.2 Mesa 22.3.6`.
   */
  description: string;
  /** The backend name that worked, as passed to {@link createGpu} (`vulkan`, `default`, `opengles`, ...). */
  backend: string;
  /** The WebGPU feature level the adapter was requested at. */
  featureLevel: 'core' | 'compatibility';
}

/** An open WebGPU device and what it can do. Call `destroy()` when done so Node can exit. */
export interface GpuContext {
  /** The device, created with the adapter's own limits for the compute-relevant limits. */
  device: GPUDevice;
  /** Where the device came from. */
  adapter: AdapterDescription;
  /** Optional features enabled on the device (each only when the adapter offers it). */
  features: { shaderF16: boolean; subgroups: boolean; timestampQuery: boolean };
  /** Destroys the device and drops the Dawn instance; the context is unusable afterwards. */
  destroy(): void;
}

/**
 * No WebGPU adapter could be created on any of the backends tried. The message names each backend
 * with the reason it failed and points at docs/webgpu.md.
 */
export class NoAdapterError extends InputError {
  constructor(message: string) {
    super(message, { field: 'gpu' });
    this.name = 'NoAdapterError';
  }
}

/**
 * A kernel shape that this device cannot run in one go: a workgroup count above
 * `maxComputeWorkgroupsPerDimension` in some dimension, a buffer above `maxStorageBufferBindingSize`
 * or `maxBufferSize`, or a tile needing more workgroup memory than `maxComputeWorkgroupStorageSize`.
 * The message names the kernel, the shape and the limit, so a calibration sweep can skip the point.
 */
export class DispatchLimitError extends InputError {
  constructor(message: string) {
    super(message, { field: 'shape' });
    this.name = 'DispatchLimitError';
  }
}

/**
 * The backends {@link createGpu} tries by default, in order: Vulkan at the core feature level (NVIDIA
 * and other real GPUs on Linux), Dawn's default choice at core (Metal, D3D12), then OpenGL ES at the
 * compatibility level (Mesa llvmpipe on machines without a GPU).
 */
export const DEFAULT_BACKENDS: readonly string[] = Object.freeze(['vulkan', 'default', 'opengles']);

/** Private per-device state: captured validation errors, pending error scopes, pipeline cache. */
interface DeviceState {
  errors: string[];
  pending: Promise<void>[];
  pipelines: Map<string, GPUComputePipeline>;
  subgroupMaxSize: number;
}

const states = new WeakMap<GPUDevice, DeviceState>();

function state(ctx: GpuContext): DeviceState {
  const s = states.get(ctx.device);
  if (!s) throw new Error('GpuContext was not made by createGpu or has been destroyed');
  return s;
}

/** What the `webgpu` package exports (its types.d.ts), typed here so that type-checking needs only @webgpu/types. */
interface WebgpuModule {
  create(options: string[]): GPU;
  globals: object;
}

/**
 * The optional `webgpu` package (Dawn's Node bindings, about 130 MB of prebuilt binaries) is not
 * installed, e.g. after `npm ci --omit=optional`. Only the kernel commands need it (`sim calibrate`
 * sweeps, `npm run bench:kernels`, test/kernels.test.ts); the message says how to install it.
 */
export class WebgpuMissingError extends NoAdapterError {
  constructor() {
    super(
      "the optional package 'webgpu' (Dawn's Node bindings) is not installed; install it with " +
        '`npm install webgpu` (only the WGSL kernel commands need it; see docs/webgpu.md)',
    );
    this.name = 'WebgpuMissingError';
  }
}

/** The package name, in a variable so that type-checking and bundling never resolve it (it is optional). */
const WEBGPU_PACKAGE: string = 'webgpu';

let webgpuModule: WebgpuModule | undefined;

/** True when `e` says that the `webgpu` package itself could not be found (not a failure inside it). */
function isWebgpuNotFound(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') && /['"]webgpu['"]/.test(String((e as Error).message));
}

async function loadWebgpu(): Promise<WebgpuModule> {
  if (!webgpuModule) {
    const mod = (await import(WEBGPU_PACKAGE)) as WebgpuModule;
    // GPUBufferUsage, GPUMapMode and friends are globals in a browser; the runners use them.
    Object.assign(globalThis, mod.globals);
    webgpuModule = { create: mod.create, globals: mod.globals };
  }
  return webgpuModule;
}

/** Limits the kernels need above WebGPU's defaults; requested at the adapter's values. */
const RAISED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;

function featureLevelFor(backend: string): 'core' | 'compatibility' {
  return backend === 'opengles' || backend === 'opengl' ? 'compatibility' : 'core';
}

/**
 * Creates a WebGPU device, trying `opts.backends` (default {@link DEFAULT_BACKENDS}) in order and
 * keeping the first that yields an adapter and a device. `default` means Dawn's own choice
 * (`create([])`); any other name is passed as `backend=NAME`. OpenGL (ES) backends are requested at
 * the compatibility feature level, the others at core. Enables `shader-f16`, `subgroups` and
 * `timestamp-query` when offered (timestamps unquantized), and raises the compute limits to the
 * adapter's. Sets `EGL_PLATFORM=surfaceless` and `XDG_RUNTIME_DIR=/tmp` when unset (needed by
 * the OpenGL ES backend on a headless machine).
 *
 * Dawn may print warnings for backends that fail (e.g. "Couldn't load Vulkan") to stderr.
 * @throws WebgpuMissingError when the optional `webgpu` package is not installed.
 * @throws NoAdapterError naming each backend tried and why it failed, pointing at docs/webgpu.md.
 */
export async function createGpu(opts: { backends?: string[] } = {}): Promise<GpuContext> {
  const backends = opts.backends ?? [...DEFAULT_BACKENDS];
  process.env.EGL_PLATFORM ??= 'surfaceless';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  let mod: WebgpuModule;
  try {
    mod = await loadWebgpu();
  } catch (e) {
    if (isWebgpuNotFound(e)) throw new WebgpuMissingError();
    throw new NoAdapterError(
      `cannot load the webgpu package (Dawn's Node bindings): ${e instanceof Error ? e.message : String(e)}; see docs/webgpu.md`,
    );
  }
  const failures: string[] = [];
  for (const backend of backends) {
    const featureLevel = featureLevelFor(backend);
    const options = [
      ...(backend === 'default' ? [] : [`backend=${backend}`]),
      'disable-dawn-features=timestamp_quantization',
    ];
    let gpu: GPU | undefined;
    try {
      gpu = mod.create(options);
      const adapter = await gpu.requestAdapter({ featureLevel, powerPreference: 'high-performance' });
      if (!adapter) {
        failures.push(`${backend} (${featureLevel}): no adapter`);
        gpu = undefined;
        continue;
      }
      const wanted: GPUFeatureName[] = ['shader-f16', 'subgroups', 'timestamp-query'];
      const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
      const requiredLimits: Record<string, number> = {};
      for (const name of RAISED_LIMITS) {
        const v = (adapter.limits as unknown as Record<string, number | undefined>)[name];
        if (typeof v === 'number') requiredLimits[name] = v;
      }
      const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
      const info = adapter.info;
      const parts = [info.device, info.description].filter((s, i, a) => s && a.indexOf(s) === i);
      const st: DeviceState = {
        errors: [],
        pending: [],
        pipelines: new Map(),
        subgroupMaxSize: info.subgroupMaxSize ?? 0,
      };
      states.set(device, st);
      device.addEventListener('uncapturederror', (ev) => {
        st.errors.push((ev as GPUUncapturedErrorEvent).error.message);
      });
      let live: GPU | undefined = gpu;
      const ctx: GpuContext = {
        device,
        adapter: {
          vendor: info.vendor ?? '',
          architecture: info.architecture ?? '',
          description: parts.join(' / '),
          backend,
          featureLevel,
        },
        features: {
          shaderF16: device.features.has('shader-f16'),
          subgroups: device.features.has('subgroups'),
          timestampQuery: device.features.has('timestamp-query'),
        },
        destroy() {
          if (live === undefined) return;
          device.destroy();
          states.delete(device);
          live = undefined; // dropping the last reference to the instance lets Node exit
        },
      };
      return ctx;
    } catch (e) {
      failures.push(`${backend} (${featureLevel}): ${String(e instanceof Error ? e.message : e).split('\n')[0]}`);
      gpu = undefined;
    }
  }
  throw new NoAdapterError(
    `no WebGPU adapter could be created; tried ${failures.join('; ')}. See docs/webgpu.md (on a ` +
      'machine without a GPU: apt-get install -y libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri)',
  );
}

/** The largest subgroup size the adapter reported (0 when unknown). */
export function subgroupMaxSize(ctx: GpuContext): number {
  return state(ctx).subgroupMaxSize;
}

/**
 * Returns the compute pipeline for `key`, compiling `code()` (WGSL, entry point `main`) the first
 * time on this device. Compilation and validation errors surface at the next {@link checkErrors}.
 */
export function getPipeline(ctx: GpuContext, key: string, code: () => string): GPUComputePipeline {
  const st = state(ctx);
  let p = st.pipelines.get(key);
  if (!p) {
    const device = ctx.device;
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code: code(), label: key });
    p = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
    st.pending.push(
      device.popErrorScope().then((err) => {
        if (err) st.errors.push(`${key}: ${err.message}`);
      }),
    );
    st.pipelines.set(key, p);
  }
  return p;
}

/**
 * Waits for pending error scopes and throws if the device reported any validation error (a WGSL
 * compile error, a bad binding) since the last call.
 * @throws Error with the device's messages.
 */
export async function checkErrors(ctx: GpuContext): Promise<void> {
  const st = state(ctx);
  const pending = st.pending.splice(0);
  await Promise.all(pending);
  if (st.errors.length) {
    const msgs = st.errors.splice(0);
    throw new Error(`WebGPU validation error: ${msgs.join('\n')}`);
  }
}

/** Checks `bytes` against the storage-binding and buffer-size limits. @throws DispatchLimitError */
export function checkBindingSize(ctx: GpuContext, bytes: number, what: string): void {
  const lim = ctx.device.limits;
  const max = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
  if (bytes > max) {
    throw new DispatchLimitError(
      `${what} needs a ${bytes}-byte buffer; this device binds at most ${max} bytes (maxStorageBufferBindingSize)`,
    );
  }
}

/**
 * Creates a storage buffer (also COPY_SRC and COPY_DST) of `data`'s bytes, or of `data` bytes
 * zero-filled, rounded up to a multiple of 4 (at least 4).
 * @throws DispatchLimitError when larger than the device binds.
 */
export function storageBuffer(ctx: GpuContext, data: ArrayBufferView | number, label: string): GPUBuffer {
  const bytes = typeof data === 'number' ? data : data.byteLength;
  checkBindingSize(ctx, bytes, label);
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const buf = ctx.device.createBuffer({
    size,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
    mappedAtCreation: typeof data !== 'number',
    label,
  });
  if (typeof data !== 'number') {
    new Uint8Array(buf.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buf.unmap();
  }
  return buf;
}

/**
 * Creates a uniform buffer holding `fields` in order as 32-bit words: integers as u32 and values
 * wrapped as `{ f32: x }` as f32; padded to 16 bytes.
 */
export function uniformBuffer(ctx: GpuContext, fields: (number | { f32: number })[], label: string): GPUBuffer {
  const words = Math.max(4, Math.ceil(fields.length / 4) * 4);
  const ab = new ArrayBuffer(words * 4);
  const u = new Uint32Array(ab);
  const f = new Float32Array(ab);
  fields.forEach((v, i) => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new RangeError(`${label}: field ${i} = ${v} is not a u32`);
      u[i] = v;
    } else f[i] = v.f32;
  });
  const buf = ctx.device.createBuffer({
    size: ab.byteLength,
    usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
    mappedAtCreation: true,
    label,
  });
  new Uint8Array(buf.getMappedRange()).set(new Uint8Array(ab));
  buf.unmap();
  return buf;
}

/** Creates a bind group for `pipeline`'s group 0 with `buffers` at bindings 0, 1, 2, ... */
export function bindBuffers(ctx: GpuContext, pipeline: GPUComputePipeline, buffers: GPUBuffer[]): GPUBindGroup {
  return ctx.device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}

/**
 * Splits `workgroups` (a 1-D count) into an (x, y) grid within `maxComputeWorkgroupsPerDimension`;
 * a shader recovers the linear id as `wid.y * num_workgroups.x + wid.x` and must ignore ids past
 * the count.
 * @throws DispatchLimitError when even x·y at the limit is too few.
 */
export function grid2d(ctx: GpuContext, workgroups: number, what: string): [number, number] {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (workgroups <= max) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / max);
  if (y > max) {
    throw new DispatchLimitError(`${what} needs ${workgroups} workgroups; at most ${max}² can be dispatched`);
  }
  return [Math.ceil(workgroups / y), y];
}

/** Checks one dispatch dimension against `maxComputeWorkgroupsPerDimension`. @throws DispatchLimitError */
export function checkWorkgroups(ctx: GpuContext, count: number, what: string): void {
  const max = ctx.device.limits.maxComputeWorkgroupsPerDimension;
  if (count > max) {
    throw new DispatchLimitError(`${what} needs ${count} workgroups in one dimension; this device allows ${max}`);
  }
}

/** Checks a kernel's workgroup-memory need. @throws DispatchLimitError */
export function checkWorkgroupStorage(ctx: GpuContext, bytes: number, what: string): void {
  const max = ctx.device.limits.maxComputeWorkgroupStorageSize;
  if (bytes > max) {
    throw new DispatchLimitError(`${what} needs ${bytes} bytes of workgroup memory; this device allows ${max}`);
  }
}

/**
 * Encodes `encode` in one compute pass, submits, copies `out` (its first `bytes` bytes) to a
 * mappable buffer and returns a copy of those bytes. Throws device validation errors.
 */
export async function runAndRead(
  ctx: GpuContext,
  encode: (pass: GPUComputePassEncoder) => void,
  out: GPUBuffer,
  bytes: number,
): Promise<ArrayBuffer> {
  const device = ctx.device;
  const size = Math.max(4, Math.ceil(bytes / 4) * 4);
  const read = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    encode(pass);
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, size);
    device.queue.submit([enc.finish()]);
    await checkErrors(ctx);
    await read.mapAsync(GPUMapMode.READ);
    const copy = read.getMappedRange().slice(0, bytes);
    read.unmap();
    await checkErrors(ctx);
    return copy;
  } finally {
    read.destroy();
  }
}

const cvtF32 = new Float32Array(1);
const cvtU32 = new Uint32Array(cvtF32.buffer);

/** IEEE binary16 bits of `x` (first rounded to f32), round-to-nearest-even; overflow gives ±Inf. */
export function f32ToF16Bits(x: number): number {
  cvtF32[0] = x;
  const b = cvtU32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++; // a carry into the exponent is still right
  return sign | h;
}

/** The value of IEEE binary16 bits `h`. */
export function f16BitsToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** `xs` as packed binary16 (Uint16Array). */
export function toF16(xs: Float32Array): Uint16Array {
  const out = new Uint16Array(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = f32ToF16Bits(xs[i]);
  return out;
}

/** Packed binary16 `hs` as f32 values. */
export function fromF16(hs: Uint16Array): Float32Array {
  const out = new Float32Array(hs.length);
  for (let i = 0; i < hs.length; i++) out[i] = f16BitsToF32(hs[i]);
  return out;
}

/**
 * `n` pseudo-random values uniform in [lo, hi) from a 32-bit xorshift generator seeded with `seed`
 * (deterministic; for kernel inputs, not for statistics).
 */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = (seed ^ 0x9e3779b9) >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}
