// The 8 rows of w that the 8-row linear kernels (matmul.matvec, matmul.matvec.v2, matmul.v2, matvecFused,
// matmulFused, lmHead) multiply, from row n0, clamped to the last row at the edge: loads stay in bounds, and the
// sums of rows past N are not stored. Four rows a vec4 whose components are named, never indexed in a loop (see
// matmul.v2 for why). The including shader has block (lib/chunk.wgsl) and loadW (lib/weights.wgsl).

struct Rows8 {
  lo: vec4<u32>,
  hi: vec4<u32>,
}

fn rows8(n0: u32, N: u32) -> Rows8 {
  let last = vec4<u32>(N - 1u);
  let first = vec4<u32>(n0) + vec4<u32>(0u, 1u, 2u, 3u);
  return Rows8(min(first, last), min(first + vec4<u32>(4u), last));
}

// Chunk c of four rows of w, `offset` rows further down (SwiGLU's up half: N; else 0), as a Block.
fn blockW(r: vec4<u32>, offset: u32, c: u32) -> Block {
  return block(loadW(offset + r.x, c), loadW(offset + r.y, c), loadW(offset + r.z, c), loadW(offset + r.w, c));
}
