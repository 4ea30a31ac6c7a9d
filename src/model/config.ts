// A model's shape, from its Hugging Face config.json, as a typed object the rest of wgpt can trust: every field
// checked once here, so the forward pass and the weight loader never meet a missing or nonsensical value.
//
// ModelConfig is a union discriminated by `arch`; a new architecture (a Llama-style model, say) adds a member
// and an entry to SUPPORTED.

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

export type ModelConfig = GPT2Config;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What wgpt runs: the `model_type` and `architectures` names Hugging Face writes for each. */
const SUPPORTED = [{ arch: 'gpt2', modelType: 'gpt2', architectures: ['GPT2LMHeadModel', 'GPT2Model'] }] as const;

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
