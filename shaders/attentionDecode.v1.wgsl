// One token's attention block in one dispatch, for models without RoPE (GPT-2): what the unfused path runs as
// layerNorm, the q | k | v matvec, two kvAppends, attentionScores, softmax and attentionValues.
//
//   h       = layernorm(x) * gamma + beta                    [C]
//   q, k, v = h @ w^T + bias, the rows of this head           [HS] each (w is c_attn [(NH + 2 NKV) HS, C])
//   kCache[kvh, pos0] = k;  vCache[kvh, pos0] = v             (the KV append)
//   p[s]    = softmax_s(q . kCache[kvh, s] * scale), s <= pos0    (scores [NH, S], reused as scratch)
//   z[h]    = sum_s p[s] vCache[kvh, s]                       [NH * HS]
//
// One workgroup per query head h (kvh = h / group). A head needs only its own rows of w, so no other workgroup's
// result is waited for: the projection, the append and the attention of a head all happen in one workgroup, with
// barriers between the phases. With grouped-query attention (group > 1) the workgroups of a group each write the
// same k and v to the cache; they are the same values, so whichever write lands is right.
// The phases follow the unfused kernels' arithmetic: layerNorm.v2's two-pass statistics (per invocation: no
// barrier), matvec's dot products, softmax.v2's max, exp(s - max) / sum, then attentionValues' weighted sum.
// C and HS are compile-time constants: h (C floats) and q (HS floats) live in workgroup memory.

struct AttentionDecodeParams {
  K: u32,      // C, the width of x (lib/weights.wgsl calls it K)
  nHead: u32,
  nKVHead: u32,
  group: u32,  // nHead / nKVHead
  nCtx: u32,
  pos0: u32,   // this token's position; S = pos0 + 1 keys
  eps: f32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: AttentionDecodeParams;
@group(0) @binding(1) var<storage, read_write> z: array<f32>;

#include "lib/weights.wgsl"

@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> gamma: array<f32>;
@group(0) @binding(5) var<storage, read> beta: array<f32>;
@group(0) @binding(6) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(7) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(8) var<storage, read_write> scores: array<f32>;
#if ${FUSED_BIAS}
@group(0) @binding(9) var<storage, read> fusedBias: array<f32>;

fn fusedBiasAt(n: u32) -> f32 {
  return fusedBias[n];
}
#else
fn fusedBiasAt(n: u32) -> f32 {
  return 0.0;
}
#endif

const WG = ${WG}u;
const C = ${C}u;
const HS = ${HS}u;
alias Partial = f32;
#include "lib/workgroup_sum.wgsl"
#include "lib/workgroup_max.wgsl"

var<workgroup> hNorm: array<f32, C>;
var<workgroup> qHead: array<f32, HS>;

// Chunk c of the normalised row.
fn hChunk(c: u32) -> Chunk {
#if ${VEC4}
  return vec4<f32>(hNorm[4u * c], hNorm[4u * c + 1u], hNorm[4u * c + 2u], hNorm[4u * c + 3u]);
#else
  return hNorm[c];
#endif
}

fn sumChunk(v: Chunk) -> f32 {
#if ${VEC4}
  return dot(v, vec4<f32>(1.0));
#else
  return v;
#endif
}

// Row n of h @ w^T + bias.
fn project(n: u32) -> f32 {
  var acc = Chunk();
  for (var c = 0u; c < C / CHUNK; c++) {
    acc += hChunk(c) * loadW(n, c);
  }
  return sumChunk(acc) + fusedBiasAt(n);
}

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let h = wid.x;
  let kvh = h / params.group;
  let S = params.pos0 + 1u;

  // 1. LayerNorm of x, each invocation computing the statistics itself and writing its stripe of hNorm.
  let shift = x[0];
  var sum = 0.0;
  for (var c = 0u; c < C; c++) {
    sum += x[c] - shift;
  }
  let mean = sum / f32(C);
  var squares = 0.0;
  for (var c = 0u; c < C; c++) {
    let d = x[c] - shift - mean;
    squares += d * d;
  }
  let rstd = inverseSqrt(squares / f32(C) + params.eps);
  for (var c = t; c < C; c += WG) {
    hNorm[c] = (x[c] - shift - mean) * rstd * gamma[c] + beta[c];
  }
  workgroupBarrier();

  // 2. This head's q (kept in workgroup memory), and its k and v, appended to the cache at pos0.
  let kRows = params.nHead * HS;
  let vRows = kRows + params.nKVHead * HS;
  let cacheRow = (kvh * params.nCtx + params.pos0) * HS;
  for (var j = t; j < 3u * HS; j += WG) {
    let d = j % HS;
    if (j < HS) {
      qHead[d] = project(h * HS + d);
    } else if (j < 2u * HS) {
      kCache[cacheRow + d] = project(kRows + kvh * HS + d);
    } else {
      vCache[cacheRow + d] = project(vRows + kvh * HS + d);
    }
  }
  storageBarrier();
  workgroupBarrier();

  // 3. Scores over every cached key (causal: this token sees them all), and their max.
  let row = h * S;
  var localMax = -3.4028234663852886e38;
  for (var s = t; s < S; s += WG) {
    let k = (kvh * params.nCtx + s) * HS;
    var acc = 0.0;
    for (var d = 0u; d < HS; d++) {
      acc += qHead[d] * kCache[k + d];
    }
    let score = params.scale * acc;
    scores[row + s] = score;
    localMax = max(localMax, score);
  }
  let rowMax = workgroupMax(localMax, t);

  // 4. Softmax: the sum of exp(score - max), then each probability.
  var localSum = 0.0;
  for (var s = t; s < S; s += WG) {
    localSum += exp(scores[row + s] - rowMax);
  }
  let total = workgroupSum(localSum, t);
  for (var s = t; s < S; s += WG) {
    scores[row + s] = exp(scores[row + s] - rowMax) / total;
  }
  storageBarrier();
  workgroupBarrier();

  // 5. z for this head: the probability-weighted sum of the cached values.
  for (var d = t; d < HS; d += WG) {
    var acc = 0.0;
    for (var s = 0u; s < S; s++) {
      acc += scores[row + s] * vCache[(kvh * params.nCtx + s) * HS + d];
    }
    z[h * HS + d] = acc;
  }
}
