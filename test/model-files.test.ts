/**
 * `--model FILE.json` and `--gpu FILE.json` (app/specs/hardware.ts): ModelSpec/GpuSpec files and
 * Hugging Face config.json files, checked against the built-in entries (the truth: each model's
 * published config.json, sim/cost/models.ts) and for their one-line errors.
 */
import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getGpu, getModel, MODELS, GPUS } from '../sim/cost/index.ts';
import { modelDifferences, readGpuFile, readModelFile, resolveGpu, resolveModel } from '../app/specs/hardware.ts';
import { inputError, runSim } from './helpers.ts';

const HF = path.resolve('test/fixtures/hf');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'llmsched-model-files-'));
let n = 0;
/** Writes `text` to a fresh file and returns its path. */
function file(text: string, name = `f${n++}.json`): string {
  const dir = path.join(tmp, String(n++));
  fs.mkdirSync(dir);
  const p = path.join(dir, name);
  fs.writeFileSync(p, text);
  return p;
}
/** A built-in entry as a file would hold it (params left out: it is computed). */
function asFile(spec: object, over: Record<string, unknown> = {}): string {
  const { params: _p, ...rest } = spec as Record<string, unknown>;
  return JSON.stringify({ ...rest, ...over }, null, 2);
}

describe('Hugging Face config.json', () => {
  const cases: [string, string][] = [
    ['Llama-3.1-8B', 'llama-3.1-8b'],
    ['Mixtral-8x7B-v0.1', 'mixtral-8x7b'],
    ['Qwen2.5-7B', 'qwen2.5-7b'],
  ];
  for (const [folder, builtin] of cases) {
    it(`${folder}/config.json maps to the built-in ${builtin}`, () => {
      const m = readModelFile(path.join(HF, folder, 'config.json'));
      const b = getModel(builtin);
      expect(modelDifferences(m, b)).toEqual([]);
      expect(m.params).toBe(b.params);
      expect(m.name).toBe(folder.toLowerCase());
      expect(m.source).toMatch(new RegExp(`Hugging Face config.json ${folder}/config.json`));
    });
  }

  it('reads Mixtral as 8 experts with 2 per token, Qwen2 with QKV biases, Llama without', () => {
    const mixtral = readModelFile(path.join(HF, 'Mixtral-8x7B-v0.1', 'config.json'));
    expect([mixtral.experts, mixtral.activeExperts]).toEqual([8, 2]);
    expect(readModelFile(path.join(HF, 'Qwen2.5-7B', 'config.json')).qkvBias).toBe(true);
    expect(readModelFile(path.join(HF, 'Llama-3.1-8B', 'config.json')).qkvBias).toBeUndefined();
  });

  const base = { model_type: 'llama', hidden_size: 1024, num_hidden_layers: 4, num_attention_heads: 8, intermediate_size: 2816, vocab_size: 32000, max_position_embeddings: 2048 };
  it('defaults head_dim to hidden/heads and KV heads to the heads; head_dim when given', () => {
    const m = readModelFile(file(JSON.stringify(base), 'config.json'));
    expect([m.headDim, m.kvHeads, m.tiedEmbeddings]).toEqual([128, 8, undefined]);
    expect(readModelFile(file(JSON.stringify({ ...base, head_dim: 64, num_key_value_heads: 2, tie_word_embeddings: true }))).headDim).toBe(64);
  });

  it('maps a Qwen MoE (num_experts, moe_intermediate_size, shared expert) and counts its parameters by hand', () => {
    const q = { ...base, model_type: 'qwen2_moe', num_experts: 4, num_experts_per_tok: 2, moe_intermediate_size: 256, shared_expert_intermediate_size: 512, tie_word_embeddings: false };
    const m = readModelFile(file(JSON.stringify(q)));
    expect([m.experts, m.activeExperts, m.intermediate, m.sharedExpertIntermediate, m.qkvBias]).toEqual([4, 2, 256, 512, true]);
    const h = 1024;
    const attn = h * (h + 2 * h) + 3 * h + h * h; // Q, K, V (8 KV heads), biases, O
    const mlp = 3 * h * (4 * 256 + 512) + h * (4 + 1); // 4 experts + shared expert, router + shared gate
    expect(m.params).toBe(2 * 32000 * h + 4 * (attn + mlp + 2 * h) + h);
  });

  const bad: [string, object, RegExp][] = [
    ['a missing field', { ...base, vocab_size: undefined }, /:\d+: vocab_size: missing|: vocab_size: missing/],
    ['a string count', { ...base, num_hidden_layers: '4' }, /: num_hidden_layers: expected number/],
    ['KV heads that do not divide the heads', { ...base, num_key_value_heads: 3 }, /: num_key_value_heads: 3 does not divide the 8 query heads/],
    ['experts without experts per token', { ...base, num_local_experts: 8 }, /: num_experts_per_tok: missing/],
    ['DeepSeek MLA', { ...base, kv_lora_rank: 512 }, /: kv_lora_rank: multi-head latent attention/],
    ['dense layers between sparse ones', { ...base, num_experts: 8, num_experts_per_tok: 2, decoder_sparse_step: 2 }, /: decoder_sparse_step: dense layers/],
  ];
  for (const [what, cfg, re] of bad) {
    it(`refuses ${what} in one line naming file, line and field`, () => {
      const f = file(JSON.stringify(cfg, null, 2));
      const e = inputError(() => readModelFile(f));
      expect(e.message).toMatch(re);
      expect(e.message.startsWith(`${f}:`)).toBe(true);
      expect(e.message).not.toContain('\n');
    });
  }
});

