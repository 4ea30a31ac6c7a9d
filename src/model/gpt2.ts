// GPT-2 on WebGPU: the forward pass as a short sequence of kernel dispatches, one command encoder per step.
//
// Dimension legend (llm.c's letters):
//   T  tokens in this step (the prompt for prefill, 1 for a decode step)   pos0  position of the first of them
//   S  key length = pos0 + T            C  n_embd          NH  heads         HS  head size = C / NH
//   V  vocabulary size                  L  layers          P   n_positions (context length, KV cache length)
//
// Module names copy the Hugging Face checkpoint (wte, wpe, h, ln_1, c_attn, c_proj, ln_2, c_fc, ln_f), so loading
// is a name table. Linear weights live on the GPU as [out, in] (Conv1D's [in, out] is transposed at load).
import type { Gpu } from '../gpu/device.ts';
import { createTensor, readF32, uploadTensor, writeTensor, type Tensor } from '../gpu/buffers.ts';
import { Recorder } from '../gpu/recorder.ts';
import { packF16, roundToF16 } from '../half.ts';
import { residualAdd } from '../kernels/add.ts';
import { attentionScores, attentionValues } from '../kernels/attention.ts';
import { embed, embedTokens } from '../kernels/embedding.ts';
import { gelu } from '../kernels/gelu.ts';
import { kvAppend } from '../kernels/kvcache.ts';
import { layerNorm } from '../kernels/layernorm.ts';
import { matmul } from '../kernels/matmul.ts';
import { softmax } from '../kernels/softmax.ts';
import { gpuHook, type HookFn, type HookView } from '../hooks/hooks.ts';
import type { Checkpoint } from '../loading/checkpoint.ts';
import type { GPT2Config } from './config.ts';
import type { ForwardOptions, ForwardResult, LanguageModel, WeightFormat } from './model.ts';

// ---------------------------------------------------------------------------------------------------------------
// Weights: names in the checkpoint, and the parameters as plain arrays on the CPU

/** A linear layer: weight [out, in] (already transposed from Conv1D), bias [out]. */
export interface LinearParams {
  weight: Float32Array;
  bias: Float32Array;
  out: number;
  in: number;
}

export interface NormParams {
  weight: Float32Array;
  bias: Float32Array;
}

export interface GPT2BlockParams {
  ln_1: NormParams;
  attn: { c_attn: LinearParams; c_proj: LinearParams };
  ln_2: NormParams;
  mlp: { c_fc: LinearParams; c_proj: LinearParams };
}

/** Every GPT-2 parameter on the CPU; the GPU model and the CPU reference both start from this. */
export interface GPT2Params {
  config: GPT2Config;
  wte: Float32Array; // [V, C]; also the LM head (tied)
  wpe: Float32Array; // [P, C]
  h: GPT2BlockParams[];
  ln_f: NormParams;
}

/** The checkpoint names of block i's tensors (without the optional "transformer." prefix). */
export function gpt2BlockNames(i: number) {
  const p = `h.${i}`;
  return {
    ln_1: { weight: `${p}.ln_1.weight`, bias: `${p}.ln_1.bias` },
    attn: {
      c_attn: { weight: `${p}.attn.c_attn.weight`, bias: `${p}.attn.c_attn.bias` },
      c_proj: { weight: `${p}.attn.c_proj.weight`, bias: `${p}.attn.c_proj.bias` },
    },
    ln_2: { weight: `${p}.ln_2.weight`, bias: `${p}.ln_2.bias` },
    mlp: {
      c_fc: { weight: `${p}.mlp.c_fc.weight`, bias: `${p}.mlp.c_fc.bias` },
      c_proj: { weight: `${p}.mlp.c_proj.weight`, bias: `${p}.mlp.c_proj.bias` },
    },
  };
}

export const GPT2_NAMES = {
  wte: 'wte.weight',
  wpe: 'wpe.weight',
  ln_f: { weight: 'ln_f.weight', bias: 'ln_f.bias' },
};

/**
 * Read GPT-2's parameters from a checkpoint. Hugging Face files name them `transformer.h.0...` (save_pretrained)
 * or `h.0...` (the original upload); both are accepted. Shapes are checked against the config.
 */
