// Layer normalisation over the channels of each row (GPT-2's ln_1, ln_2 and ln_f):
//   out[r, c] = (x[r, c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c]
// with the biased variance (divide by C), as torch.nn.LayerNorm computes it.
//
// x, out: [rows, C]; gamma, beta: [C]. One workgroup per row: each thread strides over the row, then the
// workgroup adds up the threads' partial sums in shared memory (lib/workgroup_sum.wgsl). This is version 1, for
// hardware adapters; layerNorm.v2.wgsl runs one invocation per row, for software ones.
//
// Numerics. The variance is computed in a second pass as the mean of squared deviations; the one-pass formula
// E[x^2] - E[x]^2 subtracts two nearly equal numbers when |mean| is much larger than the spread, and loses every
// digit. Both passes also work on x - shift, where shift is the row's first value (the "shifted data" algorithm):
// for a row such as 1000 + small noise, x - shift is exact in f32 and its mean is small, so the mean is held
// to the precision of the noise rather than to that of 1000.

struct LayerNormParams {
  rows: u32,
  C: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: LayerNormParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;

const WG = ${WG}u;
alias Partial = f32;
#include "lib/workgroup_sum.wgsl"

@compute @workgroup_size(WG)
fn main(
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
  @builtin(local_invocation_index) lid: u32,
) {
  // More than 65535 rows fold into y. The row is the same for the whole workgroup, so this return is uniform.
  let row = wid.x + wid.y * groups.x;
  if (row >= params.rows) {
    return;
  }
  let C = params.C;
  let base = row * C;
  let shift = x[base];

  var sum = 0.0;
  for (var c = lid; c < C; c += WG) {
    sum += x[base + c] - shift;
  }
  let mean = workgroupSum(sum, lid) / f32(C); // the mean of x - shift

  var squares = 0.0;
  for (var c = lid; c < C; c += WG) {
    let d = x[base + c] - shift - mean;
    squares += d * d;
  }
  let variance = workgroupSum(squares, lid) / f32(C);
  let rstd = inverseSqrt(variance + params.eps);

  for (var c = lid; c < C; c += WG) {
    out[base + c] = (x[base + c] - shift - mean) * rstd * gamma[c] + beta[c];
  }
}
