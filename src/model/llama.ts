// Llama-style models on WebGPU (Llama, Mistral, Qwen2, Phi-3): the forward pass as a short sequence of kernel
// dispatches, one command encoder per step, with the kernels and the scheduler shape of gpt2.ts. What changes
// from GPT-2: RMSNorm instead of LayerNorm, rotary position embeddings (RoPE) on q and k instead of learned
// position embeddings, grouped-query attention (NKV key/value heads shared by NH query heads), and a SwiGLU MLP.
//
// Dimension legend (llm.c's letters):
//   T  tokens in this step          pos0  position of the first of them       S  key length = pos0 + T
//   C  hidden_size                  NH    query heads                          NKV key/value heads
//   HS head_dim (may differ from C / NH)   QKV = (NH + 2 NKV) HS, the fused q | k | v width
//   I  intermediate_size            V     vocabulary size      L  layers      P  positions the KV cache holds
//   Tc the most tokens one step runs (a longer prompt is prefilled in steps of Tc)
//
// Module names copy the Hugging Face checkpoint (embed_tokens, layers, input_layernorm, self_attn, o_proj,
// post_attention_layernorm, mlp, down_proj, norm, lm_head), with two fused projections: qkv_proj (q, k, v
// stacked) and gate_up_proj (gate, up stacked), built at load time where a checkpoint stores them apart. Which
// tensors make them up is the only difference between the variants, and lives in llama-variants.ts.
import type { Gpu } from '../gpu/device.ts';
import { createTensor, readF32, uploadTensor, writeTensor, type Tensor } from '../gpu/buffers.ts';
import { Recorder } from '../gpu/recorder.ts';
import { roundToF16 } from '../half.ts';
import { residualAdd } from '../kernels/add.ts';
import { attentionScores, attentionValues } from '../kernels/attention.ts';
import { kvAppend } from '../kernels/kvcache.ts';
import { rmsNorm } from '../kernels/rmsnorm.ts';
import { rope, ropeInvFreq } from '../kernels/rope.ts';
import { softmax } from '../kernels/softmax.ts';
import { swiglu } from '../kernels/swiglu.ts';
import { gpuHook, type HookFn, type HookView } from '../hooks/hooks.ts';
import type { Checkpoint } from '../loading/checkpoint.ts';
import { ConfigError, type LlamaConfig } from './config.ts';
import { ModelShapeError } from './gpt2.ts';
import { llamaBlockNames, LLAMA_NAMES, type LlamaPart } from './llama-variants.ts';
import type { ForwardOptions, ForwardResult, LanguageModel, WeightFormat } from './model.ts';
import {
  createGatherBuffers,
  splitEmbed,
  splitMatmul,
  splitScratchWidth,
  splitTensors,
  uploadSplitMatrix,
  type GatherBuffers,
  type SplitMatrix,
} from './split-weights.ts';

// ---------------------------------------------------------------------------------------------------------------
// Weights: the parameters as plain arrays on the CPU, read from a checkpoint through the variant's name table

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

