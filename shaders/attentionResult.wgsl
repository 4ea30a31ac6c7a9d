// Attention result: each head's share of the attention output, before the heads are summed (TransformerLens's
// hook_result). The output projection is linear in z, so it splits over the heads' columns:
//
//   out[t, h, c] = sum_d z[t, h * HS + d] * w[c, h * HS + d]      d < HS
//
// z is [T, NH * HS] (heads side by side), w the output projection [C, K] with K = NH * HS (nn.Linear layout: one
// row per output feature), out is [T, NH, C]. sumHeads.wgsl adds the heads (and the bias) back into [T, C]. It
// runs only when a hook asks for the result, so it is the naive loop of matmul.v1: one invocation per output.
// A weight split into row chunks (src/model/split-weights.ts) runs once per chunk: w is then rows row0 .. row0 +
// rows - 1 of the projection, and this dispatch writes those columns c of out.

struct ResultParams {
  T: u32,
  NH: u32,
  HS: u32,
  C: u32,
  K: u32,
  row0: u32,
  rows: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> params: ResultParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> z: array<f32>;

// w through the library's loadW (compiled with VEC4 false and no bias, so loadW(c, k) is w[c, k]).
#include "lib/weights.wgsl"

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Dispatches wider than 65535 workgroups fold into y: the flat index spans both dimensions.
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i >= params.n) {
    return;
  }
  let r = i % params.rows; // row r of this chunk of w: output column row0 + r
  let h = (i / params.rows) % params.NH;
  let t = i / (params.rows * params.NH);
  let col = h * params.HS; // head h's first column, in z's row and in w's
  var sum = 0.0;
  for (var d = 0u; d < params.HS; d++) {
    sum += z[t * params.K + col + d] * loadW(r, col + d);
  }
  out[(t * params.NH + h) * params.C + params.row0 + r] = sum;
}
