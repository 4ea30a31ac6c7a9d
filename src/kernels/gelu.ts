// GELU activation, GPT-2's tanh approximation, between the MLP's two matmuls (c_fc, then GELU, then c_proj).
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

const GeluParams = defineUniforms('GeluParams', { n: 'u32' });
const WORKGROUP = 256;

export const geluKernel = defineKernel('gelu', [
  { name: 'v1', uniforms: GeluParams, defaultOn: ['hardware', 'software'], changes: 'in place, one invocation per element' },
]);

/** x[i] = gelu(x[i]) for i < n, in place, on the GPU. */
export function gelu(rec: Recorder, x: Tensor, n: number, o: { layer?: number; label?: string } = {}): void {
  rec.dispatch({
    shader: geluKernel.version('v1').shader,
    constants: { WORKGROUP },
    uniforms: GeluParams.pack({ n }),
    bindings: [x],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label: o.label ?? 'gelu',
    layer: o.layer,
    shape: `[${n}]`,
  });
}

/** CPU reference, in place, in float64: the formula exactly as GPT-2 (and Hugging Face's gelu_new) writes it. */
export function geluReference(x: Float64Array | Float32Array, n: number): void {
  const k = Math.sqrt(2 / Math.PI);
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    x[i] = 0.5 * v * (1 + Math.tanh(k * (v + 0.044715 * v * v * v)));
  }
}
