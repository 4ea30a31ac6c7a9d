// Matrix multiply and matrix-vector multiply, the linear layers:
//
//   out[m, n] = sum_k a[m, k] * w[n, k] + bias[n]
//
//   out [M, N] f32, a [M, K] f32, w [N, K] f32 or f16 packed two to a u32 (rows padded to whole words, as
//   src/half.ts packs them), bias [N] f32 or 0 for none. Pointers are byte addresses in the module's memory.
//
// Every kernel computes the rows n0 <= n < n1 of w only: one thread's share (src/backend/wasm/pool.ts splits N).
// Row blocks at the end of a share are clamped to its last row, as matvec.v2.wgsl does: the loads stay inside
// the share and the sums of the repeated rows are not stored. So one loop body serves every shape.
import { load1, load4, rowBytes, sum4 } from './simd';

// matvec (M = 1): four rows of w at a time, each streamed once. a (K floats) stays in L1; w is read from memory,
// which bounds the speed, so the work per weight is one load (and, for f16, a conversion), a multiply and an add.
function matvec<W>(out: usize, a: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  const stride = rowBytes<W>(K);
  const K4 = K & ~3;
  const last = n1 - 1;
  for (let n = n0; n < n1; n += 4) {
    const w0 = w + <usize>n * stride;
    const w1 = w + <usize>min(n + 1, last) * stride;
    const w2 = w + <usize>min(n + 2, last) * stride;
    const w3 = w + <usize>min(n + 3, last) * stride;
    let s0 = f32x4.splat(0);
    let s1 = f32x4.splat(0);
    let s2 = f32x4.splat(0);
    let s3 = f32x4.splat(0);
    let k = 0;
    for (; k < K4; k += 4) {
      const x = v128.load(a + (<usize>k << 2));
      s0 = f32x4.add(s0, f32x4.mul(x, load4<W>(w0, k)));
      s1 = f32x4.add(s1, f32x4.mul(x, load4<W>(w1, k)));
      s2 = f32x4.add(s2, f32x4.mul(x, load4<W>(w2, k)));
      s3 = f32x4.add(s3, f32x4.mul(x, load4<W>(w3, k)));
    }
    let t0 = sum4(s0);
    let t1 = sum4(s1);
    let t2 = sum4(s2);
    let t3 = sum4(s3);
    for (; k < K; k++) {
      const x = load<f32>(a + (<usize>k << 2));
      t0 += x * load1<W>(w0, k);
      t1 += x * load1<W>(w1, k);
      t2 += x * load1<W>(w2, k);
      t3 += x * load1<W>(w3, k);
    }
    storeOut(out, bias, n, t0, n1);
    storeOut(out, bias, n + 1, t1, n1);
    storeOut(out, bias, n + 2, t2, n1);
    storeOut(out, bias, n + 3, t3, n1);
  }
}

@inline function storeOut(row: usize, bias: usize, n: i32, value: f32, n1: i32): void {
  if (n < n1) store<f32>(row + (<usize>n << 2), bias ? value + load<f32>(bias + (<usize>n << 2)) : value);
}

