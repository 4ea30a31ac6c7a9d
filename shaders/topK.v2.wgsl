// The sampler's candidates, version 2, for software adapters: the same output as topK.v1 (see there) with one
// barrier instead of v1's K rounds of them, which a CPU implementation of WebGPU such as SwiftShader pays for
// dearly. Each of WG invocations walks a stripe keeping its K + 1 largest in a sorted insertion list and a running
// log-sum-exp, writes them to workgroup memory, and after the one barrier invocation 0 merges the WG lists. A
// stripe's (K + 1)-th value bounds the rest of its stripe, so after K picks the best head left is the floor.
// UNTEMPERED adds the log-sum-exp before the temperature, as in v1.

struct TopKParams {
  V: u32,
  nList: u32,
  temperature: f32,
}

struct Adjust {
  id: u32,
  bias: f32,
  penalty: f32,
  raw: f32,
}

@group(0) @binding(0) var<uniform> params: TopKParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;
@group(0) @binding(3) var<storage, read_write> list: array<Adjust>;

const K = ${K}u;
const NONE = 0xffffffffu;

#include "lib/masked.wgsl"
#include "lib/lse.wgsl"

const WG = ${WG}u;
const L = K + 1u; // a list's length

var<workgroup> listValue: array<f32, WG * L>;
var<workgroup> listId: array<u32, WG * L>;
var<workgroup> listCount: array<u32, WG>;
var<workgroup> stripeMax: array<f32, WG>;
var<workgroup> stripeSum: array<f32, WG>;
#if ${UNTEMPERED}
var<workgroup> stripeMax1: array<f32, WG>;
var<workgroup> stripeSum1: array<f32, WG>;
#endif

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  // 1. The adjusted ids, in place (put back at the end).
  if (t == 0u) {
    for (var j = 0u; j < params.nList; j++) {
      let e = list[j];
      let raw = logits[e.id];
      list[j].raw = raw;
      let biased = raw + e.bias;
      logits[e.id] = select(biased * e.penalty, biased / e.penalty, biased > 0.0);
    }
  }
  storageBarrier();
  workgroupBarrier();

  // 2. This invocation's stripe: its K + 1 largest, in order (ids increase, so a strictly larger value moves
  // ahead of an equal one), and its running log-sum-exp (lib/lse.wgsl).
  var values: array<f32, L>;
  var ids: array<u32, L>;
  for (var r = 0u; r < L; r++) {
    values[r] = negativeInfinity();
    ids[r] = NONE;
  }
  var count = 0u;
  var lse = lseStart();
  var lse1 = lseStart(); // UNTEMPERED: the same of the values before the temperature
  for (var i = t; i < params.V; i += WG) {
    let x = logits[i] / params.temperature;
    if (isMasked(x)) {
      continue;
    }
    lse = lseAdd(lse, x);
#if ${UNTEMPERED}
    lse1 = lseAdd(lse1, logits[i]);
#endif
    if (count < L || x > values[K]) {
      var at = min(count, K);
      while (at > 0u && x > values[at - 1u]) {
        values[at] = values[at - 1u];
        ids[at] = ids[at - 1u];
        at--;
      }
      values[at] = x;
      ids[at] = i;
      count = min(count + 1u, L);
    }
  }
  for (var r = 0u; r < L; r++) {
    listValue[t * L + r] = values[r];
    listId[t * L + r] = ids[r];
  }
  listCount[t] = count;
  stripeMax[t] = lse.m;
  stripeSum[t] = lse.s;
#if ${UNTEMPERED}
  stripeMax1[t] = lse1.m;
  stripeSum1[t] = lse1.s;
#endif
  workgroupBarrier();
  if (t != 0u) {
    return;
  }

  // 3. Invocation 0: the row's log-sum-exp, and K picks of the best head among the lists; the head left is the floor.
  var rowMax = LOWEST_F32;
  for (var u = 0u; u < WG; u++) {
    rowMax = max(rowMax, stripeMax[u]);
  }
  var sumExp = 0.0;
  for (var u = 0u; u < WG; u++) {
    if (stripeSum[u] > 0.0) {
      sumExp += stripeSum[u] * exp(stripeMax[u] - rowMax);
    }
  }
  var heads: array<u32, WG>;
  for (var u = 0u; u < WG; u++) {
    heads[u] = 0u;
  }
  for (var j = 0u; j < params.nList; j++) {
    logits[list[j].id] = list[j].raw; // the row as it was
  }
  out[0] = rowMax;
  out[1] = sumExp;
#if ${UNTEMPERED}
  var rowMax1 = LOWEST_F32;
  for (var u = 0u; u < WG; u++) {
    rowMax1 = max(rowMax1, stripeMax1[u]);
  }
  var sumExp1 = 0.0;
  for (var u = 0u; u < WG; u++) {
    if (stripeSum1[u] > 0.0) {
      sumExp1 += stripeSum1[u] * exp(stripeMax1[u] - rowMax1);
    }
  }
  out[3u + 2u * K] = rowMax1;
  out[4u + 2u * K] = sumExp1;
#endif
  for (var r = 0u; r <= K; r++) {
    var best = NONE;
    var bestValue = negativeInfinity();
    var bestId = NONE;
    for (var u = 0u; u < WG; u++) {
      if (heads[u] < listCount[u]) {
        let v = listValue[u * L + heads[u]];
        let id = listId[u * L + heads[u]];
        if (best == NONE || v > bestValue || (v == bestValue && id < bestId)) {
          best = u;
          bestValue = v;
          bestId = id;
        }
      }
    }
    if (r == K) {
      out[2] = bestValue;
      break;
    }
    if (best == NONE) {
      out[3u + r] = -1.0;
      out[3u + K + r] = negativeInfinity();
      continue;
    }
    heads[best]++;
    out[3u + r] = f32(bestId);
    out[3u + K + r] = logits[bestId];
  }
}
