/**
 * GPU specifications from the vendors' datasheets: peak dense BF16 tensor throughput, memory
 * bandwidth and capacity, host link and GPU-to-GPU link.
 */
import { checkChoice } from '../errors.ts';

const GiB = 2 ** 30;

/**
 * One GPU. Peak numbers are the datasheet's; a cost model applies its own efficiency factors.
 * Units: FLOP/s, bytes/s, bytes.
 */
export interface GpuSpec {
  /** Lower-case key in {@link GPUS}, e.g. `a100-80gb`. */
  name: string;
  /** Peak dense (no sparsity) BF16 tensor-core throughput, FLOP/s. */
  bf16Flops: number;
  /** Peak device-memory bandwidth, bytes/s. */
  memBandwidth: number;
  /**
   * Device memory, bytes: the datasheet's "N GB" read as N GiB (HBM and GDDR capacities are
   * binary; an A100-80GB shows 81,920 MiB). GDDR6 parts with ECC on expose about 6% less.
   */
  memBytes: number;
  /**
   * Host<->device copy bandwidth in one direction as achieved for KV swapping, bytes/s: 80% of
   * the PCIe link's theoretical per-direction rate (Gen4 x16 32 GB/s, Gen5 x16 64 GB/s).
   */
  pcieBandwidth: number;
  /**
   * GPU-to-GPU bandwidth per GPU in one direction, bytes/s, as the datasheet gives it (NVLink's
   * bidirectional figure halved; PCIe's per-direction rate where the part has no NVLink). The
   * all-reduce model applies an efficiency factor to it.
   */
  interconnectBandwidth: number;
  /** URL-free citation of the numbers. */
  source: string;
  /**
   * Default rental price, US dollars per GPU-hour (`--gpu-price` overrides it): a public cloud's
   * on-demand instance price divided by its GPUs, cited in {@link GpuSpec.priceSource}. Undefined
   * when no public per-GPU figure is recorded; a run then reports no cost unless `--gpu-price` is given.
   */
  usdPerHour?: number;
  /** Where {@link GpuSpec.usdPerHour} comes from: price list, instance, region and date. */
  priceSource?: string;
}

/** The price list the default GPU prices come from (prices change: a run's summary records the one used). */
const AWS_ON_DEMAND = 'AWS EC2 On-Demand pricing, US East (N. Virginia), Linux, as listed in 2024 (before the June 2025 P4/P5 price cuts)';

