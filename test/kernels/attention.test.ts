import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import {
  attentionReference,
  attentionScores,
  attentionValues,
  attentionValuesKernel,
  defaultValuesVersion,
  type ScoresOptions,
} from '../../src/kernels/attention.ts';
import { kvAppend, kvAppendReference } from '../../src/kernels/kvcache.ts';
import { softmax } from '../../src/kernels/softmax.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

/** One key position of every KV head is scaled by this much, so some scores reach ~100: exp() of them overflows
 * f32 unless the softmax subtracts the row max. */
const KEY_OUTLIER = 150;

interface Case {
  name: string;
  T: number;
  pos0: number;
  nHead: number;
  nKVHead: number;
  headDim: number;
  nCtx: number;
}

const cases: Case[] = [
  { name: 'prefill, 3 heads of 12', T: 9, pos0: 0, nHead: 3, nKVHead: 3, headDim: 12, nCtx: 11 },
  { name: 'prefill, GQA 6 heads over 2', T: 9, pos0: 0, nHead: 6, nKVHead: 2, headDim: 20, nCtx: 9 },
  { name: 'decode after 13 tokens, MQA 5 heads over 1', T: 1, pos0: 13, nHead: 5, nKVHead: 1, headDim: 20, nCtx: 17 },
  { name: 'chunk of 4 after a prefix of 5, GQA', T: 4, pos0: 5, nHead: 6, nKVHead: 2, headDim: 12, nCtx: 12 },
  { name: 'decode after 300 tokens, heads of 36', T: 1, pos0: 300, nHead: 5, nKVHead: 5, headDim: 36, nCtx: 333 },
  // headDim % 4 != 0: attentionValues v2 takes one dim per invocation instead of a vec4
  { name: 'chunk of 7 after 3, GQA 4 heads over 2 of 10', T: 7, pos0: 3, nHead: 4, nKVHead: 2, headDim: 10, nCtx: 13 },
  { name: 'decode after 40 tokens, heads of 7', T: 1, pos0: 40, nHead: 3, nKVHead: 3, headDim: 7, nCtx: 45 },
];

/**
 * softmax and attentionValues both come in v1 (a workgroup per row, reduced behind barriers, for hardware adapters)
 * and v2 (one invocation per row or per output chunk, for software ones); each version runs the whole chain.
 */
const VERSIONS = attentionValuesKernel.versions.map((v) => v.name);

