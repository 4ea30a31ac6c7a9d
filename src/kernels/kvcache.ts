// KV-cache append. Each layer keeps the keys and values of every position seen so far, so a decode step computes
// k and v for the new token only and attends over the cache. Layout of one layer's cache (kCache and vCache alike):
//
//   cache: [nKVHead, nCtx, headDim]   position p of KV head j at (j * nCtx + p) * headDim
//
// Legend: T new tokens, starting at absolute position pos0; nKVHead key/value heads of headDim floats; nCtx the
// longest context the cache holds.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

export interface KvAppendOptions {
  /** New tokens, at positions pos0 .. pos0 + T - 1. */
  T: number;
  pos0: number;
  nKVHead: number;
  headDim: number;
  nCtx: number;
  /** Floats between consecutive rows of `src` (3C for a fused qkv buffer [T, 3C]). */
  srcStride: number;
  /** Where head 0 starts within a row of `src` (C for the keys of a fused qkv buffer, 2C for the values). */
  srcOffset: number;
  layer?: number;
}

const AppendParams = defineUniforms('AppendParams', {
  T: 'u32',
  pos0: 'u32',
  nKVHead: 'u32',
  headDim: 'u32',
  nCtx: 'u32',
  srcStride: 'u32',
  srcOffset: 'u32',
  n: 'u32',
});
const WORKGROUP = 256;

export const kvAppendKernel = defineKernel('kvAppend', [
  { name: 'v1', uniforms: AppendParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per copied element' },
]);

/** cache[j, pos0 + t, d] = src[t * srcStride + srcOffset + j * headDim + d], on the GPU. */
export function kvAppend(rec: Recorder, cache: Tensor, src: Tensor, o: KvAppendOptions): void {
  const { T, pos0, nKVHead, headDim, nCtx, srcStride, srcOffset } = o;
  if (pos0 + T > nCtx) {
    throw new Error(`the context is full: positions ${pos0}..${pos0 + T - 1} do not fit a cache of ${nCtx}; shorten the prompt or raise the context length`);
  }
  if (cache.byteLength < nKVHead * nCtx * headDim * 4) throw new Error(`kv_append: cache holds fewer than ${nKVHead}x${nCtx}x${headDim} floats`);
  if (T > 0 && src.byteLength < ((T - 1) * srcStride + srcOffset + nKVHead * headDim) * 4) throw new Error('kv_append: src is too small for T rows of its stride');
  const n = T * nKVHead * headDim;
  rec.dispatch({
    shader: kvAppendKernel.version('v1').shader,
    constants: { WORKGROUP },
    uniforms: AppendParams.pack({ T, pos0, nKVHead, headDim, nCtx, srcStride, srcOffset, n }),
    bindings: [cache, src],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label: 'kv_append',
    layer: o.layer,
    shape: `[${nKVHead}, ${pos0}+${T}, ${headDim}]`,
  });
}

/** CPU reference, in place on `cache`. */
export function kvAppendReference(cache: Float32Array | Float64Array, src: ArrayLike<number>, o: KvAppendOptions): void {
  const { T, pos0, nKVHead, headDim, nCtx, srcStride, srcOffset } = o;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < nKVHead; j++) {
      for (let d = 0; d < headDim; d++) {
        cache[(j * nCtx + pos0 + t) * headDim + d] = src[t * srcStride + srcOffset + j * headDim + d]!;
      }
    }
  }
}
