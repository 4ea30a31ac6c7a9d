// SwiGLU (Llama-style MLPs): down_proj(silu(gate_proj(x)) * up_proj(x)). The two projections run as one matmul
// into gateUp; this kernel gates one half by the other.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

const SwigluParams = defineUniforms('SwigluParams', { rows: 'u32', I: 'u32' });
const WORKGROUP = 256;

export const swigluKernel = defineKernel('swiglu', [
  { name: 'v1', uniforms: SwigluParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per output element' },
]);

/** out[rows, I] = silu(gateUp[:, 0:I]) * gateUp[:, I:2I], on the GPU. */
export function swiglu(
  rec: Recorder,
  out: Tensor,
  gateUp: Tensor,
  rows: number,
  I: number,
  o: { layer?: number; label?: string } = {},
): void {
  rec.dispatch({
    shader: swigluKernel.version('v1').shader,
    constants: { WORKGROUP },
    uniforms: SwigluParams.pack({ rows, I }),
    bindings: [out, gateUp],
    workgroups: grid1d(ceilDiv(rows * I, WORKGROUP)),
    label: o.label ?? 'swiglu',
    layer: o.layer,
    shape: `[${rows}, ${I}]`,
  });
}

/** CPU reference, in float64. */
export function swigluReference(out: Float64Array | Float32Array, gateUp: ArrayLike<number>, rows: number, I: number): void {
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < I; i++) {
      const gate = gateUp[r * 2 * I + i]!;
      const up = gateUp[r * 2 * I + I + i]!;
      out[r * I + i] = (gate / (1 + Math.exp(-gate))) * up;
    }
  }
}
