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
// The angle is the f32 product (pos0 + t) * invFreq[i], as Hugging Face computes it. Its sine and cosine are
// computed here rather than with the built-in sin() and cos(): WGSL promises those only an absolute error of
// 2^-11, on [-pi, pi], and software and mobile GPUs do come close to that, which is an error of 1e-4 in every
// rotated query and key. Instead, sinCos() removes whole quarter turns from the angle (Cody and Waite's
// reduction: pi / 2 split in three parts, the first short enough that its multiples are exact in f32) and
// evaluates the small polynomials of Cephes' sinf and cosf on what is left, within pi / 4 of zero. Both steps
// are accurate to a few f32 ulps.

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

const TWO_OVER_PI = 0.63661977236758134;
const HALF_PI_1 = 1.5703125;  // 201 / 128: 8 significant bits, so k * HALF_PI_1 is exact for k < 65536
const HALF_PI_2 = 4.837512969970703125e-4;
const HALF_PI_3 = 7.54978995489188216e-8;  // HALF_PI_1 + HALF_PI_2 + HALF_PI_3 = pi / 2 to 1e-15

// sin and cos of r for |r| <= pi / 4 (Cephes' minimax polynomials).
fn sinSmall(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1);
}

fn cosSmall(r: f32) -> f32 {
  let z = r * r;
  return 1.0 - 0.5 * z + z * z * ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2);
}

// (sin a, cos a) for angles up to ~1e5: a = k * pi / 2 + r, and quarter turn k % 4 picks the signs.
fn sinCos(a: f32) -> vec2<f32> {
  let k = round(a * TWO_OVER_PI);
  let r = ((a - k * HALF_PI_1) - k * HALF_PI_2) - k * HALF_PI_3;
  let s = sinSmall(r);
  let c = cosSmall(r);
  switch (i32(k) & 3) {
    case 0: { return vec2<f32>(s, c); }
    case 1: { return vec2<f32>(c, -s); }
    case 2: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}

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
