// RMS normalisation over the channels of each row (Llama's input_layernorm, post_attention_layernorm, norm):
//   out[r, c] = x[r, c] / sqrt(mean_c(x[r, c]^2) + eps) * gamma[c]
// as Hugging Face's LlamaRMSNorm computes it in f32: no mean is subtracted and there is no bias.
//
// x, out: [rows, C]; gamma: [C]. One workgroup per row: each thread strides over the row adding squares, then the
// workgroup adds up the threads' partial sums in shared memory (lib/workgroup_sum.wgsl). A sum of squares has no
// cancellation, so one pass is accurate. This is version 1, for hardware adapters; rmsNorm.v2.wgsl runs one
// invocation per row, for software ones.

struct RmsNormParams {
  rows: u32,
  C: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: RmsNormParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;

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

  var squares = 0.0;
  for (var c = lid; c < C; c += WG) {
    let v = x[base + c];
    squares += v * v;
  }
  let rstd = inverseSqrt(workgroupSum(squares, lid) / f32(C) + params.eps);

  for (var c = lid; c < C; c += WG) {
    out[base + c] = x[base + c] * rstd * gamma[c];
  }
}
