// Matrix-vector multiply: the M == 1 case of matmul, met when decoding one token at a time.
//   out[n] = sum_k a[k] * w[n, k] + bias[n]
// a is [1, K] f32, w is [N, K] f32 or packed f16, bias [N] f32, out [1, N] f32.
//
// With one row of a, every weight is used exactly once: the kernel moves N * K weights for N * K multiply-adds
// and is bound by memory, not arithmetic. So the work is spread to keep many loads in flight: a workgroup of WG
// invocations owns ROWS consecutive rows of w; its invocations split K between them (invocation t reads
// chunks t, t + WG, t + 2 * WG, ... so neighbours read neighbouring memory), each keeps ROWS partial sums,
// and a tree reduction in workgroup memory adds the WG partial sums of each row.
// Chunks are vec4 when K % 4 == 0 (VEC4), single values otherwise, as in matmul.v2.
//
// The LM head has N = vocabulary size (50257 for GPT-2, up to ~150k for newer tokenizers): ceil(N / ROWS) can
// pass the 65535 limit on workgroups per dimension, so the grid may be folded into 2-D (see grid1d).

struct MatmulParams {
  M: u32,
  N: u32,
  K: u32,
}

@group(0) @binding(0) var<uniform> params: MatmulParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

const WG = ${WG}u;
const ROWS = ${ROWS}u;

#if ${VEC4}
alias Chunk = vec4<f32>;
const CHUNK = 4u;

fn dotChunk(x: Chunk, y: Chunk) -> f32 {
  return dot(x, y);
}
#else
alias Chunk = f32;
const CHUNK = 1u;

fn dotChunk(x: Chunk, y: Chunk) -> f32 {
  return x * y;
}
#endif

@group(0) @binding(2) var<storage, read> a: array<Chunk>;

// loadW(n, c): chunk c of row n of w.
#if ${WEIGHT_F16}
#if ${VEC4}
// Four halves are two u32 words; K % 4 == 0 makes the row stride (K / 2 words) even, so they never straddle rows.
@group(0) @binding(3) var<storage, read> w: array<vec2<u32>>;

fn loadW(n: u32, c: u32) -> Chunk {
  let words = w[n * (params.K / 4u) + c];
  return vec4<f32>(unpack2x16float(words.x), unpack2x16float(words.y));
}
#else
// One half at a time; rows are ceil(K / 2) words long.
@group(0) @binding(3) var<storage, read> w: array<u32>;

fn loadW(n: u32, k: u32) -> Chunk {
  let pair = unpack2x16float(w[n * ((params.K + 1u) / 2u) + k / 2u]);
  return select(pair.x, pair.y, (k & 1u) == 1u);
}
#endif
#else
@group(0) @binding(3) var<storage, read> w: array<Chunk>;

fn loadW(n: u32, c: u32) -> Chunk {
  return w[n * (params.K / CHUNK) + c];
}
#endif

#if ${HAS_BIAS}
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn biasAt(n: u32) -> f32 {
  return bias[n];
}
#else
fn biasAt(n: u32) -> f32 {
  return 0.0;
}
#endif

// partial[t][r]: invocation t's share of the dot product for row n0 + r.
var<workgroup> partial: array<array<f32, ROWS>, WG>;

@compute @workgroup_size(${WG})
fn main(
  @builtin(local_invocation_index) t: u32,
  @builtin(workgroup_id) wid: vec3<u32>,
  @builtin(num_workgroups) groups: vec3<u32>,
) {
  // A folded grid counts workgroups row by row; the last ones may lie past N and only compute clamped rows.
  let group = wid.x + wid.y * groups.x;
  let n0 = group * ROWS;
  let chunks = params.K / CHUNK;

  var rowW: array<u32, ROWS>;
  for (var r = 0u; r < ROWS; r++) {
    rowW[r] = min(n0 + r, params.N - 1u);
  }

  var acc: array<f32, ROWS>;
  for (var c = t; c < chunks; c += WG) {
    let x = a[c];
    for (var r = 0u; r < ROWS; r++) {
      acc[r] += dotChunk(x, loadW(rowW[r], c));
    }
  }
  partial[t] = acc;

  // Tree reduction: halve the number of live partial sums until partial[0] holds the totals.
  for (var stride = WG / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (t < stride) {
      for (var r = 0u; r < ROWS; r++) {
        partial[t][r] += partial[t + stride][r];
      }
    }
  }

  // Invocation 0 did the last addition itself, so it can read partial[0] without another barrier.
  if (t == 0u) {
    for (var r = 0u; r < ROWS; r++) {
      let n = n0 + r;
      if (n < params.N) {
        out[n] = partial[0][r] + biasAt(n);
      }
    }
  }
}
