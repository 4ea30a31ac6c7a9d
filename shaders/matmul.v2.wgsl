// Matrix multiply, version 2: register tiling.
//   out[m, n] = sum_k a[m, k] * w[n, k] + bias[n]
// Shapes as in v1: a [M, K] f32, w [N, K] f32 or packed f16, bias [N] f32, out [M, N] f32.
//
// What changes vs v1: each invocation computes a 4 x 8 block of outputs (4 rows of a against 8 rows of w)
// instead of one element, holding the 32 running sums in registers. At each step along K it loads 4 chunks of
// a and 8 chunks of w once and uses every one of them in 8 (or 4) dot products: 32 products per 12 loads, where
// v1 does 2 loads per product. The chunks are vec4 (4 consecutive k of one row, one 16-byte load) when
// K % 4 == 0. Measured: 8x v1 on SwiftShader ([64,128]x[512,128]), 7x on an H100 ([1024,768]x[3072,768]).
//
// Why not shared-memory tiling, the classic next step on a GPU: on the software adapter (SwiftShader) it
// gained nothing over this, and registers are what every adapter has. A later version can add it.
//
// Any M, N, K works. Blocks that hang over the edge of M or N load from a clamped row (valid memory, a
// wasted result) and store only the elements inside the output. When K % 4 != 0 a vec4 would straddle two
// rows, so the kernel is compiled with VEC4 false and the same loop reads one k at a time.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

#include "lib/weights.wgsl"
#include "lib/rows8.wgsl"

// blockProduct(A, W)[j][i] is the dot product of chunk i of block A with chunk j of block W (lib/chunk.wgsl): for
// vec4 chunks the matrix product transpose(A) * W, for single values the outer product of the two vec4s.
#if ${VEC4}
fn blockProduct(a: Block, w: Block) -> mat4x4<f32> {
  return transpose(a) * w;
}
#else
fn blockProduct(a: Block, w: Block) -> mat4x4<f32> {
  return mat4x4<f32>(a * w.x, a * w.y, a * w.z, a * w.w);
}
#endif

@group(0) @binding(2) var<storage, read> a: array<Chunk>;

fn loadA(m: u32, c: u32) -> Chunk {
  return a[m * (params.K / CHUNK) + c];
}

// x runs along N, y along M; one invocation per 4 x 8 block: ceil(N / (8 * WG_N)) x ceil(M / (4 * WG_M)).
@compute @workgroup_size(${WG_N}, ${WG_M})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  // This invocation's block: rows m0..m0+3 of out, columns n0..n0+7.
  let m0 = gid.y * 4u;
  let n0 = gid.x * 8u;

  // The rows it reads, clamped to the last row at the edges (loads stay in bounds; those results are not stored).
  let lastM = params.M - 1u;
  let ra0 = min(m0, lastM);
  let ra1 = min(m0 + 1u, lastM);
  let ra2 = min(m0 + 2u, lastM);
  let ra3 = min(m0 + 3u, lastM);
  let rw = rows8(n0, params.N); // the 8 rows of w, clamped at the edge

  // The 32 running sums, written out as named variables rather than loops over an array: a compiler that does
  // not unroll such loops (SwiftShader's) keeps an indexed array in memory, and that measured 4x slower.
  // lo[j][i] accumulates out[m0 + i, n0 + j], hi[j][i] out[m0 + i, n0 + 4 + j].
  var lo = mat4x4<f32>();
  var hi = mat4x4<f32>();
  for (var c = 0u; c < params.K / CHUNK; c++) {
    let blockA = block(loadA(ra0, c), loadA(ra1, c), loadA(ra2, c), loadA(ra3, c));
    lo += blockProduct(blockA, blockW(rw.lo, 0u, c));
    hi += blockProduct(blockA, blockW(rw.hi, 0u, c));
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
