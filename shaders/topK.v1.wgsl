// The candidates a sampler needs from one row of logits, so the CPU reads back K of them instead of all V:
//
//   x[i] = adjust(logits[i]) / temperature     adjust: the bias, penalty or ban of the ids in `list`, else none
//   out  = [max, sumExp, floor, ids[K], raw[K]]
//     max, sumExp  the log-sum-exp of the whole of x: log(sum_i exp(x[i])) = max + log(sumExp)
//     ids, raw     the K largest x, largest first (lower id first on ties), as ids (f32, exact below 2^24) and
//                  their raw logits (before adjust), so the CPU can redo the processing exactly; -1 past the end
//     floor        the largest x not returned (-Infinity when none is left): every id not returned has x <= floor
//   UNTEMPERED: out[3 + 2K], out[4 + 2K] = max, sumExp of adjust(logits[i]), the row before the temperature: with
//     no list, the raw row's log-sum-exp, which log-probabilities are reported against, from the same pass
//
// One workgroup of WG invocations. Each walks a stripe of the row keeping the K largest of it in order (an
// insertion list in registers) and a running log-sum-exp; then K rounds of a workgroup argmax over the heads of
// the lists pick the K largest overall. `list` entries are applied to logits in place first (their raw values kept
// in the entry, and put back at the end), so the stripe loop reads every value the same way.

struct TopKParams {
  V: u32,
  nList: u32,
  temperature: f32,
}

// One adjusted id: logits[id] = penalise(logits[id] + bias), where penalise divides a positive logit by penalty
// and multiplies a negative one (penalty 1: none). raw receives the logit before.
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

const WG = ${WG}u;
const K = ${K}u;
alias Partial = f32;
#include "lib/workgroup_sum.wgsl"
#include "lib/workgroup_max.wgsl"
#include "lib/masked.wgsl"
#include "lib/lse.wgsl"

var<workgroup> bestValue: array<f32, WG>;
var<workgroup> bestId: array<u32, WG>;
var<workgroup> bestOwner: array<u32, WG>;
var<workgroup> picked: array<u32, K>;

const NONE = 0xffffffffu;

// Whether (v, id) ranks before (w, jd): larger first, lower id first on ties.
fn before(v: f32, id: u32, w: f32, jd: u32) -> bool {
  return v > w || (v == w && id < jd);
}

@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_index) t: u32) {
  // 1. The adjusted ids, in place.
  for (var j = t; j < params.nList; j += WG) {
    let e = list[j];
    let raw = logits[e.id];
    list[j].raw = raw;
    let biased = raw + e.bias;
    logits[e.id] = select(biased * e.penalty, biased / e.penalty, biased > 0.0);
  }
  storageBarrier();
  workgroupBarrier();

  // 2. This invocation's stripe: its K largest, in order, and its running log-sum-exp (lib/lse.wgsl).
  var values: array<f32, K>;
  var ids: array<u32, K>;
  for (var r = 0u; r < K; r++) {
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
    // stripes run in increasing id, so a strictly larger value is what moves ahead of an equal one
    if (count < K || x > values[K - 1u]) {
      var at = min(count, K - 1u);
      while (at > 0u && x > values[at - 1u]) {
        values[at] = values[at - 1u];
        ids[at] = ids[at - 1u];
        at--;
      }
      values[at] = x;
      ids[at] = i;
      count = min(count + 1u, K);
    }
  }

  // 3. The log-sum-exp of the whole row.
  let rowMax = workgroupMax(lse.m, t);
  let sumExp = workgroupSum(select(0.0, lse.s * exp(lse.m - rowMax), lse.s > 0.0), t);
#if ${UNTEMPERED}
  let rowMax1 = workgroupMax(lse1.m, t);
  let sumExp1 = workgroupSum(select(0.0, lse1.s * exp(lse1.m - rowMax1), lse1.s > 0.0), t);
#endif

  // 4. K rounds: the best head among the invocations' lists is the next candidate; round K + 1 finds the floor.
  var head = 0u;
  for (var r = 0u; r <= K; r++) {
    let live = head < count;
    var value = select(negativeInfinity(), values[min(head, K - 1u)], live);
    if (r == K && !live && count == K) {
      value = values[K - 1u]; // a list used up whole: its stripe may hold more, each at most its last value
    }
    bestValue[t] = value;
    bestId[t] = select(NONE, ids[min(head, K - 1u)], live);
    bestOwner[t] = t;
    for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
      workgroupBarrier();
      if (t < stride && before(bestValue[t + stride], bestId[t + stride], bestValue[t], bestId[t])) {
        bestValue[t] = bestValue[t + stride];
        bestId[t] = bestId[t + stride];
        bestOwner[t] = bestOwner[t + stride];
      }
    }
    workgroupBarrier();
    if (bestOwner[0] == t && bestId[0] != NONE) {
      head++;
    }
    if (t == 0u) {
      if (r < K) {
        picked[r] = bestId[0];
      } else {
        out[2] = bestValue[0];
      }
    }
    workgroupBarrier();
  }

  // 5. The row as it was (a caller may still read it), then the candidates' ids and raw logits (an adjusted id's raw
  // value is in its list entry).
  for (var j = t; j < params.nList; j += WG) {
    logits[list[j].id] = list[j].raw;
  }
  if (t == 0u) {
    out[0] = rowMax;
    out[1] = sumExp;
#if ${UNTEMPERED}
    out[3u + 2u * K] = rowMax1;
    out[4u + 2u * K] = sumExp1;
#endif
  }
  for (var r = t; r < K; r += WG) {
    let id = picked[r];
    if (id == NONE) {
      out[3u + r] = -1.0;
      out[3u + K + r] = negativeInfinity();
      continue;
    }
    var raw = logits[id];
    for (var j = 0u; j < params.nList; j++) {
      if (list[j].id == id) {
        raw = list[j].raw;
      }
    }
    out[3u + r] = f32(id);
    out[3u + K + r] = raw;
  }
}
