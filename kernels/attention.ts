/**
 * Attention kernels, f32, scale 1/√headDim, grouped-query heads (query head h reads KV head
 * ⌊h / (heads/kvHeads)⌋):
 *
 * - Prefill: causal self-attention over one sequence, q [seqLen, heads, headDim], k and v
 *   [seqLen, kvHeads, headDim] (token-major, as a QKV projection writes them), output
 *   [seqLen, heads, headDim]. FlashAttention-style (Dao et al., 2022): a workgroup takes 16 query
 *   rows of one head, walks key/value tiles of 16 tokens up to the causal limit through workgroup
 *   memory, and keeps a running max and sum per row (online softmax), so the seqLen×seqLen score
 *   matrix is never stored.
 * - Decode: one query token per sequence over a paged KV cache as in vLLM's PagedAttention (Kwon et
 *   al., 2023): K and V caches [numBlocks, blockSize, kvHeads, headDim]; a block table [batch,
 *   maxBlocksPerSeq] maps a sequence's token j to block table[j / blockSize], slot j % blockSize;
 *   context lengths vary per sequence. Two passes, like vLLM's v2 kernel: each workgroup reduces
 *   one 512-token partition of one (sequence, head) to a partial (max, sum, weighted V); a second
 *   pass merges the partitions.
 *
 * headDim ≤ 128 (the prefill tiles' workgroup memory is sized for it).
 */
import type { GpuContext } from './gpu.ts';
import {
  bindBuffers,
  checkBindingSize,
  checkWorkgroups,
  checkWorkgroupStorage,
  randomArray,
  runAndRead,
  storageBuffer,
  uniformBuffer,
  getPipeline,
} from './gpu.ts';
import type { KernelCase } from './timing.ts';

/** Largest supported head dimension. */
export const MAX_HEAD_DIM = 128;
const BR = 16; // prefill query rows per workgroup
const BC = 16; // prefill key/value tokens per tile
const TPR = 8; // prefill threads per query row
/** Tokens per partition of the decode kernel's first pass. */
export const DECODE_PARTITION = 512;
const DWG = 64; // decode threads per workgroup (= tokens per inner chunk)

/** Workgroup memory of the prefill kernel for `headDim`, bytes. */
export function prefillWorkgroupBytes(headDim: number): number {
  return 4 * (BR * headDim + BC * (headDim + 1) + BC * headDim + BR * BC);
}

/** WGSL of the prefill kernel for head dimension `d`. Bindings: Q, K, V, O, params. */
export function prefillAttentionWgsl(d: number): string {
  const dp = Math.ceil(d / TPR);
  return /* wgsl */ `
struct Params { seqLen: u32, heads: u32, kvHeads: u32, group: u32, scale: f32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> K: array<f32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const D: u32 = ${d}u;
const DP: u32 = ${dp}u;
const BR: u32 = ${BR}u;
const BC: u32 = ${BC}u;
const TPR: u32 = ${TPR}u;
const NT: u32 = ${BR * TPR}u;
const KS: u32 = ${d + 1}u; // padded row stride of Ks: threads of a row read different keys
const NEG: f32 = -1e30;

var<workgroup> Qs: array<f32, ${BR * d}>;
var<workgroup> Ks: array<f32, ${BC * (d + 1)}>;
var<workgroup> Vs: array<f32, ${BC * d}>;
var<workgroup> S: array<f32, ${BR * BC}>;

@compute @workgroup_size(${BR * TPR})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  let h = wid.y;
  let kvh = h / p.group;
  let q0 = wid.x * BR;
  let r = li / TPR;
  let j = li % TPR;
  let qi = q0 + r;
  for (var e = li; e < BR * D; e += NT) {
    let qq = q0 + e / D;
    var v = 0.0;
    if (qq < p.seqLen) {
      v = Q[(qq * p.heads + h) * D + e % D] * p.scale;
    }
    Qs[e] = v;
  }
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, DP>;
  let kEnd = min(p.seqLen, q0 + BR);
  for (var k0 = 0u; k0 < kEnd; k0 += BC) {
    workgroupBarrier();
    for (var e = li; e < BC * D; e += NT) {
      let c = e / D;
      let dd = e % D;
      let kj = k0 + c;
      var kv = 0.0;
      var vv = 0.0;
      if (kj < p.seqLen) {
        let idx = (kj * p.kvHeads + kvh) * D + dd;
        kv = K[idx];
        vv = V[idx];
      }
      Ks[c * KS + dd] = kv;
      Vs[e] = vv;
    }
    workgroupBarrier();
    for (var c = j; c < BC; c += TPR) {
      let kj = k0 + c;
      var s = NEG;
      if (kj <= qi && kj < p.seqLen) {
        var dot = 0.0;
        for (var dd = 0u; dd < D; dd++) {
          dot = fma(Qs[r * D + dd], Ks[c * KS + dd], dot);
        }
        s = dot;
      }
      S[r * BC + c] = s;
    }
    workgroupBarrier();
    var mx = m;
    for (var c = 0u; c < BC; c++) {
      mx = max(mx, S[r * BC + c]);
    }
    let alpha = exp(m - mx);
    for (var i = 0u; i < DP; i++) {
      acc[i] *= alpha;
    }
    var psum = 0.0;
    for (var c = 0u; c < BC; c++) {
      let pc = exp(S[r * BC + c] - mx);
      psum += pc;
      for (var i = 0u; i < DP; i++) {
        let dd = j + i * TPR;
        if (dd < D) {
          acc[i] = fma(pc, Vs[c * D + dd], acc[i]);
        }
      }
    }
    l = l * alpha + psum;
    m = mx;
  }
  if (qi < p.seqLen) {
    for (var i = 0u; i < DP; i++) {
      let dd = j + i * TPR;
      if (dd < D) {
        O[(qi * p.heads + h) * D + dd] = acc[i] / l;
      }
    }
  }
}
`;
}

