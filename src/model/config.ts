// A model's shape, from its Hugging Face config.json, as a typed object the rest of wgpt can trust: every field
// checked once here, so the forward pass and the weight loader never meet a missing or nonsensical value.
//
// ModelConfig is a union discriminated by `arch`; a new architecture adds a member and entries to SUPPORTED.
import type { RopeScaling } from '../kernels/rope.ts';
import { QUANTIZE_AT_LOAD } from '../loading/safetensors.ts';

/** GPT-2's MLP activations. gelu_new, gelu_pytorch_tanh and gelu_fast are the tanh approximation; gelu is exact (erf). */
export const GPT2_ACTIVATIONS = ['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast', 'gelu', 'relu'] as const;
export type GPT2Activation = (typeof GPT2_ACTIVATIONS)[number];

export interface GPT2Config {
  arch: 'gpt2';
  vocabSize: number; // V
  nPositions: number; // the longest context, P
  nEmbd: number; // C, the residual stream width
  nLayer: number; // L
  nHead: number; // NH; head size HS = C / NH
  nInner: number; // the MLP's hidden width: n_inner, or 4 * C when n_inner is null
  layerNormEpsilon: number;
  activation: GPT2Activation;
  tieWordEmbeddings: boolean; // the LM head is wte (GPT-2 always ties; a false here means a separate lm_head.weight)
  bosTokenId: number | null;
  eosTokenId: number | null;
}

/**
 * The Hugging Face families that share the Llama block (pre-RMSNorm, SwiGLU MLP, rotary embeddings, grouped-query
 * attention). They differ only in how the checkpoint names and fuses the weights (src/model/llama-variants.ts)
 * and in which projections carry biases.
 */
export const LLAMA_VARIANTS = ['llama', 'mistral', 'qwen2', 'phi3'] as const;
export type LlamaVariant = (typeof LLAMA_VARIANTS)[number];

export interface LlamaConfig {
  arch: 'llama';
  variant: LlamaVariant; // the model_type: decides the weight names and the biases
  vocabSize: number; // V
  hiddenSize: number; // C, the residual stream width
  intermediateSize: number; // I, the SwiGLU MLP's hidden width
  nLayer: number; // L
  nHead: number; // NH query heads
  nKVHead: number; // key/value heads: NH for multi-head attention, fewer for grouped-query, 1 for multi-query
  headDim: number; // HS: head_dim where the config gives it (it may differ from C / NH), else C / NH
  rotaryDim: number; // the first dims of each head that RoPE rotates: HS * partial_rotary_factor (usually HS)
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  rmsNormEps: number;
  maxPositionEmbeddings: number; // the longest context the model was trained for
  slidingWindow: number | null; // attention reaches back at most this many positions (Mistral v0.1, Phi-3)
  tieWordEmbeddings: boolean; // the LM head is embed_tokens; otherwise a separate lm_head.weight
  qkvBias: boolean; // q_proj, k_proj, v_proj have biases (Qwen2; Llama's attention_bias)
  oBias: boolean; // o_proj has a bias (Llama's attention_bias)
  mlpBias: boolean; // gate_proj, up_proj, down_proj have biases (Llama's mlp_bias)
  bosTokenId: number | null;
  eosTokenIds: number[]; // Llama 3 lists several (end of text, end of turn)
}

export type ModelConfig = GPT2Config | LlamaConfig;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What wgpt runs: the `model_type` and `architectures` names Hugging Face writes for each. */
const SUPPORTED = [
  { arch: 'gpt2', modelType: 'gpt2', architectures: ['GPT2LMHeadModel', 'GPT2Model'] },
  { arch: 'llama', modelType: 'llama', architectures: ['LlamaForCausalLM'] },
  { arch: 'llama', modelType: 'mistral', architectures: ['MistralForCausalLM'] },
  { arch: 'llama', modelType: 'qwen2', architectures: ['Qwen2ForCausalLM'] },
  { arch: 'llama', modelType: 'phi3', architectures: ['Phi3ForCausalLM'] },
] as const;

const SUPPORTED_LIST = SUPPORTED.map((s) => `${s.architectures[0]} (model_type '${s.modelType}')`).join(', ');

/**
 * Turn a parsed config.json into a ModelConfig, or throw a ConfigError saying what is wrong. `source` names the
 * file in messages.
 */
