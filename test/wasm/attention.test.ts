import { describe, expect, it } from 'vitest';
import { attentionReference, type ScoresOptions } from '../../src/kernels/attention.ts';
import { kvAppendReference } from '../../src/kernels/kvcache.ts';
import { ropeInvFreq, ropeReference, type RopeOptions } from '../../src/kernels/rope.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, randomArray } from '../helpers.ts';
import { kernels, place, read, untouched } from './setup.ts';

/** One key position of every KV head is scaled by this much, so some scores reach ~100 (see the WGSL test). */
const KEY_OUTLIER = 150;

// The cases of the WGSL attention test: prefill, GQA, MQA, a chunk after a prefix, long decode, heads that are
// not multiples of 4.
const cases = [
  { name: 'prefill, 3 heads of 12', T: 9, pos0: 0, nHead: 3, nKVHead: 3, headDim: 12, nCtx: 11 },
  { name: 'prefill, GQA 6 heads over 2', T: 9, pos0: 0, nHead: 6, nKVHead: 2, headDim: 20, nCtx: 9 },
  { name: 'decode after 13 tokens, MQA 5 heads over 1', T: 1, pos0: 13, nHead: 5, nKVHead: 1, headDim: 20, nCtx: 17 },
  { name: 'chunk of 4 after a prefix of 5, GQA', T: 4, pos0: 5, nHead: 6, nKVHead: 2, headDim: 12, nCtx: 12 },
  { name: 'decode after 300 tokens, heads of 36', T: 1, pos0: 300, nHead: 5, nKVHead: 5, headDim: 36, nCtx: 333 },
  { name: 'chunk of 7 after 3, GQA 4 heads over 2 of 10', T: 7, pos0: 3, nHead: 4, nKVHead: 2, headDim: 10, nCtx: 13 },
  { name: 'decode after 40 tokens, heads of 7', T: 1, pos0: 40, nHead: 3, nKVHead: 3, headDim: 7, nCtx: 45 },
];

describe('wasm attention (kv append, scores, softmax, values) over a KV cache', () => {
  it.each(cases)('matches the CPU reference: $name', async (c) => {
    const { T, pos0, nHead, nKVHead, headDim, nCtx } = c;
    const k = await kernels();
    const rng = new Rng(T * 1000 + pos0 * 10 + nHead);
    const S = pos0 + T;
    const C = nHead * headDim;
    const kvC = nKVHead * headDim;
    // a fused qkv activation with padding: row t = [pad, pad, q (C), k (kvC), v (kvC), pad, pad, pad]
    const qOffset = 2;
    const stride = qOffset + C + 2 * kvC + 3;
    const qkv = randomArray(rng, T * stride);
    // cache slots from pos0 on are NaN until written: reading a key or value past the mask poisons the output
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

    const qkvT = place(k, 'f32', [T, stride], qkv, 'qkv');
    const kT = place(k, 'f32', [nKVHead, nCtx, headDim], kCache, 'kCache');
    const vT = place(k, 'f32', [nKVHead, nCtx, headDim], vCache, 'vCache');
    const scoresT = place(k, 'f32', [nHead, T, S], undefined, 'scores');
    const zT = place(k, 'f32', [T, C], undefined, 'z');
    k.kvAppend(kT, qkvT, kAppend);
    k.kvAppend(vT, qkvT, vAppend);
    const kGot = read(k, kT);
    k.attentionScores(scoresT, qkvT, kT, o);
    const scores = read(k, scoresT);
    k.softmax(scoresT, nHead * T, S);
    const pattern = read(k, scoresT);
    k.attentionValues(zT, scoresT, vT, o);
    const z = read(k, zT);

    kvAppendReference(kCache, qkv, kAppend);
    kvAppendReference(vCache, qkv, vAppend);
    const ref = attentionReference(qkv, kCache, vCache, o);

    // the appended cache, bit for bit (NaN where no position has been written yet)
    expect([...kGot]).toEqual([...kCache]);
    for (const t of [kT, vT, scoresT, zT]) expect(untouched(k, t), `wrote past ${t.label}`).toBe(true);
    // tolerances of the WGSL test (see there): atol of scores ~8 ulps of the largest partial sum
    const scoresAtol = 1e-6 * o.scale * headDim * KEY_OUTLIER;
    expectClose(scores, ref.scores, { rtol: 1e-4, atol: scoresAtol }, 'hook_attn_scores');
    expectClose(pattern, ref.pattern, { rtol: 1e-4, atol: 1e-7 }, 'hook_pattern');
    expectClose(z, ref.z, { rtol: 1e-4, atol: 1e-6 }, 'hook_z');
    for (let h = 0; h < nHead; h++) {
      for (let t = 0; t < T; t++) {
        for (let s = pos0 + t + 1; s < S; s++) {
          const i = (h * T + t) * S + s;
          if (scores[i] !== -Infinity || pattern[i] !== 0) throw new Error(`[${h}, ${t}, ${s}] is past the mask: score ${scores[i]}, pattern ${pattern[i]}`);
        }
      }
    }
  });

  it('refuses a context that is full and heads that do not group evenly', async () => {
    const k = await kernels();
    const t = k.arena.alloc('f32', [4096], 't');
    expect(() => k.kvAppend(t, t, { T: 3, pos0: 10, nKVHead: 1, headDim: 4, nCtx: 12, srcStride: 4, srcOffset: 0 })).toThrow(/the context is full/);
    const o = { T: 1, pos0: 0, nHead: 5, nKVHead: 2, headDim: 2, nCtx: 4, qStride: 10, qOffset: 0, scale: 1 };
    expect(() => k.attentionScores(t, t, t, o)).toThrow(/cannot share/);
  });
});

