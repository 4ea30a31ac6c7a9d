// GPT-2's forward pass on the CPU, in float64, as plain loops: the ground truth the GPU model is tested against
// and that the labs compare with. It calls the same per-kernel references the kernel tests use, in the same
// order as src/model/gpt2.ts, but processes the whole sequence at once with no KV cache.
import { residualAddReference } from '../kernels/add.ts';
import { attentionReference } from '../kernels/attention.ts';
import { geluReference } from '../kernels/gelu.ts';
import { layerNormReference } from '../kernels/layernorm.ts';
import { matmulReference } from '../kernels/matmul.ts';
import type { GPT2Params } from '../model/gpt2.ts';
import { greedyReference } from './greedy.ts';

/** Logits [T, V] for every position of `ids` (positions 0 .. T-1). */
export function gpt2ForwardReference(params: GPT2Params, ids: number[]): Float64Array {
  const { nEmbd: C, nHead: NH, nInner: I, vocabSize: V, layerNormEpsilon: eps } = params.config;
  const T = ids.length;
  const HS = C / NH;

  // token + position embeddings: x[t, c] = wte[ids[t], c] + wpe[t, c]
  const x = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) x[t * C + c] = params.wte[ids[t]! * C + c]! + params.wpe[t * C + c]!;
  }

  const ln = new Float64Array(T * C);
  const qkv = new Float64Array(T * 3 * C);
  const attnOut = new Float64Array(T * C);
  const fc = new Float64Array(T * I);
  const mlpOut = new Float64Array(T * C);
  for (const b of params.h) {
    // x = x + attn(ln_1(x))
    layerNormReference(ln, x, b.ln_1.weight, b.ln_1.bias, T, C, eps);
    matmulReference(qkv, ln, b.attn.c_attn.weight, b.attn.c_attn.bias, T, 3 * C, C);
    const { k, v } = splitHeads(qkv, T, C, NH);
    const { z } = attentionReference(qkv, k, v, { T, pos0: 0, nHead: NH, nKVHead: NH, headDim: HS, nCtx: T, qStride: 3 * C, qOffset: 0, scale: 1 / Math.sqrt(HS) });
    matmulReference(attnOut, z, b.attn.c_proj.weight, b.attn.c_proj.bias, T, C, C);
    residualAddReference(x, attnOut, T * C);

    // x = x + mlp(ln_2(x))
    layerNormReference(ln, x, b.ln_2.weight, b.ln_2.bias, T, C, eps);
    matmulReference(fc, ln, b.mlp.c_fc.weight, b.mlp.c_fc.bias, T, I, C);
    geluReference(fc, T * I);
    matmulReference(mlpOut, fc, b.mlp.c_proj.weight, b.mlp.c_proj.bias, T, C, I);
    residualAddReference(x, mlpOut, T * C);
  }

  layerNormReference(ln, x, params.ln_f.weight, params.ln_f.bias, T, C, eps);
  const logits = new Float64Array(T * V);
  matmulReference(logits, ln, params.wte, undefined, T, V, C); // the LM head is tied to wte
  return logits;
}

/** K and V out of the fused qkv rows, as the [NH, T, HS] layout of a KV cache holding exactly T positions. */
function splitHeads(qkv: Float64Array, T: number, C: number, NH: number): { k: Float64Array; v: Float64Array } {
  const HS = C / NH;
  const k = new Float64Array(NH * T * HS);
  const v = new Float64Array(NH * T * HS);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < NH; h++) {
      for (let d = 0; d < HS; d++) {
        k[(h * T + t) * HS + d] = qkv[t * 3 * C + C + h * HS + d]!;
        v[(h * T + t) * HS + d] = qkv[t * 3 * C + 2 * C + h * HS + d]!;
      }
    }
  }
  return { k, v };
}

/** Greedy decoding on the CPU reference: recompute everything for each new token. */
export function gpt2GreedyReference(params: GPT2Params, prompt: number[], newTokens: number): number[] {
  return greedyReference((ids) => gpt2ForwardReference(params, ids), params.config.vocabSize, prompt, newTokens);
}
