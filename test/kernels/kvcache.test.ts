import { describe, expect, it } from 'vitest';
import { readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { kvAppend, kvAppendReference, type KvAppendOptions } from '../../src/kernels/kvcache.ts';
import { Rng } from '../../src/random.ts';
import { gpu, randomArray } from '../helpers.ts';

describe('kv cache append', () => {
  // Keys taken out of a fused qkv-like buffer: an odd row stride and a non-zero offset, heads of 12 or 20 floats.
  it.each([
    { T: 9, pos0: 0, nKVHead: 3, headDim: 12, nCtx: 11 }, // prefill into an empty cache
    { T: 4, pos0: 5, nKVHead: 2, headDim: 20, nCtx: 12 }, // a chunk after a prefix
    { T: 1, pos0: 13, nKVHead: 1, headDim: 20, nCtx: 14 }, // decode into the last free slot
  ])('matches the CPU reference for T=$T at pos0=$pos0, $nKVHead heads of $headDim', async ({ T, pos0, nKVHead, headDim, nCtx }) => {
    const g = await gpu();
    const rng = new Rng(T * 100 + pos0);
    const srcOffset = 3 + nKVHead * headDim; // the keys sit after 3 floats of padding and the queries
    const srcStride = srcOffset + 2 * nKVHead * headDim + 5;
    const o: KvAppendOptions = { T, pos0, nKVHead, headDim, nCtx, srcStride, srcOffset };
    const src = randomArray(rng, T * srcStride);
    // The cache already holds other values everywhere: only the appended slots may change, bit for bit.
    const before = randomArray(rng, nKVHead * nCtx * headDim, 10);
    const cacheT = uploadTensor(g.device, 'f32', [nKVHead, nCtx, headDim], before, 'kCache');
    const rec = new Recorder(g);
    kvAppend(rec, cacheT, uploadTensor(g.device, 'f32', [T, srcStride], src, 'qkv'), o);
    await rec.submit();
    const out = await readF32(g.device, cacheT);
    const ref = Float32Array.from(before);
    kvAppendReference(ref, src, o);
    expect(out).toEqual(ref);
  });

  it('says when the context is full', async () => {
    const g = await gpu();
    const cache = uploadTensor(g.device, 'f32', [1, 4, 2], new Float32Array(8), 'cache');
    const src = uploadTensor(g.device, 'f32', [2, 2], new Float32Array(4), 'src');
    const o = { T: 2, pos0: 3, nKVHead: 1, headDim: 2, nCtx: 4, srcStride: 2, srcOffset: 0 };
    expect(() => kvAppend(new Recorder(g), cache, src, o)).toThrow(/context is full/);
  });
});
