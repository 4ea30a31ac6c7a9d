// A prefill step's linear layer (T rows) with its neighbours fused in, matmul.v2's register tiling with
// matvecFused's prologue and epilogues: one dispatch for what the unfused path runs as two or three.
//
//   LAYERNORM  h[m] = layernorm(a[m]) * gamma + beta    NORM alone  h[m] = rmsnorm(a[m]) * gamma    neither  h = a
//   y[m, n] = sum_k h[m, k] * w[n, k] + bias[n]
//   GELU      out[m, n] = gelu(y[m, n])                 (GPT-2's c_fc + GELU)
//   SWIGLU    out[m, n] = silu(y[m, n]) * y[m, N + n]   (gate | up + SiLU . mul: w holds 2N rows, gate then up)
//   RESIDUAL  out[m, n] += y[m, n]                      (c_proj + the residual add: out is the residual stream x)
//
// a [M, K] f32, w [N, K] (or [2N, K] for SWIGLU) f32 or packed f16, bias f32, gamma and beta [K] f32, out [M, N].
// Each invocation owns a block of 4 rows x 8 outputs, as in matmul.v2 (32 running sums in registers; 64 with the
// up rows of SWIGLU). With a norm, every invocation first computes its 4 rows' statistics itself, in the two
// passes of layerNorm.v2 (or rmsNorm.v2's one), then normalises each chunk of a as it loads it: 4 rows of K read
// twice more per invocation, against 8 rows of w, in exchange for the norm's dispatch and its round trip through
// memory. Bindings: 1 out, 2 a, 3 w, then gamma and beta (as the norm has them) and bias, numbered by the caller.

struct MatmulFusedParams {
  M: u32,
  N: u32,
  K: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> params: MatmulFusedParams;
#include "lib/fused_linear.wgsl"
#include "lib/rows8.wgsl"

// blockProduct(A, W)[j][i] is the dot product of chunk i of block A with chunk j of block W (as in matmul.v2).
#if ${VEC4}
fn blockProduct(a: Block, w: Block) -> mat4x4<f32> {
  return transpose(a) * w;
}
#else
fn blockProduct(a: Block, w: Block) -> mat4x4<f32> {
  return mat4x4<f32>(a * w.x, a * w.y, a * w.z, a * w.w);
}
#endif

fn loadA(m: u32, c: u32) -> Chunk {
  return a[m * (params.K / CHUNK) + c];
}

// Row m's statistics: shift (its first value), mean of a - shift, and rstd; for RMSNorm shift = mean = 0.
struct Stats {
  shift: f32,
  mean: f32,
  rstd: f32,
}

fn rowStats(m: u32) -> Stats {
  let K = params.K;
  let chunks = K / CHUNK;
#if ${LAYERNORM}
#if ${VEC4}
  let shift = a[m * chunks].x;
#else
  let shift = a[m * chunks];
#endif
  var sum = Chunk();
  for (var c = 0u; c < chunks; c++) {
    sum += loadA(m, c) - shift;
  }
  let mean = sumChunk(sum) / f32(K);
  var squares = Chunk();
  for (var c = 0u; c < chunks; c++) {
    let d = loadA(m, c) - shift - mean;
    squares += d * d;
  }
  return Stats(shift, mean, inverseSqrt(sumChunk(squares) / f32(K) + params.eps));
#else
  var squares = Chunk();
  for (var c = 0u; c < chunks; c++) {
    let v = loadA(m, c);
    squares += v * v;
  }
  return Stats(0.0, 0.0, inverseSqrt(sumChunk(squares) / f32(K) + params.eps));
#endif
}

// gamma and beta at chunk c, loaded once for the 4 rows of a block (1 and 0 where the norm has none).
struct Affine {
  gamma: Chunk,
  beta: Chunk,
}

fn affineAt(c: u32) -> Affine {
#if ${LAYERNORM}
  return Affine(gamma[c], beta[c]);
#elif ${NORM}
  return Affine(gamma[c], Chunk());
#else
  return Affine(Chunk(1.0), Chunk());
#endif
}

// Chunk c of h[m], the (normalised) input row.
fn input(m: u32, c: u32, s: Stats, f: Affine) -> Chunk {
#if ${LAYERNORM}
  return (loadA(m, c) - s.shift - s.mean) * s.rstd * f.gamma + f.beta;
#elif ${NORM}
  return loadA(m, c) * s.rstd * f.gamma;
#else
  return loadA(m, c);
#endif
}

// What becomes of output (m, n), its dot product y and (SWIGLU) the dot product of its up row.
fn store(m: u32, n: u32, y: f32, up: f32) {
  let i = m * params.N + n;
  let v = y + fusedBiasAt(n);
#if ${GELU}
  out[i] = gelu(v);
#elif ${SWIGLU}
  out[i] = swiglu(v, up + fusedBiasAt(params.N + n));
#elif ${RESIDUAL}
  out[i] += v;
#else
  out[i] = v;
#endif
}

// x runs along N, y along M; one invocation per 4 x 8 block: ceil(N / (8 * WG_N)) x ceil(M / (4 * WG_M)).
@compute @workgroup_size(${WG_N}, ${WG_M})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let m0 = gid.y * 4u;
  let n0 = gid.x * 8u;

  // The rows it reads, clamped to the last row at the edges (loads stay in bounds; those results are not stored).
  let lastM = params.M - 1u;
  let ra0 = min(m0, lastM);
  let ra1 = min(m0 + 1u, lastM);
  let ra2 = min(m0 + 2u, lastM);
  let ra3 = min(m0 + 3u, lastM);
  let rw = rows8(n0, params.N); // the 8 rows of w, clamped at the edge
#if ${NORM}
  let s0 = rowStats(ra0);
  let s1 = rowStats(ra1);
  let s2 = rowStats(ra2);
  let s3 = rowStats(ra3);
#else
  let s0 = Stats(0.0, 0.0, 1.0);
  let s1 = s0;
  let s2 = s0;
  let s3 = s0;
#endif

  // lo[j][i] accumulates y[m0 + i, n0 + j], hi[j][i] y[m0 + i, n0 + 4 + j]; upLo and upHi the up rows' (SWIGLU).
  var lo = mat4x4<f32>();
  var hi = mat4x4<f32>();
  var upLo = mat4x4<f32>();
  var upHi = mat4x4<f32>();
  for (var c = 0u; c < params.K / CHUNK; c++) {
    let f = affineAt(c);
    let blockA = block(input(ra0, c, s0, f), input(ra1, c, s1, f), input(ra2, c, s2, f), input(ra3, c, s3, f));
    lo += blockProduct(blockA, blockW(rw.lo, 0u, c));
    hi += blockProduct(blockA, blockW(rw.hi, 0u, c));
#if ${SWIGLU}
    // the up rows, N rows further down
    let N = params.N;
    upLo += blockProduct(blockA, blockW(rw.lo, N, c));
    upHi += blockProduct(blockA, blockW(rw.hi, N, c));
#endif
  }

  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    for (var j = 0u; j < 4u; j++) {
      if (m < params.M && n0 + j < params.N) {
        store(m, n0 + j, lo[j][i], upLo[j][i]);
      }
      if (m < params.M && n0 + 4u + j < params.N) {
        store(m, n0 + 4u + j, hi[j][i], upHi[j][i]);
      }
    }
  }
}
