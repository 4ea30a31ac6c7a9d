// Llama-family config.json files, as the hub ships them, read into LlamaConfig; and the ones wgpt must refuse.
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/model/config.ts';

// The fields that matter of real configs (copied from the hub; training-only fields such as initializer_range left out).
const SMOLLM2_135M = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 2,
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 576,
  intermediate_size: 1536,
  max_position_embeddings: 8192,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 9,
  num_hidden_layers: 30,
  num_key_value_heads: 3,
  pretraining_tp: 1,
  rms_norm_eps: 1e-5,
  rope_interleaved: false,
  rope_scaling: null,
  rope_theta: 100000,
  tie_word_embeddings: true,
  torch_dtype: 'bfloat16',
  vocab_size: 49152,
};

const LLAMA_32_1B = {
  architectures: ['LlamaForCausalLM'],
  attention_bias: false,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  head_dim: 64,
  hidden_act: 'silu',
  hidden_size: 2048,
  intermediate_size: 8192,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: 'llama',
  num_attention_heads: 32,
  num_hidden_layers: 16,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_scaling: { factor: 32.0, high_freq_factor: 4.0, low_freq_factor: 1.0, original_max_position_embeddings: 8192, rope_type: 'llama3' },
  rope_theta: 500000.0,
  tie_word_embeddings: true,
  vocab_size: 128256,
};

const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  bos_token_id: 151643,
  eos_token_id: 151645,
  hidden_act: 'silu',
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 32768,
  max_window_layers: 21,
  model_type: 'qwen2',
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

const PHI3_MINI_4K = {
  architectures: ['Phi3ForCausalLM'],
  attention_bias: false,
  bos_token_id: 1,
  eos_token_id: 32000,
  hidden_act: 'silu',
  hidden_size: 3072,
  intermediate_size: 8192,
  max_position_embeddings: 4096,
  model_type: 'phi3',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 32,
  original_max_position_embeddings: 4096,
  pad_token_id: 32000,
  rms_norm_eps: 1e-5,
  rope_scaling: null,
  rope_theta: 10000.0,
  sliding_window: 2047,
  tie_word_embeddings: false,
  vocab_size: 32064,
};

const MISTRAL_7B_V01 = {
  architectures: ['MistralForCausalLM'],
  bos_token_id: 1,
  eos_token_id: 2,
  hidden_act: 'silu',
  hidden_size: 4096,
  intermediate_size: 14336,
  max_position_embeddings: 32768,
  model_type: 'mistral',
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  tie_word_embeddings: false,
  vocab_size: 32000,
};

