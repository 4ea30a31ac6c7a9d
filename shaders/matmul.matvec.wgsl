// Matrix multiply, version matvec: the M == 1 case (a matrix-vector product), met when decoding one token at a time.
//   out[n] = sum_k a[k] * w[n, k] + bias[n]
// a is [1, K] f32, w is [N, K] f32 or packed f16, bias [N] f32, out [1, N] f32.
//
// With one row of a, every weight is used exactly once: the kernel moves N * K weights for N * K multiply-adds
// and is bound by memory, not arithmetic (matmul.v2 would also compute 3 wasted rows of its 4 x 8 blocks).
// So the work is spread to keep many loads in flight: a workgroup of WG invocations owns 8 consecutive rows of
// w; its invocations split K between them (invocation t reads chunks t, t + WG, t + 2 * WG, ... so neighbours
// read neighbouring memory), each keeps 8 partial sums, and a tree reduction in workgroup memory
// (lib/workgroup_sum.wgsl) adds the WG partial sums of each row. Chunks are vec4 when K % 4 == 0 (VEC4), single
// values otherwise, as in matmul.v2.
//
// The LM head has N = vocabulary size (50257 for GPT-2, up to ~150k for newer tokenizers): ceil(N / 8) can
// pass the 65535 limit on workgroups per dimension, so the grid may be folded into 2-D (see grid1d).

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const WG = ${WG}u;

// Invocation t's share of the 8 dot products, reduced across the workgroup: column 0 holds rows n0..n0+3,
// column 1 rows n0+4..n0+7.
alias Partial = mat2x4<f32>;

#include "lib/weights.wgsl"
#include "lib/workgroup_sum.wgsl"

@group(0) @binding(2) var<storage, read> a: array<Chunk>;

@compute @workgroup_size(${WG})
fn main(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  // A folded grid counts workgroups row by row; the last ones may lie past N and only compute clamped rows.
  let n0 = (wid.x + wid.y * groups.x) * 8u;

  // The 8 rows of w, clamped to the last row at the edge (loads stay in bounds; those sums are not stored).
  let lastN = params.N - 1u;
  let rw0 = min(n0, lastN);
  let rw1 = min(n0 + 1u, lastN);
  let rw2 = min(n0 + 2u, lastN);
  let rw3 = min(n0 + 3u, lastN);
  let rw4 = min(n0 + 4u, lastN);
  let rw5 = min(n0 + 5u, lastN);
  let rw6 = min(n0 + 6u, lastN);
  let rw7 = min(n0 + 7u, lastN);

  // Named variables, not an array indexed in a loop: see matmul.v2 for why.
  var lo = vec4<f32>();
  var hi = vec4<f32>();
  for (var c = t; c < params.K / CHUNK; c += WG) {
    let x = a[c];
    lo += x * block(loadW(rw0, c), loadW(rw1, c), loadW(rw2, c), loadW(rw3, c));
    hi += x * block(loadW(rw4, c), loadW(rw5, c), loadW(rw6, c), loadW(rw7, c));
  }
  let total = workgroupSum(Partial(lo, hi), t);

  if (t == 0u) {
    for (var r = 0u; r < 4u; r++) {
      if (n0 + r < params.N) {
        out[n0 + r] = total[0][r] + biasAt(n0 + r);
      }
      if (n0 + 4u + r < params.N) {
        out[n0 + 4u + r] = total[1][r] + biasAt(n0 + 4u + r);
      }
    }
  }
}
