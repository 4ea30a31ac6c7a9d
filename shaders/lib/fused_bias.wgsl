// The bias of a fused kernel's matrix (matvecFused, matmulFused, attentionDecode), bound where the caller numbers
// it (BIAS_AT) after the norm's tensors, since lib/weights.wgsl's own bias binding is switched off there:
//
//   fusedBiasAt(n)  bias[n], or 0 where FUSED_BIAS is false

#if ${FUSED_BIAS}
@group(0) @binding(${BIAS_AT}) var<storage, read> fusedBias: array<f32>;

fn fusedBiasAt(n: u32) -> f32 {
  return fusedBias[n];
}
#else
fn fusedBiasAt(n: u32) -> f32 {
  return 0.0;
}
#endif