describe('wasm rope', () => {
  // Outputs x1 cos - x2 sin with |x| <= 1: atol 1e-6 for where the terms cancel, as for the WGSL kernel.
  const TOL = { rtol: 1e-4, atol: 1e-6 };

  it.each([
    { name: 'prefill, 3 heads of 20', T: 9, pos0: 0, nHeads: 3, headDim: 20, rotaryDim: 20, theta: 10_000 },
    { name: 'partial rotary 12 of 20, after a prefix', T: 4, pos0: 5, nHeads: 5, headDim: 20, rotaryDim: 12, theta: 10_000 },
    { name: 'decode at position 13', T: 1, pos0: 13, nHeads: 2, headDim: 12, rotaryDim: 12, theta: 500_000 },
    { name: 'decode at position 5000 (angles of ~800 turns)', T: 1, pos0: 5000, nHeads: 3, headDim: 14, rotaryDim: 14, theta: 10_000 },
  ])('matches the CPU reference: $name', async ({ T, pos0, nHeads, headDim, rotaryDim, theta }) => {
    const k = await kernels();
    const rng = new Rng(T * 100 + pos0 + headDim);
    const offset = 7;
    const stride = offset + nHeads * headDim + 3;
    const o: RopeOptions = { T, pos0, nHeads, headDim, rotaryDim, stride, offset };
    const x = randomArray(rng, T * stride);
    const invFreq = ropeInvFreq(rotaryDim, theta);
    const xt = place(k, 'f32', [T, stride], x, 'x');
    k.rope(xt, place(k, 'f32', [rotaryDim / 2], invFreq, 'invFreq'), o);
    const out = read(k, xt);
    const ref = Float64Array.from(x);
    ropeReference(ref, invFreq, o);
    expectClose(out, ref, TOL, 'rotated rows');
    expect(untouched(k, xt)).toBe(true);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < stride; c++) {
        const inHead = c >= offset && c < offset + nHeads * headDim;
        const rotated = inHead && (c - offset) % headDim < rotaryDim;
        const i = t * stride + c;
        if (!rotated && out[i] !== x[i]) throw new Error(`x[${t}, ${c}] changed from ${x[i]} to ${out[i]}`);
      }
    }
  });
});
