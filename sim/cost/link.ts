/**
 * Links that carry KV cache between GPUs of different instances: a live migration (Llumnix §4.2)
 * or a finished prefill's KV moved to a decode instance (Splitwise, DistServe, Mooncake). A
 * transfer of b bytes per GPU takes `latency_s + b / bandwidth`: under tensor parallelism each
 * GPU sends its own shard of the KV (sim/cost/memory.ts `kvBytesPerToken` is per GPU) over its own
 * link, in parallel. Units: bytes/s, seconds.
 */
import { InputError } from '../errors.ts';
import type { GpuSpec } from './gpus.ts';

/** One link between a GPU of the source instance and its peer on the destination. */
export interface Link {
  /** Preset name, or `custom`. */
  readonly name: string;
  /** Achievable bandwidth per GPU in one direction, bytes/s. */
  readonly bandwidth: number;
  /** Fixed cost of one transfer (set-up and first byte), seconds. */
  readonly latency_s: number;
  /** Where the figures come from. */
  readonly source: string;
}

/** A preset: fixed figures, or figures read off the GPU (NVLink and PCIe differ by part). */
interface LinkPreset {
  readonly describe: string;
  readonly make: (gpu: GpuSpec) => Link;
}

/** Gb/s (network line rate, decimal) to bytes/s. */
const gbit = (g: number) => (g * 1e9) / 8;

/**
 * The link presets by CLI name (`--link NAME`). Network rates are per GPU in one direction: one
 * NIC per GPU, as in the DGX/HGX nodes Splitwise and DistServe used. Latencies are the fixed cost
 * of one transfer: microseconds for RDMA and NVLink (a KV transfer is a few large writes).
 */
export const LINKS: Readonly<Record<string, LinkPreset>> = Object.freeze({
  nvlink: {
    describe: 'NVLink within a node: the GPU\'s datasheet GPU-to-GPU rate per direction',
    make: (gpu) => ({ name: 'nvlink', bandwidth: gpu.interconnectBandwidth, latency_s: 5e-6, source: `${gpu.name} datasheet (sim/cost/gpus.ts)` }),
  },
  pcie: {
    describe: 'PCIe through the host: the GPU\'s achieved host-link rate per direction',
    make: (gpu) => ({ name: 'pcie', bandwidth: gpu.pcieBandwidth, latency_s: 10e-6, source: `${gpu.name} PCIe generation (sim/cost/gpus.ts)` }),
  },
  'infiniband-ndr': {
    describe: 'InfiniBand NDR, 400 Gb/s per GPU (ConnectX-7; Splitwise\'s and Mooncake\'s class of network)',
    make: () => ({ name: 'infiniband-ndr', bandwidth: gbit(400), latency_s: 5e-6, source: 'NVIDIA ConnectX-7 datasheet: 400 Gb/s NDR' }),
  },
  'infiniband-hdr': {
    describe: 'InfiniBand HDR, 200 Gb/s per GPU (ConnectX-6; DGX A100)',
    make: () => ({ name: 'infiniband-hdr', bandwidth: gbit(200), latency_s: 5e-6, source: 'NVIDIA ConnectX-6 datasheet: 200 Gb/s HDR' }),
  },
  'roce-100g': {
    describe: 'RoCE v2 over 100 Gb/s Ethernet per GPU',
    make: () => ({ name: 'roce-100g', bandwidth: gbit(100), latency_s: 10e-6, source: '100 GbE line rate' }),
  },
  'ethernet-64g': {
    describe: '64 Gb/s between instances (Llumnix\'s testbed network, §6.1)',
    make: () => ({ name: 'ethernet-64g', bandwidth: gbit(64), latency_s: 50e-6, source: 'Llumnix (OSDI\'24) §6.1 testbed: 64 Gb/s network' }),
  },
});

/**
 * The link named `name` for instances on `gpu`, with optional overrides.
 * @param bandwidth overrides the preset's bandwidth (bytes/s, > 0).
 * @param latency_s overrides the preset's latency (s, ≥ 0).
 * @throws InputError (field `--link`) for an unknown name, (`--link-bandwidth`/`--link-latency`) for bad overrides.
 */
export function getLink(name: string, gpu: GpuSpec, bandwidth?: number, latency_s?: number): Link {
  const preset = Object.hasOwn(LINKS, name) ? LINKS[name] : undefined;
  if (!preset) throw new InputError(`unknown link '${name}'; known: ${Object.keys(LINKS).join(', ')}`, { field: '--link' });
  const link = preset.make(gpu);
  if (bandwidth !== undefined && !(bandwidth > 0 && Number.isFinite(bandwidth))) {
    throw new InputError(`must be a positive number of bytes/s, got ${bandwidth}`, { field: '--link-bandwidth' });
  }
  if (latency_s !== undefined && !(latency_s >= 0 && Number.isFinite(latency_s))) {
    throw new InputError(`must be a number of seconds ≥ 0, got ${latency_s}`, { field: '--link-latency' });
  }
  if (bandwidth === undefined && latency_s === undefined) return link;
  return { ...link, bandwidth: bandwidth ?? link.bandwidth, latency_s: latency_s ?? link.latency_s, source: `${link.source}, overridden` };
}

/**
 * Seconds to move `bytesPerGpu` bytes over `link` (each GPU of a tensor-parallel instance sends
 * its own shard in parallel): `latency_s + bytesPerGpu / bandwidth`; 0 for 0 bytes.
 */
export function transferSeconds(link: Link, bytesPerGpu: number): number {
  return bytesPerGpu > 0 ? link.latency_s + bytesPerGpu / link.bandwidth : 0;
}
