// The fused tail of a decode step: the final norm and the LM head in one dispatch, for one row.
//   LAYERNORM  h = layernorm(a) * gamma + beta        else (RMSNorm)  h = rmsnorm(a) * gamma
//   logits[n] = sum_k h[k] * w[n, k] + bias[n]
// a [1, K] f32 (the residual stream's last row), w [N, K] f32, packed f16, q8 or q4 (lib/weights.wgsl), gamma and
// beta [K] f32, bias [N] f32 or none, out [1, N] f32 (N = the vocabulary).
//
// The shape of matmul.matvec, the LM head's default on a GPU: a workgroup of WG invocations owns 8 consecutive rows
// of w, invocation t reads chunks t, t + WG, ... of every row, and a tree reduction adds the 8 rows' partial sums.
// The norm rides on the same stripes: each invocation sums its chunks of a, and two reductions (the mean, then
// the squares about it, as layerNorm.v1 computes them; RMSNorm needs only the second) give every invocation the
// row's statistics, so it normalises its chunks of a as it loads them. Every workgroup recomputes them: K values
// read twice more, against the 8K weights it reads anyway.
//
// Not the default on software adapters: there the reductions' barriers and the norm redone per workgroup cost more
// than the dispatch of layerNorm they save (see src/kernels/fused.ts).
// Bindings: 1 out, 2 a, 3 w, 4 gamma, then beta (LayerNorm) and bias, numbered by the caller (BETA_AT, BIAS_AT).

struct LmHeadParams {
  N: u32,
  K: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: LmHeadParams;
#include "lib/fused_linear.wgsl"

const WG = ${WG}u;

// Invocation t's share of the 8 dot products (column 0 rows n0..n0+3, column 1 rows n0+4..n0+7), or of a statistic.
alias Partial = mat2x4<f32>;

#include "lib/workgroup_sum.wgsl"
#include "lib/rows8.wgsl"

fn firstValue() -> f32 {
#if ${VEC4}
  return a[0][0];
#else
  return a[0];
#endif
}

// The sum of `v` over the workgroup, returned to every invocation.
fn total(v: f32, t: u32) -> f32 {
  return workgroupSum(Partial(vec4<f32>(v, 0.0, 0.0, 0.0), vec4<f32>()), t)[0][0];
}

@compute @workgroup_size(${WG})
fn main(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  // A folded grid counts workgroups row by row; the last ones may lie past N and only compute clamped rows.
  let n0 = (wid.x + wid.y * groups.x) * 8u;
  let chunks = params.K / CHUNK;
  let K = f32(params.K);

  // The row's statistics, from this invocation's stripe and two reductions. LayerNorm sums a - a[0] (the shift
  // keeps a large common offset, as a residual stream has, from cancelling), then the squares about the mean.
#if ${LAYERNORM}
  let shift = firstValue();
  var sum = Chunk();
  for (var c = t; c < chunks; c += WG) {
    sum += a[c] - shift;
  }
  let mean = total(sumChunk(sum), t) / K; // the mean of a - shift
#else
  let shift = 0.0;
  let mean = 0.0;
#endif
  var squares = Chunk();
  for (var c = t; c < chunks; c += WG) {
    let d = a[c] - shift - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(total(sumChunk(squares), t) / K + params.eps);

  let rw = rows8(n0, params.N); // the 8 rows of w, clamped at the edge

  // Named variables, not an array indexed in a loop: see matmul.v2 for why.
  var lo = vec4<f32>();
  var hi = vec4<f32>();
  for (var c = t; c < chunks; c += WG) {
#if ${LAYERNORM}
    let x = (a[c] - shift - mean) * rstd * gamma[c] + beta[c];
#else
    let x = a[c] * rstd * gamma[c];
#endif
    lo += x * blockW(rw.lo, 0u, c);
    hi += x * blockW(rw.hi, 0u, c);
  }
  let dots = workgroupSum(Partial(lo, hi), t);

  if (t == 0u) {
    for (var r = 0u; r < 4u; r++) {
      if (n0 + r < params.N) {
        out[n0 + r] = dots[0][r] + fusedBiasAt(n0 + r);
      }
      if (n0 + 4u + r < params.N) {
        out[n0 + 4u + r] = dots[1][r] + fusedBiasAt(n0 + 4u + r);
      }
    }
  }
}
