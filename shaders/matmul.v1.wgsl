// Matrix multiply, version 1: naive, one output element per invocation.
//   out[m, n] = sum_k a[m, k] * w[n, k] + bias[n]
// a is [M, K] f32 (activations), w is [N, K] (a weight in nn.Linear layout: one row per output feature),
// bias is [N] f32, out is [M, N] f32. Each invocation walks one row of a and one row of w, one k at a time.
// Every value it reads is used for a single multiply-add, so the kernel is limited by loads; later versions
// reuse what they load.
//
// Weights are f32, or (WEIGHT_F16) f16 packed two to a u32, low half first, each row padded to whole words
// (row stride ceil(K / 2) words).

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> a: array<f32>;

// w and bias through the library's loadW and biasAt; the kernel's TypeScript compiles it with VEC4 false, so a
// chunk of w is a single value and loadW(n, k) is w[n, k].
#include "lib/weights.wgsl"

// x runs along N, y along M: the grid is ceil(N / WG_N) x ceil(M / WG_M) workgroups.
@compute @workgroup_size(${WG_N}, ${WG_M})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let n = gid.x;
  let m = gid.y;
  if (m >= params.M || n >= params.N) {
    return;
  }
  var sum = 0.0;
  for (var k = 0u; k < params.K; k++) {
    sum += a[m * params.K + k] * loadW(n, k);
  }
  out[m * params.N + n] = sum + biasAt(n);
}
