// Softmax over the rows of a matrix, in place. In attention it turns masked scores [nHead, T, S] into the
// pattern (hook_pattern); on its own it turns logits [rows, vocab] into probabilities.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { grid1d } from './dispatch.ts';

const SoftmaxParams = defineUniforms('SoftmaxParams', { rows: 'u32', cols: 'u32' });
/**
 * Threads per row; a power of two for the tree reduction in softmax.wgsl. An attention row (S up to a few
 * thousand) gives each thread a handful of entries, a vocabulary row (~50k) a few hundred.
 */
const WORKGROUP = 128;

/** x[r, :] = softmax(x[r, :]) for each of `rows` rows of `cols`, on the GPU; -infinity entries become 0. */
export function softmax(rec: Recorder, x: Tensor, rows: number, cols: number, o: { layer?: number; label?: string } = {}): void {
  if (x.byteLength < rows * cols * 4) throw new Error(`softmax: the tensor holds fewer than ${rows}x${cols} floats`);
  rec.dispatch({
    shader: 'softmax.wgsl',
    constants: { WORKGROUP },
    uniforms: SoftmaxParams.pack({ rows, cols }),
    bindings: [x],
    workgroups: grid1d(rows),
    label: o.label ?? 'softmax',
    layer: o.layer,
    shape: `[${rows}, ${cols}]`,
  });
}

/** CPU reference, in place: each row minus its max, exponentiated, divided by the row's sum; -Infinity gives 0. */
export function softmaxReference(x: Float64Array | Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, row[c]!);
    if (max === -Infinity) {
      row.fill(0); // every entry masked
      continue;
    }
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(row[c]! - max);
    for (let c = 0; c < cols; c++) row[c] = Math.exp(row[c]! - max) / sum;
  }
}
