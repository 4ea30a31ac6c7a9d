// RMS normalisation over the channels of each row (Llama's input_layernorm, post_attention_layernorm, norm):
//   out[r, c] = x[r, c] / sqrt(mean_c(x[r, c]^2) + eps) * gamma[c]
// as Hugging Face's LlamaRMSNorm computes it in f32: no mean is subtracted and there is no bias.
//
// x, out: [rows, C]; gamma: [C]. One workgroup per row: each thread strides over the row adding squares, then the
// workgroup adds up the threads' partial sums in shared memory (a tree reduction). A sum of squares has no
// cancellation, so one pass is accurate. This is version 1, for hardware adapters; rmsnorm.v2.wgsl runs one
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

var<workgroup> partial: array<f32, ${WORKGROUP}>;

// The sum of `value` over the workgroup's threads, returned to every thread.
fn workgroupSum(value: f32, lid: u32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = ${WORKGROUP}u / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      partial[lid] = partial[lid] + partial[lid + stride];
    }
    workgroupBarrier();
  }
  return partial[0];
}

@compute @workgroup_size(${WORKGROUP})
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
  for (var c = lid; c < C; c += ${WORKGROUP}u) {
    let v = x[base + c];
    squares += v * v;
  }
  let rstd = inverseSqrt(workgroupSum(squares, lid) / f32(C) + params.eps);

  for (var c = lid; c < C; c += ${WORKGROUP}u) {
    out[base + c] = x[base + c] * rstd * gamma[c];
  }
}
