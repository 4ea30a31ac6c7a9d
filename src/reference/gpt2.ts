// GPT-2's forward pass on the CPU, in float64, as plain loops: the ground truth the GPU model is tested against
// and that the labs compare with. It calls the same per-kernel references the kernel tests use, in the same
// order as the ops of the GPU model (src/model/step.ts), but processes the whole sequence at once with no KV cache.
import { residualAddReference } from '../kernels/add.ts';
import { attentionScoresReference, attentionValuesReference } from '../kernels/attention.ts';
import { attentionResultReference, sumHeadsReference } from '../kernels/attention-result.ts';
import { geluReference } from '../kernels/gelu.ts';
import { layerNormReference } from '../kernels/layernorm.ts';
import { matmulReference } from '../kernels/matmul.ts';
import { softmaxReference } from '../kernels/softmax.ts';
import { noHooks, type HookFn, type HookView } from '../hooks/hooks.ts';
import type { GPT2Params } from '../model/gpt2-params.ts';
import { greedyReference } from './greedy.ts';

/**
 * Logits [T, V] for every position of `ids` (positions 0 .. T-1). `hook` is called at the same hook points as on
 * the GPU (CpuHooks in src/hooks applies interventions there and captures activations).
 */
export function gpt2ForwardReference(params: GPT2Params, ids: number[], hook: HookFn<Float64Array> = noHooks()): Float64Array {
  const { nEmbd: C, nHead: NH, nInner: I, vocabSize: V, layerNormEpsilon: eps } = params.config;
  const T = ids.length;
  const HS = C / NH;

  // token + position embeddings: x[t, c] = wte[ids[t], c] + wpe[t, c]
  const x = new Float64Array(T * C);
  const pos = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) x[t * C + c] = params.wte[ids[t]! * C + c]!;
    for (let c = 0; c < C; c++) pos[t * C + c] = params.wpe[t * C + c]!;
  }
  const rows = { rows: T, cols: C };
  hook('hook_embed', x, rows);
  hook('hook_pos_embed', pos, rows);
  residualAddReference(x, pos, T * C);

  const ln = new Float64Array(T * C);
  const qkv = new Float64Array(T * 3 * C);
  const attnOut = new Float64Array(T * C);
  const fc = new Float64Array(T * I);
  const mlpOut = new Float64Array(T * C);
  params.h.forEach((b, l) => {
    const at = (name: string, a: Float64Array, view: HookView) => hook(`blocks.${l}.${name}`, a, view);
    const qkvPart = (part: number) => ({ rows: T, cols: C, rowStride: 3 * C, offset: part * C, headDim: HS });
    // x = x + attn(ln_1(x))
    at('hook_resid_pre', x, rows);
    layerNormReference(ln, x, b.ln_1.weight, b.ln_1.bias, T, C, eps);
    at('ln1.hook_normalized', ln, rows);
    matmulReference(qkv, ln, b.attn.c_attn.weight, b.attn.c_attn.bias, T, 3 * C, C);
    at('attn.hook_q', qkv, qkvPart(0));
    at('attn.hook_k', qkv, qkvPart(1));
    at('attn.hook_v', qkv, qkvPart(2));
    const { k, v } = splitHeads(qkv, T, C, NH);
    const shape = { T, pos0: 0, nHead: NH, nKVHead: NH, headDim: HS, nCtx: T };
    const scores = attentionScoresReference(qkv, k, { ...shape, qStride: 3 * C, qOffset: 0, scale: 1 / Math.sqrt(HS) });
    at('attn.hook_attn_scores', scores, { outer: NH, rows: T, cols: T });
    softmaxReference(scores, NH * T, T);
    at('attn.hook_pattern', scores, { outer: NH, rows: T, cols: T });
    const z = attentionValuesReference(scores, v, shape);
    at('attn.hook_z', z, { ...rows, headDim: HS });
    if (hook.wants(`blocks.${l}.attn.hook_result`)) {
      // per head, then summed: what the GPU model does when this hook is asked for (attention-result.ts)
      const result = attentionResultReference(z, b.attn.c_proj.weight, { T, NH, HS, C });
      at('attn.hook_result', result, { rows: T, cols: NH * C, headDim: C });
      sumHeadsReference(attnOut, result, b.attn.c_proj.bias, { T, NH, C });
    } else matmulReference(attnOut, z, b.attn.c_proj.weight, b.attn.c_proj.bias, T, C, C);
    at('hook_attn_out', attnOut, rows);
    residualAddReference(x, attnOut, T * C);
    at('hook_resid_mid', x, rows);

    // x = x + mlp(ln_2(x))
    layerNormReference(ln, x, b.ln_2.weight, b.ln_2.bias, T, C, eps);
    at('ln2.hook_normalized', ln, rows);
    matmulReference(fc, ln, b.mlp.c_fc.weight, b.mlp.c_fc.bias, T, I, C);
    at('mlp.hook_pre', fc, { rows: T, cols: I });
    geluReference(fc, T * I);
    at('mlp.hook_post', fc, { rows: T, cols: I });
    matmulReference(mlpOut, fc, b.mlp.c_proj.weight, b.mlp.c_proj.bias, T, C, I);
    at('hook_mlp_out', mlpOut, rows);
    residualAddReference(x, mlpOut, T * C);
    at('hook_resid_post', x, rows);
  });

  layerNormReference(ln, x, params.ln_f.weight, params.ln_f.bias, T, C, eps);
  hook('ln_final.hook_normalized', ln, rows);
  const logits = new Float64Array(T * V);
  matmulReference(logits, ln, params.wte, undefined, T, V, C); // the LM head is tied to wte
  hook('logits', logits, { rows: T, cols: V });
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
