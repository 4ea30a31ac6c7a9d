// Interventions on an activation, in place: scale (zero is scale 0), add a vector or another run's values
// (activation patching), add seeded Gaussian noise, on a box [o0.., r0.., c0..] of an [outer, rows, cols] view.
// The hooks (src/hooks) turn "head 3 of blocks.1.attn.hook_z at position 5" into such a box.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

const InterveneParams = defineUniforms('InterveneParams', {
  o0: 'u32',
  nO: 'u32',
  r0: 'u32',
  nR: 'u32',
  c0: 'u32',
  nC: 'u32',
  outerStride: 'u32',
  rowStride: 'u32',
  offset: 'u32',
  rowBase: 'u32',
  srcMode: 'u32',
  seed: 'u32',
  scale: 'f32',
  sigma: 'f32',
});
const WORKGROUP = 256;

export const interveneKernel = defineKernel('intervene', [
  { name: 'v1', uniforms: InterveneParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per element of the box' },
]);

/** Where element (o, r, c) of the view lives: offset + o * outerStride + r * rowStride + c (in floats). */
export interface BoxView {
  outerStride: number;
  rowStride: number;
  offset: number;
  /** The absolute position of row 0 (pos0 for token rows), so noise follows positions across steps. */
  rowBase: number;
}

/** The elements changed: nO x nR x nC starting at (o0, r0, c0). */
export interface Box {
  o0: number;
  nO: number;
  r0: number;
  nR: number;
  c0: number;
  nC: number;
}

/** x = scale * x + source + sigma * gaussian(seed, o, rowBase + r, c). */
export interface InterveneOp {
  scale: number;
  /** 'columns': one value per box column (add a vector); 'box': one per box element, in (o, r, c) order (patching). */
  source?: { kind: 'columns' | 'box'; values: ArrayLike<number> };
  sigma: number;
  seed: number;
}

/** Apply the op to the box of `x`, on the GPU; `src` holds the source values (srcMode 1: per column, 2: per box element). */
export function intervene(rec: Recorder, x: Tensor, src: Tensor, view: BoxView, box: Box, op: Omit<InterveneOp, 'source'> & { srcMode: 0 | 1 | 2 }, label = 'intervene'): void {
  const n = box.nO * box.nR * box.nC;
  rec.dispatch({
    shader: interveneKernel.version('v1').shader,
    constants: { WORKGROUP },
    uniforms: InterveneParams.pack({ ...box, ...view, srcMode: op.srcMode, seed: op.seed >>> 0, scale: op.scale, sigma: op.sigma }),
    bindings: [x, src],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label,
    shape: `[${box.nO}, ${box.nR}, ${box.nC}]`,
  });
}


/** CPU reference, in float64; the noise is the shader's own hash, so the two runs add the same values. */
export function interveneReference(x: Float64Array | Float32Array, view: BoxView, box: Box, op: InterveneOp): void {
  const src = op.source?.values;
  for (let o = box.o0; o < box.o0 + box.nO; o++) {
    for (let r = box.r0; r < box.r0 + box.nR; r++) {
      for (let c = box.c0; c < box.c0 + box.nC; c++) {
        const at = view.offset + o * view.outerStride + r * view.rowStride + c;
        const i = ((o - box.o0) * box.nR + (r - box.r0)) * box.nC + (c - box.c0);
        let value = op.scale === 0 ? 0 : op.scale * x[at]!;
        if (op.source?.kind === 'columns') value += src![c - box.c0]!;
        if (op.source?.kind === 'box') value += src![i]!;
        if (op.sigma !== 0) value += op.sigma * gaussianReference(op.seed, o, view.rowBase + r, c);
        x[at] = value;
      }
    }
  }
}

function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The shader's normal value: the sum of 12 hashed uniforms, minus 6 (Irwin-Hall), summed in f32 as there. */
export function gaussianReference(seed: number, o: number, row: number, c: number): number {
  const key = pcg((seed >>> 0) ^ pcg(o ^ pcg(row ^ pcg(c))));
  let sum = 0;
  for (let k = 0; k < 12; k++) sum = Math.fround(sum + (pcg((Math.imul(key, 12) + k) >>> 0) >>> 8) / 16777216);
  return Math.fround(sum - 6);
}
