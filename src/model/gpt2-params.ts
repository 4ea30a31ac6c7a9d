// GPT-2's parameters: their names in a Hugging Face checkpoint, read into plain arrays on the CPU. The model
// (gpt2.ts) and the float64 reference (src/reference/gpt2.ts) both start from these.
//
// Module names copy the checkpoint (wte, wpe, h, ln_1, c_attn, c_proj, ln_2, c_fc, ln_f), so loading is a name
// table. Linear weights are [out, in] (Conv1D's [in, out] is transposed here).
import { roundWeights } from '../quant.ts';
import type { Checkpoint } from '../loading/checkpoint.ts';
import type { GPT2Config } from './config.ts';
import type { WeightFormat } from './model.ts';

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

/** The parameters as a backend holds them in `format`: f16, q8 and q4 round the matrices (not norms or biases). */
export function roundGPT2Params(params: GPT2Params, format: WeightFormat): GPT2Params {
  if (format === 'f32') return params;
  const r = (a: Float32Array, cols: number) => roundWeights(format, a, cols);
  const lin = (l: LinearParams): LinearParams => ({ ...l, weight: r(l.weight, l.in) });
  const C = params.config.nEmbd;
  return {
    ...params,
    wte: r(params.wte, C),
    wpe: r(params.wpe, C),
    h: params.h.map((b) => ({ ...b, attn: { c_attn: lin(b.attn.c_attn), c_proj: lin(b.attn.c_proj) }, mlp: { c_fc: lin(b.mlp.c_fc), c_proj: lin(b.mlp.c_proj) } })),
  };
}
