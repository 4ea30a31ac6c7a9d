// Random GPT-2 models in Hugging Face format: tiny ones for tests, full-size ones (random weights) for the bench.
import { writeSafetensors } from '../loading/safetensors.ts';
import { Rng } from '../random.ts';
import type { GPT2Config } from './config.ts';
import { gpt2BlockNames, GPT2_NAMES, transpose, type GPT2Params, type LinearParams, type NormParams } from './gpt2-params.ts';

/**
 * Random parameters. `std` is larger than GPT-2's 0.02 by default so a tiny random model has logits that differ
 * clearly from token to token (greedy decoding then has no near-ties for f32 rounding to flip).
 */
export function randomGPT2Params(config: GPT2Config, seed = 1, std = 0.2): GPT2Params {
  const rng = new Rng(seed);
  const { nEmbd: C, vocabSize: V, nPositions: P, nLayer: L } = config;
  const normal = (n: number, s = std) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const linear = (inF: number, outF: number): LinearParams => ({ weight: normal(outF * inF), bias: normal(outF, 0.1), out: outF, in: inF });
  const norm = (): NormParams => ({ weight: Float32Array.from({ length: C }, () => 1 + 0.1 * rng.normal()), bias: normal(C, 0.1) });
  return {
    config,
    wte: normal(V * C, 0.5),
    wpe: normal(P * C, 0.1),
    h: Array.from({ length: L }, () => ({
      ln_1: norm(),
      attn: { c_attn: linear(C, 3 * C), c_proj: linear(C, C) },
      ln_2: norm(),
      mlp: { c_fc: linear(C, config.nInner), c_proj: linear(config.nInner, C) },
    })),
    ln_f: norm(),
  };
}

/** The HF `config.json` object of a GPT-2 config. */
export function gpt2ConfigJson(config: GPT2Config): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.nPositions,
    n_ctx: config.nPositions,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: config.nInner === 4 * config.nEmbd ? null : config.nInner,
    layer_norm_epsilon: config.layerNormEpsilon,
    activation_function: 'gelu_new',
    tie_word_embeddings: true,
    bos_token_id: config.bosTokenId ?? 50256,
    eos_token_id: config.eosTokenId ?? 50256,
  };
}

/** GPT-2 parameters as the tensors `GPT2LMHeadModel.save_pretrained` writes (Conv1D weights as [in, out]). */
export function gpt2SafetensorsBytes(params: GPT2Params, dtype: 'F32' | 'F16' = 'F32'): Uint8Array {
  const { nEmbd: C, vocabSize: V, nPositions: P } = params.config;
  const tensors: Record<string, { dtype: 'F32' | 'F16'; shape: number[]; data: Float32Array }> = {};
  const put = (name: string, shape: number[], data: Float32Array) => (tensors[`transformer.${name}`] = { dtype, shape, data });
  const norm = (n: { weight: string; bias: string }, p: NormParams) => {
    put(n.weight, [C], p.weight);
    put(n.bias, [C], p.bias);
  };
  const conv1d = (n: { weight: string; bias: string }, p: LinearParams) => {
    put(n.weight, [p.in, p.out], transpose(p.weight, p.out, p.in));
    put(n.bias, [p.out], p.bias);
  };
  put(GPT2_NAMES.wte, [V, C], params.wte);
  put(GPT2_NAMES.wpe, [P, C], params.wpe);
  params.h.forEach((b, i) => {
    const n = gpt2BlockNames(i);
    norm(n.ln_1, b.ln_1);
    conv1d(n.attn.c_attn, b.attn.c_attn);
    conv1d(n.attn.c_proj, b.attn.c_proj);
    norm(n.ln_2, b.ln_2);
    conv1d(n.mlp.c_fc, b.mlp.c_fc);
    conv1d(n.mlp.c_proj, b.mlp.c_proj);
  });
  norm(GPT2_NAMES.ln_f, params.ln_f);
  return writeSafetensors(tensors, { format: 'pt' });
}

/** Write a GPT-2 model folder (config.json + model.safetensors) that Hugging Face and wgpt both load. */
export async function writeGPT2Folder(dir: string, params: GPT2Params, dtype: 'F32' | 'F16' = 'F32'): Promise<void> {
  const fs = (await import('node:fs/promises')) as typeof import('node:fs/promises');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(`${dir}/config.json`, JSON.stringify(gpt2ConfigJson(params.config), null, 2));
  await fs.writeFile(`${dir}/model.safetensors`, gpt2SafetensorsBytes(params, dtype));
}
