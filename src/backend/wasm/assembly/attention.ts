// Causal self-attention over a KV cache, in the steps of src/kernels/attention.ts so that each intermediate can
// be a hook (hook_attn_scores, hook_pattern, hook_z); the softmax between them is softmax.ts. Prefill (T query
// rows from pos0 = 0), a chunk after a prefix, and a one-token decode step (T = 1) are the same kernels.
//
//   q:              T rows of qStride floats; head h of row t at q[t * qStride + qOffset + h * headDim + d]
//   kCache, vCache: [nKVHead, nCtx, headDim]; query head h reads KV head h / (nHead / nKVHead) (GQA, MQA)
//   scores:         [nHead, T, S], S = pos0 + T; -infinity where s > pos0 + t (the causal mask)
//   z:              [T, nHead * headDim]
//
// Both compute the heads h0 <= h < h1 only: one thread's share (src/backend/wasm/pool.ts splits the heads, as it
// splits a matvec's rows). The scale comes as the bits of an f32, since the threads' arguments are 32-bit integers.
import { softmax } from './softmax';
import { sum4 } from './simd';

/** Dot product of n floats at x and y. */
@inline function dot(x: usize, y: usize, n: i32): f32 {
  const n4 = n & ~3;
  let acc = f32x4.splat(0);
  let d = 0;
  for (; d < n4; d += 4) acc = f32x4.add(acc, f32x4.mul(v128.load(x + (<usize>d << 2)), v128.load(y + (<usize>d << 2))));
  let total = sum4(acc);
  for (; d < n; d++) total += load<f32>(x + (<usize>d << 2)) * load<f32>(y + (<usize>d << 2));
  return total;
}

/** scores[h, t, s] = scale * q[t, h, :] . k[h / group, s, :] for s <= pos0 + t, else -infinity. */
export function attentionScores(
  scores: usize, q: usize, kCache: usize,
  T: i32, pos0: i32, nHead: i32, nKVHead: i32, headDim: i32, nCtx: i32, qStride: i32, qOffset: i32, scaleBits: i32,
  h0: i32, h1: i32,
): void {
  const scale = reinterpret<f32>(scaleBits);
  const S = pos0 + T;
  const group = nHead / nKVHead;
  const headBytes = <usize>headDim << 2;
  for (let h = h0; h < h1; h++) {
    const kHead = kCache + <usize>(h / group) * <usize>nCtx * headBytes;
    for (let t = 0; t < T; t++) {
      const qh = q + ((<usize>t * <usize>qStride + <usize>qOffset + <usize>h * <usize>headDim) << 2);
      const row = scores + ((<usize>(h * T + t) * <usize>S) << 2);
      const visible = pos0 + t;
      // four positions at a time: four independent sums (one would wait on each add) sharing the loads of q
      let s = 0;
      if ((headDim & 3) == 0) {
        for (; s + 3 <= visible; s += 4) {
          const k0 = kHead + <usize>s * headBytes;
          let acc0 = f32x4.splat(0);
          let acc1 = f32x4.splat(0);
          let acc2 = f32x4.splat(0);
          let acc3 = f32x4.splat(0);
          for (let d: usize = 0; d < headBytes; d += 16) {
            const qv = v128.load(qh + d);
            acc0 = f32x4.add(acc0, f32x4.mul(qv, v128.load(k0 + d)));
            acc1 = f32x4.add(acc1, f32x4.mul(qv, v128.load(k0 + headBytes + d)));
            acc2 = f32x4.add(acc2, f32x4.mul(qv, v128.load(k0 + 2 * headBytes + d)));
            acc3 = f32x4.add(acc3, f32x4.mul(qv, v128.load(k0 + 3 * headBytes + d)));
          }
          const at = row + (<usize>s << 2);
          store<f32>(at, scale * sum4(acc0));
          store<f32>(at, scale * sum4(acc1), 4);
          store<f32>(at, scale * sum4(acc2), 8);
          store<f32>(at, scale * sum4(acc3), 12);
        }
      }
      for (; s <= visible; s++) store<f32>(row + (<usize>s << 2), scale * dot(qh, kHead + <usize>s * headBytes, headDim));
      for (let s = visible + 1; s < S; s++) store<f32>(row + (<usize>s << 2), -Infinity);
    }
  }
}