/** The GPUs the simulator knows, keyed by lower-case name. */
export const GPUS: Readonly<Record<string, GpuSpec>> = Object.freeze({
  'a100-80gb': Object.freeze({
    name: 'a100-80gb',
    bf16Flops: 312e12,
    memBandwidth: 2039e9,
    memBytes: 80 * GiB,
    pcieBandwidth: 25.6e9,
    interconnectBandwidth: 300e9,
    source:
      'NVIDIA A100 Tensor Core GPU datasheet (80GB SXM): 312 TFLOPS BF16 dense, 2,039 GB/s HBM2e, ' +
      '80 GB; NVLink 600 GB/s bidirectional; PCIe Gen4 64 GB/s bidirectional',
    usdPerHour: 40.96572 / 8,
    priceSource: `${AWS_ON_DEMAND}: p4de.24xlarge, 8x A100 80GB: $40.96572/h / 8`,
  }),
  'h100-80gb': Object.freeze({
    name: 'h100-80gb',
    bf16Flops: 989e12,
    memBandwidth: 3350e9,
    memBytes: 80 * GiB,
    pcieBandwidth: 51.2e9,
    interconnectBandwidth: 450e9,
    source:
      'NVIDIA H100 Tensor Core GPU datasheet (H100 SXM): 1,979 TFLOPS BF16 with sparsity = 989 dense, ' +
      '3.35 TB/s HBM3, 80 GB; NVLink 900 GB/s bidirectional; PCIe Gen5 128 GB/s bidirectional',
    usdPerHour: 98.32 / 8,
    priceSource: `${AWS_ON_DEMAND}: p5.48xlarge, 8x H100 80GB: $98.32/h / 8`,
  }),
  h200: Object.freeze({
    name: 'h200',
    bf16Flops: 989e12,
    memBandwidth: 4800e9,
    memBytes: 141 * GiB,
    pcieBandwidth: 51.2e9,
    interconnectBandwidth: 450e9,
    source:
      'NVIDIA H200 Tensor Core GPU datasheet (H200 SXM): 1,979 TFLOPS BF16 with sparsity = 989 dense, ' +
      '4.8 TB/s HBM3e, 141 GB; NVLink 900 GB/s bidirectional; PCIe Gen5 128 GB/s bidirectional',
  }),
  // Blackwell, one GPU of an HGX/DGX B200 (8 GPUs). Its hosts (DGX B200: Xeon Platinum 8570)
  // have PCIe Gen5, so host copies run at Gen5 x16 rates.
  b200: Object.freeze({
    name: 'b200',
    bf16Flops: 2250e12,
    memBandwidth: 8000e9,
    memBytes: 180 * GiB,
    pcieBandwidth: 51.2e9,
    interconnectBandwidth: 900e9,
    source:
      'NVIDIA HGX B200 datasheet (8 GPUs): FP16/BF16 tensor 36 PFLOPS with sparsity = 2,250 TFLOPS dense per GPU, ' +
      '64 TB/s HBM3e = 8 TB/s and 1,440 GB = 180 GB per GPU; NVLink 5 1.8 TB/s bidirectional per GPU; host PCIe Gen5 x16 128 GB/s bidirectional',
  }),
  // Hopper cut for the Chinese market: the H100's NVLink and PCIe with far fewer tensor FLOPs.
  h20: Object.freeze({
    name: 'h20',
    bf16Flops: 148e12,
    memBandwidth: 4000e9,
    memBytes: 96 * GiB,
    pcieBandwidth: 51.2e9,
    interconnectBandwidth: 450e9,
    source:
      'NVIDIA H20 specifications (HGX H20 product brief): 296 TFLOPS FP16/BF16 with sparsity = 148 dense, 4.0 TB/s HBM3, 96 GB; ' +
      'NVLink 900 GB/s bidirectional; PCIe Gen5 x16 128 GB/s bidirectional',
  }),
  // AMD CDNA 3 (OAM, 8 per platform), 7 Infinity Fabric links of 64 GB/s per direction each.
  mi300x: Object.freeze({
    name: 'mi300x',
    bf16Flops: 1307.4e12,
    memBandwidth: 5300e9,
    memBytes: 192 * GiB,
    pcieBandwidth: 51.2e9,
    interconnectBandwidth: 448e9,
    source:
      'AMD Instinct MI300X accelerator datasheet: 1,307.4 TFLOPS peak BF16 dense (2,614.9 with sparsity), 5.3 TB/s HBM3, 192 GB; ' +
      'Infinity Fabric 896 GB/s aggregate peak bidirectional (7 links x 128 GB/s); PCIe Gen5 x16 128 GB/s bidirectional',
  }),
  l40s: Object.freeze({
    name: 'l40s',
    bf16Flops: 362.05e12,
    memBandwidth: 864e9,
    memBytes: 48 * GiB,
    pcieBandwidth: 25.6e9,
    interconnectBandwidth: 32e9,
    source:
      'NVIDIA L40S datasheet: 362.05 TFLOPS BF16 dense (733 with sparsity), 864 GB/s GDDR6, 48 GB; ' +
      'no NVLink; PCIe Gen4 x16 64 GB/s bidirectional',
    usdPerHour: 1.861,
    priceSource: `${AWS_ON_DEMAND}: g6e.xlarge, 1x L40S: $1.861/h (includes the instance's 4 vCPUs)`,
  }),
  a10g: Object.freeze({
    name: 'a10g',
    bf16Flops: 70e12,
    memBandwidth: 600e9,
    memBytes: 24 * GiB,
    pcieBandwidth: 25.6e9,
    interconnectBandwidth: 32e9,
    source:
      'NVIDIA A10G (AWS G5; no public NVIDIA datasheet; AWS/NVIDIA G5 specifications): 70 TFLOPS BF16 ' +
      'dense tensor, 600 GB/s GDDR6, 24 GB; no NVLink; PCIe Gen4 x16',
    usdPerHour: 1.006,
    priceSource: `${AWS_ON_DEMAND}: g5.xlarge, 1x A10G: $1.006/h (includes the instance's 4 vCPUs)`,
  }),
});

/**
 * Looks a GPU up by name (case-insensitive).
 * @throws InputError (field `gpu`) listing the valid names when the name is unknown.
 */
export function getGpu(name: string): GpuSpec {
  const key = checkChoice('gpu', name.trim().toLowerCase(), Object.keys(GPUS));
  return GPUS[key];
}
