// Fused kernels. On a GPU a decode step (one token, T = 1) is bound by the cost of each dispatch, not by its
// work, so these run in one dispatch what the textbook kernels run in several; a prefill step (T > 1) saves the
// round trips of its activations through memory as well:
//
//   matvecFused      one row: norm -> linear -> activation or residual add (GPT-2: ln_2 + c_fc + GELU,
//                    c_proj + add; Llama: RMSNorm + q|k|v, RMSNorm + gate|up + SiLU.mul, down_proj + add)
//   matmulFused      the same for T rows (prefill), on matmul.v2's register tiles
//   attentionDecode  norm + q|k|v + RoPE + KV append + scores + softmax + values, one workgroup per head
//                    (GPT-2: ln_1 + c_attn, no RoPE; Llama: RMSNorm + qkv_proj, RoPE on all or part of each head,
//                    grouped-query heads, Qwen2's q|k|v bias)
//   lmHead           the tail of a decode step: the final norm + the LM head, one row, on hardware adapters
//
// They are versions of the forward pass, not of one kernel: the unfused kernels stay, and run whenever a hook
// needs an intermediate these keep in registers (src/model/step.ts decides). The CPU references below are the
// unfused kernels' references composed.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { attentionReference } from './attention.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { geluReference } from './gelu.ts';
import { kvAppendReference } from './kvcache.ts';
import { layerNormReference } from './layernorm.ts';
import { matmulReference } from './matmul.ts';
import { rmsNormReference } from './rmsnorm.ts';
import { ropeReference } from './rope.ts';
import { swigluReference } from './swiglu.ts';
import { adapterKind, defineKernel } from './versions.ts';
import { weightConstants } from './weights.ts';

const MatvecFusedParams = defineUniforms('MatvecFusedParams', { N: 'u32', K: 'u32', eps: 'f32' });
const LmHeadParams = defineUniforms('LmHeadParams', { N: 'u32', K: 'u32', eps: 'f32' });
const MatmulFusedParams = defineUniforms('MatmulFusedParams', { M: 'u32', N: 'u32', K: 'u32', eps: 'f32' });
const AttentionDecodeParams = defineUniforms('AttentionDecodeParams', {
  K: 'u32',
  nHead: 'u32',
  nKVHead: 'u32',
  group: 'u32',
  nCtx: 'u32',
  pos0: 'u32',
  eps: 'f32',
  scale: 'f32',
});

export const matvecFusedKernel = defineKernel('matvecFused', [
  {
    name: 'v1',
    uniforms: MatvecFusedParams,
    defaultOn: ['hardware', 'software'],
    changes: 'one row: the norm before and GELU, SiLU.mul or the residual add after, in matmul.matvec.v2 (8 rows an invocation)',
  },
]);

export const matmulFusedKernel = defineKernel('matmulFused', [
  {
    name: 'v1',
    uniforms: MatmulFusedParams,
    defaultOn: ['hardware', 'software'],
    changes: 'T rows: the norm before and GELU, SiLU.mul or the residual add after, in matmul.v2 (4 x 8 outputs an invocation)',
  },
]);

export const attentionDecodeKernel = defineKernel('attentionDecode', [
  {
    name: 'v1',
    uniforms: AttentionDecodeParams,
    defaultOn: ['hardware'],
    changes: 'one token: the norm, its head of q|k|v, RoPE, the KV append and the attention, a workgroup per head',
  },
  {
    name: 'v2',
    uniforms: AttentionDecodeParams,
    defaultOn: ['software'],
    changes: 'one invocation per head walking it all alone: no workgroup memory, no barriers',
  },
]);

export const lmHeadKernel = defineKernel('lmHead', [
  {
    name: 'v1',
    uniforms: LmHeadParams,
    defaultOn: ['hardware', 'software'],
    changes: 'one row: the final norm inside matmul.matvec (a workgroup per 8 rows of w, K split), its statistics by two reductions over the same stripes',
  },
]);

