// Token and position embeddings, the first step of the forward pass:
//   out[t, c] = wte[ids[t], c] + wpe[pos0 + t, c]
// ids: [T] token ids; wte: [V, C] token embeddings; wpe: [P, C] learned position embeddings (GPT-2); out: [T, C].
// Models with rotary position embeddings (Llama) have no wpe: HAS_WPE is false and out is the token part alone.
//
// Each table is f32, packed f16 (WTE_F16, WPE_F16; see lib/half.wgsl), or q8 or q4 blocks dequantized in registers
// (WTE_Q8, WTE_Q4, ...; see lib/quant.wgsl); the last three are u32 words (WTE_WORDS, WPE_WORDS). One thread per
// output element, over a flat index.

struct EmbedParams {
  T: u32,
  C: u32,
  pos0: u32,
}

@group(0) @binding(0) var<uniform> params: EmbedParams;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
#if ${WTE_WORDS}
@group(0) @binding(3) var<storage, read> wte: array<u32>;
#else
@group(0) @binding(3) var<storage, read> wte: array<f32>;
#endif
#if ${HAS_WPE}
#if ${WPE_WORDS}
@group(0) @binding(4) var<storage, read> wpe: array<u32>;
#else
@group(0) @binding(4) var<storage, read> wpe: array<f32>;
#endif
#endif

#include "lib/half.wgsl"
#include "lib/quant.wgsl"

// wte[token, c]
fn tokenEmbedding(token: u32, c: u32) -> f32 {
#if ${WTE_Q8}
  let blocks = quantBlocks(params.C);
  return q8Value(wte[token * blocks * 8u + c / 4u], wte[q8ScaleStart(arrayLength(&wte)) + token * blocks + c / QBLOCK], c);
#elif ${WTE_Q4}
  let blocks = quantBlocks(params.C);
  return q4Value(wte[token * blocks * 4u + c / 8u], wte[q4ScaleStart(arrayLength(&wte)) + token * blocks + c / QBLOCK], c);
#elif ${WTE_F16}
  return unpackHalf(wte[token * halfRowWords(params.C) + c / 2u], c);
#else
  return wte[token * params.C + c];
#endif
}

#if ${HAS_WPE}
// wpe[position, c]
fn positionEmbedding(position: u32, c: u32) -> f32 {
#if ${WPE_Q8}
  let blocks = quantBlocks(params.C);
  return q8Value(wpe[position * blocks * 8u + c / 4u], wpe[q8ScaleStart(arrayLength(&wpe)) + position * blocks + c / QBLOCK], c);
#elif ${WPE_Q4}
  let blocks = quantBlocks(params.C);
  return q4Value(wpe[position * blocks * 4u + c / 8u], wpe[q4ScaleStart(arrayLength(&wpe)) + position * blocks + c / QBLOCK], c);
#elif ${WPE_F16}
  return unpackHalf(wpe[position * halfRowWords(params.C) + c / 2u], c);
#else
  return wpe[position * params.C + c];
#endif
}
#endif

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Dispatches wider than 65535 workgroups fold into y: the flat index spans both dimensions.
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i >= params.T * params.C) {
    return;
  }
  let t = i / params.C;
  let c = i % params.C;
  var value = tokenEmbedding(ids[t], c);
#if ${HAS_WPE}
  value += positionEmbedding(params.pos0 + t, c);
#endif
  out[i] = value;
}