// matmul (M > 1): blocks of 4 rows of a by 2 rows of w, eight dot products sharing their loads (each weight chunk
// is loaded, and converted from f16, once for four rows of a). The two rows of w stay in L1 while every block of
// a passes them; a is re-read from L2. Edge blocks are clamped in m as in n.
function matmul<W>(out: usize, a: usize, w: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  const stride = rowBytes<W>(K);
  const aStride = <usize>K << 2;
  const K4 = K & ~3;
  const lastN = n1 - 1;
  const lastM = M - 1;
  for (let n = n0; n < n1; n += 2) {
    const wA = w + <usize>n * stride;
    const wB = w + <usize>min(n + 1, lastN) * stride;
    for (let m = 0; m < M; m += 4) {
      const a0 = a + <usize>m * aStride;
      const a1 = a + <usize>min(m + 1, lastM) * aStride;
      const a2 = a + <usize>min(m + 2, lastM) * aStride;
      const a3 = a + <usize>min(m + 3, lastM) * aStride;
      let s0A = f32x4.splat(0);
      let s1A = f32x4.splat(0);
      let s2A = f32x4.splat(0);
      let s3A = f32x4.splat(0);
      let s0B = f32x4.splat(0);
      let s1B = f32x4.splat(0);
      let s2B = f32x4.splat(0);
      let s3B = f32x4.splat(0);
      let k = 0;
      for (; k < K4; k += 4) {
        const off = <usize>k << 2;
        const xA = load4<W>(wA, k);
        const xB = load4<W>(wB, k);
        const x0 = v128.load(a0 + off);
        const x1 = v128.load(a1 + off);
        const x2 = v128.load(a2 + off);
        const x3 = v128.load(a3 + off);
        s0A = f32x4.add(s0A, f32x4.mul(x0, xA));
        s1A = f32x4.add(s1A, f32x4.mul(x1, xA));
        s2A = f32x4.add(s2A, f32x4.mul(x2, xA));
        s3A = f32x4.add(s3A, f32x4.mul(x3, xA));
        s0B = f32x4.add(s0B, f32x4.mul(x0, xB));
        s1B = f32x4.add(s1B, f32x4.mul(x1, xB));
        s2B = f32x4.add(s2B, f32x4.mul(x2, xB));
        s3B = f32x4.add(s3B, f32x4.mul(x3, xB));
      }
      let t0A = sum4(s0A);
      let t1A = sum4(s1A);
      let t2A = sum4(s2A);
      let t3A = sum4(s3A);
      let t0B = sum4(s0B);
      let t1B = sum4(s1B);
      let t2B = sum4(s2B);
      let t3B = sum4(s3B);
      for (; k < K; k++) {
        const off = <usize>k << 2;
        const xA = load1<W>(wA, k);
        const xB = load1<W>(wB, k);
        const x0 = load<f32>(a0 + off);
        const x1 = load<f32>(a1 + off);
        const x2 = load<f32>(a2 + off);
        const x3 = load<f32>(a3 + off);
        t0A += x0 * xA;
        t1A += x1 * xA;
        t2A += x2 * xA;
        t3A += x3 * xA;
        t0B += x0 * xB;
        t1B += x1 * xB;
        t2B += x2 * xB;
        t3B += x3 * xB;
      }
      const rowBytesOut = <usize>N << 2;
      if (m < M) storePair(out + <usize>m * rowBytesOut, bias, n, t0A, t0B, n1);
      if (m + 1 < M) storePair(out + <usize>(m + 1) * rowBytesOut, bias, n, t1A, t1B, n1);
      if (m + 2 < M) storePair(out + <usize>(m + 2) * rowBytesOut, bias, n, t2A, t2B, n1);
      if (m + 3 < M) storePair(out + <usize>(m + 3) * rowBytesOut, bias, n, t3A, t3B, n1);
    }
  }
}

@inline function storePair(row: usize, bias: usize, n: i32, valueA: f32, valueB: f32, n1: i32): void {
  storeOut(row, bias, n, valueA, n1);
  storeOut(row, bias, n + 1, valueB, n1);
}

export function matvecF32(out: usize, a: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  matvec<f32>(out, a, w, bias, K, n0, n1);
}

export function matvecF16(out: usize, a: usize, w: usize, bias: usize, K: i32, n0: i32, n1: i32): void {
  matvec<u16>(out, a, w, bias, K, n0, n1);
}

export function matmulF32(out: usize, a: usize, w: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<f32>(out, a, w, bias, M, N, K, n0, n1);
}

export function matmulF16(out: usize, a: usize, w: usize, bias: usize, M: i32, N: i32, K: i32, n0: i32, n1: i32): void {
  matmul<u16>(out, a, w, bias, M, N, K, n0, n1);
}