describe.each(VERSIONS)('attention (scores, softmax, values) over a KV cache, softmax and attentionValues %s', (version) => {
  it.each(cases)('matches the CPU reference: $name', async (c) => {
    const { T, pos0, nHead, nKVHead, headDim, nCtx } = c;
    const g = await gpu();
    const rng = new Rng(T * 1000 + pos0 * 10 + nHead);
    const S = pos0 + T;
    const C = nHead * headDim;
    const kvC = nKVHead * headDim;

    // A fused qkv activation with 2 floats of padding in front and 3 behind, so nothing sits at an aligned offset:
    // row t = [pad, pad, q (C), k (kvC), v (kvC), pad, pad, pad].
    const qOffset = 2;
    const stride = qOffset + C + 2 * kvC + 3;
    const qkv = randomArray(rng, T * stride);
    // The caches already hold pos0 earlier tokens; slots from pos0 on are NaN until written, so a kernel that
    // reads a key or value it must not see (s > pos0 + t) poisons its output.
    const kCache = new Float32Array(nKVHead * nCtx * headDim).fill(Number.NaN);
    const vCache = new Float32Array(nKVHead * nCtx * headDim).fill(Number.NaN);
    for (let j = 0; j < nKVHead; j++) {
      kCache.set(randomArray(rng, pos0 * headDim), j * nCtx * headDim);
      vCache.set(randomArray(rng, pos0 * headDim), j * nCtx * headDim);
    }
    const outlier = rng.int(0, S - 1);
    for (let j = 0; j < nKVHead; j++) {
      for (let d = 0; d < headDim; d++) {
        if (outlier < pos0) kCache[(j * nCtx + outlier) * headDim + d]! *= KEY_OUTLIER;
        else qkv[(outlier - pos0) * stride + qOffset + C + j * headDim + d]! *= KEY_OUTLIER;
      }
    }

    const o: ScoresOptions = { T, pos0, nHead, nKVHead, headDim, nCtx, qStride: stride, qOffset, scale: 1 / Math.sqrt(headDim) };
    const kAppend = { T, pos0, nKVHead, headDim, nCtx, srcStride: stride, srcOffset: qOffset + C };
    const vAppend = { ...kAppend, srcOffset: qOffset + C + kvC };

    // GPU: append this step's keys and values, then the three attention kernels, reading back each hooked
    // intermediate. Outputs get one extra float that must stay NaN (nothing written past the end).
    const qkvT = uploadTensor(g.device, 'f32', [T, stride], qkv, 'qkv');
    const kT = uploadTensor(g.device, 'f32', [nKVHead, nCtx, headDim], kCache, 'kCache');
    const vT = uploadTensor(g.device, 'f32', [nKVHead, nCtx, headDim], vCache, 'vCache');
    const scoresT = createTensor(g.device, 'f32', [nHead * T * S + 1], 'scores');
    const zT = createTensor(g.device, 'f32', [T * C + 1], 'z');
    poison(g.device, scoresT);
    poison(g.device, zT);

    let rec = new Recorder(g);
    kvAppend(rec, kT, qkvT, kAppend);
    kvAppend(rec, vT, qkvT, vAppend);
    attentionScores(rec, scoresT, qkvT, kT, o);
    await rec.submit();
    const scores = await readF32(g.device, scoresT);

    rec = new Recorder(g);
    softmax(rec, scoresT, nHead * T, S, { version });
    await rec.submit();
    const pattern = await readF32(g.device, scoresT);

    rec = new Recorder(g);
    attentionValues(rec, zT, scoresT, vT, { ...o, version });
    await rec.submit();
    const z = await readF32(g.device, zT);

    // CPU: the same append, then attention in float64.
    kvAppendReference(kCache, qkv, kAppend);
    kvAppendReference(vCache, qkv, vAppend);
    const ref = attentionReference(qkv, kCache, vCache, o);

    // Scores: a dot product of headDim terms keeps a few f32 ulps of its largest partial sum, at most
    // scale * headDim * max|q| * max|k| (max|k| = KEY_OUTLIER); atol is ~8 ulps (1e-6) of that bound.
    const scoresAtol = 1e-6 * o.scale * headDim * KEY_OUTLIER;
    expect(Number.isNaN(scores[nHead * T * S])).toBe(true);
    expectClose(scores.subarray(0, nHead * T * S), ref.scores, { rtol: 1e-4, atol: scoresAtol }, 'hook_attn_scores');
    // Pattern: probabilities in [0, 1]; under 1e-7 they are held to 1e-7 (f32 keeps ~7 digits of a row summing to 1).
    expectClose(pattern.subarray(0, nHead * T * S), ref.pattern, { rtol: 1e-4, atol: 1e-7 }, 'hook_pattern');
    // z: a convex combination of values in [-1, 1]; where it nearly cancels, its error is a few ulps of 1.
    expect(Number.isNaN(z[T * C])).toBe(true);
    expectClose(z.subarray(0, T * C), ref.z, { rtol: 1e-4, atol: 1e-6 }, 'hook_z');

    // The causal mask, exactly: -infinity in the scores and 0 in the pattern for every key after the query.
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < T; t++) {
        for (let s = pos0 + t + 1; s < S; s++) {
          const i = (h * T + t) * S + s;
          if (scores[i] !== -Infinity) throw new Error(`scores[${h}, ${t}, ${s}] is ${scores[i]}, not -Infinity`);
          if (pattern[i] !== 0) throw new Error(`pattern[${h}, ${t}, ${s}] is ${pattern[i]}, not 0`);
        }
      }
    }
  });
});

describe('attention', () => {
  it('picks attentionValues v2 (one invocation per output chunk) on a software adapter and v1 on a hardware one', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = createTensor(g.device, 'f32', [64], 't');
    attentionValues(rec, t, t, t, { T: 1, pos0: 0, nHead: 2, nKVHead: 2, headDim: 4, nCtx: 4 });
    expect(rec.dispatches[0]!.shader).toBe(g.info.kind === 'software' ? 'attentionValues.v2.wgsl' : 'attentionValues.v1.wgsl');
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([defaultValuesVersion(soft), defaultValuesVersion(hard)]).toEqual(['v2', 'v1']);
  });

  it('refuses head counts that do not group evenly', async () => {
    const g = await gpu();
    const t = createTensor(g.device, 'f32', [64], 't');
    const o = { T: 1, pos0: 0, nHead: 5, nKVHead: 2, headDim: 2, nCtx: 4, qStride: 10, qOffset: 0, scale: 1 };
    expect(() => attentionScores(new Recorder(g), t, t, t, o)).toThrow(/cannot share/);
  });
});
