// Matrix multiply: the heart of every linear layer (attention's c_attn and c_proj, the MLP's c_fc and c_proj,
// the LM head).
//
//   out[m, n] = sum_k a[m, k] * w[n, k] + bias[n]
//
//   M  rows of activations (tokens: B * T in a prefill, 1 in a decode step)
//   K  input features, N  output features
//   out [M, N] f32, a [M, K] f32, w [N, K] f32, f16x2, q8 or q4 (nn.Linear layout), bias [N] f32 or none
//
// Its versions, side by side in shaders/ (matmulKernel below): v2 by default for several rows; for one row (M = 1,
// a decode step) one of the matvecs, picked by the adapter. Every version but q and matvec.q reads any weight
// format through lib/weights.wgsl; q and matvec.q read q8 and q4 only, whole blocks at a time, and are the
// defaults for quantized weights.
import type { DType, Tensor } from '../gpu/buffers.ts';
import { byteSize } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';
import { weightConstants } from './weights.ts';

const MatmulParams = defineUniforms('MatmulParams', { M: 'u32', N: 'u32', K: 'u32' });

/**
 * The versions of matmul; `rows` says which calls a version serves: any M, or one row (M = 1) only; `weights`
 * which weight formats: any (f32, f16x2, q8, q4), or the quantized ones only (q8, q4), where it is the default.
 */
export const matmulKernel = defineKernel('matmul', [
  { name: 'v1', rows: 'any', weights: 'any', uniforms: MatmulParams, defaultOn: [], changes: 'naive: one output per invocation, one k at a time' },
  {
    name: 'v2',
    rows: 'any',
    weights: 'any',
    uniforms: MatmulParams,
    defaultOn: ['hardware', 'software'],
    changes: 'register tiling: a 4 x 8 block of outputs per invocation, from vec4 loads when K % 4 == 0',
  },
  {
    name: 'matvec',
    rows: 'one',
    weights: 'any',
    uniforms: MatmulParams,
    defaultOn: ['hardware'],
    changes: 'one row: a workgroup per 8 rows of w, K split across its invocations, then a tree reduction',
  },
  {
    name: 'matvec.v2',
    rows: 'one',
    weights: 'any',
    uniforms: MatmulParams,
    defaultOn: ['software'],
    changes: 'one row: an invocation per 8 rows of w running the whole of K, no workgroup memory or barriers',
  },
  {
    name: 'q',
    rows: 'any',
    weights: 'quant',
    uniforms: MatmulParams,
    defaultOn: ['hardware', 'software'],
    changes: 'q8/q4 weights: v2\'s 4 x 8 tiles a block of 32 at a time, products with the bare integers, one scale per block',
  },
  {
    name: 'matvec.q',
    rows: 'one',
    weights: 'quant',
    uniforms: MatmulParams,
    defaultOn: ['hardware', 'software'],
    changes: 'one row, q8/q4 weights: a block of a in registers for 4 rows, each block read as vec4<u32>, its scale factored out',
  },
]);

export type MatmulVersion = (typeof matmulKernel.versions)[number]['name'];

export interface MatmulOptions {
  /** Which kernel; by default the one defaultVersion picks for M and the adapter. */
  version?: MatmulVersion;
  /** For profiles. */
  layer?: number;
  /** For profiles; 'matmul' by default (e.g. 'c_attn', 'lm_head'). */
  label?: string;
}

/** v1: one invocation per output, a 16 x 16 workgroup over (n, m). */
const V1 = { WG_N: 16, WG_M: 16 };
/** v2: each invocation a block of 4 rows (m) x 8 columns (n) of out, fixed in the shader; 8 x 2 per workgroup. */
const V2 = { WG_N: 8, WG_M: 2 };
const V2_BLOCK = { M: 4, N: 8 };
/**
 * matvec: 8 rows of w per workgroup (fixed in the shader) of WG invocations, a power of two for the tree
 * reduction. 32 is one warp on NVIDIA; on SwiftShader every extra invocation costs, and 64 ran 2x slower.
 */
const MATVEC = { WG: 32 };
const MATVEC_ROWS = 8;
/** matvec.v2: WG invocations per workgroup, each owning 8 rows of w. */
const MATVEC_V2 = { WG: 64 };
/** matvec.q: WG invocations per workgroup, each owning 4 rows of w (fixed in the shader). */
const MATVEC_Q = { WG: 64 };
const MATVEC_Q_ROWS = 4;

