// Softmax over each row, in place (TransformerLens hook_pattern when the rows are attention scores):
//
//   x[r, c] = exp(x[r, c] - max_r) / sum_c' exp(x[r, c'] - max_r)      x: [rows, cols]
//
// Subtracting the row max changes nothing mathematically and keeps exp() from overflowing: every exponent is
// <= 0, so a score of 1000 gives exp(0) = 1 instead of infinity. Entries that are exactly -infinity (the causal
// mask) become exactly 0; they are recognised by their bits and never enter the arithmetic, because GPU
// compilers may assume floats are finite. A row with no finite entry becomes all zeros.
//
// One workgroup per row, in three passes over it: row max, sum of exponentials, normalise. Each thread strides
// through the row; the partial maxima and sums of the WG threads are combined by tree reductions in workgroup
// memory (lib/workgroup_max.wgsl, lib/workgroup_sum.wgsl). More than 65535 rows fold into a 2-D grid:
// row = workgroup x + y * (workgroups in x).
// This is version 1, for hardware adapters; softmax.v2.wgsl runs one invocation per row, for software ones.

struct SoftmaxParams {
  rows: u32,
  cols: u32,
}

@group(0) @binding(0) var<uniform> params: SoftmaxParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

const WG = ${WG}u;
alias Partial = f32;
#include "lib/masked.wgsl"
#include "lib/workgroup_max.wgsl"
#include "lib/workgroup_sum.wgsl"

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = wg.x + wg.y * groups.x;
  if (row >= params.rows) {
    return;  // the whole workgroup leaves together, so the barriers below stay in uniform control flow
  }
  let base = row * params.cols;

  // 1. The row max, over the unmasked entries.
  var m = LOWEST_F32;
  for (var c = lid; c < params.cols; c += WG) {
    let v = x[base + c];
    if (!isMasked(v)) {
      m = max(m, v);
    }
  }
  let rowMax = workgroupMax(m, lid);

  // 2. The sum of exp(x - max).
  var sum = 0.0;
  for (var c = lid; c < params.cols; c += WG) {
    let v = x[base + c];
    if (!isMasked(v)) {
      sum += exp(v - rowMax);
    }
  }
  let total = workgroupSum(sum, lid);

  // 3. Normalise; masked entries become exact zeros.
  for (var c = lid; c < params.cols; c += WG) {
    let v = x[base + c];
    if (isMasked(v)) {
      x[base + c] = 0.0;
    } else {
      x[base + c] = exp(v - rowMax) / total;
    }
  }
}
