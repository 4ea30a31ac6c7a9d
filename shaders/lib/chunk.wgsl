// A Chunk is what one step along a row reads: 4 consecutive values as one vec4 when the row length is a multiple
// of 4 (the constant VEC4), else a single value, so that a vec4 never straddles two rows. CHUNK counts its values.
//
// Four rows' chunks side by side make a Block: block(r0, r1, r2, r3) is the mat4x4 whose columns are the four
// chunks (VEC4), or the vec4 of the four values. Either way x * block(...) is the vec4 of the dot products of
// chunk x with each of the four.
#if ${VEC4}
alias Chunk = vec4<f32>;
alias Block = mat4x4<f32>;
const CHUNK = 4u;

fn block(r0: Chunk, r1: Chunk, r2: Chunk, r3: Chunk) -> Block {
  return mat4x4<f32>(r0, r1, r2, r3);
}
#else
alias Chunk = f32;
alias Block = vec4<f32>;
const CHUNK = 1u;

fn block(r0: Chunk, r1: Chunk, r2: Chunk, r3: Chunk) -> Block {
  return vec4<f32>(r0, r1, r2, r3);
}
#endif

// The sum of the values of a chunk.
fn sumChunk(v: Chunk) -> f32 {
#if ${VEC4}
  return dot(v, vec4<f32>(1.0));
#else
  return v;
#endif
}
