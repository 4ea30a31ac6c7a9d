// Residual add: x += y. Used twice per block: after attention and after the MLP.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

const AddParams = defineUniforms('AddParams', { n: 'u32' });
const WORKGROUP = 256;

export const residualAddKernel = defineKernel('residualAdd', [
  { name: 'v1', uniforms: AddParams, defaultOn: ['hardware', 'software'], changes: 'x += y, one invocation per element' },
]);

/** x[i] += y[i] for i < n, on the GPU. */
export function residualAdd(rec: Recorder, x: Tensor, y: Tensor, n: number, layer?: number): void {
  rec.dispatch({
    shader: residualAddKernel.version('v1').shader,
    constants: { WORKGROUP },
    uniforms: AddParams.pack({ n }),
    bindings: [x, y],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label: 'residual_add',
    layer,
    shape: `[${n}]`,
  });
}

/** CPU reference. */
export function residualAddReference(x: Float64Array | Float32Array, y: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) x[i] = x[i]! + y[i]!;
}
