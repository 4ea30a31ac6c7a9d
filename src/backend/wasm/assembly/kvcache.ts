// KV-cache append, as kv_append.wgsl: the keys (or values) of T new tokens at positions pos0 .. pos0 + T - 1
// copied from their rows of src into one layer's cache:
//
//   cache[j, pos0 + t, d] = src[t * srcStride + srcOffset + j * headDim + d]
//
//   cache [nKVHead, nCtx, headDim] f32; src T rows of srcStride floats (a fused qkv buffer: stride 3C, offset C
//   for the keys, 2C for the values). Each (t, j) is one contiguous run of headDim floats.
export function kvAppend(cache: usize, src: usize, T: i32, pos0: i32, nKVHead: i32, headDim: i32, nCtx: i32, srcStride: i32, srcOffset: i32): void {
  const headBytes = <usize>headDim << 2;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < nKVHead; j++) {
      const from = src + ((<usize>t * <usize>srcStride + <usize>srcOffset + <usize>j * <usize>headDim) << 2);
      const to = cache + (<usize>j * <usize>nCtx + <usize>(pos0 + t)) * headBytes;
      memory.copy(to, from, headBytes);
    }
  }
}
