// Element-wise kernels: GELU (GPT-2's MLP), SwiGLU (Llama's MLP) and the residual add.
import { exp4 } from './simd';

// GELU in GPT-2's tanh approximation, in place over n floats, computed as gelu.wgsl does:
//   gelu(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)),   u = sqrt(2 / pi) (x + 0.044715 x^3)
// with x clamped to [-10, 10] inside u (past it the factor is 1, or below 2e-38), so exp never overflows.
const SQRT_2_OVER_PI: f32 = 0.7978845608028654;

@inline function gelu4(v: v128): v128 {
  const c = f32x4.min(f32x4.max(v, f32x4.splat(-10)), f32x4.splat(10));
  const u = f32x4.mul(f32x4.splat(SQRT_2_OVER_PI), f32x4.add(c, f32x4.mul(f32x4.splat(0.044715), f32x4.mul(c, f32x4.mul(c, c)))));
  return f32x4.div(v, f32x4.add(f32x4.splat(1), exp4(f32x4.mul(f32x4.splat(-2), u))));
}

export function gelu(x: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const at = x + (<usize>i << 2);
    v128.store(at, gelu4(v128.load(at)));
  }
  for (; i < n; i++) {
    const at = x + (<usize>i << 2);
    store<f32>(at, f32x4.extract_lane(gelu4(f32x4.splat(load<f32>(at))), 0));
  }
}

// SwiGLU: out[r, i] = silu(gate) * up, gate = gateUp[r, i], up = gateUp[r, I + i]; silu(g) = g / (1 + exp(-g)),
// with -g clamped at 80 as swiglu.wgsl does.   out [rows, I], gateUp [rows, 2I].
@inline function swiglu4(gate: v128, up: v128): v128 {
  const e = exp4(f32x4.min(f32x4.neg(gate), f32x4.splat(80)));
  return f32x4.mul(f32x4.div(gate, f32x4.add(f32x4.splat(1), e)), up);
}

export function swiglu(out: usize, gateUp: usize, rows: i32, I: i32): void {
  const I4 = I & ~3;
  for (let r = 0; r < rows; r++) {
    const gate = gateUp + ((<usize>r * <usize>I * 2) << 2);
    const up = gate + (<usize>I << 2);
    const outr = out + ((<usize>r * <usize>I) << 2);
    let i = 0;
    for (; i < I4; i += 4) {
      const at = <usize>i << 2;
      v128.store(outr + at, swiglu4(v128.load(gate + at), v128.load(up + at)));
    }
    for (; i < I; i++) {
      const at = <usize>i << 2;
      store<f32>(outr + at, f32x4.extract_lane(swiglu4(f32x4.splat(load<f32>(gate + at)), f32x4.splat(load<f32>(up + at))), 0));
    }
  }
}

// The same GELU on columns n0 <= n < n1 of every row of x [M, N]: the epilogue of a matmul's share of rows of w
// (src/backend/wasm/pool.ts runs it on the rows that share just wrote). Lane by lane the same values as gelu().
export function geluRows(x: usize, M: i32, N: i32, n0: i32, n1: i32): void {
  for (let m = 0; m < M; m++) gelu(x + ((<usize>m * <usize>N + <usize>n0) << 2), n1 - n0);
}

// The residual add on columns n0 <= n < n1 of every row: x[m, n] += y[m, n], x and y [M, N]. A matmul's epilogue
// (y its output), as geluRows; the same sums as residualAdd().
export function addRows(x: usize, y: usize, M: i32, N: i32, n0: i32, n1: i32): void {
  for (let m = 0; m < M; m++) {
    const at = (<usize>m * <usize>N + <usize>n0) << 2;
    residualAdd(x + at, y + at, n1 - n0);
  }
}

// Residual add: x[i] += y[i] for i < n.
export function residualAdd(x: usize, y: usize, n: i32): void {
  const n4 = n & ~3;
  let i = 0;
  for (; i < n4; i += 4) {
    const at = <usize>i << 2;
    v128.store(x + at, f32x4.add(v128.load(x + at), v128.load(y + at)));
  }
  for (; i < n; i++) {
    const at = <usize>i << 2;
    store<f32>(x + at, load<f32>(x + at) + load<f32>(y + at));
  }
}
