// SwiGLU, the gated activation of Llama-style MLPs: out = silu(gate) * up, with silu(g) = g / (1 + exp(-g)).
//
// gateUp: [rows, 2I], the output of one matmul that computes both projections: gate in columns [0, I), up in
// columns [I, 2I). out: [rows, I]. One thread per output element, over a flat index.

struct SwigluParams {
  rows: u32,
  I: u32,
}

@group(0) @binding(0) var<uniform> params: SwigluParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> gateUp: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Dispatches wider than 65535 workgroups fold into y: the flat index spans both dimensions.
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  let I = params.I;
  if (i >= params.rows * I) {
    return;
  }
  let row = i / I;
  let col = i % I;
  let gate = gateUp[row * 2u * I + col];
  let up = gateUp[row * 2u * I + I + col];
  // exp(-gate) overflows f32 for gate below about -88. Clamping its argument at 80 keeps it finite; there silu is
  // below 80 * exp(-80) ~ 1e-33 already, so the clamp changes no result by more than |gate * up| * 2e-35.
  out[i] = gate / (1.0 + exp(min(-gate, 80.0))) * up;
}