export function readGPT2Params(checkpoint: Checkpoint, config: GPT2Config): GPT2Params {
  const { nEmbd: C, vocabSize: V, nPositions: P, nLayer: L } = config;
  const prefix = checkpoint.has(`transformer.${GPT2_NAMES.wte}`) ? 'transformer.' : '';
  const get = (name: string, shape: number[]): Float32Array => {
    const full = prefix + name;
    const actual = checkpoint.shape(full);
    if (actual.length !== shape.length || actual.some((d, i) => d !== shape[i])) {
      throw new ModelShapeError(`${full} has shape [${actual}] but config.json implies [${shape}]: the config does not match the weights`);
    }
    return checkpoint.getF32(full);
  };
  const norm = (n: { weight: string; bias: string }): NormParams => ({ weight: get(n.weight, [C]), bias: get(n.bias, [C]) });
  // Conv1D stores [in, out]; the kernels read [out, in]
  const conv1d = (n: { weight: string; bias: string }, inF: number, outF: number): LinearParams => ({
    weight: transpose(get(n.weight, [inF, outF]), inF, outF),
    bias: get(n.bias, [outF]),
    out: outF,
    in: inF,
  });
  const wte = get(GPT2_NAMES.wte, [V, C]);
  const wpe = get(GPT2_NAMES.wpe, [P, C]);
  const h: GPT2BlockParams[] = [];
  for (let i = 0; i < L; i++) {
    const n = gpt2BlockNames(i);
    h.push({
      ln_1: norm(n.ln_1),
      attn: { c_attn: conv1d(n.attn.c_attn, C, 3 * C), c_proj: conv1d(n.attn.c_proj, C, C) },
      ln_2: norm(n.ln_2),
      mlp: { c_fc: conv1d(n.mlp.c_fc, C, config.nInner), c_proj: conv1d(n.mlp.c_proj, config.nInner, C) },
    });
  }
  return { config, wte, wpe, h, ln_f: norm(GPT2_NAMES.ln_f) };
}

/** The names Hugging Face gives GPT-2's tanh-approximated GELU, the one the gelu kernel computes. */
export const TANH_GELU = new Set(['gelu_new', 'gelu_pytorch_tanh', 'gelu_fast']);

export class ModelShapeError extends Error {
  override name = 'ModelShapeError';
}