export function parseConfig(json: unknown, source = 'config.json'): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ConfigError(`${source} is not a JSON object: it is not a Hugging Face model config`);
  }
  const raw = json as Record<string, unknown>;
  const modelType = raw.model_type;
  const architectures = Array.isArray(raw.architectures) ? raw.architectures.filter((a): a is string => typeof a === 'string') : [];
  // model_type names the architecture; `architectures` names the head on top, and is the only clue in old configs
  const match = SUPPORTED.find((s) =>
    modelType !== undefined ? modelType === s.modelType : architectures.some((a) => (s.architectures as readonly string[]).includes(a)),
  );
  if (!match) {
    const described = [
      modelType !== undefined ? `model_type ${JSON.stringify(modelType)}` : 'no model_type',
      architectures.length ? `architectures [${architectures.join(', ')}]` : 'no architectures',
    ].join(' and ');
    throw new ConfigError(`${source} describes a model wgpt cannot run (${described}); supported: ${SUPPORTED_LIST}`);
  }
  switch (match.arch) {
    case 'gpt2':
      return parseGPT2(raw, source);
    case 'llama':
      return parseLlama(raw, source, match.modelType);
  }
}

function parseGPT2(raw: Record<string, unknown>, source: string): GPT2Config {
  const fail = (what: string): never => {
    throw new ConfigError(`${source}: ${what}; it is not a valid GPT-2 config`);
  };
  const unsupported = (what: string): never => {
    throw new ConfigError(`${source}: ${what}, a GPT-2 variant wgpt does not implement`);
  };
  const positiveInt = (key: string, fallbackKey?: string): number => {
    const value = raw[key] ?? (fallbackKey !== undefined ? raw[fallbackKey] : undefined);
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) {
      const name = fallbackKey !== undefined ? `${key} (or ${fallbackKey})` : key;
      fail(value === undefined ? `${name} is missing` : `${name} is ${JSON.stringify(value)}, not a positive integer`);
    }
    return value as number;
  };
  const tokenId = (key: string, vocabSize: number): number | null => {
    const value = raw[key];
    if (value === undefined || value === null) return null;
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < vocabSize)) {
      fail(`${key} is ${JSON.stringify(value)}, not a token id below vocab_size ${vocabSize}`);
    }
    return value as number;
  };

  refuseQuantized(raw, source);
  const vocabSize = positiveInt('vocab_size');
  const nPositions = positiveInt('n_positions', 'n_ctx');
  const nEmbd = positiveInt('n_embd');
  const nLayer = positiveInt('n_layer');
  const nHead = positiveInt('n_head');
  if (nEmbd % nHead !== 0) fail(`n_embd ${nEmbd} is not divisible by n_head ${nHead}`);
  const nInner = raw.n_inner === undefined || raw.n_inner === null ? 4 * nEmbd : positiveInt('n_inner');

  const epsilon = raw.layer_norm_epsilon ?? 1e-5; // the GPT2Config default
  if (!(typeof epsilon === 'number' && Number.isFinite(epsilon) && epsilon > 0)) {
    fail(`layer_norm_epsilon is ${JSON.stringify(epsilon)}, not a positive number`);
  }
  const activation = raw.activation_function ?? 'gelu_new';
  if (!(GPT2_ACTIVATIONS as readonly unknown[]).includes(activation)) {
    unsupported(`activation_function is ${JSON.stringify(activation)} (wgpt has ${GPT2_ACTIVATIONS.join(', ')})`);
  }
  const tie = raw.tie_word_embeddings ?? true;
  if (typeof tie !== 'boolean') fail(`tie_word_embeddings is ${JSON.stringify(tie)}, not true or false`);

  // Variants of GPT-2's attention that change its output; refuse them rather than compute something else.
  if (raw.scale_attn_weights === false) unsupported('scale_attn_weights is false (attention scores without the 1/sqrt(HS) scale)');
  if (raw.scale_attn_by_inverse_layer_idx === true) unsupported('scale_attn_by_inverse_layer_idx is true (scores also divided by layer index + 1)');
  if (raw.add_cross_attention === true) unsupported('add_cross_attention is true (cross-attention to an encoder)');

  return {
    arch: 'gpt2',
    vocabSize,
    nPositions,
    nEmbd,
    nLayer,
    nHead,
    nInner,
    layerNormEpsilon: epsilon as number,
    activation: activation as GPT2Activation,
    tieWordEmbeddings: tie as boolean,
    bosTokenId: tokenId('bos_token_id', vocabSize),
    eosTokenId: tokenId('eos_token_id', vocabSize),
  };
}

