// RMS normalisation (Llama-style models): each row of x is divided by its root mean square over the C channels,
// then scaled by gamma, a learned vector of C values. Unlike layernorm, no mean is removed and there is no beta.
//
// Its versions, side by side in shaders/, are listed in rmsNormKernel below.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel, ROW_VERSIONS } from './versions.ts';

const RmsNormParams = defineUniforms('RmsNormParams', { rows: 'u32', C: 'u32', eps: 'f32' });
/** v1: threads per row; a power of two, for the tree reduction. */
const V1 = { WG: 256 };
/** v2: rows per workgroup, one per invocation. */
const V2 = { WG: 64 };

export const rmsNormKernel = defineKernel('rmsNorm', [
  { ...ROW_VERSIONS.v1, uniforms: RmsNormParams },
  { ...ROW_VERSIONS.v2, uniforms: RmsNormParams },
]);

export type RmsNormVersion = (typeof rmsNormKernel.versions)[number]['name'];

export interface RmsNormOptions {
  /** Which kernel; by default the one that suits the adapter (see defaultVersion). */
  version?: RmsNormVersion;
  /** For profiles. */
  layer?: number;
  label?: string;
}

/** out[rows, C] = x / sqrt(mean(x^2) + eps) * gamma[C], row by row, on the GPU. `out` and `x` are distinct. */
export function rmsNorm(
  rec: Recorder,
  out: Tensor,
  x: Tensor,
  gamma: Tensor,
  rows: number,
  C: number,
  eps: number,
  o: RmsNormOptions = {},
): void {
  const base = { uniforms: RmsNormParams.pack({ rows, C, eps }), bindings: [out, x, gamma], label: o.label ?? 'rmsnorm', layer: o.layer, shape: `[${rows}, ${C}]` };
  const version = rmsNormKernel.version(o.version ?? defaultVersion(rec));
  if (version.name === 'v1') {
    rec.dispatch({ ...base, shader: version.shader, constants: V1, workgroups: grid1d(rows) }); // one workgroup per row
  } else {
    rec.dispatch({ ...base, shader: version.shader, constants: V2, workgroups: grid1d(ceilDiv(rows, V2.WG)) }); // one invocation per row
  }
}

/** The default on `rec`'s adapter (see rmsNormKernel): v2 on software adapters, where barriers are dear. */
export function defaultVersion(rec: Recorder): RmsNormVersion {
  return rmsNormKernel.defaultFor(rec.gpu).name;
}

/** CPU reference, in float64. */
export function rmsNormReference(
  out: Float64Array | Float32Array,
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  rows: number,
  C: number,
  eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const row = r * C;
    let squares = 0;
    for (let c = 0; c < C; c++) squares += x[row + c]! * x[row + c]!;
    const rstd = 1 / Math.sqrt(squares / C + eps);
    for (let c = 0; c < C; c++) out[row + c] = x[row + c]! * rstd * gamma[c]!;
  }
}
