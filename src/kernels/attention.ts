// Causal self-attention over a KV cache, as the textbook writes it, one kernel per step so that every
// intermediate is a TransformerLens hook:
//
//   scores  = q . k^T * scale, masked   attentionScores   hook_attn_scores [nHead, T, S]
//   pattern = softmax(scores)           softmax            hook_pattern     [nHead, T, S]
//   z       = pattern @ v               attentionValues    hook_z           [T, nHead * headDim]
//
// Legend: T query rows (new tokens) at absolute positions pos0 .. pos0 + T - 1; S = pos0 + T keys;
// nHead query heads, nKVHead key/value heads (grouped-query attention when fewer); headDim floats per head;
// nCtx the positions one layer's cache holds. Layouts:
//
//   q:              T rows of qStride floats; head h of row t at q[t * qStride + qOffset + h * headDim + d]
//                   (so attention reads Q straight out of a fused qkv buffer [T, 3C]: qStride 3C, qOffset 0)
//   kCache, vCache: [nKVHead, nCtx, headDim] (see kvcache.ts)
//   scores:         [nHead, T, S], -infinity where s > pos0 + t
//   z:              [T, nHead * headDim]
//
// attentionValues has two versions, side by side in shaders/ (attentionValuesKernel below).
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { softmaxReference } from './softmax.ts';
import { defineKernel } from './versions.ts';

/** The sizes every attention step shares. */
export interface AttentionShape {
  T: number;
  pos0: number;
  nHead: number;
  nKVHead: number;
  headDim: number;
  nCtx: number;
  layer?: number;
}

export interface ValuesOptions extends AttentionShape {
  /** Which attention-values kernel; by default the one that suits the adapter (see defaultValuesVersion). */
  version?: ValuesVersion;
}

export interface ScoresOptions extends AttentionShape {
  /** Floats between consecutive query rows, and where head 0 starts in a row. */
  qStride: number;
  qOffset: number;
  /** Usually 1 / sqrt(headDim). */
  scale: number;
}

const ScoresParams = defineUniforms('ScoresParams', {
  T: 'u32',
  pos0: 'u32',
  S: 'u32',
  nHead: 'u32',
  group: 'u32',
  headDim: 'u32',
  nCtx: 'u32',
  qStride: 'u32',
  qOffset: 'u32',
  scale: 'f32',
  n: 'u32',
});
const SCORES_WORKGROUP = 256;

const ValuesParams = defineUniforms('ValuesParams', {
  T: 'u32',
  pos0: 'u32',
  S: 'u32',
  nHead: 'u32',
  group: 'u32',
  headDim: 'u32',
  nCtx: 'u32',
  tiles: 'u32',
});
/** v2's struct: the same fields, the last one counting chunks of dims (vec4s, or single floats). */
const ValuesV2Params = defineUniforms('ValuesParams', {
  T: 'u32',
  pos0: 'u32',
  S: 'u32',
  nHead: 'u32',
  group: 'u32',
  headDim: 'u32',
  nCtx: 'u32',
  chunks: 'u32',
});
/** v1: LANES dims per workgroup, each summed over s by PARTS threads. */
const LANES = 16;
const PARTS = 16;
/** v2: WG invocations per workgroup, each owning one (t, h, chunk of dims). */
const VALUES_V2 = { WG: 64 };

