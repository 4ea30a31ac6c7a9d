// Attention output per head (TransformerLens hook_z): the pattern-weighted sum of the value vectors.
//
//   z[t, h * headDim + d] = sum_{s <= pos0 + t} pattern[h, t, s] * v[kvh, s, d]
//
//   pattern: [nHead, T, S], S = pos0 + T; rows are softmax outputs, zero past the causal mask
//   vCache:  [nKVHead, nCtx, headDim]; query head h reads KV head kvh = h / group
//   z:       [T, nHead * headDim], the heads side by side, ready for the output projection
//
// One workgroup per (t, h, tile of LANES dims). Its LANES x PARTS threads split the work both ways: a lane owns
// one dim d, and the PARTS threads of that lane share the sum over s (part p takes s = p, p + PARTS, ...). The
// PARTS partial sums are then added in workgroup memory. A decode step (T = 1, S up to nCtx) thus runs
// PARTS times more threads than one-thread-per-output would, each doing 1 / PARTS of the loop.
// Consecutive lanes read consecutive floats of a value row, and every thread of a part reads the same pattern
// entry. Keys past pos0 + t are never read: their pattern entries are exactly 0, and skipping them also keeps
// any stale cache contents out of the sum.
// This is version 1, for hardware adapters; attentionValues.v2.wgsl drops the split over s, for software ones.

struct ValuesParams {
  T: u32,
  pos0: u32,
  S: u32,
  nHead: u32,
  group: u32,
  headDim: u32,
  nCtx: u32,
  tiles: u32,  // ceil(headDim / LANES)
}

@group(0) @binding(0) var<uniform> params: ValuesParams;
@group(0) @binding(1) var<storage, read_write> z: array<f32>;
@group(0) @binding(2) var<storage, read> pattern: array<f32>;
@group(0) @binding(3) var<storage, read> vCache: array<f32>;

const LANES = ${LANES}u;
const PARTS = ${PARTS}u;

var<workgroup> partial: array<f32, LANES * PARTS>;

@compute @workgroup_size(LANES * PARTS)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Workgroup index = (h * T + t) * tiles + tile, folded into 2-D when there are more than 65535.
  let index = wg.x + wg.y * groups.x;
  if (index >= params.nHead * params.T * params.tiles) {
    return;
  }
  let tile = index % params.tiles;
  let row = index / params.tiles;  // h * T + t: the pattern row
  let t = row % params.T;
  let h = row / params.T;
  let kvh = h / params.group;

  let lane = lid % LANES;
  let part = lid / LANES;
  let d = tile * LANES + lane;
  let last = params.pos0 + t;  // the newest key this query may see

  var acc = 0.0;
  if (d < params.headDim) {
    let p = row * params.S;
    let v = kvh * params.nCtx * params.headDim + d;
    for (var s = part; s <= last; s += PARTS) {
      acc += pattern[p + s] * vCache[v + s * params.headDim];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();

  if (part == 0u && d < params.headDim) {
    var sum = 0.0;
    for (var k = 0u; k < PARTS; k++) {
      sum += partial[k * LANES + lane];
    }
    z[t * params.nHead * params.headDim + h * params.headDim + d] = sum;
  }
}