/** WGSL of the decode kernel's first pass (one partition of one sequence and head). */
export function decodePartitionWgsl(d: number): string {
  const dp = Math.ceil(d / DWG);
  return /* wgsl */ `
struct Params {
  heads: u32, kvHeads: u32, group: u32, blockSize: u32,
  maxBlocks: u32, numParts: u32, partSize: u32, scale: f32,
}
@group(0) @binding(0) var<storage, read> Q: array<f32>;
@group(0) @binding(1) var<storage, read> Kc: array<f32>;
@group(0) @binding(2) var<storage, read> Vc: array<f32>;
@group(0) @binding(3) var<storage, read> BT: array<u32>;
@group(0) @binding(4) var<storage, read> CL: array<u32>;
@group(0) @binding(5) var<storage, read_write> PML: array<f32>;
@group(0) @binding(6) var<storage, read_write> PACC: array<f32>;
@group(0) @binding(7) var<uniform> p: Params;

const D: u32 = ${d}u;
const DP: u32 = ${dp}u;
const WG: u32 = ${DWG}u;
const NEG: f32 = -1e30;

var<workgroup> qs: array<f32, ${d}>;
var<workgroup> S: array<f32, ${DWG}>;
var<workgroup> P: array<f32, ${DWG}>;

fn slot(b: u32, tok: u32, kvh: u32) -> u32 {
  let blk = BT[b * p.maxBlocks + tok / p.blockSize];
  return ((blk * p.blockSize + tok % p.blockSize) * p.kvHeads + kvh) * D;
}

@compute @workgroup_size(${DWG})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  let part = wid.x;
  let h = wid.y;
  let b = wid.z;
  let kvh = h / p.group;
  let ctx = CL[b];
  let start = part * p.partSize;
  let end = min(ctx, start + p.partSize);
  for (var e = li; e < D; e += WG) {
    qs[e] = Q[(b * p.heads + h) * D + e] * p.scale;
  }
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, DP>;
  for (var c0 = start; c0 < end; c0 += WG) {
    workgroupBarrier();
    let tok = c0 + li;
    var s = NEG;
    if (tok < end) {
      let base = slot(b, tok, kvh);
      var dot = 0.0;
      for (var dd = 0u; dd < D; dd++) {
        dot = fma(qs[dd], Kc[base + dd], dot);
      }
      s = dot;
    }
    S[li] = s;
    workgroupBarrier();
    var mx = m;
    for (var c = 0u; c < WG; c++) {
      mx = max(mx, S[c]);
    }
    P[li] = exp(s - mx);
    workgroupBarrier();
    let alpha = exp(m - mx);
    for (var i = 0u; i < DP; i++) {
      acc[i] *= alpha;
    }
    var psum = 0.0;
    let n = min(WG, end - c0);
    for (var c = 0u; c < n; c++) {
      let pc = P[c];
      psum += pc;
      let base = slot(b, c0 + c, kvh);
      for (var i = 0u; i < DP; i++) {
        let dd = li + i * WG;
        if (dd < D) {
          acc[i] = fma(pc, Vc[base + dd], acc[i]);
        }
      }
    }
    l = l * alpha + psum;
    m = mx;
  }
  let idx = (b * p.heads + h) * p.numParts + part;
  if (li == 0u) {
    PML[2u * idx] = m;
    PML[2u * idx + 1u] = l;
  }
  for (var i = 0u; i < DP; i++) {
    let dd = li + i * WG;
    if (dd < D) {
      PACC[idx * D + dd] = acc[i];
    }
  }
}
`;
}

