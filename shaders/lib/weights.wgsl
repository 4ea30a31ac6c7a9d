// The weight of a linear layer, w [N, K] (nn.Linear's layout: one row per output feature), and its bias [N], read
// the same way whatever their format:
//
//   loadW(n, c)  chunk c of row n of w (see lib/chunk.wgsl), from f32 or from f16 packed two to a u32
//   biasAt(n)    bias[n], or 0 for a layer without bias
//
// The including shader binds `params` (a struct with the field K), leaves bindings 3 (w) and 4 (bias) to this
// file, and gives the constants WEIGHT_F16, HAS_BIAS and VEC4.
#include "lib/chunk.wgsl"
#include "lib/half.wgsl"

#if ${WEIGHT_F16}
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
