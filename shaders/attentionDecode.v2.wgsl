// One token's attention block in one dispatch, version 2, for software adapters: the same work as
// attentionDecode.v1 (the norm, this head's q | k | v, RoPE, the KV append, scores, softmax, values), with one
// invocation per query head walking all of it alone: no workgroup memory and no barriers, which a CPU
// implementation of WebGPU such as SwiftShader pays for dearly. The normalised row, q and k live in the
// invocation's own arrays (k is rotated there, then written); the scores of head h use row h of `scores` as
// scratch. Under grouped-query attention the invocations of a group each write the same k and v to the cache, and
// each reads back its own write. Bindings as in v1.

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

const C = ${C}u;
const HS = ${HS}u;
const ROT_HALF = ${ROT_HALF}u;  // rotaryDim / 2 (0 without RoPE)

#include "lib/masked.wgsl"
#include "lib/sincos.wgsl"

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = gid.x;
  if (h >= params.nHead) {
    return;
  }
  let kvh = h / params.group;
  let S = params.pos0 + 1u;

  // 1. The norm of x (layerNorm.v2's two passes, or rmsNorm.v2's one).
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
#else
  var squares = 0.0;
  for (var c = 0u; c < C; c++) {
    squares += x[c] * x[c];
  }
#endif
  let rstd = inverseSqrt(squares / f32(C) + params.eps);
  var hNorm: array<Chunk, C / CHUNK>;
  for (var c = 0u; c < C / CHUNK; c++) {
#if ${VEC4}
    let k = 4u * c;
    let v = vec4<f32>(x[k], x[k + 1u], x[k + 2u], x[k + 3u]);
    let g = vec4<f32>(gamma[k], gamma[k + 1u], gamma[k + 2u], gamma[k + 3u]);
#if ${LAYERNORM}
    hNorm[c] = (v - shift - mean) * rstd * g + vec4<f32>(beta[k], beta[k + 1u], beta[k + 2u], beta[k + 3u]);
#else
    hNorm[c] = v * rstd * g;
#endif
#else
#if ${LAYERNORM}
    hNorm[c] = (x[c] - shift - mean) * rstd * gamma[c] + beta[c];
#else
    hNorm[c] = x[c] * rstd * gamma[c];
#endif
#endif
  }

  // 2. q of this head; k and v of its KV head: v appended at pos0, k once rotated.
  let kRows = params.nHead * HS;
  let vRows = kRows + params.nKVHead * HS;
  let cacheRow = (kvh * params.nCtx + params.pos0) * HS;
  var q: array<f32, HS>;
  var kRow: array<f32, HS>;
  for (var d = 0u; d < HS; d++) {
    var accQ = Chunk();
    var accK = Chunk();
    var accV = Chunk();
    for (var c = 0u; c < C / CHUNK; c++) {
      let hc = hNorm[c];
      accQ += hc * loadW(h * HS + d, c);
      accK += hc * loadW(kRows + kvh * HS + d, c);
      accV += hc * loadW(vRows + kvh * HS + d, c);
    }
#if ${VEC4}
    let one = vec4<f32>(1.0);
    q[d] = dot(accQ, one) + fusedBiasAt(h * HS + d);
    kRow[d] = dot(accK, one) + fusedBiasAt(kRows + kvh * HS + d);
    vCache[cacheRow + d] = dot(accV, one) + fusedBiasAt(vRows + kvh * HS + d);
#else
    q[d] = accQ + fusedBiasAt(h * HS + d);
    kRow[d] = accK + fusedBiasAt(kRows + kvh * HS + d);
    vCache[cacheRow + d] = accV + fusedBiasAt(vRows + kvh * HS + d);
#endif
  }
#if ${ROPE}
  // RoPE: pair (i, i + ROT_HALF) of q and of k turned by pos0 * invFreq[i]; dims from 2 ROT_HALF on stay.
  for (var i = 0u; i < ROT_HALF; i++) {
    let sc = sinCos(f32(params.pos0) * invFreq[i]);
    let q1 = q[i];
    let q2 = q[i + ROT_HALF];
    q[i] = q1 * sc.y - q2 * sc.x;
    q[i + ROT_HALF] = q2 * sc.y + q1 * sc.x;
    let k1 = kRow[i];
    let k2 = kRow[i + ROT_HALF];
    kRow[i] = k1 * sc.y - k2 * sc.x;
    kRow[i + ROT_HALF] = k2 * sc.y + k1 * sc.x;
  }
#endif
  for (var d = 0u; d < HS; d++) {
    kCache[cacheRow + d] = kRow[d];
  }

  // 3. Scores and their max; 4. softmax (softmax.v2's max, exp(s - max) / sum); 5. z = p . v.
  let row = h * S;
  var rowMax = LOWEST_F32;
  for (var s = 0u; s < S; s++) {
    let k = (kvh * params.nCtx + s) * HS;
    var acc = 0.0;
    for (var d = 0u; d < HS; d++) {
      acc += q[d] * kCache[k + d];
    }
    let score = params.scale * acc;
    scores[row + s] = score;
    rowMax = max(rowMax, score);
  }
  var total = 0.0;
  for (var s = 0u; s < S; s++) {
    total += exp(scores[row + s] - rowMax);
  }
  for (var s = 0u; s < S; s++) {
    scores[row + s] = exp(scores[row + s] - rowMax) / total;
  }
  for (var d = 0u; d < HS; d++) {
    var acc = 0.0;
    for (var s = 0u; s < S; s++) {
      acc += scores[row + s] * vCache[(kvh * params.nCtx + s) * HS + d];
    }
    z[h * HS + d] = acc;
  }
}
