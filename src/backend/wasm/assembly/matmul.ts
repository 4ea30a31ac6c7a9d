// Matrix multiply and matrix-vector multiply, the linear layers:
//
//   out[m, n] = sum_k a[m, k] * w[n, k] + bias[n]
//
//   out [M, N] f32, a [M, K] f32, w [N, K] f32 or f16 packed two to a u32 (rows padded to whole words, as
//   src/half.ts packs them), bias [N] f32 or 0 for none. Pointers are byte addresses in the module's memory.
//
// Every kernel computes the rows n0 <= n < n1 of w only: one thread's share (src/backend/wasm/pool.ts splits N).
//
// f32 weights are read 4 to a v128. f16 weights are read 8 to a v128 and unpacked as the even and the odd ones
// (simd.ts), so a is split the same way, [a0 a2 a4 a6] and [a1 a3 a5 a7]. The K % 16 (matmul: K % 4 or 8) tail
// of each dot product is scalar.
import { evenHalves, load1, oddHalves, rowBytes, sum4 } from './simd';

@inline function storeOut(row: usize, bias: usize, n: i32, value: f32, n1: i32): void {
  if (n < n1) store<f32>(row + (<usize>n << 2), bias ? value + load<f32>(bias + (<usize>n << 2)) : value);
}

/** The scalar tail of a dot product: weights k .. K - 1 of a row against a. */
@inline function tail<W>(sum: f32, a: usize, row: usize, k: i32, K: i32): f32 {
  for (; k < K; k++) sum += load<f32>(a + (<usize>k << 2)) * load1<W>(row, k);
  return sum;
}

// matvec (M = 1): one row of w at a time, streamed once from memory, which bounds the speed: the work per weight
// is one load (and, for f16, a conversion), a multiply and an add. Four accumulators, 16 weights per step, keep
// the adds off one dependency chain. Streaming one row at a time ran the 768 x 50257 LM head about twice as fast
// as interleaving four or eight rows (which shares the loads of a, but a stays in L1 anyway) on this project's
// 2-core test machine; on shapes that fit the cache the two are even.
export function matvecF32(out: usize, a: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  const stride = rowBytes<f32>(K);
  const K16 = K & ~15;
  for (let n = n0; n < n1; n++) {
    const row = w + <usize>n * stride;
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    for (let k = 0; k < K16; k += 16) {
      const x = a + (<usize>k << 2);
      const r = row + (<usize>k << 2);
      s0 = f32x4.add(s0, f32x4.mul(v128.load(x), v128.load(r)));
      s1 = f32x4.add(s1, f32x4.mul(v128.load(x, 16), v128.load(r, 16)));
      s2 = f32x4.add(s2, f32x4.mul(v128.load(x, 32), v128.load(r, 32)));
      s3 = f32x4.add(s3, f32x4.mul(v128.load(x, 48), v128.load(r, 48)));
    }
    const sum = f32x4.add(f32x4.add(s0, s1), f32x4.add(s2, s3));
    storeOut(out, bias, n, tail<f32>(sum4(sum), a, row, K16, K), n1);
  }
}

/** Weights k .. k+7 of a row (8 halves at row + 2k) times a[k .. k+7]: four lanes of partial sums. */
@inline function dot8(row: usize, k: i32, a: usize): v128 {
  const h = v128.load(row + (<usize>k << 1));
  const lo = v128.load(a + (<usize>k << 2));
  const hi = v128.load(a + (<usize>k << 2), 16);
  const even = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6); // a[k], a[k+2], a[k+4], a[k+6], against the low halves
  const odd = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
  return f32x4.add(f32x4.mul(even, evenHalves(h)), f32x4.mul(odd, oddHalves(h)));
}

export function matvecF16(out: usize, a: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  const stride = rowBytes<u16>(K);
  const K16 = K & ~15;
  for (let n = n0; n < n1; n++) {
    const row = w + <usize>n * stride;
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    for (let k = 0; k < K16; k += 16) {
      s0 = f32x4.add(s0, dot8(row, k, a));
      s1 = f32x4.add(s1, dot8(row, k + 8, a));
    }
    storeOut(out, bias, n, tail<u16>(sum4(f32x4.add(s0, s1)), a, row, K16, K), n1);
  }
}