/** A config with a quantization_config describes weights another tool quantized (GPTQ, AWQ, bitsandbytes, ...). */
function refuseQuantized(raw: Record<string, unknown>, source: string): void {
  const quantization = raw.quantization_config;
  if (quantization === undefined || quantization === null) return;
  const method = (quantization as { quant_method?: unknown }).quant_method;
  const by = typeof method === 'string' ? ` by ${method}` : '';
  throw new ConfigError(`${source}: the weights are quantized${by} (quantization_config), a format wgpt does not read: ${QUANTIZE_AT_LOAD}`);
}

/** Defaults Hugging Face's config classes fill in when a config.json leaves the field out. */
const LLAMA_DEFAULTS: Record<LlamaVariant, { rmsNormEps: number; ropeTheta: number }> = {
  llama: { rmsNormEps: 1e-6, ropeTheta: 10000 },
  mistral: { rmsNormEps: 1e-6, ropeTheta: 10000 },
  qwen2: { rmsNormEps: 1e-6, ropeTheta: 10000 },
  phi3: { rmsNormEps: 1e-5, ropeTheta: 10000 },
};

/** The `rope_scaling` types the rope kernel implements (ropeInvFreq); 'default' means none. */
const ROPE_TYPES = ['default', 'linear', 'llama3'] as const;

function parseLlama(raw: Record<string, unknown>, source: string, variant: LlamaVariant): LlamaConfig {
  const family = { llama: 'Llama', mistral: 'Mistral', qwen2: 'Qwen2', phi3: 'Phi-3' }[variant];
  const fail = (what: string): never => {
    throw new ConfigError(`${source}: ${what}; it is not a valid ${family} config`);
  };
  const unsupported = (what: string): never => {
    throw new ConfigError(`${source}: ${what}, which wgpt does not implement yet`);
  };
  const positiveInt = (key: string, value: unknown = raw[key]): number => {
    if (!(typeof value === 'number' && Number.isSafeInteger(value) && value > 0)) {
      fail(value === undefined ? `${key} is missing` : `${key} is ${JSON.stringify(value)}, not a positive integer`);
    }
    return value as number;
  };
  const positiveNumber = (key: string, value: unknown): number => {
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) fail(`${key} is ${JSON.stringify(value)}, not a positive number`);
    return value as number;
  };
  const flag = (key: string, fallback: boolean): boolean => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'boolean') fail(`${key} is ${JSON.stringify(value)}, not true or false`);
    return value as boolean;
  };
  const tokenIds = (key: string, vocabSize: number): number[] => {
    const value = raw[key];
    if (value === undefined || value === null) return [];
    const ids = Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (!(typeof id === 'number' && Number.isSafeInteger(id) && id >= 0 && id < vocabSize)) {
        fail(`${key} is ${JSON.stringify(value)}, not a token id (or a list of them) below vocab_size ${vocabSize}`);
      }
    }
    return ids as number[];
  };

  refuseQuantized(raw, source);
  const vocabSize = positiveInt('vocab_size');
  const hiddenSize = positiveInt('hidden_size');
  const intermediateSize = positiveInt('intermediate_size');
  const nLayer = positiveInt('num_hidden_layers');
  const nHead = positiveInt('num_attention_heads');
  const nKVHead = raw.num_key_value_heads === undefined || raw.num_key_value_heads === null ? nHead : positiveInt('num_key_value_heads');
  if (nHead % nKVHead !== 0) fail(`num_attention_heads ${nHead} is not a multiple of num_key_value_heads ${nKVHead}`);
  let headDim: number;
  if (raw.head_dim === undefined || raw.head_dim === null) {
    if (hiddenSize % nHead !== 0) fail(`hidden_size ${hiddenSize} is not divisible by num_attention_heads ${nHead} and there is no head_dim`);
    headDim = hiddenSize / nHead;
  } else {
    headDim = positiveInt('head_dim');
  }
  const maxPositionEmbeddings = positiveInt('max_position_embeddings');

  const activation = raw.hidden_act ?? 'silu';
  if (activation !== 'silu') unsupported(`hidden_act is ${JSON.stringify(activation)} (the swiglu kernel gates with silu)`);

  const eps = raw.rms_norm_eps ?? LLAMA_DEFAULTS[variant].rmsNormEps;
  const rmsNormEps = positiveNumber('rms_norm_eps', eps);

  // Rotary embeddings: transformers 4.x writes rope_theta and rope_scaling, 5.x one rope_parameters object.
  const ropeParameters = typeof raw.rope_parameters === 'object' && raw.rope_parameters !== null ? (raw.rope_parameters as Record<string, unknown>) : undefined;
  const ropeTheta = positiveNumber('rope_theta', raw.rope_theta ?? ropeParameters?.rope_theta ?? LLAMA_DEFAULTS[variant].ropeTheta);
  const ropeScaling = parseRopeScaling(raw.rope_scaling ?? ropeParameters ?? null, fail, unsupported);
  const partial = raw.partial_rotary_factor ?? 1;
  if (!(typeof partial === 'number' && partial > 0 && partial <= 1)) fail(`partial_rotary_factor is ${JSON.stringify(partial)}, not a number in (0, 1]`);
  const rotaryDim = Math.floor(headDim * (partial as number));
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) fail(`partial_rotary_factor ${partial} of head_dim ${headDim} rotates ${rotaryDim} dims, which is not a positive even number`);

  // Sliding-window attention: wgpt attends to the whole cache, so a window is honoured by never holding more
  // positions than it (see LlamaOptions.contextLength). Qwen2's per-layer windows are another matter.
  let slidingWindow: number | null = null;
  if (variant === 'qwen2') {
    if (raw.use_sliding_window === true) unsupported('use_sliding_window is true (sliding-window attention in some layers)');
  } else if (variant !== 'llama' && raw.sliding_window !== undefined && raw.sliding_window !== null) {
    slidingWindow = positiveInt('sliding_window');
  }

  // Which projections carry biases: Qwen2 always has them on q, k and v; Llama has switches; the rest have none.
  const attentionBias = variant === 'llama' ? flag('attention_bias', false) : false;
  return {
    arch: 'llama',
    variant,
    vocabSize,
    hiddenSize,
    intermediateSize,
    nLayer,
    nHead,
    nKVHead,
    headDim,
    rotaryDim,
    ropeTheta,
    ropeScaling,
    rmsNormEps,
    maxPositionEmbeddings,
    slidingWindow,
    tieWordEmbeddings: flag('tie_word_embeddings', false), // every Llama-family config class defaults to false
    qkvBias: variant === 'qwen2' || attentionBias,
    oBias: attentionBias,
    mlpBias: variant === 'llama' ? flag('mlp_bias', false) : false,
    bosTokenId: tokenIds('bos_token_id', vocabSize)[0] ?? null,
    eosTokenIds: tokenIds('eos_token_id', vocabSize),
  };
}

