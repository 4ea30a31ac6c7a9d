// Matrix multiply, version matvec.v2: the M == 1 case again, one invocation per 8 rows of w, each running the whole
// of K by itself.
//   out[n] = sum_k a[k] * w[n, k] + bias[n]
// a is [1, K] f32, w is [N, K] f32 or packed f16, bias [N] f32, out [1, N] f32.
//
// What changes from matvec: no workgroup memory, no barriers, no reduction. matvec splits K across the
// invocations of a workgroup, which keeps a real GPU's memory system busy (many loads in flight per row). On a CPU
// implementation of WebGPU (SwiftShader) the cost that dominates is per invocation, and each invocation streaming
// whole rows through the CPU cache is the fast path: on the GPT-2 LM head shape it runs several times faster than
// matvec there. The kernel's TypeScript picks matvec.v2 on software adapters and matvec on hardware ones.
//
// The grid may be folded into 2-D for large N (see grid1d): the flat invocation index spans both dimensions.

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

#include "lib/weights.wgsl"
#include "lib/rows8.wgsl"

@group(0) @binding(2) var<storage, read> a: array<Chunk>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n0 = (gid.x + gid.y * groups.x * ${WG}u) * 8u;
  if (n0 >= params.N) {
    return;
  }

  let rw = rows8(n0, params.N); // the 8 rows of w, clamped at the edge

  // Named variables, not an array indexed in a loop: see matmul.v2 for why.
  var lo = vec4<f32>();
  var hi = vec4<f32>();
  for (var c = 0u; c < params.K / CHUNK; c++) {
    let x = a[c];
    lo += x * blockW(rw.lo, 0u, c);
    hi += x * blockW(rw.hi, 0u, c);
  }

  for (var r = 0u; r < 4u; r++) {
    if (n0 + r < params.N) {
      out[n0 + r] = lo[r] + biasAt(n0 + r);
    }
    if (n0 + 4u + r < params.N) {
      out[n0 + 4u + r] = hi[r] + biasAt(n0 + 4u + r);
    }
  }
}
