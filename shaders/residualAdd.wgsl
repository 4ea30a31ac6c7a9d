// Residual add, in place: x += y, over n elements. The residual stream of a transformer is the running sum
// that every attention and MLP block adds its output into.

struct AddParams {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: AddParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Dispatches wider than 65535 workgroups fold into y: the flat index spans both dimensions.
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i < params.n) {
    x[i] = x[i] + y[i];
  }
}
