// A decode step's linear layer with its neighbours fused in: one row (M = 1), one dispatch for what the unfused
// path runs as two or three.
//
//   LAYERNORM  h = layernorm(a) * gamma + beta    NORM alone  h = rmsnorm(a) * gamma      neither  h = a
//   y[n] = sum_k h[k] * w[n, k] + bias[n]
//   GELU      out[n] = gelu(y[n])                 (GPT-2's c_fc + GELU)
//   SWIGLU    out[n] = silu(y[n]) * y[N + n]      (gate | up + SiLU . mul: w holds 2N rows, gate then up)
//   RESIDUAL  out[n] += y[n]                      (c_proj + the residual add: out is the residual stream x)
//
// a [1, K] f32, w [N, K] (or [2N, K] for SWIGLU) f32 or packed f16, bias f32, gamma and beta [K] f32, out [1, N].
// Each invocation owns 8 outputs and walks the whole of K, as matmul.matvec.v2 does (no workgroup memory, no
// barriers). With a norm, every invocation first computes the row's mean and rstd itself, in the two passes of
// layerNorm.v2: K floats read twice more per invocation, against 8K weights, in exchange for one dispatch less.
// Bindings: 1 out, 2 a, 3 w, then gamma and beta (as the norm has them) and bias, numbered by the caller (GAMMA_AT, ...).

struct MatvecFusedParams {
  N: u32,
  K: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: MatvecFusedParams;
#include "lib/fused_linear.wgsl"
#include "lib/rows8.wgsl"

// The row's statistics: shift (its first value), mean of a - shift, and rstd; for RMSNorm shift = mean = 0.
struct Stats {
  shift: f32,
  mean: f32,
  rstd: f32,
}

fn scalarAt(k: u32) -> f32 {
#if ${VEC4}
  return a[k / 4u][k % 4u];
#else
  return a[k];
#endif
}

fn rowStats() -> Stats {
  let K = params.K;
  let chunks = K / CHUNK;
#if ${LAYERNORM}
  let shift = scalarAt(0u);
  var sum = Chunk();
  for (var c = 0u; c < chunks; c++) {
    sum += a[c] - shift;
  }
  let mean = sumChunk(sum) / f32(K);
  var squares = Chunk();
  for (var c = 0u; c < chunks; c++) {
    let d = a[c] - shift - mean;
    squares += d * d;
  }
  return Stats(shift, mean, inverseSqrt(sumChunk(squares) / f32(K) + params.eps));
#else
  var squares = Chunk();
  for (var c = 0u; c < chunks; c++) {
    squares += a[c] * a[c];
  }
  return Stats(0.0, 0.0, inverseSqrt(sumChunk(squares) / f32(K) + params.eps));
#endif
}

// Chunk c of h, the (normalised) input row.
fn input(c: u32, s: Stats) -> Chunk {
#if ${LAYERNORM}
  return (a[c] - s.shift - s.mean) * s.rstd * gamma[c] + beta[c];
#elif ${NORM}
  return a[c] * s.rstd * gamma[c];
#else
  return a[c];
#endif
}

// What becomes of output n, its dot product y and (SWIGLU) the dot product of its up row.
fn store(n: u32, y: f32, up: f32) {
  let v = y + fusedBiasAt(n);
#if ${GELU}
  out[n] = gelu(v);
#elif ${SWIGLU}
  out[n] = swiglu(v, up + fusedBiasAt(params.N + n));
#elif ${RESIDUAL}
  out[n] += v;
#else
  out[n] = v;
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n0 = (gid.x + gid.y * groups.x * ${WG}u) * 8u;
  if (n0 >= params.N) {
    return;
  }
#if ${NORM}
  let s = rowStats();
#else
  let s = Stats(0.0, 0.0, 1.0);
#endif

  let rw = rows8(n0, params.N); // the 8 rows of w, clamped at the edge

  var lo = vec4<f32>();
  var hi = vec4<f32>();
  var upLo = vec4<f32>();
  var upHi = vec4<f32>();
  for (var c = 0u; c < params.K / CHUNK; c++) {
    let x = input(c, s);
    lo += x * blockW(rw.lo, 0u, c);
    hi += x * blockW(rw.hi, 0u, c);
#if ${SWIGLU}
    // the up rows, N rows further down
    let N = params.N;
    upLo += x * blockW(rw.lo, N, c);
    upHi += x * blockW(rw.hi, N, c);
#endif
  }

  for (var r = 0u; r < 4u; r++) {
    if (n0 + r < params.N) {
      store(n0 + r, lo[r], upLo[r]);
    }
    if (n0 + 4u + r < params.N) {
      store(n0 + 4u + r, hi[r], upHi[r]);
    }
  }
}
