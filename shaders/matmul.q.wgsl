// Matrix multiply, version q: any M (a prefill) on quantized weights, matmul.v2's register tiles a block at a time.
//   out[m, n] = sum_k a[m, k] * w[n, k] + bias[n]
// a is [M, K] f32, w is [N, K] q8 or q4 (lib/quant.wgsl), bias [N] f32, out [M, N] f32.
//
// What changes from v2 reading through loadW: each invocation still owns a 4 x 8 block of out, but walks K a
// quantization block (32 values, 8 chunks of 4) at a time. Inside a block it multiplies the chunks of a with the
// bare integers of w (one u32 word gives a chunk: 4 int8, or half of 8 uint4) into block sums, and only at the
// block's end applies each row's scale, once per output instead of once per value:
//
//   q8  out[m, n] += d_n * (sum over the block of a[m, k] q[n, k])
//   q4  out[m, n] += d_n * (sum over the block of a[m, k] q[n, k]) + m_n * (sum over the block of a[m, k])
//
// The chunks of a past K (the last block of a K that is not a multiple of 32) are not visited; with K % 4 != 0 the
// last chunk reads a as 0 past K, so the padded weights are multiplied by zeros. Edges of M and N as in v2: clamped
// rows are read, their outputs not stored.

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
@group(0) @binding(3) var<storage, read> w: array<u32>;
#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;
#endif

#include "lib/quant.wgsl"

#if ${WEIGHT_Q8}
const WORDS = 8u;
#else
const WORDS = 4u;
#endif

// Values 4c .. 4c + 3 of row m of a, zero past K.
fn chunkA(m: u32, c: u32) -> vec4<f32> {
#if ${VEC4}
  return a[m * (params.K / 4u) + c];
#else
  let k = 4u * c;
  let row = m * params.K;
  let last = params.K - 1u;
  let inside = vec4<u32>(k, k + 1u, k + 2u, k + 3u) < vec4<u32>(params.K);
  return select(vec4<f32>(0.0), vec4<f32>(a[row + min(k, last)], a[row + min(k + 1u, last)], a[row + min(k + 2u, last)], a[row + min(k + 3u, last)]), inside);
#endif
}

// The integers of chunk i (0..7) of the block whose first word is `word0`, as floats.
fn ints(word0: u32, i: u32) -> vec4<f32> {
#if ${WEIGHT_Q8}
  return q8Ints(w[word0 + i]);
#else
  return q4Ints(w[word0 + i / 2u], 4u * (i % 2u));
#endif
}

// d and m of a block's scale word (m = 0 for q8).
fn scale(word: u32) -> vec2<f32> {
#if ${WEIGHT_Q8}
  return vec2<f32>(bitcast<f32>(word), 0.0);
#else
  return unpack2x16float(word);
#endif
}

fn biasAt(n: u32) -> f32 {
#if ${HAS_BIAS}
  return bias[n];
#else
  return 0.0;
#endif
}

// x runs along N, y along M; one invocation per 4 x 8 block: ceil(N / (8 * WG_N)) x ceil(M / (4 * WG_M)).
@compute @workgroup_size(${WG_N}, ${WG_M})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 8u;
  let blocks = quantBlocks(params.K);
  let chunks = (params.K + 3u) / 4u;
#if ${WEIGHT_Q8}
  let scales = q8ScaleStart(arrayLength(&w));
#else
  let scales = q4ScaleStart(arrayLength(&w));
#endif

  let lastM = params.M - 1u;
  let lastN = params.N - 1u;
  let ra0 = min(m0, lastM);
  let ra1 = min(m0 + 1u, lastM);
  let ra2 = min(m0 + 2u, lastM);
  let ra3 = min(m0 + 3u, lastM);
  // The first block of each of the 8 rows of w (rows clamped at the edge).
  let q0 = min(n0, lastN) * blocks;
  let q1 = min(n0 + 1u, lastN) * blocks;
  let q2 = min(n0 + 2u, lastN) * blocks;
  let q3 = min(n0 + 3u, lastN) * blocks;
  let q4 = min(n0 + 4u, lastN) * blocks;
  let q5 = min(n0 + 5u, lastN) * blocks;
  let q6 = min(n0 + 6u, lastN) * blocks;
  let q7 = min(n0 + 7u, lastN) * blocks;

  // lo[j][i] accumulates out[m0 + i, n0 + j], hi[j][i] out[m0 + i, n0 + 4 + j], as in v2.
  var lo = mat4x4<f32>();
  var hi = mat4x4<f32>();
  for (var b = 0u; b < blocks; b++) {
    // This block's sums against the bare integers, and (q4) the sums of a's values in it.
    var blockLo = mat4x4<f32>();
    var blockHi = mat4x4<f32>();
    var sumA = vec4<f32>();
    let c0 = 8u * b;
    for (var i = 0u; i < min(8u, chunks - c0); i++) {
      let at = transpose(mat4x4<f32>(chunkA(ra0, c0 + i), chunkA(ra1, c0 + i), chunkA(ra2, c0 + i), chunkA(ra3, c0 + i)));
      blockLo += at * mat4x4<f32>(ints((q0 + b) * WORDS, i), ints((q1 + b) * WORDS, i), ints((q2 + b) * WORDS, i), ints((q3 + b) * WORDS, i));
      blockHi += at * mat4x4<f32>(ints((q4 + b) * WORDS, i), ints((q5 + b) * WORDS, i), ints((q6 + b) * WORDS, i), ints((q7 + b) * WORDS, i));
      sumA += at * vec4<f32>(1.0);
    }
    let s0 = scale(w[scales + q0 + b]);
    let s1 = scale(w[scales + q1 + b]);
    let s2 = scale(w[scales + q2 + b]);
    let s3 = scale(w[scales + q3 + b]);
    let s4 = scale(w[scales + q4 + b]);
    let s5 = scale(w[scales + q5 + b]);
    let s6 = scale(w[scales + q6 + b]);
    let s7 = scale(w[scales + q7 + b]);
    lo += mat4x4<f32>(blockLo[0] * s0.x + sumA * s0.y, blockLo[1] * s1.x + sumA * s1.y, blockLo[2] * s2.x + sumA * s2.y, blockLo[3] * s3.x + sumA * s3.y);
    hi += mat4x4<f32>(blockHi[0] * s4.x + sumA * s4.y, blockHi[1] * s5.x + sumA * s5.y, blockHi[2] * s6.x + sumA * s6.y, blockHi[3] * s7.x + sumA * s7.y);
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    for (var j = 0u; j < 4u; j++) {
      if (m < params.M && n0 + j < params.N) {
        out[m * params.N + n0 + j] = lo[j][i] + biasAt(n0 + j);
      }
      if (m < params.M && n0 + 4u + j < params.N) {
        out[m * params.N + n0 + 4u + j] = hi[j][i] + biasAt(n0 + 4u + j);
      }
    }
  }
}