/** out = a @ w^T + bias, on the GPU. See the top of this file for the shapes. */
export function matmul(
  rec: Recorder,
  out: Tensor,
  a: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  M: number,
  N: number,
  K: number,
  options: MatmulOptions = {},
): void {
  const label = options.label ?? 'matmul';
  const version = matmulKernel.version(options.version ?? defaultVersion(M, rec, w.dtype));
  checkOperands(label, version, out, a, w, bias, M, N, K);

  // Flags of every version: the weight format and whether there is a bias. v2, q and the matvecs also read vec4
  // chunks along K when K % 4 == 0; v1 reads one k at a time whatever K is.
  const flags = { ...weightConstants(w, label), HAS_BIAS: bias !== undefined };
  const VEC4 = K % 4 === 0;
  const bindings = bias ? [out, a, w, bias] : [out, a, w];
  const base = { shader: version.shader, uniforms: MatmulParams.pack({ M, N, K }), bindings, label, layer: options.layer, shape: `[${M},${K}]x[${N},${K}]` };

  switch (version.name) {
    case 'v1':
      rec.dispatch({ ...base, constants: { ...flags, VEC4: false, ...V1 }, workgroups: [ceilDiv(N, V1.WG_N), ceilDiv(M, V1.WG_M)] });
      break;
    case 'v2':
      rec.dispatch({ ...base, constants: { ...flags, VEC4, ...V2 }, workgroups: [ceilDiv(N, V2_BLOCK.N * V2.WG_N), ceilDiv(M, V2_BLOCK.M * V2.WG_M)] });
      break;
    case 'matvec':
      rec.dispatch({ ...base, constants: { ...flags, VEC4, ...MATVEC }, workgroups: grid1d(ceilDiv(N, MATVEC_ROWS)) });
      break;
    case 'matvec.v2':
      rec.dispatch({ ...base, constants: { ...flags, VEC4, ...MATVEC_V2 }, workgroups: grid1d(ceilDiv(ceilDiv(N, MATVEC_ROWS), MATVEC_V2.WG)) });
      break;
    case 'q':
      rec.dispatch({ ...base, constants: { ...flags, VEC4, ...V2 }, workgroups: [ceilDiv(N, V2_BLOCK.N * V2.WG_N), ceilDiv(M, V2_BLOCK.M * V2.WG_M)] });
      break;
    case 'matvec.q':
      rec.dispatch({ ...base, constants: { ...flags, VEC4, ...MATVEC_Q }, workgroups: grid1d(ceilDiv(ceilDiv(N, MATVEC_Q_ROWS), MATVEC_Q.WG)) });
      break;
  }
}

/**
 * The default for M rows of `dtype` weights on `rec`'s adapter: among the versions serving M rows and that format
 * (the quantized versions for q8 and q4, the others for f32 and f16x2; see matmulKernel), its default.
 */
export function defaultVersion(M: number, rec: Recorder, dtype: DType = 'f32'): MatmulVersion {
  const weights = dtype === 'q8' || dtype === 'q4' ? 'quant' : 'any';
  return matmulKernel.defaultFor(rec.gpu, (v) => (M === 1 ? v.rows === 'one' : v.rows === 'any') && v.weights === weights).name;
}

/** The mistakes a caller can make, each said in one line before anything reaches the GPU. */
function checkOperands(
  label: string,
  version: (typeof matmulKernel.versions)[number],
  out: Tensor,
  a: Tensor,
  w: Tensor,
  bias: Tensor | undefined,
  M: number,
  N: number,
  K: number,
): void {
  for (const [name, size] of [['M', M], ['N', N], ['K', K]] as const) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`${label}: ${name} must be a positive integer, got ${size}`);
  }
  if (version.rows === 'one' && M !== 1) throw new Error(`${label}: the ${version.name} kernel computes one row (M = 1), got M = ${M}; use v1 or v2`);
  if (version.weights === 'quant' && w.dtype !== 'q8' && w.dtype !== 'q4') throw new Error(`${label}: the ${version.name} kernel reads q8 or q4 weights, got ${w.dtype}`);
  const operands: [string, Tensor | undefined, DType, number[]][] = [
    ['out', out, 'f32', [M, N]],
    ['a', a, 'f32', [M, K]],
    ['w', w, w.dtype, [N, K]],
    ['bias', bias, 'f32', [N]],
  ];
  for (const [name, t, dtype, shape] of operands) {
    if (!t) continue;
    if (t.dtype !== dtype) throw new Error(`${label}: ${name} must be ${dtype}, got ${t.dtype}`);
    const need = byteSize(dtype, shape);
    if (t.byteLength < need) throw new Error(`${label}: ${name} needs ${need} bytes for ${dtype}[${shape}], its tensor has ${t.byteLength}`);
  }
}

/**
 * CPU reference, accumulating in float64. `w` holds plain numbers in [N, K] order (for the f16 path, the
 * weights already rounded to f16, for q8 and q4 dequantized (src/quant.ts), so only the GPU's f32 arithmetic is
 * being judged).
 */
export function matmulReference(
  out: Float64Array | Float32Array,
  a: ArrayLike<number>,
  w: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  M: number,
  N: number,
  K: number,
): void {
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let sum = bias ? bias[n]! : 0;
      for (let k = 0; k < K; k++) sum += a[m * K + k]! * w[n * K + k]!;
      out[m * N + n] = sum;
    }
  }
}

/** Floating-point operations of one matmul: a multiply and an add per (m, n, k). The bias is not counted. */
export function matmulFlops(M: number, N: number, K: number): number {
  return 2 * M * N * K;
}

/**
 * The least memory traffic of one matmul: a and w read once, out written once (the bias, N * 4 bytes, is not
 * counted). For M == 1 the weights dominate, so GB/s against this says how close a kernel is to memory speed.
 */
export function matmulBytes(M: number, N: number, K: number, weightDtype: DType): number {
  return byteSize('f32', [M, K]) + byteSize(weightDtype, [N, K]) + byteSize('f32', [M, N]);
}
