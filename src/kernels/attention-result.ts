// The attention result per head (TransformerLens's hook_result) and its sum over heads. The output projection
// attn_out = z @ w^T + bias is linear in z, whose columns are NH heads of HS floats side by side; so it splits
// into one term per head, each head's z times its HS columns of w:
//
//   result[t, h, c] = sum_d z[t, h * HS + d] * w[c, h * HS + d]          attentionResult   [T, NH, C]
//   attn_out[t, c]  = bias[c] + sum_h result[t, h, c]                     sumHeads          [T, C]
//
// Legend: T tokens, NH heads of HS floats (K = NH * HS, the projection's input width), C its output width (the
// model's width). w is [C, K] f32, f16x2, q8 or q4 (nn.Linear layout), bias [C] f32 or none. Computing the result costs
// NH times the projection's reads of z, so the model runs these two kernels only when a hook asks for it. A weight
// split into row chunks (src/model/split-weights.ts) is run chunk by chunk: `rows` rows of w from row `row0`,
// the output columns row0 .. row0 + rows - 1 (the whole of w by default).
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';
import { weightConstants } from './weights.ts';

const ResultParams = defineUniforms('ResultParams', { T: 'u32', NH: 'u32', HS: 'u32', C: 'u32', K: 'u32', row0: 'u32', rows: 'u32', n: 'u32' });
const SumHeadsParams = defineUniforms('SumHeadsParams', { T: 'u32', NH: 'u32', C: 'u32', row0: 'u32', rows: 'u32', n: 'u32' });
const WORKGROUP = 256;

export const attentionResultKernel = defineKernel('attentionResult', [
  { name: 'v1', uniforms: ResultParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per output, HS multiply-adds each' },
]);

export const sumHeadsKernel = defineKernel('sumHeads', [
  { name: 'v1', uniforms: SumHeadsParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per output, the heads added in order' },
]);

export interface HeadsOptions {
  T: number;
  NH: number;
  HS: number;
  /** The projection's output width. */
  C: number;
  /** The chunk of w this call runs: its first row and its rows (default all C). */
  row0?: number;
  rows?: number;
  layer?: number;
}

/** result [T, NH, C] = each head's z [T, HS] times its columns of w [C, NH * HS], on the GPU (w's chunk: its columns). */
export function attentionResult(rec: Recorder, result: Tensor, z: Tensor, w: Tensor, o: HeadsOptions): void {
  const { T, NH, HS, C, row0 = 0, rows = C } = o;
  const K = NH * HS;
  const n = T * NH * rows;
  const weights = weightConstants(w, 'attention_result');
  if (row0 + rows > C) throw new Error(`attention_result: rows ${row0}..${row0 + rows - 1} run past C = ${C}`);
  if (result.byteLength < T * NH * C * 4 || z.byteLength < T * K * 4) throw new Error(`attention_result: result needs ${T * NH * C} floats and z ${T * K}`);
  rec.dispatch({
    shader: attentionResultKernel.version('v1').shader,
    constants: { WORKGROUP, ...weights, HAS_BIAS: false, VEC4: false },
    uniforms: ResultParams.pack({ T, NH, HS, C, K, row0, rows, n }),
    bindings: [result, z, w],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label: 'attn_result',
    layer: o.layer,
    shape: `[${T},${NH},${HS}]x[${rows},${K}]`,
  });
}

/** out [T, C] = bias + the sum over heads of result [T, NH, C], on the GPU (for a chunk: its columns, its bias). */
export function sumHeads(rec: Recorder, out: Tensor, result: Tensor, bias: Tensor | undefined, o: Omit<HeadsOptions, 'HS'>): void {
  const { T, NH, C, row0 = 0, rows = C } = o;
  const n = T * rows;
  if (row0 + rows > C) throw new Error(`sum_heads: rows ${row0}..${row0 + rows - 1} run past C = ${C}`);
  if (out.byteLength < T * C * 4 || result.byteLength < T * NH * C * 4) throw new Error(`sum_heads: out needs ${T * C} floats and result ${T * NH * C}`);
  rec.dispatch({
    shader: sumHeadsKernel.version('v1').shader,
    constants: { WORKGROUP, HAS_BIAS: bias !== undefined },
    uniforms: SumHeadsParams.pack({ T, NH, C, row0, rows, n }),
    bindings: bias ? [out, result, bias] : [out, result],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label: 'sum_heads',
    layer: o.layer,
    shape: `[${T},${NH},${rows}]`,
  });
}

/** CPU reference of attentionResult, in float64; `w` holds plain numbers [C, NH * HS]. */
export function attentionResultReference(z: ArrayLike<number>, w: ArrayLike<number>, o: HeadsOptions): Float64Array {
  const { T, NH, HS, C } = o;
  const K = NH * HS;
  const result = new Float64Array(T * NH * C);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < NH; h++) {
      for (let c = 0; c < C; c++) {
        let sum = 0;
        for (let d = 0; d < HS; d++) sum += z[t * K + h * HS + d]! * w[c * K + h * HS + d]!;
        result[(t * NH + h) * C + c] = sum;
      }
    }
  }
  return result;
}

/** CPU reference of sumHeads, in float64. */
export function sumHeadsReference(out: Float64Array | Float32Array, result: ArrayLike<number>, bias: ArrayLike<number> | undefined, o: Omit<HeadsOptions, 'HS'>): void {
  const { T, NH, C } = o;
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      let sum = bias ? bias[c]! : 0;
      for (let h = 0; h < NH; h++) sum += result[(t * NH + h) * C + c]!;
      out[t * C + c] = sum;
    }
  }
}
