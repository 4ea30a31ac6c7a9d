// The WebAssembly SIMD128 kernels, one per op as the WGSL ones in shaders/. Every kernel reads and writes f32
// tensors (and packed f16, q8 or q4 weights) at byte addresses in the module's memory, which the host owns and
// shares with its worker threads (src/backend/wasm/). Built by `npm run build:wasm`.
export { matvecF32, matvecF16, matmulF32, matmulF16 } from './matmul';
export { quantizeActs, matvecQ8, matvecQ4, matmulQ8, matmulQ4, matvecQ8F32 } from './matmul_q';
export { layerNorm, rmsNorm } from './norm';
export { softmax } from './softmax';
export { attentionScores, attentionValues, attentionHeads } from './attention';
export { gelu, geluRows, swiglu, residualAdd, addRows } from './elementwise';
export { rope } from './rope';
export { embed } from './embedding';
export { embedQ } from './embedding_q';
export { kvAppend } from './kvcache';
export { intervene } from './intervene';

/** The first byte past the module's static data: the host's allocator starts here. */
export function heapBase(): usize {
  return __heap_base;
}