/** The parameters as the GPU holds them in `format`: f16 rounds the matrices (not norms or biases). */
export function roundLlamaParams(params: LlamaParams, format: WeightFormat): LlamaParams {
  if (format === 'f32') return params;
  const r = (a: Float32Array) => a.map(roundToF16);
  const lin = (l: LlamaLinear): LlamaLinear => ({ ...l, weight: r(l.weight) });
  return {
    ...params,
    embed_tokens: r(params.embed_tokens),
    layers: params.layers.map((b) => ({
      ...b,
      self_attn: { qkv_proj: lin(b.self_attn.qkv_proj), o_proj: lin(b.self_attn.o_proj) },
      mlp: { gate_up_proj: lin(b.mlp.gate_up_proj), down_proj: lin(b.mlp.down_proj) },
    })),
    lm_head: params.lm_head && r(params.lm_head),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The model on the GPU

export interface LlamaOptions {
  weights?: WeightFormat;
  /**
   * Positions the KV cache holds (the model's nCtx). By default min(max_position_embeddings, sliding_window,
   * 4096): Llama 3.2 was trained for 131072 positions, and a cache that long would take gigabytes the usual
   * conversation never uses. Raise it up to max_position_embeddings; a sliding window caps it, because wgpt
   * attends to every cached position and could not otherwise match the model's windowed attention.
   */
  contextLength?: number;
  /**
   * The most tokens one step runs (Tc); a longer prompt is prefilled in steps of this many, each reading the KV
   * cache the previous ones wrote. Default 256, lowered where needed so every activation buffer (the attention
   * scores [NH, Tc, P] are the largest) fits one storage binding.
   */
  maxStepTokens?: number;
  /** The largest storage binding, in bytes (default: the device's limit). Tests lower it to force split weights. */
  maxBindingBytes?: number;
}

/** The default cap on the KV cache, in positions (see LlamaOptions.contextLength). */
export const DEFAULT_CONTEXT = 4096;
const DEFAULT_STEP_TOKENS = 256;

interface Block {
  input_layernorm: Tensor; // [C]
  self_attn: { qkv_proj: SplitMatrix; o_proj: SplitMatrix };
  post_attention_layernorm: Tensor; // [C]
  mlp: { gate_up_proj: SplitMatrix; down_proj: SplitMatrix };
}

/** Activation buffers, allocated once for the longest step (Tc tokens) and reused by every step. */
interface Activations {
  ids: Tensor; // [Tc] u32
  x: Tensor; // [Tc, C] the residual stream
  h: Tensor; // [Tc, C] output of input_layernorm / post_attention_layernorm
  qkv: Tensor; // [Tc, QKV] q | k | v of each token, RoPE applied in place to q and k
  scores: Tensor; // [NH, Tc, P] attention scores, then (in place) the pattern
  z: Tensor; // [Tc, NH*HS] attention-weighted values, heads side by side
  attnOut: Tensor; // [Tc, C] after o_proj
  gateUp: Tensor; // [Tc, 2I] gate | up
  hidden: Tensor; // [Tc, I] silu(gate) * up, the MLP's hidden layer
  mlpOut: Tensor; // [Tc, C] after down_proj
  last: Tensor; // [1, C] the last position's residual, copied out for the final norm
  normed: Tensor; // [Tc, C] output of the final norm
  logits: Tensor; // [1, V], or [Tc, V] once all-position logits were asked for
}

export class Llama implements LanguageModel {
  readonly arch = 'llama';
  readonly vocabSize: number;
  readonly nCtx: number;
  /** Tc: the most tokens one step runs. */
  readonly maxStepTokens: number;
  readonly weightFormat: WeightFormat;
  private embed_tokens: SplitMatrix;
  private layers: Block[];
  private norm: Tensor;
  private lm_head: SplitMatrix; // embed_tokens itself when tied
  private invFreq: Tensor; // [rotaryDim / 2] RoPE frequencies, scaling applied
  /** [rotaryDim / 2] invFreq times ForwardOptions.ropeAngleScale, made on first use, rewritten when the scale changes. */
  private scaledInvFreq?: { scale: number; tensor: Tensor };
  private kCache: Tensor[]; // per layer [NKV, P, HS]
  private vCache: Tensor[];
  private act: Activations;
  /** Only when some weight is split across bindings: [Tc, widest chunk] for its matmuls, and the gather table. */
  private scratch?: Tensor;
  private gather?: GatherBuffers;
  private weightBytes = 0;

  constructor(
    readonly gpu: Gpu,
    readonly config: LlamaConfig,
    params: LlamaParamSource,
    options: LlamaOptions = {},
  ) {
    const { device } = gpu;
    const { hiddenSize: C, vocabSize: V, nHead: NH, nKVHead: NKV, headDim: HS, intermediateSize: I, nLayer: L } = config;
    const format = (this.weightFormat = options.weights ?? 'f32');
    const P = (this.nCtx = contextLength(config, options.contextLength));
    this.vocabSize = V;
    const step = options.maxStepTokens ?? DEFAULT_STEP_TOKENS;
    if (!(Number.isSafeInteger(step) && step >= 1)) throw new RangeError(`maxStepTokens must be a positive integer, got ${step}`);
    const maxBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize, options.maxBindingBytes ?? Infinity);
    // every activation is [Tc, width] (the scores [NH, Tc, P]) and must fit one binding, even for Tc = 1
    const QKV = (NH + 2 * NKV) * HS;
    const widest = Math.max(NH * P, QKV, 2 * I, V, C, NH * HS);
    if (4 * widest > maxBytes || NKV * P * HS * 4 > maxBytes) {
      throw new ConfigError(`a context of ${P} positions needs buffers larger than this adapter's storage binding limit (${maxBytes} bytes): lower the context length`);
    }

    const vector = (a: Float32Array, label: string) => this.count(uploadTensor(device, 'f32', [a.length], a, label));
    const matrix = (weight: Float32Array, bias: Float32Array | undefined, rows: number, cols: number, label: string): SplitMatrix => {
      const m = uploadSplitMatrix(device, weight, bias, rows, cols, format, maxBytes, label);
      splitTensors(m).forEach((t) => this.count(t));
      return m;
    };
    const linear = (l: LlamaLinear, label: string) => matrix(l.weight, l.bias, l.out, l.in, label);

    this.embed_tokens = matrix(params.embedTokens(), undefined, V, C, 'embed_tokens');
    this.layers = [];
    for (let i = 0; i < L; i++) {
      const b = params.layer(i); // one layer on the CPU at a time
      this.layers.push({
        input_layernorm: vector(b.input_layernorm, `layers.${i}.input_layernorm`),
        self_attn: { qkv_proj: linear(b.self_attn.qkv_proj, `layers.${i}.self_attn.qkv_proj`), o_proj: linear(b.self_attn.o_proj, `layers.${i}.self_attn.o_proj`) },
        post_attention_layernorm: vector(b.post_attention_layernorm, `layers.${i}.post_attention_layernorm`),
        mlp: { gate_up_proj: linear(b.mlp.gate_up_proj, `layers.${i}.mlp.gate_up_proj`), down_proj: linear(b.mlp.down_proj, `layers.${i}.mlp.down_proj`) },
      });
    }
    this.norm = vector(params.norm(), 'norm');
    const head = params.lmHead();
    this.lm_head = head ? matrix(head, undefined, V, C, 'lm_head') : this.embed_tokens;
    this.invFreq = uploadTensor(device, 'f32', [config.rotaryDim / 2], ropeInvFreq(config.rotaryDim, config.ropeTheta, config.ropeScaling ?? undefined), 'rope.inv_freq');

    // Tc: as many tokens as keep the widest activation, or a split weight's scratch [Tc, chunk rows], in one binding
    const all = [this.embed_tokens, this.lm_head, ...this.layers.flatMap((b) => [b.self_attn.qkv_proj, b.self_attn.o_proj, b.mlp.gate_up_proj, b.mlp.down_proj])];
    const scratchWidth = splitScratchWidth(all); // a chunk's rows fit one binding, so Tc stays >= 1
    const Tc = (this.maxStepTokens = Math.min(step, P, Math.floor(maxBytes / (4 * Math.max(widest, scratchWidth)))));

    this.kCache = Array.from({ length: L }, (_, i) => createTensor(device, 'f32', [NKV, P, HS], `layers.${i}.k_cache`));
    this.vCache = Array.from({ length: L }, (_, i) => createTensor(device, 'f32', [NKV, P, HS], `layers.${i}.v_cache`));
    const f32 = (shape: number[], label: string) => createTensor(device, 'f32', shape, label);
    this.act = {
      ids: createTensor(device, 'u32', [Tc], 'ids'),
      x: f32([Tc, C], 'x'),
      h: f32([Tc, C], 'h'),
      qkv: f32([Tc, QKV], 'qkv'),
      scores: f32([NH, Tc, P], 'scores'),
      z: f32([Tc, NH * HS], 'z'),
      attnOut: f32([Tc, C], 'attn_out'),
      gateUp: f32([Tc, 2 * I], 'gate_up'),
      hidden: f32([Tc, I], 'hidden'),
      mlpOut: f32([Tc, C], 'mlp_out'),
      last: f32([1, C], 'last'),
      normed: f32([Tc, C], 'normed'),
      logits: f32([1, V], 'logits'),
    };
    if (scratchWidth > 0) this.scratch = f32([Tc, scratchWidth], 'split_scratch');
    if (this.embed_tokens.chunks.length > 1) this.gather = createGatherBuffers(device, this.embed_tokens, Tc);
  }

  private count(t: Tensor): Tensor {
    this.weightBytes += t.byteLength;
    return t;
  }

  /** Runs `ids` in steps of at most Tc tokens; all-position logits are gathered from every step. */
  async forward(ids: number[], pos0: number, options: ForwardOptions = {}): Promise<ForwardResult> {
    const T = ids.length;
    const V = this.vocabSize;
    if (T === 0) throw new RangeError('forward() needs at least one token');
    if (pos0 < 0 || pos0 + T > this.nCtx) {
      throw new RangeError(`positions ${pos0}..${pos0 + T - 1} do not fit the context of ${this.nCtx} tokens`);
    }
    for (const id of ids) if (!(id >= 0 && id < V && Number.isInteger(id))) throw new RangeError(`token id ${id} is outside the vocabulary of ${V}`);
    const scale = options.ropeAngleScale ?? 1;
    if (!Number.isFinite(scale)) throw new RangeError(`ropeAngleScale must be a finite number, got ${scale}`);

    const Tc = this.maxStepTokens;
    const all = options.allLogits ? new Float32Array(T * V) : undefined;
    let logits: Float32Array = new Float32Array(0);
    const profile: NonNullable<ForwardResult['profile']> = [];
    for (let t0 = 0; t0 < T; t0 += Tc) {
      const chunk = ids.slice(t0, t0 + Tc);
      const final = t0 + chunk.length === T;
      const out = await this.step(chunk, pos0 + t0, all ? 'all' : final ? 'last' : 'none', options);
      if (out.profile) profile.push(...out.profile);
      if (all) all.set(out.logits, t0 * V);
      else if (final) logits = out.logits;
    }
    return { logits: all ?? logits, profile: options.profile ? profile : undefined };
  }

  /** One step of T <= Tc tokens: one Recorder, one submit. `head`: logits of every row, the last row, or none. */
  private async step(ids: number[], pos0: number, head: 'all' | 'last' | 'none', options: ForwardOptions): Promise<ForwardResult> {
    const profile = options.profile;
    const T = ids.length;
    const { hiddenSize: C, vocabSize: V, rmsNormEps: eps } = this.config;
    const { device } = this.gpu;
    const a = this.act;
    const rec = new Recorder(this.gpu, { profile, label: T > 1 ? 'prefill' : 'decode' });
    const hook = gpuHook(rec, options.hooks, pos0);
    const invFreq = this.ropeFrequencies(options.ropeAngleScale ?? 1);

    writeTensor(device, a.ids, Uint32Array.from(ids));
    splitEmbed(rec, a.x, a.ids, ids, this.embed_tokens, this.gather, { label: 'embed_tokens' }); // (T, C); no position embedding: RoPE does it
    hook('hook_embed', a.x, { rows: T, cols: C });
    for (let l = 0; l < this.layers.length; l++) {
      this.block(rec, l, T, pos0, invFreq, hook);
    }

    // the final norm, then the LM head: on every row, or on the last row only
    let rows = 0;
    if (head === 'all') {
      rmsNorm(rec, a.normed, a.x, this.norm, T, C, eps, { label: 'norm' });
      hook('ln_final.hook_normalized', a.normed, { rows: T, cols: C });
      rows = T;
      splitMatmul(rec, this.allLogitsBuffer(), a.normed, this.lm_head, T, this.scratch, { label: 'lm_head' }); // (T, V)
      hook('logits', a.logits, { rows: T, cols: V });
    } else if (head === 'last') {
      rec.copy(a.x, (T - 1) * C * 4, a.last, 0, C * 4, 'last_row');
      rmsNorm(rec, a.normed, a.last, this.norm, 1, C, eps, { label: 'norm' });
      hook('ln_final.hook_normalized', a.normed, { rows: 1, cols: C, firstRow: pos0 + T - 1 });
      rows = 1;
      splitMatmul(rec, a.logits, a.normed, this.lm_head, 1, this.scratch, { label: 'lm_head' }); // (1, V)
      hook('logits', a.logits, { rows: 1, cols: V, firstRow: pos0 + T - 1 });
    }
    const timings = await rec.submit();
    const logits = rows > 0 ? await readF32(device, a.logits, rows * V) : new Float32Array(0);
    return { logits, profile: profile ? timings : undefined };
  }

  /**
   * The RoPE frequencies of a step: the model's own, or for ropeAngleScale != 1 a second buffer holding each of them
   * times the scale (rounded to f32, as the CPU reference rounds them), so the model's own are never overwritten.
   */
  private ropeFrequencies(scale: number): Tensor {
    if (scale === 1) return this.invFreq;
    const { rotaryDim, ropeTheta, ropeScaling } = this.config;
    if (this.scaledInvFreq?.scale !== scale) {
      this.scaledInvFreq ??= { scale, tensor: createTensor(this.gpu.device, 'f32', [rotaryDim / 2], 'rope.inv_freq_scaled') };
      this.scaledInvFreq.scale = scale;
      writeTensor(this.gpu.device, this.scaledInvFreq.tensor, ropeInvFreq(rotaryDim, ropeTheta, ropeScaling ?? undefined).map((f) => f * scale));
    }
    return this.scaledInvFreq.tensor;
  }

  /** The final norm and the LM head on residual-stream rows resid [T, C] of another run: the logit lens. */
  async unembed(resid: Float32Array): Promise<Float32Array> {
    const { hiddenSize: C, vocabSize: V, rmsNormEps: eps } = this.config;
    const T = resid.length / C;
    if (!(Number.isInteger(T) && T >= 1 && T <= this.maxStepTokens)) throw new RangeError(`unembed() needs 1..${this.maxStepTokens} rows of ${C} floats`);
    const a = this.act;
    const rec = new Recorder(this.gpu, { label: 'unembed' });
    writeTensor(this.gpu.device, a.x, resid);
    rmsNorm(rec, a.normed, a.x, this.norm, T, C, eps, { label: 'norm' });
    splitMatmul(rec, this.allLogitsBuffer(), a.normed, this.lm_head, T, this.scratch, { label: 'lm_head' }); // (T, V)
    await rec.submit();
    return readF32(this.gpu.device, a.logits, T * V);
  }

  /**
   * One transformer block, as HF's LlamaDecoderLayer:
   *   x = x + o_proj(attention(rope(qkv_proj(input_layernorm(x)))))
   *   x = x + down_proj(swiglu(gate_up_proj(post_attention_layernorm(x))))
   */
  private block(rec: Recorder, l: number, T: number, pos0: number, invFreq: Tensor, hook: HookFn<Tensor>): void {
    const { hiddenSize: C, nHead: NH, nKVHead: NKV, headDim: HS, rotaryDim, intermediateSize: I, rmsNormEps: eps } = this.config;
    const QKV = (NH + 2 * NKV) * HS;
    const P = this.nCtx;
    const S = pos0 + T;
    const a = this.act;
    const b = this.layers[l]!;
    const scratch = this.scratch;
    const heads = { T, pos0, nHead: NH, nKVHead: NKV, headDim: HS, nCtx: P, layer: l };
    const cache = { T, pos0, nKVHead: NKV, headDim: HS, nCtx: P, srcStride: QKV, layer: l };
    const at = (name: string, t: Tensor, view: HookView) => hook(`blocks.${l}.${name}`, t, view);
    const rows = { rows: T, cols: C };
    const q = { rows: T, cols: NH * HS, rowStride: QKV, offset: 0, headDim: HS }; // the q | k | v parts of a qkv row
    const k = { rows: T, cols: NKV * HS, rowStride: QKV, offset: NH * HS, headDim: HS };
    const v = { rows: T, cols: NKV * HS, rowStride: QKV, offset: (NH + NKV) * HS, headDim: HS };

    // attention
    at('hook_resid_pre', a.x, rows);
    rmsNorm(rec, a.h, a.x, b.input_layernorm, T, C, eps, { layer: l, label: 'input_layernorm' });
    at('ln1.hook_normalized', a.h, rows);
    splitMatmul(rec, a.qkv, a.h, b.self_attn.qkv_proj, T, scratch, { layer: l, label: 'qkv_proj' }); // (T, QKV)
    at('attn.hook_q', a.qkv, q);
    at('attn.hook_k', a.qkv, k);
    at('attn.hook_v', a.qkv, v);
    rope(rec, a.qkv, invFreq, { T, pos0, nHeads: NH, headDim: HS, rotaryDim, stride: QKV, offset: 0, layer: l }); // q
    rope(rec, a.qkv, invFreq, { T, pos0, nHeads: NKV, headDim: HS, rotaryDim, stride: QKV, offset: NH * HS, layer: l }); // k
    at('attn.hook_rot_q', a.qkv, q);
    at('attn.hook_rot_k', a.qkv, k);
    kvAppend(rec, this.kCache[l]!, a.qkv, { ...cache, srcOffset: NH * HS });
    kvAppend(rec, this.vCache[l]!, a.qkv, { ...cache, srcOffset: (NH + NKV) * HS });
    attentionScores(rec, a.scores, a.qkv, this.kCache[l]!, { ...heads, qStride: QKV, qOffset: 0, scale: 1 / Math.sqrt(HS) }); // (NH, T, S)
    at('attn.hook_attn_scores', a.scores, { outer: NH, rows: T, cols: S });
    softmax(rec, a.scores, NH * T, S, { layer: l, label: 'attn_softmax' });
    at('attn.hook_pattern', a.scores, { outer: NH, rows: T, cols: S });
    attentionValues(rec, a.z, a.scores, this.vCache[l]!, heads); // (T, NH*HS)
    at('attn.hook_z', a.z, { rows: T, cols: NH * HS, headDim: HS });
    splitMatmul(rec, a.attnOut, a.z, b.self_attn.o_proj, T, scratch, { layer: l, label: 'o_proj' }); // (T, C)
    at('hook_attn_out', a.attnOut, rows);
    residualAdd(rec, a.x, a.attnOut, T * C, l);
    at('hook_resid_mid', a.x, rows);

    // MLP
    rmsNorm(rec, a.h, a.x, b.post_attention_layernorm, T, C, eps, { layer: l, label: 'post_attention_layernorm' });
    at('ln2.hook_normalized', a.h, rows);
    splitMatmul(rec, a.gateUp, a.h, b.mlp.gate_up_proj, T, scratch, { layer: l, label: 'gate_up_proj' }); // (T, 2I)
    at('mlp.hook_pre', a.gateUp, { rows: T, cols: I, rowStride: 2 * I }); // the gate half
    swiglu(rec, a.hidden, a.gateUp, T, I, { layer: l }); // (T, I)
    at('mlp.hook_post', a.hidden, { rows: T, cols: I });
    splitMatmul(rec, a.mlpOut, a.hidden, b.mlp.down_proj, T, scratch, { layer: l, label: 'down_proj' }); // (T, C)
    at('hook_mlp_out', a.mlpOut, rows);
    residualAdd(rec, a.x, a.mlpOut, T * C, l);
    at('hook_resid_post', a.x, rows);
  }

  private allLogitsBuffer(): Tensor {
    if (this.act.logits.shape[0] !== this.maxStepTokens) {
      this.act.logits.buffer.destroy();
      this.act.logits = createTensor(this.gpu.device, 'f32', [this.maxStepTokens, this.vocabSize], 'logits');
    }
    return this.act.logits;
  }

  private weightTensors(): Tensor[] {
    const matrices = [this.embed_tokens, ...(this.lm_head === this.embed_tokens ? [] : [this.lm_head])];
    for (const b of this.layers) matrices.push(b.self_attn.qkv_proj, b.self_attn.o_proj, b.mlp.gate_up_proj, b.mlp.down_proj);
    return [...matrices.flatMap(splitTensors), this.norm, ...this.layers.flatMap((b) => [b.input_layernorm, b.post_attention_layernorm])];
  }

  private activationTensors(): Tensor[] {
    const extra = [this.invFreq, ...(this.scaledInvFreq ? [this.scaledInvFreq.tensor] : []), ...(this.scratch ? [this.scratch] : []), ...(this.gather ? [this.gather.rows, this.gather.iota] : [])];
    return [...Object.values(this.act), ...extra];
  }

  gpuBytes() {
    const sum = (ts: Tensor[]) => ts.reduce((n, t) => n + t.byteLength, 0);
    return { weights: this.weightBytes, activations: sum(this.activationTensors()), kvCache: sum([...this.kCache, ...this.vCache]) };
  }

  destroy(): void {
    for (const t of [...this.weightTensors(), ...this.activationTensors(), ...this.kCache, ...this.vCache]) t.buffer.destroy();
  }
}

/** The KV cache length: the option, checked, or the default cap (see LlamaOptions.contextLength). */
function contextLength(config: LlamaConfig, requested: number | undefined): number {
  const { maxPositionEmbeddings: max, slidingWindow: window } = config;
  const limit = Math.min(max, window ?? Infinity);
  if (requested === undefined) return Math.min(limit, DEFAULT_CONTEXT);
  if (!Number.isSafeInteger(requested) || requested < 1) throw new ConfigError(`the context length must be a positive integer, got ${requested}`);
  if (requested > max) throw new ConfigError(`a context of ${requested} positions is longer than the model's max_position_embeddings (${max}): ask for at most ${max}`);
  if (window !== null && requested > window) {
    throw new ConfigError(`a context of ${requested} positions is longer than the model's sliding_window (${window}), and sliding-window attention is not implemented: ask for at most ${window}`);
  }
  return requested;
}
