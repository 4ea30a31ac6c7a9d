// Softmax over each row, in place, version 2: one invocation per row, with no workgroup memory and no barriers.
//
//   x[r, c] = exp(x[r, c] - max_r) / sum_c' exp(x[r, c'] - max_r)      x: [rows, cols]
//
// The arithmetic and the handling of -infinity are those of softmax.v1.wgsl (version 1; see there for why): the
// row max over unmasked entries, the sum of exp(x - max), then the normalised values, with entries that are
// exactly -infinity (recognised by their bits) written as exactly 0 and a fully masked row written as zeros.
//
// What changes from v1, and why. v1 spends a workgroup of 128 threads on each row and combines their partial
// maxima and sums in trees of 7 barriers each. That keeps a real GPU busy. On a CPU implementation of WebGPU
// (SwiftShader) every barrier stops and restarts the workgroup's threads, which costs far more than an attention
// row's few hundred exponentials: there, one invocation per row running its three loops alone is far faster
// (a prefill's attention pattern [896, 224]: 7-30 ms against 180-590 ms for v1). The kernel's TypeScript picks v2
// on software adapters and v1 on hardware ones.
//
// The grid may be folded into 2-D for many rows (see grid1d): the flat invocation index spans both dimensions.

struct SoftmaxParams {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: SoftmaxParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

#include "lib/masked.wgsl"

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let row = gid.x + gid.y * groups.x * ${WG}u;
  if (row >= params.rows) {
    return;
  }
  let base = row * params.cols;

  // 1. The row max, over the unmasked entries.
  var rowMax = LOWEST_F32;
  for (var c = 0u; c < params.cols; c++) {
    let v = x[base + c];
    if (!isMasked(v)) {
      rowMax = max(rowMax, v);
    }
  }

  // 2. The sum of exp(x - max).
  var total = 0.0;
  for (var c = 0u; c < params.cols; c++) {
    let v = x[base + c];
    if (!isMasked(v)) {
      total += exp(v - rowMax);
    }
  }

  // 3. Normalise; masked entries become exact zeros.
  for (var c = 0u; c < params.cols; c++) {
    let v = x[base + c];
    if (isMasked(v)) {
      x[base + c] = 0.0;
    } else {
      x[base + c] = exp(v - rowMax) / total;
    }
  }
}