/**
 * Whether a decode step's tail (the final norm and the LM head) runs fused, on lmHead, on `gpu`'s adapter: on a GPU,
 * where it saves a dispatch. On a software adapter such as SwiftShader the LM head is most of a decode step and the
 * final norm's own dispatch costs a few hundredths of a millisecond (`wgpt bench --only profile`); any norm inside
 * the LM head's dispatch costs more than that there (the statistics per workgroup behind barriers, as lmHead
 * computes them, or per invocation, which made matvecFused 2x slower on that shape; the normalised row in workgroup
 * memory made the matvec itself about 1.4x slower), so the tail stays layerNorm + matmul.matvec.v2.
 */
export function lmHeadFusedOn(gpu: { info: { kind: string } }): boolean {
  return adapterKind(gpu) === 'hardware';
}

export type AttentionDecodeVersion = (typeof attentionDecodeKernel.versions)[number]['name'];

/** matvecFused: 8 outputs an invocation (fixed in the shader), WG invocations a workgroup. */
const MATVEC_FUSED = { WG: 64 };
/** lmHead: 8 rows of w a workgroup (fixed in the shader) of WG invocations, a power of two, as matmul.matvec. */
const LM_HEAD = { WG: 32 };
/** matmulFused: a block of 4 rows x 8 outputs an invocation (fixed in the shader), WG_N x WG_M a workgroup, as matmul.v2. */
const MATMUL_FUSED = { WG_N: 8, WG_M: 2 };
/** attentionDecode v1: invocations per workgroup (one workgroup per head); a power of two for the reductions. */
const ATTENTION_DECODE = { WG: 64 };
/** attentionDecode v2: heads per workgroup, one invocation each. */
const ATTENTION_DECODE_V2 = { WG: 4 };
/** The most workgroup memory a WebGPU device must offer; attentionDecode v1 keeps C + 2 HS + WG floats there. */
const WORKGROUP_BYTES = 16384;

export interface FusedNorm {
  kind: 'layernorm' | 'rmsnorm';
  gamma: Tensor;
  /** LayerNorm only. */
  beta?: Tensor;
  eps: number;
}

export interface MatvecFusedOptions {
  /** Normalise a first. */
  norm?: FusedNorm;
  /** After the dot products: GELU, silu(gate) * up (w holds 2N rows), or out += (the residual add). */
  epilogue?: 'gelu' | 'swiglu' | 'residual';
  layer?: number;
  label?: string;
}

/**
 * out[n] = epilogue(norm(a) . w[n] + bias[n]) for n < N, one row. a [1, K]; w [N, K] ([2N, K] for swiglu, gate rows
 * then up rows), f32, f16x2, q8 or q4; bias [N] ([2N]) or none; out [1, N] (the residual stream itself for 'residual').
 */
export function matvecFused(rec: Recorder, out: Tensor, a: Tensor, w: Tensor, bias: Tensor | undefined, N: number, K: number, o: MatvecFusedOptions = {}): void {
  const { bindings, constants } = fusedOperands(out, a, w, bias, K, o);
  rec.dispatch({
    shader: matvecFusedKernel.version('v1').shader,
    constants: { ...constants, ...MATVEC_FUSED },
    uniforms: MatvecFusedParams.pack({ N, K, eps: o.norm?.eps ?? 0 }),
    bindings,
    workgroups: grid1d(ceilDiv(ceilDiv(N, 8), MATVEC_FUSED.WG)),
    label: o.label ?? 'matvec_fused',
    layer: o.layer,
    shape: `[1,${K}]x[${o.epilogue === 'swiglu' ? 2 * N : N},${K}]`,
  });
}

/**
 * out[m, n] = epilogue(norm(a[m]) . w[n] + bias[n]) for m < M, n < N: matvecFused for M rows. a [M, K]; out [M, N]
 * (the residual stream itself for 'residual'); w and bias as for matvecFused.
 */
