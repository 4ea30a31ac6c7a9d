// One token's attention block in one dispatch, for every architecture: what the unfused path runs as the norm,
// the q | k | v matvec, RoPE on q and k (two dispatches), two kvAppends, attentionScores, softmax and
// attentionValues.
//
//   h       = layernorm(x) * gamma + beta   (LAYERNORM)   or   x * rstd(x) * gamma   (RMSNorm)      [C]
//   q, k, v = h @ w^T + bias, the rows of this head           [HS] each (w is q | k | v [(NH + 2 NKV) HS, C])
//   q, k    = rope(q), rope(k) at position pos0 (ROPE: pairs (i, i + ROT_HALF), rope.wgsl's rotate_half)
//   kCache[kvh, pos0] = k;  vCache[kvh, pos0] = v             (the KV append)
//   p[s]    = softmax_s(q . kCache[kvh, s] * scale), s <= pos0    (scores [NH, S], reused as scratch)
//   z[h]    = sum_s p[s] vCache[kvh, s]                       [NH * HS]
//
// One workgroup per query head h (kvh = h / group). A head needs only its own rows of w, so no other workgroup's
// result is waited for: the projection, the rotation, the append and the attention of a head all happen in one
// workgroup, with barriers between the phases. With grouped-query attention (group > 1) the workgroups of a group
// each write the same k and v to the cache; they are the same values, so whichever write lands is right. k is
// rotated in workgroup memory before it is written: rotated in the cache, one workgroup could read another's
// unrotated write.
// The phases follow the unfused kernels' arithmetic: layerNorm.v2's (or rmsNorm.v2's) statistics (per invocation:
// no barrier), matvec's dot products, rope.wgsl's rotation, softmax.v2's max, exp(s - max) / sum, then
// attentionValues' weighted sum. C and HS are compile-time constants: h (C floats), q and k (HS floats each) live
// in workgroup memory.
// Bindings: 1 z, 2 x, 3 w, 4 gamma, 5 kCache, 6 vCache, 7 scores, then beta, bias and invFreq where there are
// such, numbered by the caller (BETA_AT, BIAS_AT, INV_FREQ_AT).

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
@group(0) @binding(5) var<storage, read_write> kCache: array<f32>;
@group(0) @binding(6) var<storage, read_write> vCache: array<f32>;
@group(0) @binding(7) var<storage, read_write> scores: array<f32>;
#if ${LAYERNORM}
@group(0) @binding(${BETA_AT}) var<storage, read> beta: array<f32>;
#endif
#if ${ROPE}
@group(0) @binding(${INV_FREQ_AT}) var<storage, read> invFreq: array<f32>;
#endif
#include "lib/fused_bias.wgsl"

const WG = ${WG}u;
const C = ${C}u;
const HS = ${HS}u;
const ROT_HALF = ${ROT_HALF}u;  // rotaryDim / 2 (0 without RoPE)
alias Partial = f32;
#include "lib/workgroup_sum.wgsl"
#include "lib/workgroup_max.wgsl"
#include "lib/sincos.wgsl"

var<workgroup> hNorm: array<f32, C>;
var<workgroup> qHead: array<f32, HS>;
var<workgroup> kHead: array<f32, HS>;

// Chunk c of the normalised row.
fn hChunk(c: u32) -> Chunk {
#if ${VEC4}
  return vec4<f32>(hNorm[4u * c], hNorm[4u * c + 1u], hNorm[4u * c + 2u], hNorm[4u * c + 3u]);
#else
  return hNorm[c];
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

  // 1. The norm of x, each invocation computing the statistics itself and writing its stripe of hNorm.
#if ${LAYERNORM}
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
#else
  var squares = 0.0;
  for (var c = 0u; c < C; c++) {
    squares += x[c] * x[c];
  }
  let rstd = inverseSqrt(squares / f32(C) + params.eps);
  for (var c = t; c < C; c += WG) {
    hNorm[c] = x[c] * rstd * gamma[c];
  }
#endif
  workgroupBarrier();

  // 2. This head's q and k (kept in workgroup memory), and its v, appended to the cache at pos0.
  let kRows = params.nHead * HS;
  let vRows = kRows + params.nKVHead * HS;
  let cacheRow = (kvh * params.nCtx + params.pos0) * HS;
  for (var j = t; j < 3u * HS; j += WG) {
    let d = j % HS;
    if (j < HS) {
      qHead[d] = project(h * HS + d);
    } else if (j < 2u * HS) {
      kHead[d] = project(kRows + kvh * HS + d);
    } else {
      vCache[cacheRow + d] = project(vRows + kvh * HS + d);
    }
  }
  workgroupBarrier();
#if ${ROPE}
  // RoPE: pair (i, i + ROT_HALF) of q and of k turned by pos0 * invFreq[i]; dims from 2 ROT_HALF on stay.
  for (var i = t; i < ROT_HALF; i += WG) {
    let sc = sinCos(f32(params.pos0) * invFreq[i]);
    let q1 = qHead[i];
    let q2 = qHead[i + ROT_HALF];
    qHead[i] = q1 * sc.y - q2 * sc.x;
    qHead[i + ROT_HALF] = q2 * sc.y + q1 * sc.x;
    let k1 = kHead[i];
    let k2 = kHead[i + ROT_HALF];
    kHead[i] = k1 * sc.y - k2 * sc.x;
    kHead[i + ROT_HALF] = k2 * sc.y + k1 * sc.x;
  }
  workgroupBarrier();
#endif
  for (var d = t; d < HS; d += WG) {
    kCache[cacheRow + d] = kHead[d];
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
