// The sampler's candidates, version 2, for software adapters: the same output as topK.v1 (see there), from one
// invocation walking the whole row alone. A CPU implementation of WebGPU such as SwiftShader pays for each of
// v1's K rounds of barriers far more than for one pass over V values; here the K + 1 largest are kept in one
// sorted insertion list (the last of them is the floor), and the log-sum-exp is kept running.

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

@compute @workgroup_size(1)
fn main() {
  // 1. The adjusted ids, in place (put back at the end).
  for (var j = 0u; j < params.nList; j++) {
    let e = list[j];
    let raw = logits[e.id];
    list[j].raw = raw;
    let biased = raw + e.bias;
    logits[e.id] = select(biased * e.penalty, biased / e.penalty, biased > 0.0);
  }

  // 2. One pass: the K + 1 largest, in order (ids increase, so a strictly larger value moves ahead of an equal
  // one), and the running log-sum-exp (m, s: sum exp(x - m)).
  var values: array<f32, K + 1u>;
  var ids: array<u32, K + 1u>;
  for (var r = 0u; r <= K; r++) {
    values[r] = negativeInfinity();
    ids[r] = NONE;
  }
  var count = 0u;
  var m = LOWEST_F32;
  var s = 0.0;
  for (var i = 0u; i < params.V; i++) {
    let x = logits[i] / params.temperature;
    if (isMasked(x)) {
      continue;
    }
    if (x > m) {
      s = s * exp(m - x) + 1.0;
      m = x;
    } else {
      s += exp(x - m);
    }
    if (count <= K || x > values[K]) {
      var at = min(count, K);
      while (at > 0u && x > values[at - 1u]) {
        values[at] = values[at - 1u];
        ids[at] = ids[at - 1u];
        at--;
      }
      values[at] = x;
      ids[at] = i;
      count = min(count + 1u, K + 1u);
    }
  }

  // 3. The row as it was, then the candidates with their raw logits.
  for (var j = 0u; j < params.nList; j++) {
    logits[list[j].id] = list[j].raw;
  }
  out[0] = m;
  out[1] = select(0.0, s, s > 0.0);
  out[2] = values[K];
  for (var r = 0u; r < K; r++) {
    let id = ids[r];
    if (id == NONE) {
      out[3u + r] = -1.0;
      out[3u + K + r] = negativeInfinity();
      continue;
    }
    out[3u + r] = f32(id);
    out[3u + K + r] = logits[id];
  }
}
