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
#include "lib/rows8.wgsl"

@group(0) @binding(2) var<storage, read> a: array<Chunk>;

@compute @workgroup_size(${WG})
fn main(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  // A folded grid counts workgroups row by row; the last ones may lie past N and only compute clamped rows.
  let n0 = (wid.x + wid.y * groups.x) * 8u;

  let rw = rows8(n0, params.N); // the 8 rows of w, clamped at the edge

  // Named variables, not an array indexed in a loop: see matmul.v2 for why.
  var lo = vec4<f32>();
  var hi = vec4<f32>();
  for (var c = t; c < params.K / CHUNK; c += WG) {
    let x = a[c];
    lo += x * blockW(rw.lo, 0u, c);
    hi += x * blockW(rw.hi, 0u, c);
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
