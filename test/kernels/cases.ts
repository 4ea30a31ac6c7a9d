// Inputs shared by the WGSL kernel tests (test/kernels) and the WebAssembly ones (test/wasm): both backends are
// held to the same cases, the same float64 references and the same tolerances.
import { attentionReference, type ScoresOptions } from '../../src/kernels/attention.ts';
import { kvAppendReference, type KvAppendOptions } from '../../src/kernels/kvcache.ts';
import { ropeInvFreq, ropeReference, type RopeOptions } from '../../src/kernels/rope.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, randomArray } from '../helpers.ts';

/** One key position of every KV head is scaled by this much, so some scores reach ~100: exp() of them overflows
 * f32 unless the softmax subtracts the row max. */
export const KEY_OUTLIER = 150;

export interface AttentionCase {
  name: string;
  T: number;
  pos0: number;
  nHead: number;
  nKVHead: number;
  headDim: number;
  nCtx: number;
}

export const ATTENTION_CASES: AttentionCase[] = [
  { name: 'prefill, 3 heads of 12', T: 9, pos0: 0, nHead: 3, nKVHead: 3, headDim: 12, nCtx: 11 },
  { name: 'prefill, GQA 6 heads over 2', T: 9, pos0: 0, nHead: 6, nKVHead: 2, headDim: 20, nCtx: 9 },
  { name: 'decode after 13 tokens, MQA 5 heads over 1', T: 1, pos0: 13, nHead: 5, nKVHead: 1, headDim: 20, nCtx: 17 },
  { name: 'chunk of 4 after a prefix of 5, GQA', T: 4, pos0: 5, nHead: 6, nKVHead: 2, headDim: 12, nCtx: 12 },
  { name: 'decode after 300 tokens, heads of 36', T: 1, pos0: 300, nHead: 5, nKVHead: 5, headDim: 36, nCtx: 333 },
  // headDim % 4 != 0: attentionValues v2 takes one dim per invocation instead of a vec4
  { name: 'chunk of 7 after 3, GQA 4 heads over 2 of 10', T: 7, pos0: 3, nHead: 4, nKVHead: 2, headDim: 10, nCtx: 13 },
  { name: 'decode after 40 tokens, heads of 7', T: 1, pos0: 40, nHead: 3, nKVHead: 3, headDim: 7, nCtx: 45 },
];

/** The inputs of one attention case, and the float64 reference of appending this step's keys and values and
 * attending over the cache. */
export interface AttentionInputs {
  S: number;
  C: number;
  stride: number;
  /** [T, stride]: row t = [pad, pad, q (C), k (kvC), v (kvC), pad, pad, pad], nothing at an aligned offset */
  qkv: Float32Array;
  /** [nKVHead, nCtx, headDim]: pos0 earlier positions, NaN from pos0 on until written, so a kernel that reads a key
   * or value it must not see (s > pos0 + t) poisons its output */
  kCache: Float32Array;
  vCache: Float32Array;
  o: ScoresOptions;
  kAppend: KvAppendOptions;
  vAppend: KvAppendOptions;
  /** The caches after the append, and scores, pattern and z, in float64 */
  ref: { kCache: Float32Array; vCache: Float32Array; scores: ArrayLike<number>; pattern: ArrayLike<number>; z: ArrayLike<number> };
}

export function attentionInputs(c: AttentionCase): AttentionInputs {
  const { T, pos0, nHead, nKVHead, headDim, nCtx } = c;
  const rng = new Rng(T * 1000 + pos0 * 10 + nHead);
  const S = pos0 + T;
  const C = nHead * headDim;
  const kvC = nKVHead * headDim;
  const qOffset = 2;
  const stride = qOffset + C + 2 * kvC + 3;
  const qkv = randomArray(rng, T * stride);
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

  const kRef = kCache.slice();
  const vRef = vCache.slice();
  kvAppendReference(kRef, qkv, kAppend);
  kvAppendReference(vRef, qkv, vAppend);
  return { S, C, stride, qkv, kCache, vCache, o, kAppend, vAppend, ref: { kCache: kRef, vCache: vRef, ...attentionReference(qkv, kRef, vRef, o) } };
}