export function matmulFused(rec: Recorder, out: Tensor, a: Tensor, w: Tensor, bias: Tensor | undefined, M: number, N: number, K: number, o: MatvecFusedOptions = {}): void {
  const { bindings, constants } = fusedOperands(out, a, w, bias, K, o);
  if (a.byteLength < M * K * 4 || out.byteLength < M * N * 4) throw new Error(`${o.label ?? 'matmulFused'}: a or out holds fewer than ${M} rows`);
  rec.dispatch({
    shader: matmulFusedKernel.version('v1').shader,
    constants: { ...constants, ...MATMUL_FUSED },
    uniforms: MatmulFusedParams.pack({ M, N, K, eps: o.norm?.eps ?? 0 }),
    bindings,
    workgroups: [ceilDiv(N, 8 * MATMUL_FUSED.WG_N), ceilDiv(M, 4 * MATMUL_FUSED.WG_M)],
    label: o.label ?? 'matmul_fused',
    layer: o.layer,
    shape: `[${M},${K}]x[${o.epilogue === 'swiglu' ? 2 * N : N},${K}]`,
  });
}

/**
 * logits[n] = norm(a) . w[n] + bias[n] for n < N, one row: the final norm and the LM head of a decode step. a [1, K];
 * w [N, K] f32, f16x2, q8 or q4; bias [N] or none; out [1, N].
 */
export function lmHead(rec: Recorder, out: Tensor, a: Tensor, w: Tensor, bias: Tensor | undefined, norm: FusedNorm, N: number, K: number, o: { label?: string } = {}): void {
  const label = o.label ?? 'ln_final+lm_head';
  const { bindings, constants } = fusedOperands(out, a, w, bias, K, { norm, label });
  if (out.byteLength < N * 4 || a.byteLength < K * 4) throw new Error(`${label}: out holds fewer than ${N} floats or a fewer than ${K}`);
  rec.dispatch({
    shader: lmHeadKernel.version('v1').shader,
    constants: { ...constants, ...LM_HEAD },
    uniforms: LmHeadParams.pack({ N, K, eps: norm.eps }),
    bindings,
    workgroups: grid1d(ceilDiv(N, 8)),
    label,
    shape: `[1,${K}]x[${N},${K}]`,
  });
}

/** CPU reference of lmHead: the norm's reference, then matmul's, in float64. */
export function lmHeadReference(out: Float64Array, a: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined, N: number, K: number, norm: NonNullable<FusedReferenceOptions['norm']>): void {
  matmulFusedReference(out, a, w, bias, 1, N, K, { norm });
}

/** The bindings and constants matvecFused and matmulFused share: out, a, w, then gamma, beta and bias as given. */
function fusedOperands(out: Tensor, a: Tensor, w: Tensor, bias: Tensor | undefined, K: number, o: MatvecFusedOptions) {
  const { norm, epilogue } = o;
  if (norm && norm.kind === 'layernorm' && !norm.beta) throw new Error(`${o.label ?? 'fused linear'}: LayerNorm needs beta`);
  const normTensors = norm ? (norm.kind === 'layernorm' ? [norm.gamma, norm.beta!] : [norm.gamma]) : [];
  const constants = {
    ...weightConstants(w, o.label ?? 'fused linear'),
    HAS_BIAS: false, // lib/weights.wgsl's bias binding is not used: the bias follows the norm's tensors
    FUSED_BIAS: bias !== undefined,
    VEC4: K % 4 === 0,
    NORM: norm !== undefined,
    LAYERNORM: norm?.kind === 'layernorm',
    GAMMA_AT: 4,
    BETA_AT: 5,
    BIAS_AT: 4 + normTensors.length,
    GELU: epilogue === 'gelu',
    SWIGLU: epilogue === 'swiglu',
    RESIDUAL: epilogue === 'residual',
  };
  return { bindings: [out, a, w, ...normTensors, ...(bias ? [bias] : [])], constants };
}

/** CPU reference: the unfused references in order (norm, matmul, then GELU, SwiGLU or the residual add), in float64. */
export function matvecFusedReference(out: Float64Array, a: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined, N: number, K: number, o: FusedReferenceOptions): void {
  matmulFusedReference(out, a, w, bias, 1, N, K, o);
}

