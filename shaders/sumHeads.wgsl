// The heads of the attention result added back together, plus the output projection's bias: the attention
// output when a hook reads or changes the per-head result (hook_result), so that a change reaches the model.
//
//   out[t, c] = bias[c] + sum_h result[t, h, c]
//
// result is [T, NH, C] (attentionResult.wgsl), bias [C] f32 or none (HAS_BIAS), out [T, C]. One invocation per
// output element, adding the heads in order. For a weight split into row chunks it runs once per chunk, on
// columns row0 .. row0 + rows - 1 with that chunk's bias.

struct SumHeadsParams {
  T: u32,
  NH: u32,
  C: u32,
  row0: u32,
  rows: u32,
  n: u32,
}

@group(0) @binding(0) var<uniform> params: SumHeadsParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> result: array<f32>;

#if ${HAS_BIAS}
@group(0) @binding(3) var<storage, read> bias: array<f32>;

fn biasAt(r: u32) -> f32 {
  return bias[r];
}
#else
fn biasAt(r: u32) -> f32 {
  return 0.0;
}
#endif

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i >= params.n) {
    return;
  }
  let r = i % params.rows;
  let c = params.row0 + r;
  let t = i / params.rows;
  var sum = biasAt(r);
  for (var h = 0u; h < params.NH; h++) {
    sum += result[(t * params.NH + h) * params.C + c];
  }
  out[t * params.C + c] = sum;
}