describe('model and GPU files in the built-ins\' shape', () => {
  it('every built-in written to a file reads back as itself', () => {
    for (const m of Object.values(MODELS)) expect(readModelFile(file(asFile(m)))).toEqual(m);
    for (const g of Object.values(GPUS)) expect(readGpuFile(file(asFile(g)))).toEqual(g);
  });

  it('resolves names and .json files alike', () => {
    expect(resolveModel('Llama-2-7B')).toBe(getModel('llama-2-7b'));
    expect(resolveGpu(file(asFile(getGpu('h200'), { name: 'my-h200' }))).memBytes).toBe(getGpu('h200').memBytes);
  });

  const m = getModel('llama-2-7b');
  const g = getGpu('a100-80gb');
  // [what, text, the message's field and reason, the 1-based line of the key]
  const bad: [string, string, RegExp, number | undefined][] = [
    ['an unknown field', asFile(m, { name: 'x', layerz: 3 }), /: layerz: unknown field$/, 12],
    ['a missing source', asFile(m, { name: 'x', source: undefined }), /\.json: source: missing \(expected string\)$/, undefined],
    ['a fractional layer count', asFile(m, { name: 'x', layers: 31.5 }), /: layers: expected int/, 3],
    ['zero heads', asFile(m, { name: 'x', heads: 0 }), /: heads: Too small/, 5],
    ['KV heads that do not divide the heads', asFile(m, { name: 'x', kvHeads: 5 }), /: kvHeads: 5 does not divide the 32 query heads$/, 6],
    ['a params count the architecture does not give', asFile(m, { name: 'x', params: 7e9 }), /: params: 7000000000 differs from the 6738415616/, 12],
    ['a built-in name with other values', asFile(m, { layers: 40 }), /: name: 'llama-2-7b' is a built-in model \(sim models\) with other values \(layers, params\)/, 2],
    ['experts without experts per token', asFile(m, { name: 'x', experts: 8 }), /: activeExperts: missing/, undefined],
    ['not JSON', '{"name": "x",\n  "layers": }', /: not valid JSON/, undefined],
  ];
  for (const [what, text, re, line] of bad) {
    it(`a model file with ${what}: one line naming file, line and field`, () => {
      const f = file(text);
      const e = inputError(() => readModelFile(f));
      expect(e.message).toMatch(re);
      expect(e.file).toBe(f);
      if (line !== undefined) expect(e.line).toBe(line);
      expect(e.message).not.toContain('\n');
    });
  }

  it('a GPU file with a negative bandwidth or a built-in name with other values', () => {
    const f = file(asFile(g, { name: 'x', memBandwidth: -1 }));
    const e = inputError(() => readGpuFile(f));
    expect(e.message).toMatch(new RegExp(`^${f}:4: memBandwidth: Too small`));
    const f2 = file(asFile(g, { bf16Flops: 1e15 }));
    expect(inputError(() => readGpuFile(f2)).message).toMatch(/:2: name: 'a100-80gb' is a built-in gpu \(sim gpus\) with other values \(bf16Flops\)/);
  });
});

describe('a run with --model FILE --gpu FILE', () => {
  const args = ['--trace', 'traces/azure-conv-2000.csv', '--limit', '200', '--json'];
  const metrics = (out: string) => {
    const s = JSON.parse(out);
    delete s.sim; // wall time
    return s;
  };

  it('equals the built-in run when the files hold the built-ins (shipped profile chosen the same way)', async () => {
    const a = await runSim(...args, '--model', 'llama-2-7b', '--gpu', 'a100-80gb');
    const b = await runSim(...args, '--model', file(asFile(getModel('llama-2-7b'))), '--gpu', file(asFile(getGpu('a100-80gb'))));
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(metrics(b.out)).toEqual(metrics(a.out));
  }, 60_000);

  it('equals the built-in run under other names with the analytical model, and with a Hugging Face config', async () => {
    const a = await runSim(...args, '--model', 'mixtral-8x7b', '--gpu', 'h100-80gb', '--tp', '2', '--cost-model', 'fitted');
    const b = await runSim(...args, '--model', path.join(HF, 'Mixtral-8x7B-v0.1', 'config.json'), '--gpu', file(asFile(getGpu('h100-80gb'), { name: 'my-h100' })), '--tp', '2', '--cost-model', 'fitted');
    expect(a.code, a.err).toBe(0);
    expect(b.code, b.err).toBe(0);
    expect(metrics(b.out)).toEqual(metrics(a.out));
    expect(metrics(a.out).requests.completed).toBeGreaterThan(150);
  }, 60_000);

  it('a bad model file is exit 2 with one line on stderr', async () => {
    const f = file(asFile(getModel('llama-2-7b'), { name: 'x', hidden: 'big' }));
    const r = await runSim(...args, '--model', f);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`${f}:4: hidden: expected number`));
  });
});