export interface FusedReferenceOptions {
  norm?: { kind: 'layernorm' | 'rmsnorm'; gamma: ArrayLike<number>; beta?: ArrayLike<number>; eps: number };
  epilogue?: 'gelu' | 'swiglu' | 'residual';
}

/** CPU reference of matmulFused, M rows: the unfused references in order, in float64. */
export function matmulFusedReference(out: Float64Array, a: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | undefined, M: number, N: number, K: number, o: FusedReferenceOptions): void {
  const h = new Float64Array(M * K);
  if (!o.norm) h.set(Array.from(a));
  else if (o.norm.kind === 'layernorm') layerNormReference(h, a, o.norm.gamma, o.norm.beta!, M, K, o.norm.eps);
  else rmsNormReference(h, a, o.norm.gamma, M, K, o.norm.eps);
  const rows = o.epilogue === 'swiglu' ? 2 * N : N;
  const y = new Float64Array(M * rows);
  matmulReference(y, h, w, bias, M, rows, K);
  if (o.epilogue === 'gelu') geluReference(y, M * N);
  if (o.epilogue === 'swiglu') swigluReference(out, y, M, N);
  else if (o.epilogue === 'residual') for (let i = 0; i < M * N; i++) out[i]! += y[i]!;
  else out.set(y);
}

export interface AttentionDecodeShape {
  /** C: the width of x. */
  C: number;
  nHead: number;
  nKVHead: number;
  headDim: number;
  nCtx: number;
  /** The token's position: the keys are 0 .. pos0. */
  pos0: number;
  eps: number;
  layer?: number;
  /** Which version; by default the one that suits the adapter. */
  version?: AttentionDecodeVersion;
}

/** The norm before attentionDecode's projection: LayerNorm (gamma, beta) or RMSNorm (gamma). */
export interface AttentionDecodeNorm<T> {
  kind: 'layernorm' | 'rmsnorm';
  gamma: T;
  /** LayerNorm only. */
  beta?: T;
}

/** RoPE on q and k: pairs (i, i + rotaryDim / 2) of each head turned by pos0 * invFreq[i] (see rope.ts). */
export interface AttentionDecodeRope<T> {
  invFreq: T;
  /** Even, at most headDim. */
  rotaryDim: number;
}

/** Whether attentionDecode can run this shape: its normalised row, q and k must fit the workgroup memory every device has. */
export function attentionDecodeFits(C: number, headDim: number): boolean {
  return 4 * (C + 2 * headDim + ATTENTION_DECODE.WG) <= WORKGROUP_BYTES;
}

/** Storage buffers attentionDecode binds: z, x, w, gamma, the caches, scores, and beta, bias and invFreq where given. */
export function attentionDecodeBindings(layernorm: boolean, bias: boolean, rope: boolean): number {
  return 7 + Number(layernorm) + Number(bias) + Number(rope);
}

/**
 * One token's attention: z [1, nHead * headDim] from the residual row x [1, C], its norm, the q | k | v weight
 * w [(nHead + 2 nKVHead) headDim, C] and its bias, RoPE on q and k where given; writes k and v at pos0 of kCache
 * and vCache [nKVHead, nCtx, headDim], and uses `scores` (nHead * (pos0 + 1) floats at least) as scratch.
 */