/** Scores, pattern and z against the reference, and the causal mask exactly (-inf scores, 0 pattern). */
export function expectAttention(c: AttentionCase, inputs: AttentionInputs, got: { scores: Float32Array; pattern: Float32Array; z: Float32Array }): void {
  const { T, pos0, nHead, headDim } = c;
  const { S, o, ref } = inputs;
  // Scores: a dot product of headDim terms keeps a few f32 ulps of its largest partial sum, at most
  // scale * headDim * max|q| * max|k| (max|k| = KEY_OUTLIER); atol is ~8 ulps (1e-6) of that bound.
  const scoresAtol = 1e-6 * o.scale * headDim * KEY_OUTLIER;
  expectClose(got.scores, ref.scores, { rtol: 1e-4, atol: scoresAtol }, 'hook_attn_scores');
  // Pattern: probabilities in [0, 1]; under 1e-7 they are held to 1e-7 (f32 keeps ~7 digits of a row summing to 1).
  expectClose(got.pattern, ref.pattern, { rtol: 1e-4, atol: 1e-7 }, 'hook_pattern');
  // z: a convex combination of values in [-1, 1]; where it nearly cancels, its error is a few ulps of 1.
  expectClose(got.z, ref.z, { rtol: 1e-4, atol: 1e-6 }, 'hook_z');
  for (let h = 0; h < nHead; h++) {
    for (let t = 0; t < T; t++) {
      for (let s = pos0 + t + 1; s < S; s++) {
        const i = (h * T + t) * S + s;
        if (got.scores[i] !== -Infinity) throw new Error(`scores[${h}, ${t}, ${s}] is ${got.scores[i]}, not -Infinity`);
        if (got.pattern[i] !== 0) throw new Error(`pattern[${h}, ${t}, ${s}] is ${got.pattern[i]}, not 0`);
      }
    }
  }
}

export interface RopeCase {
  name: string;
  T: number;
  pos0: number;
  nHeads: number;
  headDim: number;
  rotaryDim: number;
  theta: number;
}

export const ROPE_CASES: RopeCase[] = [
  { name: 'prefill, 3 heads of 20', T: 9, pos0: 0, nHeads: 3, headDim: 20, rotaryDim: 20, theta: 10_000 },
  { name: 'partial rotary 12 of 20, after a prefix', T: 4, pos0: 5, nHeads: 5, headDim: 20, rotaryDim: 12, theta: 10_000 },
  { name: 'decode at position 13', T: 1, pos0: 13, nHeads: 2, headDim: 12, rotaryDim: 12, theta: 500_000 },
  { name: 'decode at position 5000 (angles of ~800 turns)', T: 1, pos0: 5000, nHeads: 3, headDim: 12, rotaryDim: 12, theta: 10_000 },
  { name: 'decode at position 5000, heads of 14 (an odd number of pairs)', T: 1, pos0: 5000, nHeads: 3, headDim: 14, rotaryDim: 14, theta: 10_000 },
];

/** The heads sit at an odd offset inside rows with an odd stride, as keys do in a fused qkv buffer. */
export function ropeInputs(c: RopeCase): { o: RopeOptions; x: Float32Array; invFreq: Float32Array } {
  const { T, pos0, nHeads, headDim, rotaryDim, theta } = c;
  const rng = new Rng(T * 100 + pos0 + headDim);
  const offset = 7;
  const stride = offset + nHeads * headDim + 3;
  return { o: { T, pos0, nHeads, headDim, rotaryDim, stride, offset }, x: randomArray(rng, T * stride), invFreq: ropeInvFreq(rotaryDim, theta) };
}

/**
 * The rotated rows against the reference (outputs are x1 cos - x2 sin with |x| <= 1: where the two terms cancel,
 * what is left is the rounding of O(1) terms and of the reduced angle, a few f32 ulps of 1, about 1e-7 measured, so
 * atol is 1e-6), and everything outside the rotated dims (padding, dims rotaryDim.. of each head) bit for bit.
 */
export function expectRope(inputs: ReturnType<typeof ropeInputs>, out: Float32Array): void {
  const { o, x, invFreq } = inputs;
  const ref = Float64Array.from(x);
  ropeReference(ref, invFreq, o);
  expectClose(out, ref, { rtol: 1e-4, atol: 1e-6 }, 'rotated rows');
  for (let t = 0; t < o.T; t++) {
    for (let c = 0; c < o.stride; c++) {
      const inHead = c >= o.offset && c < o.offset + o.nHeads * o.headDim;
      const rotated = inHead && (c - o.offset) % o.headDim < o.rotaryDim;
      const i = t * o.stride + c;
      if (!rotated && out[i] !== x[i]) throw new Error(`x[${t}, ${c}] changed from ${x[i]} to ${out[i]}`);
    }
  }
}