/** [rows, cols] -> [cols, rows]. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  return out;
}

/** The parameters as the GPU holds them in `format`: f16 rounds the matrices (not norms or biases). */
export function roundGPT2Params(params: GPT2Params, format: WeightFormat): GPT2Params {
  if (format === 'f32') return params;
  const r = (a: Float32Array) => a.map(roundToF16);
  const lin = (l: LinearParams): LinearParams => ({ ...l, weight: r(l.weight) });
  return {
    ...params,
    wte: r(params.wte),
    wpe: r(params.wpe),
    h: params.h.map((b) => ({ ...b, attn: { c_attn: lin(b.attn.c_attn), c_proj: lin(b.attn.c_proj) }, mlp: { c_fc: lin(b.mlp.c_fc), c_proj: lin(b.mlp.c_proj) } })),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// The model on the GPU

interface Linear {
  weight: Tensor; // [out, in], f32 or f16x2
  bias: Tensor; // [out]
}
interface Norm {
  weight: Tensor;
  bias: Tensor;
}
interface Block {
  ln_1: Norm;
  attn: { c_attn: Linear; c_proj: Linear };
  ln_2: Norm;
  mlp: { c_fc: Linear; c_proj: Linear };
}

/** Activation buffers, allocated once for the longest step (T = P) and reused by every step. */
interface Activations {
  ids: Tensor; // [P] u32
  x: Tensor; // [P, C] the residual stream
  ln: Tensor; // [P, C] output of ln_1 / ln_2
  qkv: Tensor; // [P, 3C] q | k | v of each token
  scores: Tensor; // [NH, P, P] attention scores, then (in place) the pattern
  z: Tensor; // [P, C] attention-weighted values, heads side by side
  attnOut: Tensor; // [P, C] attention output after c_proj
  fc: Tensor; // [P, 4C] MLP hidden layer (n_inner wide)
  mlpOut: Tensor; // [P, C]
  last: Tensor; // [1, C] the last position's residual, copied out for the final norm
  lnf: Tensor; // [P, C] ln_f output
  logits: Tensor; // [1, V], or [P, V] once all-position logits were asked for
  positions: Tensor; // [P] u32 pos0 .. pos0+T-1, and
  posEmbed: Tensor; // [P, C] wpe rows: the position part apart, only when a hook reads or changes it
}

export class GPT2 implements LanguageModel {
  readonly arch = 'gpt2';
  readonly vocabSize: number;
  readonly nCtx: number;
  private wte: Tensor;
  private wpe: Tensor;
  private h: Block[];
  private ln_f: Norm;
  private kCache: Tensor[]; // per layer [NH, P, HS]
  private vCache: Tensor[];
  private act: Activations;
  private weightBytes = 0;

  constructor(
    readonly gpu: Gpu,
    readonly config: GPT2Config,
    params: GPT2Params,
    readonly weightFormat: WeightFormat = 'f32',
  ) {
    const { device } = gpu;
    const { nEmbd: C, vocabSize: V, nPositions: P, nHead: NH, nLayer: L } = config;
    if (!TANH_GELU.has(config.activation)) {
      throw new ModelShapeError(`activation_function "${config.activation}" is not implemented; wgpt runs GPT-2's tanh GELU (gelu_new)`);
    }
    this.vocabSize = V;
    this.nCtx = P;
    const vector = (a: Float32Array, label: string) => this.upload(uploadTensor(device, 'f32', [a.length], a, label));
    const matrix = (a: Float32Array, rows: number, cols: number, label: string): Tensor =>
      weightFormat === 'f16'
        ? this.upload(uploadTensor(device, 'f16x2', [rows, cols], packF16(a, cols), label))
        : this.upload(uploadTensor(device, 'f32', [rows, cols], a, label));
    const linear = (l: LinearParams, label: string): Linear => ({ weight: matrix(l.weight, l.out, l.in, `${label}.weight`), bias: vector(l.bias, `${label}.bias`) });
    const norm = (n: NormParams, label: string): Norm => ({ weight: vector(n.weight, `${label}.weight`), bias: vector(n.bias, `${label}.bias`) });

    this.wte = matrix(params.wte, V, C, 'wte');
    this.wpe = matrix(params.wpe, P, C, 'wpe');
    this.h = params.h.map((b, i) => ({
      ln_1: norm(b.ln_1, `h.${i}.ln_1`),
      attn: { c_attn: linear(b.attn.c_attn, `h.${i}.attn.c_attn`), c_proj: linear(b.attn.c_proj, `h.${i}.attn.c_proj`) },
      ln_2: norm(b.ln_2, `h.${i}.ln_2`),
      mlp: { c_fc: linear(b.mlp.c_fc, `h.${i}.mlp.c_fc`), c_proj: linear(b.mlp.c_proj, `h.${i}.mlp.c_proj`) },
    }));
    this.ln_f = norm(params.ln_f, 'ln_f');

    const HS = C / NH;
    this.kCache = Array.from({ length: L }, (_, i) => createTensor(device, 'f32', [NH, P, HS], `h.${i}.k_cache`));
    this.vCache = Array.from({ length: L }, (_, i) => createTensor(device, 'f32', [NH, P, HS], `h.${i}.v_cache`));
    const f32 = (shape: number[], label: string) => createTensor(device, 'f32', shape, label);
    this.act = {
      ids: createTensor(device, 'u32', [P], 'ids'),
      x: f32([P, C], 'x'),
      ln: f32([P, C], 'ln'),
      qkv: f32([P, 3 * C], 'qkv'),
      scores: f32([NH, P, P], 'scores'),
      z: f32([P, C], 'z'),
      attnOut: f32([P, C], 'attn_out'),
      fc: f32([P, config.nInner], 'fc'),
      mlpOut: f32([P, C], 'mlp_out'),
      last: f32([1, C], 'last'),
      lnf: f32([P, C], 'lnf'),
      logits: f32([1, V], 'logits'),
      positions: createTensor(device, 'u32', [P], 'positions'),
      posEmbed: f32([P, C], 'pos_embed'),
    };
  }

  private upload(t: Tensor): Tensor {
    this.weightBytes += t.byteLength;
    return t;
  }

  async forward(ids: number[], pos0: number, options: ForwardOptions = {}): Promise<ForwardResult> {
    const T = ids.length;
    const { nEmbd: C, vocabSize: V, layerNormEpsilon: eps } = this.config;
    if (T === 0) throw new RangeError('forward() needs at least one token');
    if (pos0 < 0 || pos0 + T > this.nCtx) {
      throw new RangeError(`positions ${pos0}..${pos0 + T - 1} do not fit the context of ${this.nCtx} tokens`);
    }
    for (const id of ids) if (!(id >= 0 && id < V && Number.isInteger(id))) throw new RangeError(`token id ${id} is outside the vocabulary of ${V}`);
    if ((options.ropeAngleScale ?? 1) !== 1) throw new RangeError('ropeAngleScale needs RoPE, and GPT-2 has learned position embeddings: scale hook_pos_embed instead');
    const { device } = this.gpu;
    const a = this.act;
    const rec = new Recorder(this.gpu, { profile: options.profile, label: T > 1 ? 'prefill' : 'decode' });

    const hook = gpuHook(rec, options.hooks, pos0);
    const rows = { rows: T, cols: C };

    writeTensor(device, a.ids, Uint32Array.from(ids));
    if (hook.wants('hook_embed') || hook.wants('hook_pos_embed')) {
      // the token and position parts apart, so a hook can read or change each: x = wte[ids] + wpe[positions]
      writeTensor(device, a.positions, Uint32Array.from(ids, (_, t) => pos0 + t));
      embedTokens(rec, a.x, a.ids, this.wte, { T, C });
      hook('hook_embed', a.x, rows);
      embedTokens(rec, a.posEmbed, a.positions, this.wpe, { T, C, label: 'embed_positions' });
      hook('hook_pos_embed', a.posEmbed, rows);
      residualAdd(rec, a.x, a.posEmbed, T * C);
    } else {
      embed(rec, a.x, a.ids, this.wte, this.wpe, { T, C, pos0 });
    }
    for (let l = 0; l < this.h.length; l++) {
      this.block(rec, l, T, pos0, hook);
    }

    // ln_f, then the LM head (tied to wte): on every row, or on the last row only
    let logits: Tensor;
    if (options.allLogits) {
      layerNorm(rec, a.lnf, a.x, this.ln_f.weight, this.ln_f.bias, T, C, eps, { label: 'ln_f' });
      hook('ln_final.hook_normalized', a.lnf, rows);
      logits = this.allLogitsBuffer();
      matmul(rec, logits, a.lnf, this.wte, undefined, T, V, C, { label: 'lm_head' });
      hook('logits', logits, { rows: T, cols: V });
    } else {
      const lastRow = { rows: 1, firstRow: pos0 + T - 1 };
      rec.copy(a.x, (T - 1) * C * 4, a.last, 0, C * 4, 'last_row');
      layerNorm(rec, a.lnf, a.last, this.ln_f.weight, this.ln_f.bias, 1, C, eps, { label: 'ln_f' });
      hook('ln_final.hook_normalized', a.lnf, { ...lastRow, cols: C });
      logits = a.logits;
      matmul(rec, logits, a.lnf, this.wte, undefined, 1, V, C, { label: 'lm_head' });
      hook('logits', logits, { ...lastRow, cols: V });
    }
    const profile = await rec.submit();
    const out = await readF32(device, logits, (options.allLogits ? T : 1) * V);
    return { logits: out, profile: options.profile ? profile : undefined };
  }

  /** The final norm and the LM head on residual-stream rows resid [T, C] of another run: the logit lens. */
  async unembed(resid: Float32Array): Promise<Float32Array> {
    const { nEmbd: C, vocabSize: V, layerNormEpsilon: eps } = this.config;
    const T = resid.length / C;
    if (!(Number.isInteger(T) && T >= 1 && T <= this.nCtx)) throw new RangeError(`unembed() needs 1..${this.nCtx} rows of ${C} floats`);
    const a = this.act;
    const rec = new Recorder(this.gpu, { label: 'unembed' });
    writeTensor(this.gpu.device, a.x, resid);
    layerNorm(rec, a.lnf, a.x, this.ln_f.weight, this.ln_f.bias, T, C, eps, { label: 'ln_f' });
    const logits = this.allLogitsBuffer();
    matmul(rec, logits, a.lnf, this.wte, undefined, T, V, C, { label: 'lm_head' }); // (T, V)
    await rec.submit();
    return readF32(this.gpu.device, logits, T * V);
  }

  /** One transformer block, nanoGPT's Block.forward: x = x + attn(ln_1(x)); x = x + mlp(ln_2(x)). */
  private block(rec: Recorder, l: number, T: number, pos0: number, hook: HookFn<Tensor>): void {
    const { nEmbd: C, nHead: NH, nInner: I, layerNormEpsilon: eps } = this.config;
    const HS = C / NH;
    const P = this.nCtx;
    const S = pos0 + T;
    const a = this.act;
    const b = this.h[l]!;
    const heads = { T, pos0, nHead: NH, nKVHead: NH, headDim: HS, nCtx: P, layer: l };
    const at = (name: string, t: Tensor, view: HookView) => hook(`blocks.${l}.${name}`, t, view);
    const rows = { rows: T, cols: C };
    const qkvPart = (part: number) => ({ rows: T, cols: C, rowStride: 3 * C, offset: part * C, headDim: HS }); // q | k | v of a qkv row

    // attention
    at('hook_resid_pre', a.x, rows);
    layerNorm(rec, a.ln, a.x, b.ln_1.weight, b.ln_1.bias, T, C, eps, { layer: l, label: 'ln_1' });
    at('ln1.hook_normalized', a.ln, rows);
    matmul(rec, a.qkv, a.ln, b.attn.c_attn.weight, b.attn.c_attn.bias, T, 3 * C, C, { layer: l, label: 'c_attn' }); // (T, 3C)
    at('attn.hook_q', a.qkv, qkvPart(0));
    at('attn.hook_k', a.qkv, qkvPart(1));
    at('attn.hook_v', a.qkv, qkvPart(2));
    kvAppend(rec, this.kCache[l]!, a.qkv, { T, pos0, nKVHead: NH, headDim: HS, nCtx: P, srcStride: 3 * C, srcOffset: C, layer: l });
    kvAppend(rec, this.vCache[l]!, a.qkv, { T, pos0, nKVHead: NH, headDim: HS, nCtx: P, srcStride: 3 * C, srcOffset: 2 * C, layer: l });
    attentionScores(rec, a.scores, a.qkv, this.kCache[l]!, { ...heads, qStride: 3 * C, qOffset: 0, scale: 1 / Math.sqrt(HS) }); // (NH, T, S)
    at('attn.hook_attn_scores', a.scores, { outer: NH, rows: T, cols: S });
    softmax(rec, a.scores, NH * T, S, { layer: l, label: 'attn_softmax' });
    at('attn.hook_pattern', a.scores, { outer: NH, rows: T, cols: S });
    attentionValues(rec, a.z, a.scores, this.vCache[l]!, heads); // (T, C)
    at('attn.hook_z', a.z, { ...rows, headDim: HS });
    matmul(rec, a.attnOut, a.z, b.attn.c_proj.weight, b.attn.c_proj.bias, T, C, C, { layer: l, label: 'attn.c_proj' });
    at('hook_attn_out', a.attnOut, rows);
    residualAdd(rec, a.x, a.attnOut, T * C, l);
    at('hook_resid_mid', a.x, rows);

    // MLP
    layerNorm(rec, a.ln, a.x, b.ln_2.weight, b.ln_2.bias, T, C, eps, { layer: l, label: 'ln_2' });
    at('ln2.hook_normalized', a.ln, rows);
    matmul(rec, a.fc, a.ln, b.mlp.c_fc.weight, b.mlp.c_fc.bias, T, I, C, { layer: l, label: 'c_fc' }); // (T, 4C)
    at('mlp.hook_pre', a.fc, { rows: T, cols: I });
    gelu(rec, a.fc, T * I, { layer: l });
    at('mlp.hook_post', a.fc, { rows: T, cols: I });
    matmul(rec, a.mlpOut, a.fc, b.mlp.c_proj.weight, b.mlp.c_proj.bias, T, C, I, { layer: l, label: 'mlp.c_proj' });
    at('hook_mlp_out', a.mlpOut, rows);
    residualAdd(rec, a.x, a.mlpOut, T * C, l);
    at('hook_resid_post', a.x, rows);
  }

  private allLogitsBuffer(): Tensor {
    if (this.act.logits.shape[0] !== this.nCtx) {
      this.act.logits.buffer.destroy();
      this.act.logits = createTensor(this.gpu.device, 'f32', [this.nCtx, this.vocabSize], 'logits');
    }
    return this.act.logits;
  }

  gpuBytes() {
    const sum = (ts: Tensor[]) => ts.reduce((n, t) => n + t.byteLength, 0);
    return { weights: this.weightBytes, activations: sum(Object.values(this.act)), kvCache: sum([...this.kCache, ...this.vCache]) };
  }

  destroy(): void {
    const all = [this.wte, this.wpe, this.ln_f.weight, this.ln_f.bias, ...this.kCache, ...this.vCache, ...Object.values(this.act)];
    for (const b of this.h) {
      all.push(b.ln_1.weight, b.ln_1.bias, b.ln_2.weight, b.ln_2.bias);
      for (const lin of [b.attn.c_attn, b.attn.c_proj, b.mlp.c_fc, b.mlp.c_proj]) all.push(lin.weight, lin.bias);
    }
    for (const t of all) t.buffer.destroy();
  }
}
