// The next token, chosen on the GPU from the sampler's candidates (topK's output), so that the next step's
// embedding reads it from a buffer and that step can be submitted before this one's candidates reach the CPU.
// One invocation redoes in f32 what the CPU sampler does to the candidates (src/sampling/gpu.ts, processors.ts):
// the listed ids' bias and penalty, the temperature, then top-k, top-p, min-p and typical-p in that order, each on
// what the one before left, and the inverse-CDF draw over the ids in increasing order with the uniform number u the
// CPU drew for this token (greedy: the largest, the lowest id on a tie). The CPU redoes the choice in float64 when
// the candidates come back; where it disagrees (a draw within rounding of a boundary) it discards what followed.
//
//   token [1] u32       written: the chosen id (the next step's embedding reads it)
//   candidates [3 + 2K] topK's output: [max, sumExp, floor, ids[K] (f32; -1 past the end), raw[K]], largest first
//   list [nList]        topK's listed ids: { id, bias, penalty, raw }

struct ChooseParams {
  K: u32,
  nList: u32,
  temperature: f32,
  greedy: u32,
  topK: u32,
  topP: f32,
  minP: f32,
  typicalP: f32,
  u: f32,
}

struct Adjust {
  id: u32,
  bias: f32,
  penalty: f32,
  raw: f32,
}

@group(0) @binding(0) var<uniform> params: ChooseParams;
@group(0) @binding(1) var<storage, read_write> token: array<u32>;
@group(0) @binding(2) var<storage, read> candidates: array<f32>;
@group(0) @binding(3) var<storage, read> list: array<Adjust>;

const MAX = ${MAX}u;
const NONE = 0xffffffffu;

#include "lib/masked.wgsl"

var<private> x: array<f32, MAX>; // the candidates' processed values, largest first
var<private> id: array<u32, MAX>;
var<private> keep: array<bool, MAX>;
var<private> n: u32;

// The value topK ranked the candidate by: bias, then the penalty (dividing a positive logit, multiplying a
// negative one), then the temperature, in the order and the f32 steps of the CPU sampler.
fn processed(which: u32, raw: f32) -> f32 {
  var v = raw;
  for (var j = 0u; j < params.nList; j++) {
    if (list[j].id == which) {
      let biased = raw + list[j].bias;
      v = select(biased * list[j].penalty, biased / list[j].penalty, biased > 0.0);
    }
  }
  return v / params.temperature;
}

// log sum exp over the kept candidates.
fn keptLogSumExp() -> f32 {
  var m = LOWEST_F32;
  for (var r = 0u; r < n; r++) {
    if (keep[r]) {
      m = max(m, x[r]);
    }
  }
  var s = 0.0;
  for (var r = 0u; r < n; r++) {
    if (keep[r]) {
      s += exp(x[r] - m);
    }
  }
  return m + log(s);
}

@compute @workgroup_size(1)
fn main() {
  let K = params.K;
  n = 0u;
  for (var r = 0u; r < K; r++) {
    if (candidates[3u + r] < 0.0) {
      break;
    }
    id[n] = u32(candidates[3u + r]);
    x[n] = processed(id[n], candidates[3u + K + r]);
    keep[n] = !isMasked(x[n]);
    n++;
  }
  if (params.greedy != 0u) {
    var best = NONE;
    for (var r = 0u; r < n; r++) {
      if (keep[r] && (best == NONE || x[r] > x[best] || (x[r] == x[best] && id[r] < id[best]))) {
        best = r;
      }
    }
    token[0] = 0u;
    if (best != NONE) {
      token[0] = id[best];
    }
    return;
  }

  // While no filter has cut, the kept candidates stand for the whole row: the row's normaliser is topK's.
  var whole = true;
  let rowLogZ = candidates[0] + log(candidates[1]);
  if (params.topK > 0u) {
    for (var r = params.topK; r < n; r++) {
      keep[r] = false;
    }
    whole = false;
  }
  if (params.topP < 1.0) {
    let logZ = select(keptLogSumExp(), rowLogZ, whole);
    var mass = 0.0;
    var reached = false;
    for (var r = 0u; r < n; r++) {
      if (!keep[r]) {
        continue;
      }
      if (reached) {
        keep[r] = false;
      } else {
        mass += exp(x[r] - logZ);
        reached = mass >= params.topP;
      }
    }
    whole = false;
  }
  if (params.minP > 0.0) {
    var top = LOWEST_F32;
    for (var r = 0u; r < n; r++) {
      if (keep[r]) {
        top = max(top, x[r]);
      }
    }
    for (var r = 0u; r < n; r++) {
      keep[r] = keep[r] && exp(x[r] - top) >= params.minP;
    }
    whole = false;
  }
  if (params.typicalP < 1.0) {
    // keep the tokens whose surprise -ln p is closest to the entropy H, up to mass typicalP
    let logZ = select(keptLogSumExp(), rowLogZ, whole);
    var H = 0.0;
    for (var r = 0u; r < n; r++) {
      if (keep[r]) {
        let p = exp(x[r] - logZ);
        H -= p * (x[r] - logZ);
      }
    }
    var distance: array<f32, MAX>;
    var taken: array<bool, MAX>;
    var kept = 0u;
    for (var r = 0u; r < n; r++) {
      distance[r] = abs(logZ - x[r] - H);
      taken[r] = false;
      kept += select(0u, 1u, keep[r]);
    }
    var cutoff = 0.0;
    var cumulative = 0.0;
    for (var j = 0u; j < kept; j++) {
      var next = NONE;
      for (var r = 0u; r < n; r++) {
        if (keep[r] && !taken[r] && (next == NONE || distance[r] < distance[next] || (distance[r] == distance[next] && id[r] < id[next]))) {
          next = r;
        }
      }
      taken[next] = true;
      cutoff = distance[next];
      cumulative += exp(x[next] - logZ);
      if (cumulative >= params.typicalP) {
        break;
      }
    }
    for (var r = 0u; r < n; r++) {
      keep[r] = keep[r] && distance[r] <= cutoff;
    }
  }

  // the draw: the first id, in increasing order, whose cumulative probability passes u
  let logZ = keptLogSumExp();
  var cumulative = 0.0;
  var chosen = NONE;
  var last = NONE;
  var after = 0u; // ids below this were visited
  loop {
    var next = NONE;
    for (var r = 0u; r < n; r++) {
      if (keep[r] && id[r] >= after && (next == NONE || id[r] < id[next])) {
        next = r;
      }
    }
    if (next == NONE) {
      break;
    }
    after = id[next] + 1u;
    last = id[next];
    cumulative += exp(x[next] - logZ);
    if (params.u < cumulative) {
      chosen = id[next];
      break;
    }
  }
  if (chosen == NONE) {
    chosen = select(last, 0u, last == NONE); // rounding left the total a hair under u: the last one, as the CPU does
  }
  token[0] = chosen;
}