export function attentionDecode(
  rec: Recorder,
  z: Tensor,
  x: Tensor,
  norm: AttentionDecodeNorm<Tensor>,
  w: Tensor,
  bias: Tensor | undefined,
  kCache: Tensor,
  vCache: Tensor,
  scores: Tensor,
  o: AttentionDecodeShape & { rope?: AttentionDecodeRope<Tensor> },
): void {
  const { C, nHead, nKVHead, headDim, nCtx, pos0, eps, rope } = o;
  if (!attentionDecodeFits(C, headDim)) throw new Error(`attentionDecode: C = ${C} and headDim = ${headDim} do not fit ${WORKGROUP_BYTES} bytes of workgroup memory`);
  if (pos0 >= nCtx) throw new Error(`attentionDecode: position ${pos0} is past the cache of ${nCtx}`);
  if (norm.kind === 'layernorm' && !norm.beta) throw new Error('attentionDecode: LayerNorm needs beta');
  if (rope && (rope.rotaryDim % 2 !== 0 || rope.rotaryDim > headDim)) throw new Error(`attentionDecode: rotaryDim ${rope.rotaryDim} must be even and at most headDim ${headDim}`);
  const version = attentionDecodeKernel.version(o.version ?? attentionDecodeKernel.defaultFor(rec.gpu).name);
  const v1 = version.name === 'v1';
  // bindings 1-7 fixed (z, x, w, gamma, kCache, vCache, scores), then those this call has, in this order
  const layernorm = norm.kind === 'layernorm';
  const optional = [...(layernorm ? [norm.beta!] : []), ...(bias ? [bias] : []), ...(rope ? [rope.invFreq] : [])];
  const BETA_AT = 8;
  const BIAS_AT = BETA_AT + Number(layernorm);
  const INV_FREQ_AT = BIAS_AT + Number(bias !== undefined);
  rec.dispatch({
    shader: version.shader,
    constants: {
      ...(v1 ? ATTENTION_DECODE : ATTENTION_DECODE_V2),
      C,
      HS: headDim,
      ...weightConstants(w, 'attentionDecode'),
      HAS_BIAS: false,
      FUSED_BIAS: bias !== undefined,
      VEC4: C % 4 === 0,
      LAYERNORM: layernorm,
      ROPE: rope !== undefined,
      ROT_HALF: rope ? rope.rotaryDim / 2 : 0,
      BETA_AT,
      BIAS_AT,
      INV_FREQ_AT,
    },
    uniforms: AttentionDecodeParams.pack({ K: C, nHead, nKVHead, group: nHead / nKVHead, nCtx, pos0, eps, scale: 1 / Math.sqrt(headDim) }),
    bindings: [z, x, w, norm.gamma, kCache, vCache, scores, ...optional],
    workgroups: [v1 ? nHead : Math.ceil(nHead / ATTENTION_DECODE_V2.WG)],
    label: 'attention_decode',
    layer: o.layer,
    shape: `[${nHead}, ${pos0 + 1}, ${headDim}]`,
  });
}

/**
 * CPU reference, composed of the unfused references: the norm, the q | k | v matmul, RoPE on q and k, two
 * kvAppends (in place on kCache and vCache), then attention. Returns z [nHead * headDim] in float64.
 */
export function attentionDecodeReference(
  x: ArrayLike<number>,
  norm: AttentionDecodeNorm<ArrayLike<number>>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  kCache: Float64Array,
  vCache: Float64Array,
  o: AttentionDecodeShape & { rope?: AttentionDecodeRope<ArrayLike<number>> },
): Float64Array {
  const { C, nHead, nKVHead, headDim, nCtx, pos0, eps, rope } = o;
  const QKV = (nHead + 2 * nKVHead) * headDim;
  const h = new Float64Array(C);
  if (norm.kind === 'layernorm') layerNormReference(h, x, norm.gamma, norm.beta!, 1, C, eps);
  else rmsNormReference(h, x, norm.gamma, 1, C, eps);
  const qkv = new Float64Array(QKV);
  matmulReference(qkv, h, w, bias, 1, QKV, C);
  if (rope) {
    const turn = { T: 1, pos0, headDim, rotaryDim: rope.rotaryDim, stride: QKV };
    ropeReference(qkv, rope.invFreq, { ...turn, nHeads: nHead, offset: 0 });
    ropeReference(qkv, rope.invFreq, { ...turn, nHeads: nKVHead, offset: nHead * headDim });
  }
  const append = { T: 1, pos0, nKVHead, headDim, nCtx, srcStride: QKV };
  kvAppendReference(kCache, qkv, { ...append, srcOffset: nHead * headDim });
  kvAppendReference(vCache, qkv, { ...append, srcOffset: (nHead + nKVHead) * headDim });
  const shape = { T: 1, pos0, nHead, nKVHead, headDim, nCtx, qStride: QKV, qOffset: 0, scale: 1 / Math.sqrt(headDim) };
  return attentionReference(qkv, kCache, vCache, shape).z;
}