/** WGSL of the decode kernel's second pass (merging the partitions of one sequence and head). */
export function decodeReduceWgsl(d: number): string {
  const dp = Math.ceil(d / DWG);
  return /* wgsl */ `
struct Params {
  heads: u32, kvHeads: u32, group: u32, blockSize: u32,
  maxBlocks: u32, numParts: u32, partSize: u32, scale: f32,
}
@group(0) @binding(0) var<storage, read> CL: array<u32>;
@group(0) @binding(1) var<storage, read> PML: array<f32>;
@group(0) @binding(2) var<storage, read> PACC: array<f32>;
@group(0) @binding(3) var<storage, read_write> O: array<f32>;
@group(0) @binding(4) var<uniform> p: Params;

const D: u32 = ${d}u;
const DP: u32 = ${dp}u;
const WG: u32 = ${DWG}u;

@compute @workgroup_size(${DWG})
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wid: vec3u) {
  let h = wid.x;
  let b = wid.y;
  let parts = min(p.numParts, (CL[b] + p.partSize - 1u) / p.partSize);
  let idx0 = (b * p.heads + h) * p.numParts;
  var mx = -1e30;
  for (var q = 0u; q < parts; q++) {
    mx = max(mx, PML[2u * (idx0 + q)]);
  }
  var l = 0.0;
  var acc: array<f32, DP>;
  for (var q = 0u; q < parts; q++) {
    let w = exp(PML[2u * (idx0 + q)] - mx);
    l = fma(PML[2u * (idx0 + q) + 1u], w, l);
    for (var i = 0u; i < DP; i++) {
      let dd = li + i * WG;
      if (dd < D) {
        acc[i] = fma(w, PACC[(idx0 + q) * D + dd], acc[i]);
      }
    }
  }
  for (var i = 0u; i < DP; i++) {
    let dd = li + i * WG;
    if (dd < D) {
      O[(b * p.heads + h) * D + dd] = acc[i] / l;
    }
  }
}
`;
}