/** z[t, h * headDim + d] = sum over s <= pos0 + t of pattern[h, t, s] * v[h / group, s, d]. */
export function attentionValues(
  z: usize, pattern: usize, vCache: usize,
  T: i32, pos0: i32, nHead: i32, nKVHead: i32, headDim: i32, nCtx: i32,
  h0: i32, h1: i32,
): void {
  const S = pos0 + T;
  const group = nHead / nKVHead;
  const headBytes = <usize>headDim << 2;
  const hd4 = headDim & ~3;
  for (let t = 0; t < T; t++) {
    for (let h = h0; h < h1; h++) {
      const vHead = vCache + <usize>(h / group) * <usize>nCtx * headBytes;
      const p = pattern + ((<usize>(h * T + t) * <usize>S) << 2);
      const zh = z + ((<usize>t * <usize>nHead + <usize>h) * headBytes);
      memory.fill(zh, 0, headBytes);
      // z row += p[s] * v row, s by s: the head's z (a few hundred bytes) stays in L1 while v streams past. Four
      // positions at a time, z read and written once for the four (added in the same order as one by one)
      let s = 0;
      if ((headDim & 3) == 0) {
        for (; s + 3 <= pos0 + t; s += 4) {
          const ps = p + (<usize>s << 2);
          const p0 = f32x4.splat(load<f32>(ps));
          const p1 = f32x4.splat(load<f32>(ps, 4));
          const p2 = f32x4.splat(load<f32>(ps, 8));
          const p3 = f32x4.splat(load<f32>(ps, 12));
          const v0 = vHead + <usize>s * headBytes;
          for (let d: usize = 0; d < headBytes; d += 16) {
            let acc = f32x4.add(v128.load(zh + d), f32x4.mul(p0, v128.load(v0 + d)));
            acc = f32x4.add(acc, f32x4.mul(p1, v128.load(v0 + headBytes + d)));
            acc = f32x4.add(acc, f32x4.mul(p2, v128.load(v0 + 2 * headBytes + d)));
            v128.store(zh + d, f32x4.add(acc, f32x4.mul(p3, v128.load(v0 + 3 * headBytes + d))));
          }
        }
      }
      for (; s <= pos0 + t; s++) {
        const ps = load<f32>(p + (<usize>s << 2));
        const psV = f32x4.splat(ps);
        const vs = vHead + <usize>s * headBytes;
        let d = 0;
        for (; d < hd4; d += 4) {
          const at = <usize>d << 2;
          v128.store(zh + at, f32x4.add(v128.load(zh + at), f32x4.mul(psV, v128.load(vs + at))));
        }
        for (; d < headDim; d++) {
          const at = <usize>d << 2;
          store<f32>(zh + at, load<f32>(zh + at) + ps * load<f32>(vs + at));
        }
      }
    }
  }
}

/**
 * Attention of the heads h0 <= h < h1 in one call, for a step that hooks none of its parts (src/backend/wasm.ts's
 * fused step): their scores, the softmax of their rows in place, and their z, by the three kernels above, so the
 * same values come out. One thread then reads a head's keys and its values with nothing in between, and a
 * one-token step hands the heads to the threads once instead of twice.
 */
export function attentionHeads(
  z: usize, scores: usize, q: usize, kCache: usize, vCache: usize,
  T: i32, pos0: i32, nHead: i32, nKVHead: i32, headDim: i32, nCtx: i32, qStride: i32, qOffset: i32, scaleBits: i32,
  h0: i32, h1: i32,
): void {
  const S = pos0 + T;
  attentionScores(scores, q, kCache, T, pos0, nHead, nKVHead, headDim, nCtx, qStride, qOffset, scaleBits, h0, h1);
  softmax(scores + ((<usize>(h0 * T) * <usize>S) << 2), (h1 - h0) * T, S);
  attentionValues(z, scores, vCache, T, pos0, nHead, nKVHead, headDim, nCtx, h0, h1);
}
