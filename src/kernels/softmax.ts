// Softmax over the rows of a matrix, in place. In attention it turns masked scores [nHead, T, S] into the
// pattern (hook_pattern); on its own it turns logits [rows, vocab] into probabilities.
//
// Its versions, side by side in shaders/, are listed in softmaxKernel below.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel, ROW_VERSIONS } from './versions.ts';

const SoftmaxParams = defineUniforms('SoftmaxParams', { rows: 'u32', cols: 'u32' });
/**
 * v1: threads per row; a power of two for the tree reductions. An attention row (S up to a few thousand) gives
 * each thread a handful of entries, a vocabulary row (~50k) a few hundred.
 */
const V1 = { WG: 128 };
/** v2: rows per workgroup, one per invocation. */
const V2 = { WG: 64 };

export const softmaxKernel = defineKernel('softmax', [
  { ...ROW_VERSIONS.v1, uniforms: SoftmaxParams },
  { ...ROW_VERSIONS.v2, uniforms: SoftmaxParams },
]);

export type SoftmaxVersion = (typeof softmaxKernel.versions)[number]['name'];

export interface SoftmaxOptions {
  /** Which kernel; by default the one that suits the adapter (see defaultVersion). */
  version?: SoftmaxVersion;
  /** For profiles. */
  layer?: number;
  label?: string;
}

/** x[r, :] = softmax(x[r, :]) for each of `rows` rows of `cols`, on the GPU; -infinity entries become 0. */
export function softmax(rec: Recorder, x: Tensor, rows: number, cols: number, o: SoftmaxOptions = {}): void {
  if (x.byteLength < rows * cols * 4) throw new Error(`softmax: the tensor holds fewer than ${rows}x${cols} floats`);
  const base = { uniforms: SoftmaxParams.pack({ rows, cols }), bindings: [x], label: o.label ?? 'softmax', layer: o.layer, shape: `[${rows}, ${cols}]` };
  const version = softmaxKernel.version(o.version ?? defaultVersion(rec));
  if (version.name === 'v1') {
    rec.dispatch({ ...base, shader: version.shader, constants: V1, workgroups: grid1d(rows) }); // one workgroup per row
  } else {
    rec.dispatch({ ...base, shader: version.shader, constants: V2, workgroups: grid1d(ceilDiv(rows, V2.WG)) }); // one invocation per row
  }
}

/** The default on `rec`'s adapter (see softmaxKernel): v2 on software adapters, where barriers are dear. */
export function defaultVersion(rec: Recorder): SoftmaxVersion {
  return softmaxKernel.defaultFor(rec.gpu).name;
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