// matmul (M > 1): blocks of 4 rows of a by 2 rows of w, eight dot products sharing their loads (each chunk of w
// is loaded, and converted from f16, once for four rows of a). The two rows of w stay in L1 while every block of
// a passes them; a is re-read from L2. Blocks at the end are clamped to the last row of a and of the share, as
// matvec.v2.wgsl does: the loads stay in bounds and the sums of repeated rows are not stored, so one loop body
// serves every shape.
export function matmulF32(out: usize, a: usize, w: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const stride = rowBytes<f32>(K);
  const aStride = <usize>K << 2;
  const outStride = <usize>N << 2;
  const K4 = K & ~3;
  for (let n = n0; n < n1; n += 2) {
    const wA = w + <usize>n * stride;
    const wB = w + <usize>min(n + 1, n1 - 1) * stride;
    for (let m = 0; m < M; m += 4) {
      const a0 = a + <usize>m * aStride;
      const a1 = a + <usize>min(m + 1, M - 1) * aStride;
      const a2 = a + <usize>min(m + 2, M - 1) * aStride;
      const a3 = a + <usize>min(m + 3, M - 1) * aStride;
      let s0A = f32x4.splat(0);
      let s1A = f32x4.splat(0);
      let s2A = f32x4.splat(0);
      let s3A = f32x4.splat(0);
      let s0B = f32x4.splat(0);
      let s1B = f32x4.splat(0);
      let s2B = f32x4.splat(0);
      let s3B = f32x4.splat(0);
      for (let k = 0; k < K4; k += 4) {
        const at = <usize>k << 2;
        const xA = v128.load(wA + at);
        const xB = v128.load(wB + at);
        const x0 = v128.load(a0 + at);
        const x1 = v128.load(a1 + at);
        const x2 = v128.load(a2 + at);
        const x3 = v128.load(a3 + at);
        s0A = f32x4.add(s0A, f32x4.mul(x0, xA));
        s1A = f32x4.add(s1A, f32x4.mul(x1, xA));
        s2A = f32x4.add(s2A, f32x4.mul(x2, xA));
        s3A = f32x4.add(s3A, f32x4.mul(x3, xA));
        s0B = f32x4.add(s0B, f32x4.mul(x0, xB));
        s1B = f32x4.add(s1B, f32x4.mul(x1, xB));
        s2B = f32x4.add(s2B, f32x4.mul(x2, xB));
        s3B = f32x4.add(s3B, f32x4.mul(x3, xB));
      }
      storeBlock<f32>(out + <usize>m * outStride, outStride, bias, m, M, n, n1, a0, a1, a2, a3, wA, wB, K4, K,
        s0A, s1A, s2A, s3A, s0B, s1B, s2B, s3B);
    }
  }
}

