// Rotary position embedding (RoPE), in place, in the Hugging Face Llama convention ("rotate_half"): within each
// head, dim i is paired with dim i + half (half = rotaryDim / 2), and the pair is rotated by the angle
// (pos0 + t) * invFreq[i]:
//
//   x[i]        = x[i] * cos - x[i + half] * sin
//   x[i + half] = x[i + half] * cos + x[i] * sin          for i < half; dims >= rotaryDim are left as they are
//
//   x:       T rows of `stride` floats; head j of row t starts at t * stride + offset + j * headDim
//   invFreq: [half], the frequency of each pair (see ropeInvFreq in src/kernels/rope.ts)
//
// Applied to queries and keys before attention, it makes q . k depend on the distance between two positions
// only. One thread per rotated pair.
//
// The angle is the f32 product (pos0 + t) * invFreq[i], as Hugging Face computes it; lib/sincos.wgsl says how its sine
// and cosine are computed, to a few f32 ulps (WGSL's built-in sin() and cos() promise only 2^-11).

struct RopeParams {
  T: u32,
  pos0: u32,
  nHeads: u32,
  headDim: u32,
  half: u32,  // rotaryDim / 2
  stride: u32,
  offset: u32,
  n: u32,  // T * nHeads * half
}

@group(0) @binding(0) var<uniform> params: RopeParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;
@group(0) @binding(2) var<storage, read> invFreq: array<f32>;

#include "lib/sincos.wgsl"

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let idx = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (idx >= params.n) {
    return;
  }
  let i = idx % params.half;
  let head = (idx / params.half) % params.nHeads;
  let t = idx / (params.half * params.nHeads);

  let sc = sinCos(f32(params.pos0 + t) * invFreq[i]);
  let s = sc.x;
  let c = sc.y;
  let base = t * params.stride + params.offset + head * params.headDim;
  let x1 = x[base + i];
  let x2 = x[base + i + params.half];
  x[base + i] = x1 * c - x2 * s;
  x[base + i + params.half] = x2 * c + x1 * s;
}
