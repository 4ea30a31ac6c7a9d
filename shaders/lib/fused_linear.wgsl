// The operands of a linear layer with its neighbours fused in (matvecFused.wgsl, matmulFused.wgsl): out at binding
// 1, a at 2, w at 3 (lib/weights.wgsl, its own bias switched off with HAS_BIAS = false), then gamma and beta (as the
// norm has them) and the bias at the bindings the caller numbers (GAMMA_AT, BETA_AT, BIAS_AT), and the activations
// of the epilogues. The including shader binds `params` with the field K.

@group(0) @binding(1) var<storage, read_write> out: array<f32>;

#include "lib/weights.wgsl"

@group(0) @binding(2) var<storage, read> a: array<Chunk>;

#if ${NORM}
@group(0) @binding(${GAMMA_AT}) var<storage, read> gamma: array<Chunk>;
#endif
#if ${LAYERNORM}
@group(0) @binding(${BETA_AT}) var<storage, read> beta: array<Chunk>;
#endif
#include "lib/fused_bias.wgsl"

#include "lib/activations.wgsl"