function checkHeads(what: string, heads: number, kvHeads: number, headDim: number): void {
  for (const [k, v] of [['heads', heads], ['kvHeads', kvHeads], ['headDim', headDim]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${what}: ${k} must be a positive integer, got ${v}`);
  }
  if (heads % kvHeads !== 0) throw new RangeError(`${what}: heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  if (headDim > MAX_HEAD_DIM) throw new RangeError(`${what}: headDim ${headDim} > ${MAX_HEAD_DIM} is not supported`);
}

/** Shape of a prefill attention call. */
export interface PrefillShape {
  /** Tokens in the sequence. */
  seqLen: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (divides `heads`). */
  kvHeads: number;
  /** Dimension of one head, ≤ 128. */
  headDim: number;
}

function preparePrefill(
  ctx: GpuContext,
  s: PrefillShape,
  q: GPUBuffer,
  k: GPUBuffer,
  v: GPUBuffer,
  o: GPUBuffer,
): { encode(pass: GPUComputePassEncoder): void; params: GPUBuffer } {
  const gx = Math.ceil(s.seqLen / BR);
  const pipeline = getPipeline(ctx, `prefill-attn-${s.headDim}`, () => prefillAttentionWgsl(s.headDim));
  const params = uniformBuffer(
    ctx,
    [s.seqLen, s.heads, s.kvHeads, s.heads / s.kvHeads, { f32: 1 / Math.sqrt(s.headDim) }],
    'prefill params',
  );
  const group = bindBuffers(ctx, pipeline, [q, k, v, o, params]);
  return {
    params,
    encode(pass) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(gx, s.heads);
    },
  };
}

/** Validates a prefill shape against itself and the device's limits. @throws RangeError, DispatchLimitError */
function checkPrefill(ctx: GpuContext, s: PrefillShape): void {
  checkHeads('prefill attention', s.heads, s.kvHeads, s.headDim);
  if (!Number.isInteger(s.seqLen) || s.seqLen < 1) throw new RangeError(`prefill attention: seqLen must be a positive integer, got ${s.seqLen}`);
  const what = `prefill attention seqLen=${s.seqLen} heads=${s.heads} headDim=${s.headDim}`;
  checkWorkgroupStorage(ctx, prefillWorkgroupBytes(s.headDim), what);
  checkWorkgroups(ctx, Math.ceil(s.seqLen / BR), what);
  checkWorkgroups(ctx, s.heads, what);
  checkBindingSize(ctx, 4 * s.seqLen * s.heads * s.headDim, `${what}: q`);
}

/**
 * A timeable causal prefill attention of shape `s` on random q, k, v in [-1, 1). FLOPs
 * 4·headDim·heads·seqLen(seqLen+1)/2 (QKᵀ and PV over the causal triangle); bytes: q, k, v read
 * and o written once, f32.
 * @throws RangeError for a bad shape; DispatchLimitError beyond the device's limits.
 */
export function prefillAttentionCase(
  ctx: GpuContext,
  s: { seqLen: number; heads: number; kvHeads: number; headDim: number },
): KernelCase {
  checkPrefill(ctx, s);
  const qn = s.seqLen * s.heads * s.headDim;
  const kn = s.seqLen * s.kvHeads * s.headDim;
  const bufs = [
    storageBuffer(ctx, randomArray(qn, 11), 'prefill q'),
    storageBuffer(ctx, randomArray(kn, 12), 'prefill k'),
    storageBuffer(ctx, randomArray(kn, 13), 'prefill v'),
    storageBuffer(ctx, qn * 4, 'prefill o'),
  ];
  const prep = preparePrefill(ctx, s, bufs[0], bufs[1], bufs[2], bufs[3]);
  bufs.push(prep.params);
  return {
    name: `prefill-attention seqLen=${s.seqLen} heads=${s.heads} kvHeads=${s.kvHeads} headDim=${s.headDim}`,
    flops: (4 * s.headDim * s.heads * s.seqLen * (s.seqLen + 1)) / 2,
    bytes: 4 * (2 * qn + 2 * kn),
    encode: prep.encode,
    destroy() {
      for (const b of bufs) b.destroy();
    },
  };
}

/**
 * Causal attention of one sequence on the device: `q` [seqLen, heads, headDim], `k` and `v`
 * [seqLen, kvHeads, headDim], f32 row-major. Returns o [seqLen, heads, headDim].
 * @throws RangeError for a bad shape or array length; DispatchLimitError beyond the device's limits.
 */
export async function runPrefillAttention(
  ctx: GpuContext,
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  s: PrefillShape,
): Promise<Float32Array> {
  checkPrefill(ctx, s);
  const qn = s.seqLen * s.heads * s.headDim;
  const kn = s.seqLen * s.kvHeads * s.headDim;
  if (q.length !== qn) throw new RangeError(`runPrefillAttention: q has ${q.length} elements, expected ${qn}`);
  if (k.length !== kn || v.length !== kn) throw new RangeError(`runPrefillAttention: k and v need ${kn} elements`);
  const bufs = [
    storageBuffer(ctx, q, 'prefill q'),
    storageBuffer(ctx, k, 'prefill k'),
    storageBuffer(ctx, v, 'prefill v'),
    storageBuffer(ctx, qn * 4, 'prefill o'),
  ];
  try {
    const prep = preparePrefill(ctx, s, bufs[0], bufs[1], bufs[2], bufs[3]);
    bufs.push(prep.params);
    return new Float32Array(await runAndRead(ctx, prep.encode, bufs[3], qn * 4));
  } finally {
    for (const b of bufs) b.destroy();
  }
}

/** Shape of a paged decode attention call. */
export interface DecodeShape {
  /** Sequences (one query token each). */
  batch: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (divides `heads`). */
  kvHeads: number;
  /** Dimension of one head, ≤ 128. */
  headDim: number;
  /** Tokens per KV-cache block. */
  blockSize: number;
}

function prepareDecode(
  ctx: GpuContext,
  s: DecodeShape & { maxBlocks: number; maxContext: number },
  bufs: { q: GPUBuffer; kc: GPUBuffer; vc: GPUBuffer; bt: GPUBuffer; cl: GPUBuffer; o: GPUBuffer },
): { encode(pass: GPUComputePassEncoder): void; owned: GPUBuffer[] } {
  const numParts = checkDecodeLimits(ctx, s, s.maxContext);
  const partials = s.batch * s.heads * numParts;
  const pml = storageBuffer(ctx, partials * 2 * 4, 'decode partial max/sum');
  const pacc = storageBuffer(ctx, partials * s.headDim * 4, 'decode partial acc');
  const params = uniformBuffer(
    ctx,
    [s.heads, s.kvHeads, s.heads / s.kvHeads, s.blockSize, s.maxBlocks, numParts, DECODE_PARTITION, { f32: 1 / Math.sqrt(s.headDim) }],
    'decode params',
  );
  const p1 = getPipeline(ctx, `decode-attn-part-${s.headDim}`, () => decodePartitionWgsl(s.headDim));
  const p2 = getPipeline(ctx, `decode-attn-reduce-${s.headDim}`, () => decodeReduceWgsl(s.headDim));
  const g1 = bindBuffers(ctx, p1, [bufs.q, bufs.kc, bufs.vc, bufs.bt, bufs.cl, pml, pacc, params]);
  const g2 = bindBuffers(ctx, p2, [bufs.cl, pml, pacc, bufs.o, params]);
  return {
    owned: [pml, pacc, params],
    encode(pass) {
      pass.setPipeline(p1);
      pass.setBindGroup(0, g1);
      pass.dispatchWorkgroups(numParts, s.heads, s.batch);
      pass.setPipeline(p2);
      pass.setBindGroup(0, g2);
      pass.dispatchWorkgroups(s.heads, s.batch);
    },
  };
}

/**
 * Checks a decode call against the device's limits; returns the partition count of the first pass.
 * @throws DispatchLimitError
 */
function checkDecodeLimits(ctx: GpuContext, s: DecodeShape, maxContext: number): number {
  const what = `decode attention batch=${s.batch} heads=${s.heads} context=${maxContext}`;
  const numParts = Math.max(1, Math.ceil(maxContext / DECODE_PARTITION));
  checkWorkgroups(ctx, numParts, what);
  checkWorkgroups(ctx, s.heads, what);
  checkWorkgroups(ctx, s.batch, what);
  checkBindingSize(ctx, 4 * s.batch * s.heads * numParts * s.headDim, `${what}: partial results`);
  return numParts;
}

function checkDecode(s: DecodeShape): void {
  checkHeads('decode attention', s.heads, s.kvHeads, s.headDim);
  for (const key of ['batch', 'blockSize'] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new RangeError(`decode attention: ${key} must be a positive integer, got ${s[key]}`);
  }
}

/**
 * A timeable paged decode attention: `batch` sequences of `contextLen` tokens each, their blocks
 * scattered over the cache in a random order; random q and caches in [-1, 1). FLOPs
 * 4·headDim·heads·batch·contextLen; bytes: the K and V entries read once each (f32), q read and o
 * written, block table and context lengths (partials ignored).
 * @throws RangeError for a bad shape; DispatchLimitError beyond the device's limits.
 */
export function decodeAttentionCase(
  ctx: GpuContext,
  s: { batch: number; contextLen: number; heads: number; kvHeads: number; headDim: number; blockSize: number },
): KernelCase {
  checkDecode(s);
  if (!Number.isInteger(s.contextLen) || s.contextLen < 1) throw new RangeError(`decode attention: contextLen must be a positive integer, got ${s.contextLen}`);
  const maxBlocks = Math.ceil(s.contextLen / s.blockSize);
  const numBlocks = s.batch * maxBlocks;
  checkDecodeLimits(ctx, s, s.contextLen);
  checkBindingSize(ctx, 4 * numBlocks * s.blockSize * s.kvHeads * s.headDim, 'decode attention: KV cache');
  const perm = shuffled(numBlocks, 7);
  const cacheN = numBlocks * s.blockSize * s.kvHeads * s.headDim;
  const qn = s.batch * s.heads * s.headDim;
  const bufs = {
    q: storageBuffer(ctx, randomArray(qn, 21), 'decode q'),
    kc: storageBuffer(ctx, randomArray(cacheN, 22), 'decode k cache'),
    vc: storageBuffer(ctx, randomArray(cacheN, 23), 'decode v cache'),
    bt: storageBuffer(ctx, perm, 'decode block table'),
    cl: storageBuffer(ctx, new Uint32Array(s.batch).fill(s.contextLen), 'decode context lengths'),
    o: storageBuffer(ctx, qn * 4, 'decode o'),
  };
  const prep = prepareDecode(ctx, { ...s, maxBlocks, maxContext: s.contextLen }, bufs);
  const kvBytes = 2 * 4 * s.batch * s.contextLen * s.kvHeads * s.headDim;
  return {
    name: `decode-attention batch=${s.batch} context=${s.contextLen} heads=${s.heads} kvHeads=${s.kvHeads} headDim=${s.headDim} block=${s.blockSize}`,
    flops: 4 * s.headDim * s.heads * s.batch * s.contextLen,
    bytes: kvBytes + 2 * 4 * qn + 4 * (s.batch * maxBlocks + s.batch),
    encode: prep.encode,
    destroy() {
      for (const b of [...Object.values(bufs), ...prep.owned]) b.destroy();
    },
  };
}

/** 0..n-1 in an order shuffled by a seeded Fisher–Yates. */
function shuffled(n: number, seed: number): Uint32Array {
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  const r = randomArray(n, seed, 0, 1);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.min(i, Math.floor(r[i] * (i + 1)));
    const t = out[i];
    out[i] = out[j];
    out[j] = t;
  }
  return out;
}

