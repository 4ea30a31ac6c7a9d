// RMS normalisation, version 2: one invocation per row, with no workgroup memory and no barriers.
//   out[r, c] = x[r, c] / sqrt(mean_c(x[r, c]^2) + eps) * gamma[c]
// x, out: [rows, C]; gamma: [C]. The arithmetic is that of rmsNorm.v1.wgsl (version 1): one pass adding squares,
// one writing, run by one invocation walking the whole row.
//
// What changes from v1, and why. v1 spends a workgroup of 256 threads on each row and adds their partial sums in
// a tree of 8 barriers. That keeps a real GPU busy. On a CPU implementation of WebGPU (SwiftShader) every barrier
// stops and restarts the workgroup's threads, which costs far more than the few hundred additions of a row:
// there, one invocation per row running its loops alone is far faster (rows [224, 128]: under 1 ms against
// 70-300 ms for v1). The kernel's TypeScript picks v2 on software adapters and v1 on hardware ones.
//
// The grid may be folded into 2-D for many rows (see grid1d): the flat invocation index spans both dimensions.

struct RmsNormParams {
  rows: u32,
  C: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: RmsNormParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> gamma: array<f32>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * ${WG}u;
  if (row >= params.rows) {
    return;
  }
  let C = params.C;
  let base = row * C;

  var squares = 0.0;
  for (var c = 0u; c < C; c++) {
    let v = x[base + c];
    squares += v * v;
  }
  let rstd = inverseSqrt(squares / f32(C) + params.eps);

  for (var c = 0u; c < C; c++) {
    out[base + c] = x[base + c] * rstd * gamma[c];
  }
}