export const attentionScoresKernel = defineKernel('attentionScores', [
  { name: 'v1', uniforms: ScoresParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per score, a dot product over headDim' },
]);

export const attentionValuesKernel = defineKernel('attentionValues', [
  {
    name: 'v1',
    uniforms: ValuesParams,
    defaultOn: ['hardware'],
    changes: 'a workgroup per (t, h, 16 dims), the sum over s split 16 ways and added in workgroup memory',
  },
  {
    name: 'v2',
    uniforms: ValuesV2Params,
    defaultOn: ['software'],
    changes: 'one invocation per (t, h, 4 dims) running the whole sum over s: no workgroup memory, no barriers',
  },
]);

export type ValuesVersion = (typeof attentionValuesKernel.versions)[number]['name'];

/** Query heads per KV head; checks the shape on the way. */
function groupSize(o: AttentionShape, kernel: string): number {
  if (o.nKVHead < 1 || o.nHead % o.nKVHead !== 0) throw new Error(`${kernel}: ${o.nHead} query heads cannot share ${o.nKVHead} KV heads evenly`);
  if (o.pos0 + o.T > o.nCtx) throw new Error(`${kernel}: positions up to ${o.pos0 + o.T - 1} run past the cache of ${o.nCtx}`);
  return o.nHead / o.nKVHead;
}

function checkCache(cache: Tensor, o: AttentionShape, kernel: string): void {
  if (cache.byteLength < o.nKVHead * o.nCtx * o.headDim * 4) throw new Error(`${kernel}: cache holds fewer than ${o.nKVHead}x${o.nCtx}x${o.headDim} floats`);
}

/** scores[h, t, s] = scale * q[t, h, :] . k[h / group, s, :], and -infinity past the causal mask, on the GPU. */
export function attentionScores(rec: Recorder, scores: Tensor, q: Tensor, kCache: Tensor, o: ScoresOptions): void {
  const { T, pos0, nHead, headDim, nCtx, qStride, qOffset, scale } = o;
  const group = groupSize(o, 'attn_scores');
  const S = pos0 + T;
  const n = nHead * T * S;
  if (scores.byteLength < n * 4) throw new Error(`attn_scores: scores needs ${nHead}x${T}x${S} floats`);
  if (T > 0 && q.byteLength < ((T - 1) * qStride + qOffset + nHead * headDim) * 4) throw new Error('attn_scores: q is too small for T rows of its stride');
  checkCache(kCache, o, 'attn_scores');
  rec.dispatch({
    shader: attentionScoresKernel.version('v1').shader,
    constants: { WORKGROUP: SCORES_WORKGROUP },
    uniforms: ScoresParams.pack({ T, pos0, S, nHead, group, headDim, nCtx, qStride, qOffset, scale, n }),
    bindings: [scores, q, kCache],
    workgroups: grid1d(ceilDiv(n, SCORES_WORKGROUP)),
    label: 'attn_scores',
    layer: o.layer,
    shape: `[${nHead}, ${T}, ${S}] x ${headDim}`,
  });
}

/** z[t, h * headDim + d] = sum over s <= pos0 + t of pattern[h, t, s] * v[h / group, s, d], on the GPU. */
export function attentionValues(rec: Recorder, z: Tensor, pattern: Tensor, vCache: Tensor, o: ValuesOptions): void {
  const { T, pos0, nHead, headDim, nCtx } = o;
  const group = groupSize(o, 'attn_values');
  const S = pos0 + T;
  if (z.byteLength < T * nHead * headDim * 4) throw new Error(`attn_values: z needs ${T}x${nHead * headDim} floats`);
  if (pattern.byteLength < nHead * T * S * 4) throw new Error(`attn_values: pattern needs ${nHead}x${T}x${S} floats`);
  checkCache(vCache, o, 'attn_values');
  const base = { bindings: [z, pattern, vCache], label: 'attn_values', layer: o.layer, shape: `[${nHead}, ${T}, ${S}] x ${headDim}` };
  const version = attentionValuesKernel.version(o.version ?? defaultValuesVersion(rec));
  if (version.name === 'v1') {
    const tiles = ceilDiv(headDim, LANES);
    rec.dispatch({
      ...base,
      shader: version.shader,
      constants: { LANES, PARTS },
      uniforms: ValuesParams.pack({ T, pos0, S, nHead, group, headDim, nCtx, tiles }),
      workgroups: grid1d(nHead * T * tiles),
    });
  } else {
    // A vec4 of dims per invocation when the heads split into them evenly, else one dim.
    const VEC4 = headDim % 4 === 0;
    const chunks = VEC4 ? headDim / 4 : headDim;
    rec.dispatch({
      ...base,
      shader: version.shader,
      constants: { VEC4, ...VALUES_V2 },
      uniforms: ValuesV2Params.pack({ T, pos0, S, nHead, group, headDim, nCtx, chunks }),
      workgroups: grid1d(ceilDiv(T * nHead * chunks, VALUES_V2.WG)),
    });
  }
}

/** The default on `rec`'s adapter (see attentionValuesKernel): v2 on software adapters, where barriers are dear. */
export function defaultValuesVersion(rec: Recorder): ValuesVersion {
  return attentionValuesKernel.defaultFor(rec.gpu).name;
}

/** CPU reference of attentionScores: [nHead, T, S] in float64, -Infinity past the mask. */
export function attentionScoresReference(q: ArrayLike<number>, kCache: ArrayLike<number>, o: ScoresOptions): Float64Array {
  const { T, pos0, nHead, nKVHead, headDim, nCtx, qStride, qOffset, scale } = o;
  const S = pos0 + T;
  const group = nHead / nKVHead;
  const scores = new Float64Array(nHead * T * S);
  for (let h = 0; h < nHead; h++) {
    const kvh = Math.floor(h / group);
    for (let t = 0; t < T; t++) {
      for (let s = 0; s < S; s++) {
        let value = -Infinity;
        if (s <= pos0 + t) {
          let dot = 0;
          for (let d = 0; d < headDim; d++) {
            dot += q[t * qStride + qOffset + h * headDim + d]! * kCache[(kvh * nCtx + s) * headDim + d]!;
          }
          value = scale * dot;
        }
        scores[(h * T + t) * S + s] = value;
      }
    }
  }
  return scores;
}

/** CPU reference of attentionValues: z [T, nHead * headDim] in float64. */
export function attentionValuesReference(pattern: ArrayLike<number>, vCache: ArrayLike<number>, o: AttentionShape): Float64Array {
  const { T, pos0, nHead, nKVHead, headDim, nCtx } = o;
  const S = pos0 + T;
  const group = nHead / nKVHead;
  const z = new Float64Array(T * nHead * headDim);
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < nHead; h++) {
      const kvh = Math.floor(h / group);
      for (let d = 0; d < headDim; d++) {
        let sum = 0;
        for (let s = 0; s <= pos0 + t; s++) {
          sum += pattern[(h * T + t) * S + s]! * vCache[(kvh * nCtx + s) * headDim + d]!;
        }
        z[t * nHead * headDim + h * headDim + d] = sum;
      }
    }
  }
  return z;
}

/** The whole of attention on the CPU, in float64, with every hooked intermediate. */
export function attentionReference(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  o: ScoresOptions,
): { scores: Float64Array; pattern: Float64Array; z: Float64Array } {
  const scores = attentionScoresReference(q, kCache, o);
  const pattern = Float64Array.from(scores);
  softmaxReference(pattern, o.nHead * o.T, o.pos0 + o.T);
  const z = attentionValuesReference(pattern, vCache, o);
  return { scores, pattern, z };
}