/**
 * Paged decode attention on the device. `q` [batch, heads, headDim]; `kCache`, `vCache`
 * [numBlocks, blockSize, kvHeads, headDim] (numBlocks from their length); `blockTables`
 * [batch, maxBlocksPerSeq] (maxBlocksPerSeq = length / batch) of block indices; `contextLens`
 * [batch], each ≥ 1, tokens 0..len-1 of sequence b living at blockTables[b][j / blockSize], slot
 * j % blockSize. Returns o [batch, heads, headDim].
 * @throws RangeError for inconsistent lengths, a context longer than its block table or a block
 * index out of range; DispatchLimitError beyond the device's limits.
 */
export async function runDecodeAttention(
  ctx: GpuContext,
  q: Float32Array,
  kCache: Float32Array,
  vCache: Float32Array,
  blockTables: Int32Array | Uint32Array,
  contextLens: Int32Array | Uint32Array,
  s: DecodeShape,
): Promise<Float32Array> {
  checkDecode(s);
  const qn = s.batch * s.heads * s.headDim;
  if (q.length !== qn) throw new RangeError(`runDecodeAttention: q has ${q.length} elements, expected ${qn}`);
  const blockElems = s.blockSize * s.kvHeads * s.headDim;
  if (kCache.length !== vCache.length || kCache.length % blockElems !== 0 || kCache.length === 0) {
    throw new RangeError(`runDecodeAttention: caches must have equal lengths, a positive multiple of blockSize·kvHeads·headDim = ${blockElems}`);
  }
  const numBlocks = kCache.length / blockElems;
  if (contextLens.length !== s.batch) throw new RangeError(`runDecodeAttention: contextLens has ${contextLens.length} entries, expected batch = ${s.batch}`);
  if (blockTables.length % s.batch !== 0 || blockTables.length === 0) throw new RangeError('runDecodeAttention: blockTables length must be a positive multiple of batch');
  const maxBlocks = blockTables.length / s.batch;
  let maxContext = 0;
  for (let b = 0; b < s.batch; b++) {
    const len = contextLens[b];
    if (!(len >= 1) || len > maxBlocks * s.blockSize) {
      throw new RangeError(`runDecodeAttention: context length ${len} of sequence ${b} is not in 1..${maxBlocks * s.blockSize}`);
    }
    for (let j = 0; j < Math.ceil(len / s.blockSize); j++) {
      const blk = blockTables[b * maxBlocks + j];
      if (!(blk >= 0 && blk < numBlocks)) throw new RangeError(`runDecodeAttention: block ${blk} of sequence ${b} is not in 0..${numBlocks - 1}`);
    }
    maxContext = Math.max(maxContext, len);
  }
  checkDecodeLimits(ctx, s, maxContext);
  const bufs = {
    q: storageBuffer(ctx, q, 'decode q'),
    kc: storageBuffer(ctx, kCache, 'decode k cache'),
    vc: storageBuffer(ctx, vCache, 'decode v cache'),
    bt: storageBuffer(ctx, Uint32Array.from(blockTables, (x) => Math.max(0, x)), 'decode block table'),
    cl: storageBuffer(ctx, Uint32Array.from(contextLens), 'decode context lengths'),
    o: storageBuffer(ctx, qn * 4, 'decode o'),
  };
  const owned: GPUBuffer[] = [];
  try {
    const prep = prepareDecode(ctx, { ...s, maxBlocks, maxContext }, bufs);
    owned.push(...prep.owned);
    return new Float32Array(await runAndRead(ctx, prep.encode, bufs.o, qn * 4));
  } finally {
    for (const b of [...Object.values(bufs), ...owned]) b.destroy();
  }
}
