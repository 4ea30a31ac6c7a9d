// Attention scores with the causal mask (TransformerLens hook_attn_scores):
//
//   scores[h, t, s] = scale * dot(q[t, h, :], k[kvh, s, :])   for s <= pos0 + t
//   scores[h, t, s] = -inf                                    for s >  pos0 + t (a query never sees the future)
//
//   q:      T rows of qStride floats; head h of row t at q[t * qStride + qOffset + h * headDim + d]
//   kCache: [nKVHead, nCtx, headDim]
//   scores: [nHead, T, S], S = pos0 + T keys (the cache up to and including the newest token)
//
// Query head h reads KV head kvh = h / group, group = nHead / nKVHead: grouped-query attention shares one key
// head between `group` query heads (group = 1 is plain multi-head attention, nKVHead = 1 is multi-query).
// One thread per score, so a decode step (T = 1) still runs nHead * S threads in parallel. Masked scores are
// written rather than skipped: the softmax that follows reads them as exact zeros.

struct ScoresParams {
  T: u32,
  pos0: u32,
  S: u32,
  nHead: u32,
  group: u32,
  headDim: u32,
  nCtx: u32,
  qStride: u32,
  qOffset: u32,
  scale: f32,
  n: u32,  // nHead * T * S
}

@group(0) @binding(0) var<uniform> params: ScoresParams;
@group(0) @binding(1) var<storage, read_write> scores: array<f32>;
@group(0) @binding(2) var<storage, read> q: array<f32>;
@group(0) @binding(3) var<storage, read> kCache: array<f32>;

#include "lib/masked.wgsl"

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i >= params.n) {
    return;
  }
  let s = i % params.S;
  let t = (i / params.S) % params.T;
  let h = i / (params.S * params.T);
  if (s > params.pos0 + t) {
    scores[i] = negativeInfinity();
    return;
  }
  let kvh = h / params.group;
  let qRow = t * params.qStride + params.qOffset + h * params.headDim;
  let kRow = (kvh * params.nCtx + s) * params.headDim;
  var acc = 0.0;
  for (var d = 0u; d < params.headDim; d++) {
    acc += q[qRow + d] * kCache[kRow + d];
  }
  scores[i] = params.scale * acc;
}
