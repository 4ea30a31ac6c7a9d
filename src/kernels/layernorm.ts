// Layer normalisation (GPT-2's ln_1, ln_2, ln_f): each row of x is brought to mean 0 and variance 1 over its
// C channels, then scaled by gamma and shifted by beta, two learned vectors of C values.
//
// Its versions, side by side in shaders/, are listed in layerNormKernel below.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel, ROW_VERSIONS } from './versions.ts';

const LayerNormParams = defineUniforms('LayerNormParams', { rows: 'u32', C: 'u32', eps: 'f32' });
/** v1: threads per row; a power of two, for the tree reduction. */
const V1 = { WG: 256 };
/** v2: rows per workgroup, one per invocation. */
const V2 = { WG: 64 };

export const layerNormKernel = defineKernel('layerNorm', [
  { ...ROW_VERSIONS.v1, uniforms: LayerNormParams },
  { ...ROW_VERSIONS.v2, uniforms: LayerNormParams },
]);

export type LayerNormVersion = (typeof layerNormKernel.versions)[number]['name'];

export interface LayerNormOptions {
  /** Which kernel; by default the one that suits the adapter (see defaultVersion). */
  version?: LayerNormVersion;
  /** For profiles. */
  layer?: number;
  label?: string;
}

/** out[rows, C] = layernorm(x[rows, C]) * gamma[C] + beta[C], on the GPU. `out` and `x` are distinct tensors. */
export function layerNorm(
  rec: Recorder,
  out: Tensor,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  rows: number,
  C: number,
  eps: number,
  o: LayerNormOptions = {},
): void {
  const base = { uniforms: LayerNormParams.pack({ rows, C, eps }), bindings: [out, x, gamma, beta], label: o.label ?? 'layernorm', layer: o.layer, shape: `[${rows}, ${C}]` };
  const version = layerNormKernel.version(o.version ?? defaultVersion(rec));
  if (version.name === 'v1') {
    rec.dispatch({ ...base, shader: version.shader, constants: V1, workgroups: grid1d(rows) }); // one workgroup per row
  } else {
    rec.dispatch({ ...base, shader: version.shader, constants: V2, workgroups: grid1d(ceilDiv(rows, V2.WG)) }); // one invocation per row
  }
}

/** The default on `rec`'s adapter (see layerNormKernel): v2 on software adapters, where barriers are dear. */
export function defaultVersion(rec: Recorder): LayerNormVersion {
  return layerNormKernel.defaultFor(rec.gpu).name;
}

/** CPU reference: two passes in float64 (mean, then the biased variance). */
export function layerNormReference(
  out: Float64Array | Float32Array,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  rows: number,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const row = r * C;
    let mean = 0;
    for (let c = 0; c < C; c++) mean += x[row + c]!;
    mean /= C;
    let variance = 0;
    for (let c = 0; c < C; c++) {
      const d = x[row + c]! - mean;
      variance += d * d;
    }
    variance /= C;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < C; c++) out[row + c] = (x[row + c]! - mean) * rstd * gamma[c]! + beta[c]!;
  }
}
