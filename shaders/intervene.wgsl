// Intervene on an activation in place, on a box of it (TransformerLens's hook functions, on the GPU).
//
// The activation is viewed as [outer, rows, cols]: element (o, r, c) lives at
//   offset + o * outerStride + r * rowStride + c
// (a [T, C] residual is outer 1; attention scores [NH, T, S] are outer NH; q inside the fused qkv rows has
// rowStride 3C). The box is o0 .. o0+nO-1, r0 .. r0+nR-1, c0 .. c0+nC-1, one invocation per element:
//
//   x = scale * x  +  src (a vector over the box's columns, or one value per box element)  +  sigma * normal
//
// zero is scale 0, which writes 0 even where x is -infinity (masked scores); activation patching is scale 0
// plus the other run's values. The Gaussian is a hash of (seed, o, absolute row, c), so the noise a position
// gets is the same whether it runs in a prefill or a decode step, and the CPU reference can repeat it.

struct InterveneParams {
  o0: u32,
  nO: u32,
  r0: u32,
  nR: u32,
  c0: u32,
  nC: u32,
  outerStride: u32,
  rowStride: u32,
  offset: u32,
  rowBase: u32, // the absolute position of row 0 (pos0), for the noise hash
  srcMode: u32, // 0 none, 1 one value per box column, 2 one value per box element
  seed: u32,
  scale: f32,
  sigma: f32,
}

@group(0) @binding(0) var<uniform> params: InterveneParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

// PCG hash (Jarzynski and Olano, "Hash Functions for GPU Rendering", 2020)
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// A standard normal value: the sum of 12 hashed uniforms in [0, 1) has mean 6 and variance 1 (Irwin-Hall), and its
// tails stop at 6 sigma. Only additions of exactly representable values, no log or cos, whose precision WGSL
// leaves loose, so the CPU reference repeats the shader to the last bit or two.
fn gaussian(seed: u32, o: u32, row: u32, c: u32) -> f32 {
  let key = pcg(seed ^ pcg(o ^ pcg(row ^ pcg(c))));
  var sum = 0.0;
  for (var k = 0u; k < 12u; k = k + 1u) {
    sum = sum + f32(pcg(key * 12u + k) >> 8u) / 16777216.0;
  }
  return sum - 6.0;
}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  let perOuter = params.nR * params.nC;
  if (i >= params.nO * perOuter) {
    return;
  }
  let o = params.o0 + i / perOuter;
  let r = params.r0 + (i % perOuter) / params.nC;
  let c = params.c0 + i % params.nC;
  let at = params.offset + o * params.outerStride + r * params.rowStride + c;

  var value = select(params.scale * x[at], 0.0, params.scale == 0.0);
  if (params.srcMode == 1u) {
    value = value + src[c - params.c0];
  } else if (params.srcMode == 2u) {
    value = value + src[i];
  }
  if (params.sigma != 0.0) {
    value = value + params.sigma * gaussian(params.seed, o, params.rowBase + r, c);
  }
  x[at] = value;
}
