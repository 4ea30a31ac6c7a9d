// The weight of a linear layer, w [N, K] (nn.Linear's layout: one row per output feature), and its bias [N], read
// the same way whatever their format:
//
//   loadW(n, c)  chunk c of row n of w (see lib/chunk.wgsl), from f32, from f16 packed two to a u32, or
//                dequantized in registers from q8 or q4 blocks (lib/quant.wgsl)
//   biasAt(n)    bias[n], or 0 for a layer without bias
//
// The including shader binds `params` (a struct with the field K), leaves bindings 3 (w) and 4 (bias) to this
// file, and gives the constants WEIGHT_F16, WEIGHT_Q8, WEIGHT_Q4 (at most one true; none: f32), HAS_BIAS and VEC4.
#include "lib/chunk.wgsl"
#include "lib/half.wgsl"
#include "lib/quant.wgsl"

#if ${WEIGHT_Q8}
// Row n's integers start at word n * blocks * 8; a vec4 chunk c (values 4c .. 4c + 3) is word c of the row, in
// block c / 8, so one word and one scale make it.
@group(0) @binding(3) var<storage, read> w: array<u32>;

fn loadW(n: u32, c: u32) -> Chunk {
  let blocks = quantBlocks(params.K);
  let scales = q8ScaleStart(arrayLength(&w)) + n * blocks;
#if ${VEC4}
  return q8Values4(w[n * blocks * 8u + c], w[scales + c / 8u]);
#else
  return q8Value(w[n * blocks * 8u + c / 4u], w[scales + c / QBLOCK], c);
#endif
}
#elif ${WEIGHT_Q4}
// Row n's integers start at word n * blocks * 4; a vec4 chunk c is half of word c / 2, in block c / 8.
@group(0) @binding(3) var<storage, read> w: array<u32>;

fn loadW(n: u32, c: u32) -> Chunk {
  let blocks = quantBlocks(params.K);
  let scales = q4ScaleStart(arrayLength(&w)) + n * blocks;
#if ${VEC4}
  return q4Values4(w[n * blocks * 4u + c / 2u], w[scales + c / 8u], 4u * c);
#else
  return q4Value(w[n * blocks * 4u + c / 8u], w[scales + c / QBLOCK], c);
#endif
}
#elif ${WEIGHT_F16}
#if ${VEC4}
// Four halves are two u32 words; K % 4 == 0 makes the row stride (K / 2 words) even, so they never straddle rows.
@group(0) @binding(3) var<storage, read> w: array<vec2<u32>>;

fn loadW(n: u32, c: u32) -> Chunk {
  return unpackHalf4(w[n * (params.K / 4u) + c]);
}
#else
// One half at a time; rows are ceil(K / 2) words long.
@group(0) @binding(3) var<storage, read> w: array<u32>;

fn loadW(n: u32, k: u32) -> Chunk {
  return unpackHalf(w[n * halfRowWords(params.K) + k / 2u], k);
}
#endif
#else
@group(0) @binding(3) var<storage, read> w: array<Chunk>;

fn loadW(n: u32, c: u32) -> Chunk {
  return w[n * (params.K / CHUNK) + c];
}
#endif

#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn biasAt(n: u32) -> f32 {
  return bias[n];
}
#else
fn biasAt(n: u32) -> f32 {
  return 0.0;
}
#endif