function expectConfigError(json: unknown, ...inMessage: string[]): void {
  let caught: unknown;
  try {
    parseConfig(json, 'model/config.json');
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const { message } = caught as ConfigError;
  expect(message).toContain('model/config.json');
  expect(message).not.toContain('\n');
  for (const part of inMessage) expect(message).toContain(part);
}

describe('parseConfig for Llama-style models', () => {
  it("reads SmolLM2-135M's config: 9 query heads over 3 KV heads, tied embeddings", () => {
    expect(parseConfig(SMOLLM2_135M)).toEqual({
      arch: 'llama',
      variant: 'llama',
      vocabSize: 49152,
      hiddenSize: 576,
      intermediateSize: 1536,
      nLayer: 30,
      nHead: 9,
      nKVHead: 3,
      headDim: 64,
      rotaryDim: 64,
      ropeTheta: 100000,
      ropeScaling: null,
      rmsNormEps: 1e-5,
      maxPositionEmbeddings: 8192,
      slidingWindow: null,
      tieWordEmbeddings: true,
      qkvBias: false,
      oBias: false,
      mlpBias: false,
      bosTokenId: 1,
      eosTokenIds: [2],
    });
  });

  it("reads Llama 3.2's llama3 RoPE scaling and its list of end tokens", () => {
    expect(parseConfig(LLAMA_32_1B)).toMatchObject({
      variant: 'llama',
      nHead: 32,
      nKVHead: 8,
      headDim: 64,
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
      eosTokenIds: [128001, 128008, 128009],
    });
  });

  it("reads Qwen2.5's q/k/v biases, and ignores its sliding_window when use_sliding_window is false", () => {
    expect(parseConfig(QWEN25_05B)).toMatchObject({ variant: 'qwen2', headDim: 64, nKVHead: 2, qkvBias: true, oBias: false, slidingWindow: null, ropeTheta: 1e6 });
    expectConfigError({ ...QWEN25_05B, use_sliding_window: true }, 'use_sliding_window is true', 'does not implement');
  });

  it("reads Phi-3's sliding window and Mistral v0.1's", () => {
    expect(parseConfig(PHI3_MINI_4K)).toMatchObject({ variant: 'phi3', headDim: 96, nKVHead: 32, slidingWindow: 2047, tieWordEmbeddings: false });
    expect(parseConfig(MISTRAL_7B_V01)).toMatchObject({ variant: 'mistral', headDim: 128, slidingWindow: 4096 });
    expect(parseConfig({ ...MISTRAL_7B_V01, sliding_window: null })).toMatchObject({ slidingWindow: null });
  });

  it('takes head_dim, partial_rotary_factor, linear scaling and the biases of Llama configs', () => {
    const custom = { ...SMOLLM2_135M, head_dim: 80, partial_rotary_factor: 0.5, rope_scaling: { type: 'linear', factor: 4 }, attention_bias: true, mlp_bias: true };
    expect(parseConfig(custom)).toMatchObject({ headDim: 80, rotaryDim: 40, ropeScaling: { type: 'linear', factor: 4 }, qkvBias: true, oBias: true, mlpBias: true });
  });

  it("reads transformers 5's rope_parameters", () => {
    const { rope_theta: _, rope_scaling: __, ...rest } = LLAMA_32_1B;
    const v5 = { ...rest, rope_parameters: { rope_theta: 500000, ...LLAMA_32_1B.rope_scaling } };
    expect(parseConfig(v5)).toMatchObject({ ropeTheta: 500000, ropeScaling: { type: 'llama3', factor: 32 } });
    expect(parseConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 10000 } })).toMatchObject({ ropeTheta: 10000, ropeScaling: null });
  });

  it('fills in what the config classes default: KV heads, head_dim, epsilon, theta, untied embeddings', () => {
    const minimal = { model_type: 'mistral', vocab_size: 100, hidden_size: 64, intermediate_size: 96, num_hidden_layers: 2, num_attention_heads: 4, max_position_embeddings: 128 };
    expect(parseConfig(minimal)).toMatchObject({ nKVHead: 4, headDim: 16, rmsNormEps: 1e-6, ropeTheta: 10000, tieWordEmbeddings: false, bosTokenId: null, eosTokenIds: [] });
    expect(parseConfig({ ...minimal, model_type: 'phi3' })).toMatchObject({ rmsNormEps: 1e-5 });
  });

  it.each<[Record<string, unknown>, ...string[]]>([
    [{ rope_scaling: { rope_type: 'yarn', factor: 4 } }, 'rope_scaling has type "yarn"', 'wgpt has linear and llama3'],
    [{ rope_scaling: { type: 'dynamic', factor: 2 } }, 'rope_scaling has type "dynamic"'],
    [{ rope_scaling: { type: 'linear' } }, 'rope_scaling.factor is undefined'],
    [{ rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 4, high_freq_factor: 1, original_max_position_embeddings: 8192 } }, 'high_freq_factor 1 is not above low_freq_factor 4'],
    [{ hidden_act: 'gelu' }, 'hidden_act is "gelu"'],
    [{ num_key_value_heads: 4 }, 'num_attention_heads 9 is not a multiple of num_key_value_heads 4'],
    [{ hidden_size: undefined }, 'hidden_size is missing'],
    [{ max_position_embeddings: 0 }, 'max_position_embeddings is 0'],
    [{ head_dim: null, hidden_size: 580 }, 'hidden_size 580 is not divisible by num_attention_heads 9'],
    [{ partial_rotary_factor: 0.01 }, 'rotates 0 dims'],
    [{ eos_token_id: [2, 49152] }, 'eos_token_id is [2,49152]'],
    [{ tie_word_embeddings: 'yes' }, 'tie_word_embeddings is "yes"'],
    [{ quantization_config: { quant_method: 'gptq' } }, 'quantized'],
  ])('refuses %j with a one-line ConfigError', (change, ...inMessage) => {
    expectConfigError({ ...SMOLLM2_135M, ...change }, ...inMessage);
  });

  it("refuses Phi-3's longrope scaling (the 128k models) by name", () => {
    expectConfigError({ ...PHI3_MINI_4K, rope_scaling: { type: 'longrope', long_factor: [1], short_factor: [1] } }, 'rope_scaling has type "longrope"');
  });
});