export function matmulF16(out: usize, a: usize, w: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const stride = rowBytes<u16>(K);
  const aStride = <usize>K << 2;
  const outStride = <usize>N << 2;
  const K8 = K & ~7;
  for (let n = n0; n < n1; n += 2) {
    const wA = w + <usize>n * stride;
    const wB = w + <usize>min(n + 1, n1 - 1) * stride;
    for (let m = 0; m < M; m += 4) {
      const a0 = a + <usize>m * aStride;
      const a1 = a + <usize>min(m + 1, M - 1) * aStride;
      const a2 = a + <usize>min(m + 2, M - 1) * aStride;
      const a3 = a + <usize>min(m + 3, M - 1) * aStride;
      let s0A = f32x4.splat(0);
      let s1A = f32x4.splat(0);
      let s2A = f32x4.splat(0);
      let s3A = f32x4.splat(0);
      let s0B = f32x4.splat(0);
      let s1B = f32x4.splat(0);
      let s2B = f32x4.splat(0);
      let s3B = f32x4.splat(0);
      for (let k = 0; k < K8; k += 8) {
        const hA = v128.load(wA + (<usize>k << 1));
        const hB = v128.load(wB + (<usize>k << 1));
        const evenA = evenHalves(hA);
        const oddA = oddHalves(hA);
        const evenB = evenHalves(hB);
        const oddB = oddHalves(hB);
        const at = <usize>k << 2;
        let lo = v128.load(a0 + at);
        let hi = v128.load(a0 + at + 16);
        let even = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6);
        let odd = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
        s0A = f32x4.add(s0A, f32x4.add(f32x4.mul(even, evenA), f32x4.mul(odd, oddA)));
        s0B = f32x4.add(s0B, f32x4.add(f32x4.mul(even, evenB), f32x4.mul(odd, oddB)));
        lo = v128.load(a1 + at);
        hi = v128.load(a1 + at + 16);
        even = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6);
        odd = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
        s1A = f32x4.add(s1A, f32x4.add(f32x4.mul(even, evenA), f32x4.mul(odd, oddA)));
        s1B = f32x4.add(s1B, f32x4.add(f32x4.mul(even, evenB), f32x4.mul(odd, oddB)));
        lo = v128.load(a2 + at);
        hi = v128.load(a2 + at + 16);
        even = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6);
        odd = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
        s2A = f32x4.add(s2A, f32x4.add(f32x4.mul(even, evenA), f32x4.mul(odd, oddA)));
        s2B = f32x4.add(s2B, f32x4.add(f32x4.mul(even, evenB), f32x4.mul(odd, oddB)));
        lo = v128.load(a3 + at);
        hi = v128.load(a3 + at + 16);
        even = v128.shuffle<f32>(lo, hi, 0, 2, 4, 6);
        odd = v128.shuffle<f32>(lo, hi, 1, 3, 5, 7);
        s3A = f32x4.add(s3A, f32x4.add(f32x4.mul(even, evenA), f32x4.mul(odd, oddA)));
        s3B = f32x4.add(s3B, f32x4.add(f32x4.mul(even, evenB), f32x4.mul(odd, oddB)));
      }
      storeBlock<u16>(out + <usize>m * outStride, outStride, bias, m, M, n, n1, a0, a1, a2, a3, wA, wB, K8, K,
        s0A, s1A, s2A, s3A, s0B, s1B, s2B, s3B);
    }
  }
}

/** Finish a 4 x 2 block of matmul (lane sums, scalar tails from k0, bias) and store the rows and columns inside M and n1. */
@inline function storeBlock<W>(
  row0: usize, outStride: usize, bias: usize, m: i32, M: i32, n: i32, n1: i32,
  a0: usize, a1: usize, a2: usize, a3: usize, wA: usize, wB: usize, k0: i32, K: i32,
  s0A: v128, s1A: v128, s2A: v128, s3A: v128, s0B: v128, s1B: v128, s2B: v128, s3B: v128,
): void {
  storeOut(row0, bias, n, tail<W>(sum4(s0A), a0, wA, k0, K), n1);
  storeOut(row0, bias, n + 1, tail<W>(sum4(s0B), a0, wB, k0, K), n1);
  if (m + 1 < M) {
    storeOut(row0 + outStride, bias, n, tail<W>(sum4(s1A), a1, wA, k0, K), n1);
    storeOut(row0 + outStride, bias, n + 1, tail<W>(sum4(s1B), a1, wB, k0, K), n1);
  }
  if (m + 2 < M) {
    storeOut(row0 + 2 * outStride, bias, n, tail<W>(sum4(s2A), a2, wA, k0, K), n1);
    storeOut(row0 + 2 * outStride, bias, n + 1, tail<W>(sum4(s2B), a2, wB, k0, K), n1);
  }
  if (m + 3 < M) {
    storeOut(row0 + 3 * outStride, bias, n, tail<W>(sum4(s3A), a3, wA, k0, K), n1);
    storeOut(row0 + 3 * outStride, bias, n + 1, tail<W>(sum4(s3B), a3, wB, k0, K), n1);
  }
}
