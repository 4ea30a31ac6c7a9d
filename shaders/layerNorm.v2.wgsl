// Layer normalisation, version 2: one invocation per row, with no workgroup memory and no barriers.
//   out[r, c] = (x[r, c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c]
// x, out: [rows, C]; gamma, beta: [C]. The arithmetic is that of layerNorm.v1.wgsl (version 1): the same two passes
// on x - shift (see there for why), run by one invocation walking the whole row instead of a workgroup striding
// over it and reducing in shared memory.
//
// What changes from v1, and why. v1 spends a workgroup of 256 threads on each row and adds their partial sums in
// a tree of 8 barriers, twice. That keeps a real GPU busy. On a CPU implementation of WebGPU (SwiftShader) every
// barrier stops and restarts the workgroup's threads, which costs far more than the few hundred additions of a
// row: there, one invocation per row running its loops alone is far faster (rows [224, 128], a GPT-2 prefill:
// under 1 ms against 120-320 ms for v1). The kernel's TypeScript picks v2 on software adapters, v1 on hardware ones.
//
// The grid may be folded into 2-D for many rows (see grid1d): the flat invocation index spans both dimensions.

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

// Four consecutive values of x (rows need not start on a multiple of 4, so no vec4 binding).
fn load4(i: u32) -> vec4<f32> {
  return vec4<f32>(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * ${WG}u;
  if (row >= params.rows) {
    return;
  }
  let C = params.C;
  let base = row * C;
  let shift = x[base];

  // Eight interleaved partial sums (two vec4) instead of one running sum: each adds C / 8 values, so rounding
  // error grows with sqrt(C / 8) rather than sqrt(C), close to v1's tree reduction (C = 768 needs it).
  let wide = C / 8u * 8u;
  var sumLo = vec4<f32>();
  var sumHi = vec4<f32>();
  for (var c = 0u; c < wide; c += 8u) {
    sumLo += load4(base + c) - shift;
    sumHi += load4(base + c + 4u) - shift;
  }
  var sum = dot(sumLo + sumHi, vec4<f32>(1.0));
  for (var c = wide; c < C; c++) {
    sum += x[base + c] - shift;
  }
  let mean = sum / f32(C); // the mean of x - shift

  var squaresLo = vec4<f32>();
  var squaresHi = vec4<f32>();
  for (var c = 0u; c < wide; c += 8u) {
    let lo = load4(base + c) - shift - mean;
    let hi = load4(base + c + 4u) - shift - mean;
    squaresLo += lo * lo;
    squaresHi += hi * hi;
  }
  var squares = dot(squaresLo + squaresHi, vec4<f32>(1.0));
  for (var c = wide; c < C; c++) {
    let d = x[base + c] - shift - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(squares / f32(C) + params.eps);

  for (var c = 0u; c < C; c++) {
    out[base + c] = (x[base + c] - shift - mean) * rstd * gamma[c] + beta[c];
  }
}
