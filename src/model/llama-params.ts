// The parameters of Llama-style models (Llama, Mistral, Qwen2, Phi-3) as plain arrays on the CPU, read from a
// checkpoint through the variant's name table (llama-variants.ts). The model (llama.ts) and the float64 reference
// (src/reference/llama.ts) both start from these.
//
// Module names copy the Hugging Face checkpoint (embed_tokens, layers, input_layernorm, self_attn, o_proj,
// post_attention_layernorm, mlp, down_proj, norm, lm_head), with two fused projections: qkv_proj (q, k, v
// stacked) and gate_up_proj (gate, up stacked), built here where a checkpoint stores them apart.
import { roundWeights } from '../quant.ts';
import type { Checkpoint } from '../loading/checkpoint.ts';
import type { LlamaConfig } from './config.ts';
import { ModelShapeError } from './gpt2-params.ts';
import { llamaBlockNames, LLAMA_NAMES, type LlamaPart } from './llama-variants.ts';
import type { WeightFormat } from './model.ts';

/** A linear layer: weight [out, in] (nn.Linear's layout), and a bias [out] where the variant has one. */
export interface LlamaLinear {
  weight: Float32Array;
  bias?: Float32Array;
  out: number;
  in: number;
}

export interface LlamaBlockParams {
  input_layernorm: Float32Array; // [C], RMSNorm's gamma
  self_attn: { qkv_proj: LlamaLinear; o_proj: LlamaLinear }; // [QKV, C], [C, NH*HS]
  post_attention_layernorm: Float32Array; // [C]
  mlp: { gate_up_proj: LlamaLinear; down_proj: LlamaLinear }; // [2I, C], [C, I]
}

/** Every parameter on the CPU; the GPU model and the CPU reference both start from this. */
export interface LlamaParams {
  config: LlamaConfig;
  embed_tokens: Float32Array; // [V, C]
  layers: LlamaBlockParams[];
  norm: Float32Array; // [C]
  lm_head: Float32Array | null; // [V, C], or null when tied to embed_tokens
}

/**
 * The parameters handed over one piece at a time, so a large checkpoint is converted to f32 and uploaded layer by
 * layer instead of being held whole on the CPU (a 7B model is 28 GB in f32).
 */
export interface LlamaParamSource {
  config: LlamaConfig;
  embedTokens(): Float32Array;
  layer(i: number): LlamaBlockParams;
  norm(): Float32Array;
  /** null when the LM head is tied to embed_tokens. */
  lmHead(): Float32Array | null;
}

/** Parameters already in memory, as a source. */
export function llamaParamSource(params: LlamaParams): LlamaParamSource {
  return {
    config: params.config,
    embedTokens: () => params.embed_tokens,
    layer: (i) => params.layers[i]!,
    norm: () => params.norm,
    lmHead: () => params.lm_head,
  };
}

/**
 * A checkpoint as a source: each call reads (and, for split projections, stacks) the tensors of one piece, with
 * shapes checked against the config.
 */
export function llamaCheckpointSource(checkpoint: Checkpoint, config: LlamaConfig): LlamaParamSource {
  const { hiddenSize: C, vocabSize: V, nHead: NH, headDim: HS, intermediateSize: I } = config;
  const get = (name: string, shape: number[]): Float32Array => {
    const actual = checkpoint.shape(name);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ModelShapeError(`${name} has shape [${actual}] but config.json implies [${shape}]: the config does not match the weights`);
    }
    return checkpoint.getF32(name);
  };
  // the parts' rows stacked into one [sum of rows, in] weight (and bias)
  const stacked = (parts: LlamaPart[], inF: number, hasBias: boolean): LlamaLinear => {
    const out = parts.reduce((n, p) => n + p.rows, 0);
    const weight = new Float32Array(out * inF);
    const bias = hasBias ? new Float32Array(out) : undefined;
    let row = 0;
    for (const p of parts) {
      weight.set(get(`${p.name}.weight`, [p.rows, inF]), row * inF);
      bias?.set(get(`${p.name}.bias`, [p.rows]), row);
      row += p.rows;
    }
    return { weight, bias, out, in: inF };
  };
  const linear = (name: string, out: number, inF: number, hasBias: boolean) => stacked([{ name, rows: out }], inF, hasBias);
  return {
    config,
    embedTokens: () => get(LLAMA_NAMES.embed_tokens, [V, C]),
    layer(i) {
      const n = llamaBlockNames(config, i);
      return {
        input_layernorm: get(n.input_layernorm, [C]),
        self_attn: { qkv_proj: stacked(n.self_attn.qkv_proj, C, config.qkvBias), o_proj: linear(n.self_attn.o_proj, C, NH * HS, config.oBias) },
        post_attention_layernorm: get(n.post_attention_layernorm, [C]),
        mlp: { gate_up_proj: stacked(n.mlp.gate_up_proj, C, config.mlpBias), down_proj: linear(n.mlp.down_proj, C, I, config.mlpBias) },
      };
    },
    norm: () => get(LLAMA_NAMES.norm, [C]),
    lmHead() {
      if (config.tieWordEmbeddings) return null;
      if (!checkpoint.has(LLAMA_NAMES.lm_head)) {
        throw new ModelShapeError(`${checkpoint.source} has no ${LLAMA_NAMES.lm_head} and config.json says tie_word_embeddings is false: the weights are incomplete`);
      }
      return get(LLAMA_NAMES.lm_head, [V, C]);
    },
  };
}

/** Read every parameter into memory (tests, the CPU reference, small models). */
export function readLlamaParams(checkpoint: Checkpoint, config: LlamaConfig): LlamaParams {
  const source = llamaCheckpointSource(checkpoint, config);
  return {
    config,
    embed_tokens: source.embedTokens(),
    layers: Array.from({ length: config.nLayer }, (_, i) => source.layer(i)),
    norm: source.norm(),
    lm_head: source.lmHead(),
  };
}

/** The parameters as a backend holds them in `format`: f16, q8 and q4 round the matrices (not norms or biases). */
export function roundLlamaParams(params: LlamaParams, format: WeightFormat): LlamaParams {
  if (format === 'f32') return params;
  const r = (a: Float32Array, cols: number) => roundWeights(format, a, cols);
  const lin = (l: LlamaLinear): LlamaLinear => ({ ...l, weight: r(l.weight, l.in) });
  const C = params.config.hiddenSize;
  return {
    ...params,
    embed_tokens: r(params.embed_tokens, C),
    layers: params.layers.map((b) => ({
      ...b,
      self_attn: { qkv_proj: lin(b.self_attn.qkv_proj), o_proj: lin(b.self_attn.o_proj) },
      mlp: { gate_up_proj: lin(b.mlp.gate_up_proj), down_proj: lin(b.mlp.down_proj) },
    })),
    lm_head: params.lm_head && r(params.lm_head, C),
  };
}
