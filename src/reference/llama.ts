// The Llama-style forward pass on the CPU, in float64, as plain loops: the ground truth the GPU model is tested
// against. It calls the same per-kernel references the kernel tests use, in the same order as the GPU model (llama.ts),
// but processes the whole sequence at once with no KV cache.
import { residualAddReference } from '../kernels/add.ts';
import { attentionScoresReference, attentionValuesReference } from '../kernels/attention.ts';
import { attentionResultReference, sumHeadsReference } from '../kernels/attention-result.ts';
import { softmaxReference } from '../kernels/softmax.ts';
import { noHooks, type HookFn, type HookView } from '../hooks/hooks.ts';
import { kvAppendReference } from '../kernels/kvcache.ts';
import { matmulReference } from '../kernels/matmul.ts';
import { rmsNormReference } from '../kernels/rmsnorm.ts';
import { ropeInvFreq, ropeReference } from '../kernels/rope.ts';
import { swigluReference } from '../kernels/swiglu.ts';
import type { LlamaParams } from '../model/llama-params.ts';
import { greedyReference } from './greedy.ts';

/**
 * Logits [T, V] for every position of `ids` (positions 0 .. T-1), with `hook` called at each hook point.
 * `ropeAngleScale` multiplies every RoPE angle, as ForwardOptions.ropeAngleScale does on the GPU.
 */
export function llamaForwardReference(params: LlamaParams, ids: number[], hook: HookFn<Float64Array> = noHooks(), options: { ropeAngleScale?: number } = {}): Float64Array {
  const { hiddenSize: C, nHead: NH, nKVHead: NKV, headDim: HS, rotaryDim, intermediateSize: I, vocabSize: V, rmsNormEps: eps } = params.config;
  const T = ids.length;
  const QKV = (NH + 2 * NKV) * HS;
  // angle = position * (invFreq * scale): scaling the frequencies (rounded to f32, as the GPU model uploads them)
  // scales every angle
  const scale = options.ropeAngleScale ?? 1;
  const invFreq = ropeInvFreq(rotaryDim, params.config.ropeTheta, params.config.ropeScaling ?? undefined).map((f) => f * scale);

  // token embeddings only: positions enter through RoPE
  const x = new Float64Array(T * C);
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) x[t * C + c] = params.embed_tokens[ids[t]! * C + c]!;
  }
  const rows = { rows: T, cols: C };
  hook('hook_embed', x, rows);

  const h = new Float64Array(T * C);
  const qkv = new Float64Array(T * QKV);
  const attnOut = new Float64Array(T * C);
  const gateUp = new Float64Array(T * 2 * I);
  const act = new Float64Array(T * I);
  const mlpOut = new Float64Array(T * C);
  params.layers.forEach((b, l) => {
    const at = (name: string, a: Float64Array, view: HookView) => hook(`blocks.${l}.${name}`, a, view);
    const q = { rows: T, cols: NH * HS, rowStride: QKV, offset: 0, headDim: HS };
    const kPart = { rows: T, cols: NKV * HS, rowStride: QKV, offset: NH * HS, headDim: HS };
    const vPart = { rows: T, cols: NKV * HS, rowStride: QKV, offset: (NH + NKV) * HS, headDim: HS };
    // x = x + o_proj(attention(rope(qkv_proj(input_layernorm(x)))))
    at('hook_resid_pre', x, rows);
    rmsNormReference(h, x, b.input_layernorm, T, C, eps);
    at('ln1.hook_normalized', h, rows);
    matmulReference(qkv, h, b.self_attn.qkv_proj.weight, b.self_attn.qkv_proj.bias, T, QKV, C);
    at('attn.hook_q', qkv, q);
    at('attn.hook_k', qkv, kPart);
    at('attn.hook_v', qkv, vPart);
    ropeReference(qkv, invFreq, { T, pos0: 0, nHeads: NH, headDim: HS, rotaryDim, stride: QKV, offset: 0 });
    ropeReference(qkv, invFreq, { T, pos0: 0, nHeads: NKV, headDim: HS, rotaryDim, stride: QKV, offset: NH * HS });
    at('attn.hook_rot_q', qkv, q);
    at('attn.hook_rot_k', qkv, kPart);
    // the KV cache of a sequence seen whole: [NKV, T, HS]
    const k = new Float64Array(NKV * T * HS);
    const v = new Float64Array(NKV * T * HS);
    kvAppendReference(k, qkv, { T, pos0: 0, nKVHead: NKV, headDim: HS, nCtx: T, srcStride: QKV, srcOffset: NH * HS });
    kvAppendReference(v, qkv, { T, pos0: 0, nKVHead: NKV, headDim: HS, nCtx: T, srcStride: QKV, srcOffset: (NH + NKV) * HS });
    const shape = { T, pos0: 0, nHead: NH, nKVHead: NKV, headDim: HS, nCtx: T };
    const scores = attentionScoresReference(qkv, k, { ...shape, qStride: QKV, qOffset: 0, scale: 1 / Math.sqrt(HS) });
    at('attn.hook_attn_scores', scores, { outer: NH, rows: T, cols: T });
    softmaxReference(scores, NH * T, T);
    at('attn.hook_pattern', scores, { outer: NH, rows: T, cols: T });
    const z = attentionValuesReference(scores, v, shape);
    at('attn.hook_z', z, { rows: T, cols: NH * HS, headDim: HS });
    if (hook.wants(`blocks.${l}.attn.hook_result`)) {
      // per head, then summed: what the GPU model does when this hook is asked for (attention-result.ts)
      const result = attentionResultReference(z, b.self_attn.o_proj.weight, { T, NH, HS, C });
      at('attn.hook_result', result, { rows: T, cols: NH * C, headDim: C });
      sumHeadsReference(attnOut, result, b.self_attn.o_proj.bias, { T, NH, C });
    } else matmulReference(attnOut, z, b.self_attn.o_proj.weight, b.self_attn.o_proj.bias, T, C, NH * HS);
    at('hook_attn_out', attnOut, rows);
    residualAddReference(x, attnOut, T * C);
    at('hook_resid_mid', x, rows);

    // x = x + down_proj(swiglu(gate_up_proj(post_attention_layernorm(x))))
    rmsNormReference(h, x, b.post_attention_layernorm, T, C, eps);
    at('ln2.hook_normalized', h, rows);
    matmulReference(gateUp, h, b.mlp.gate_up_proj.weight, b.mlp.gate_up_proj.bias, T, 2 * I, C);
    at('mlp.hook_pre', gateUp, { rows: T, cols: I, rowStride: 2 * I });
    swigluReference(act, gateUp, T, I);
    at('mlp.hook_post', act, { rows: T, cols: I });
    matmulReference(mlpOut, act, b.mlp.down_proj.weight, b.mlp.down_proj.bias, T, C, I);
    at('hook_mlp_out', mlpOut, rows);
    residualAddReference(x, mlpOut, T * C);
    at('hook_resid_post', x, rows);
  });

  rmsNormReference(h, x, params.norm, T, C, eps);
  hook('ln_final.hook_normalized', h, rows);
  const logits = new Float64Array(T * V);
  matmulReference(logits, h, params.lm_head ?? params.embed_tokens, undefined, T, V, C);
  hook('logits', logits, { rows: T, cols: V });
  return logits;
}

/** Greedy decoding on the CPU reference: recompute everything for each new token. */
export function llamaGreedyReference(params: LlamaParams, prompt: number[], newTokens: number): number[] {
  return greedyReference((ids) => llamaForwardReference(params, ids), params.config.vocabSize, prompt, newTokens);
}
