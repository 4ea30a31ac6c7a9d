// RMS normalisation (Llama-style models): each row of x is divided by its root mean square over the C channels,
// then scaled by gamma, a learned vector of C values. Unlike layernorm, no mean is removed and there is no beta.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { grid1d } from './dispatch.ts';

const RmsNormParams = defineUniforms('RmsNormParams', { rows: 'u32', C: 'u32', eps: 'f32' });
/** Threads per row; a power of two, for the tree reduction. */
const WORKGROUP = 256;

/** out[rows, C] = x / sqrt(mean(x^2) + eps) * gamma[C], row by row, on the GPU. `out` and `x` are distinct. */
export function rmsNorm(
  rec: Recorder,
  out: Tensor,
  x: Tensor,
  gamma: Tensor,
  rows: number,
  C: number,
  eps: number,
  o: { layer?: number; label?: string } = {},
): void {
  rec.dispatch({
    shader: 'rmsnorm.wgsl',
    constants: { WORKGROUP },
    uniforms: RmsNormParams.pack({ rows, C, eps }),
    bindings: [out, x, gamma],
    workgroups: grid1d(rows), // one workgroup per row
    label: o.label ?? 'rmsnorm',
    layer: o.layer,
    shape: `[${rows}, ${C}]`,
  });
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
