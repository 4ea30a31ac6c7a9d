// KV-cache append: copy the keys (or values) of T new tokens into one layer's cache.
//
//   cache: [nKVHead, nCtx, headDim]   (head-major, so one head's keys are contiguous over positions)
//   src:   T rows of `srcStride` floats; head j of row t is at src[t * srcStride + srcOffset + j * headDim + d]
//
//   cache[j, pos0 + t, d] = src[t * srcStride + srcOffset + j * headDim + d]
//
// The source is usually the fused qkv activation [T, (nHead + 2 * nKVHead) * headDim], read in place with its
// row stride, so keys and values never need a separate copy before they reach the cache.
// One thread per copied element; consecutive threads walk d, so reads and writes are both contiguous.

struct AppendParams {
  T: u32,
  pos0: u32,
  nKVHead: u32,
  headDim: u32,
  nCtx: u32,
  srcStride: u32,
  srcOffset: u32,
  n: u32,  // T * nKVHead * headDim
}

@group(0) @binding(0) var<uniform> params: AppendParams;
@group(0) @binding(1) var<storage, read_write> cache: array<f32>;
@group(0) @binding(2) var<storage, read> src: array<f32>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i >= params.n) {
    return;
  }
  let d = i % params.headDim;
  let j = (i / params.headDim) % params.nKVHead;
  let t = i / (params.headDim * params.nKVHead);
  let srcIndex = t * params.srcStride + params.srcOffset + j * params.headDim + d;
  let cacheIndex = (j * params.nCtx + params.pos0 + t) * params.headDim + d;
  cache[cacheIndex] = src[srcIndex];
}
