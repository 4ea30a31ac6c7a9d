// Matrix multiply, version matvec.q: the M == 1 case (a decode step) on quantized weights, a block at a time.
//   out[n] = sum_k a[k] * w[n, k] + bias[n]
// a is [1, K] f32, w is [N, K] q8 or q4 (lib/quant.wgsl), bias [N] f32, out [1, N] f32.
//
// What changes from matvec.v2 reading through loadW: the unit of work is a block of 32 values, not a chunk of 4.
// The 32 values of a are loaded once per block into registers and used for ROWS rows of w. Each row's block is read
// as whole vectors (q8: two vec4<u32>, 32 int8; q4: one vec4<u32>, 32 uint4) and its one scale word, and the scale
// comes out of the block's sum:
//
//   q8  sum_j a_j * d q_j        = d * sum_j a_j q_j
//   q4  sum_j a_j * (m + d q_j)  = d * sum_j a_j q_j + m * sum_j a_j      (sum_j a_j once per block, for all rows)
//
// so the 32 products are of a with the bare integers, and the scale costs one multiply a block instead of one a
// value. The last block of a row whose K is not a multiple of 32 reads a as 0 past K: the padded weights are then
// multiplied by zeros. Like matvec.v2, an invocation owns its rows and walks all of K: no workgroup memory.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
#if ${VEC4}
@group(0) @binding(2) var<storage, read> a: array<vec4<f32>>;
#else
@group(0) @binding(2) var<storage, read> a: array<f32>;
#endif
// The integers as 16-byte vectors (a q8 block is two, a q4 block one); the scale words found by index.
@group(0) @binding(3) var<storage, read> w: array<vec4<u32>>;
#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif

#include "lib/quant.wgsl"

const ROWS = 4u;

// The 32 values of one block of a: values 0..15 in the columns of lo, 16..31 in those of hi, and their sum.
struct XBlock {
  lo: mat4x4<f32>,
  hi: mat4x4<f32>,
  sum: f32,
}

// Values 4c .. 4c + 3 of a, zero past K.
fn chunkA(c: u32) -> vec4<f32> {
  let k = 4u * c;
#if ${VEC4}
  return select(vec4<f32>(0.0), a[min(c, params.K / 4u - 1u)], k < params.K);
#else
  let last = params.K - 1u;
  let inside = vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(params.K);
  return select(vec4<f32>(0.0), vec4<f32>(a[min(k, last)], a[min(k + 1u, last)], a[min(k + 2u, last)], a[min(k + 3u, last)]), inside);
#endif
}

fn loadX(b: u32) -> XBlock {
  let c = 8u * b;
  let lo = mat4x4<f32>(chunkA(c), chunkA(c + 1u), chunkA(c + 2u), chunkA(c + 3u));
  let hi = mat4x4<f32>(chunkA(c + 4u), chunkA(c + 5u), chunkA(c + 6u), chunkA(c + 7u));
  let one = vec4<f32>(1.0);
  return XBlock(lo, hi, dot((lo + hi) * one, one));
}

// The scale word `i` (an index in u32 words).
fn scaleWord(i: u32) -> u32 {
  return w[i / 4u][i % 4u];
}

// Block q (row n's block b is q = n * blocks + b) of w against x: its dot product with the scale factored out.
fn blockDot(q: u32, x: XBlock, scales: u32) -> f32 {
  let s = scaleWord(scales + q);
#if ${WEIGHT_Q8}
  let v0 = w[2u * q];
  let v1 = w[2u * q + 1u];
  let lo = dot(q8Ints(v0.x), x.lo[0]) + dot(q8Ints(v0.y), x.lo[1]) + dot(q8Ints(v0.z), x.lo[2]) + dot(q8Ints(v0.w), x.lo[3]);
  let hi = dot(q8Ints(v1.x), x.hi[0]) + dot(q8Ints(v1.y), x.hi[1]) + dot(q8Ints(v1.z), x.hi[2]) + dot(q8Ints(v1.w), x.hi[3]);
  return bitcast<f32>(s) * (lo + hi);
#else
  // word i of the block holds values 8i .. 8i + 7: chunks 2i and 2i + 1
  let v = w[q];
  let lo = dot(q4Ints(v.x, 0u), x.lo[0]) + dot(q4Ints(v.x, 4u), x.lo[1]) + dot(q4Ints(v.y, 0u), x.lo[2]) + dot(q4Ints(v.y, 4u), x.lo[3]);
  let hi = dot(q4Ints(v.z, 0u), x.hi[0]) + dot(q4Ints(v.z, 4u), x.hi[1]) + dot(q4Ints(v.w, 0u), x.hi[2]) + dot(q4Ints(v.w, 4u), x.hi[3]);
  let dm = unpack2x16float(s);
  return dm.x * (lo + hi) + dm.y * x.sum;
#endif
}

fn biasAt(n: u32) -> f32 {
#if ${HAS_BIAS}
  return bias[n];
#else
  return 0.0;
#endif
}

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n0 = (gid.x + gid.y * groups.x * ${WG}u) * ROWS;
  if (n0 >= params.N) {
    return;
  }
  let blocks = quantBlocks(params.K);
  let words = arrayLength(&w) * 4u;
#if ${WEIGHT_Q8}
  let scales = q8ScaleStart(words);
#else
  let scales = q4ScaleStart(words);
#endif

  // The first block of each of the ROWS rows, clamped to the last row at the edge (those sums are not stored).
  let lastN = params.N - 1u;
  let q0 = min(n0, lastN) * blocks;
  let q1 = min(n0 + 1u, lastN) * blocks;
  let q2 = min(n0 + 2u, lastN) * blocks;
  let q3 = min(n0 + 3u, lastN) * blocks;

  var sum = vec4<f32>();
  for (var b = 0u; b < blocks; b++) {
    let x = loadX(b);
    sum += vec4<f32>(blockDot(q0 + b, x, scales), blockDot(q1 + b, x, scales), blockDot(q2 + b, x, scales), blockDot(q3 + b, x, scales));
  }

  for (var r = 0u; r < ROWS; r++) {
    if (n0 + r < params.N) {
      out[n0 + r] = sum[r] + biasAt(n0 + r);
    }
  }
}
