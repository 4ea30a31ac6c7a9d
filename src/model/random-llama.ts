// Random Llama-style models (Llama, Mistral, Qwen2, Phi-3) in Hugging Face format: tiny ones for tests. The folder
// holds what the hub's checkpoints hold: config.json, and model.safetensors with the real tensor names (q_proj,
// k_proj, v_proj apart for Llama, Mistral and Qwen2; qkv_proj and gate_up_proj fused for Phi-3).
import { writeSafetensors, type TensorToWrite } from '../loading/safetensors.ts';
import { Rng } from '../random.ts';
import type { LlamaConfig } from './config.ts';
import type { LlamaBlockParams, LlamaLinear, LlamaParams } from './llama-params.ts';
import { llamaBlockNames, LLAMA_HF_CLASSES, LLAMA_NAMES, type LlamaPart } from './llama-variants.ts';

/**
 * Random parameters. `std` is large (as in randomGPT2Params) so a tiny random model has logits that differ clearly
 * from token to token. Biases exist where the config says the variant has them.
 */
export function randomLlamaParams(config: LlamaConfig, seed = 1, std = 0.2): LlamaParams {
  const rng = new Rng(seed);
  const { hiddenSize: C, vocabSize: V, nHead: NH, nKVHead: NKV, headDim: HS, intermediateSize: I, nLayer: L } = config;
  const normal = (n: number, s = std) => Float32Array.from({ length: n }, () => rng.normal() * s);
  const linear = (inF: number, outF: number, hasBias: boolean): LlamaLinear => ({
    weight: normal(outF * inF),
    bias: hasBias ? normal(outF, 0.1) : undefined,
    out: outF,
    in: inF,
  });
  const gamma = () => Float32Array.from({ length: C }, () => 1 + 0.1 * rng.normal());
  const block = (): LlamaBlockParams => ({
    input_layernorm: gamma(),
    self_attn: { qkv_proj: linear(C, (NH + 2 * NKV) * HS, config.qkvBias), o_proj: linear(NH * HS, C, config.oBias) },
    post_attention_layernorm: gamma(),
    mlp: { gate_up_proj: linear(C, 2 * I, config.mlpBias), down_proj: linear(I, C, config.mlpBias) },
  });
  return {
    config,
    embed_tokens: normal(V * C, 0.5),
    layers: Array.from({ length: L }, block),
    norm: gamma(),
    lm_head: config.tieWordEmbeddings ? null : normal(V * C, 0.5),
  };
}

/** The HF `config.json` object of a Llama-style config, as its variant's config class writes it. */
export function llamaConfigJson(config: LlamaConfig): Record<string, unknown> {
  const { variant } = config;
  const json: Record<string, unknown> = {
    ...LLAMA_HF_CLASSES[variant],
    vocab_size: config.vocabSize,
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.nLayer,
    num_attention_heads: config.nHead,
    num_key_value_heads: config.nKVHead,
    hidden_act: 'silu',
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: config.ropeScaling && { ...config.ropeScaling, rope_type: config.ropeScaling.type },
    tie_word_embeddings: config.tieWordEmbeddings,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenIds.length === 1 ? config.eosTokenIds[0] : config.eosTokenIds,
    torch_dtype: 'float32',
  };
  if (variant === 'llama' || variant === 'mistral' || config.headDim * config.nHead !== config.hiddenSize) json.head_dim = config.headDim;
  if (config.rotaryDim !== config.headDim) json.partial_rotary_factor = config.rotaryDim / config.headDim;
  if (variant === 'llama') {
    json.attention_bias = config.qkvBias;
    json.mlp_bias = config.mlpBias;
  }
  if (variant === 'mistral' || variant === 'phi3') json.sliding_window = config.slidingWindow;
  if (variant === 'qwen2') json.use_sliding_window = false;
  return json;
}

/** Parameters as the tensors the variant's `save_pretrained` writes: fused projections cut back into its parts. */
export function llamaSafetensorsBytes(params: LlamaParams, dtype: TensorToWrite['dtype'] = 'F32'): Uint8Array {
  const { config } = params;
  const { hiddenSize: C, vocabSize: V } = config;
  const tensors: Record<string, TensorToWrite> = {};
  const put = (name: string, shape: number[], data: Float32Array) => (tensors[name] = { dtype, shape, data });
  const linear = (name: string, l: LlamaLinear) => parts([{ name, rows: l.out }], l);
  // rows row0 .. row0 + p.rows of the fused weight (and bias) become tensor p.name
  function parts(list: LlamaPart[], l: LlamaLinear): void {
    let row0 = 0;
    for (const p of list) {
      put(`${p.name}.weight`, [p.rows, l.in], l.weight.slice(row0 * l.in, (row0 + p.rows) * l.in));
      if (l.bias) put(`${p.name}.bias`, [p.rows], l.bias.slice(row0, row0 + p.rows));
      row0 += p.rows;
    }
    if (row0 !== l.out) throw new Error(`${list[0]?.name}: the parts hold ${row0} rows, the weight ${l.out}`);
  }

  put(LLAMA_NAMES.embed_tokens, [V, C], params.embed_tokens);
  params.layers.forEach((b, i) => {
    const n = llamaBlockNames(config, i);
    put(n.input_layernorm, [C], b.input_layernorm);
    parts(n.self_attn.qkv_proj, b.self_attn.qkv_proj);
    linear(n.self_attn.o_proj, b.self_attn.o_proj);
    put(n.post_attention_layernorm, [C], b.post_attention_layernorm);
    parts(n.mlp.gate_up_proj, b.mlp.gate_up_proj);
    linear(n.mlp.down_proj, b.mlp.down_proj);
  });
  put(LLAMA_NAMES.norm, [C], params.norm);
  if (params.lm_head) put(LLAMA_NAMES.lm_head, [V, C], params.lm_head);
  return writeSafetensors(tensors, { format: 'pt' });
}

/** Write a model folder (config.json + model.safetensors) that Hugging Face transformers and wgpt both load. */
export async function writeLlamaFolder(dir: string, params: LlamaParams, dtype: TensorToWrite['dtype'] = 'F32'): Promise<void> {
  const fs = (await import('node:fs/promises')) as typeof import('node:fs/promises');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(`${dir}/config.json`, JSON.stringify(llamaConfigJson(params.config), null, 2));
  await fs.writeFile(`${dir}/model.safetensors`, llamaSafetensorsBytes(params, dtype));
}