/** `rope_scaling` (or transformers 5's `rope_parameters`) -> the scaling ropeInvFreq applies, or null for none. */
function parseRopeScaling(value: unknown, fail: (what: string) => never, unsupported: (what: string) => never): RopeScaling | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) return fail(`rope_scaling is ${JSON.stringify(value)}, not an object or null`);
  const s = value as Record<string, unknown>;
  const type = s.rope_type ?? s.type ?? 'default';
  if (!(ROPE_TYPES as readonly unknown[]).includes(type)) {
    return unsupported(`rope_scaling has type ${JSON.stringify(type)} (wgpt has ${ROPE_TYPES.filter((t) => t !== 'default').join(' and ')})`);
  }
  const num = (key: string): number => {
    const v = s[key];
    if (!(typeof v === 'number' && Number.isFinite(v) && v > 0)) fail(`rope_scaling.${key} is ${JSON.stringify(v)}, not a positive number`);
    return v as number;
  };
  switch (type as (typeof ROPE_TYPES)[number]) {
    case 'default':
      return null;
    case 'linear':
      return { type: 'linear', factor: num('factor') };
    case 'llama3': {
      const scaling = {
        type: 'llama3' as const,
        factor: num('factor'),
        low_freq_factor: num('low_freq_factor'),
        high_freq_factor: num('high_freq_factor'),
        original_max_position_embeddings: num('original_max_position_embeddings'),
      };
      if (scaling.high_freq_factor <= scaling.low_freq_factor) {
        fail(`rope_scaling.high_freq_factor ${scaling.high_freq_factor} is not above low_freq_factor ${scaling.low_freq_factor}`);
      }
      return scaling;
    }
  }
}
