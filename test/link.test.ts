import { describe, expect, it } from 'vitest';
import { getGpu, getLink, kvBytesPerToken, getModel, transferSeconds } from '../sim/cost/index.ts';
import { InputError } from '../sim/errors.ts';

describe('KV transfer links', () => {
  it('prices a transfer as latency + bytes / bandwidth (hand-worked)', () => {
    const a100 = getGpu('a100-80gb');
    // Llama-2-7B at tp=1: 512 KiB of KV per token; 1,000 tokens over 400 Gb/s (50 GB/s) + 5 µs.
    const bytes = 1000 * kvBytesPerToken(getModel('llama-2-7b'), 1);
    expect(bytes).toBe(524_288_000);
    const link = getLink('infiniband-ndr', a100);
    expect(link.bandwidth).toBe(50e9);
    expect(transferSeconds(link, bytes)).toBeCloseTo(5e-6 + 524_288_000 / 50e9, 12);
    expect(transferSeconds(link, 0)).toBe(0);
    // NVLink reads the GPU's own figure: 300 GB/s per direction on the A100.
    expect(getLink('nvlink', a100).bandwidth).toBe(300e9);
  });
  it('applies overrides and rejects bad ones with the option named', () => {
    const h100 = getGpu('h100-80gb');
    const link = getLink('roce-100g', h100, 1e9, 0);
    expect(transferSeconds(link, 2e9)).toBe(2);
    expect(() => getLink('carrier-pigeon', h100)).toThrow(InputError);
    expect(() => getLink('nvlink', h100, 0)).toThrow(/--link-bandwidth/);
    expect(() => getLink('nvlink', h100, undefined, -1)).toThrow(/--link-latency/);
  });
});
