// Attention output per head (TransformerLens hook_z), version 2: one invocation per (t, h, chunk of dims), with
// no workgroup memory and no barriers.
//
//   z[t, h * headDim + d] = sum_{s <= pos0 + t} pattern[h, t, s] * v[kvh, s, d]
//
//   pattern: [nHead, T, S], S = pos0 + T; rows are softmax outputs, zero past the causal mask
//   vCache:  [nKVHead, nCtx, headDim]; query head h reads KV head kvh = h / group
//   z:       [T, nHead * headDim], the heads side by side, ready for the output projection
//
// A chunk (lib/chunk.wgsl) is 4 consecutive dims read as one vec4 when headDim % 4 == 0 (VEC4), else 1 dim.
// Each invocation walks s = 0 .. pos0 + t by itself: keys past pos0 + t are never read, as in version 1.
//
// What changes from v1, and why. v1 gives each (t, h, tile of 16 dims) a workgroup of 256 threads that split
// the sum over s 16 ways and add the 16 partial sums in workgroup memory behind a barrier. That keeps a real GPU
// busy, most of all in a decode step (T = 1). On a CPU implementation of WebGPU (SwiftShader) a barrier stops
// and restarts the workgroup's threads, and invocations are the unit of cost: there, fewer invocations each
// running a whole loop of vec4 multiply-adds is far faster (4 heads of 32, T = S = 224: 13-33 ms against
// 300-1350 ms for v1). The kernel's TypeScript picks v2 on software adapters and v1 on hardware ones.
//
// Invocation index = (t * nHead + h) * chunks + chunk, so consecutive invocations write consecutive chunks of z.
// The grid may be folded into 2-D (see grid1d): the flat invocation index spans both dimensions.

struct ValuesParams {
  T: u32,
  pos0: u32,
  S: u32,
  nHead: u32,
  group: u32,
  headDim: u32,
  nCtx: u32,
  chunks: u32,  // headDim / CHUNK
}

#include "lib/chunk.wgsl"

@group(0) @binding(0) var<uniform> params: ValuesParams;
@group(0) @binding(1) var<storage, read_write> z: array<Chunk>;
@group(0) @binding(2) var<storage, read> pattern: array<f32>;
@group(0) @binding(3) var<storage, read> vCache: array<Chunk>;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WG}u;
  if (i >= params.T * params.nHead * params.chunks) {
    return;
  }
  let chunk = i % params.chunks;
  let h = (i / params.chunks) % params.nHead;
  let t = i / (params.chunks * params.nHead);
  let kvh = h / params.group;

  let p = (h * params.T + t) * params.S;                 // pattern row (h, t)
  let v = kvh * params.nCtx * params.chunks + chunk;     // chunk of value row (kvh, 0)
  let last = params.pos0 + t;                            // the newest key this query may see
  var acc = Chunk();
  for (var s = 0u; s <= last; s++) {
    acc += pattern[p + s] * vCache[v + s * params.chunks];
  }
  // z row t holds the heads side by side, so chunk i of z is (t, h, chunk): z's chunks are numbered like i.
  z[i] = acc;
}
