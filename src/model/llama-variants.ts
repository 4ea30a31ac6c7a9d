// Where each Llama-family checkpoint keeps its weights: the only place the variants differ in layout.
//
// Every variant has the same block, and wgpt runs it with two fused projections:
//   qkv_proj      [NH*HS + 2*NKV*HS, C]   q rows, then k rows, then v rows: one matmul gives q | k | v
//   gate_up_proj  [2I, C]                 gate rows, then up rows: one matmul feeds the swiglu kernel
// Llama, Mistral and Qwen2 store q_proj, k_proj, v_proj and gate_proj, up_proj as separate tensors, stacked here
// at load time; Phi-3 stores them already fused, in the same order (its MLP does `gate, up = gate_up.chunk(2)`).
// So a fused projection is a list of parts whose rows are stacked, and a variant is a choice of parts.
import type { LlamaConfig, LlamaVariant } from './config.ts';

/** One tensor of a fused projection: its checkpoint name (without `.weight` / `.bias`) and its rows. */
export interface LlamaPart {
  name: string;
  rows: number;
}

/** The checkpoint names of block i: norms, and each projection as the parts stacked into it. */
export interface LlamaBlockNames {
  input_layernorm: string;
  self_attn: { qkv_proj: LlamaPart[]; o_proj: string };
  post_attention_layernorm: string;
  mlp: { gate_up_proj: LlamaPart[]; down_proj: string };
}

export const LLAMA_NAMES = {
  embed_tokens: 'model.embed_tokens.weight',
  norm: 'model.norm.weight',
  lm_head: 'lm_head.weight',
};

/** Variants that store q, k, v as one qkv_proj and gate, up as one gate_up_proj. */
const FUSED: ReadonlySet<LlamaVariant> = new Set(['phi3']);

/** The names of block i's tensors in a `variant` checkpoint. */
export function llamaBlockNames(config: LlamaConfig, i: number): LlamaBlockNames {
  const { nHead: NH, nKVHead: NKV, headDim: HS, intermediateSize: I } = config;
  const p = `model.layers.${i}`;
  const fused = FUSED.has(config.variant);
  return {
    input_layernorm: `${p}.input_layernorm.weight`,
    self_attn: {
      qkv_proj: fused
        ? [{ name: `${p}.self_attn.qkv_proj`, rows: (NH + 2 * NKV) * HS }]
        : [
            { name: `${p}.self_attn.q_proj`, rows: NH * HS },
            { name: `${p}.self_attn.k_proj`, rows: NKV * HS },
            { name: `${p}.self_attn.v_proj`, rows: NKV * HS },
          ],
      o_proj: `${p}.self_attn.o_proj`,
    },
    post_attention_layernorm: `${p}.post_attention_layernorm.weight`,
    mlp: {
      gate_up_proj: fused
        ? [{ name: `${p}.mlp.gate_up_proj`, rows: 2 * I }]
        : [
            { name: `${p}.mlp.gate_proj`, rows: I },
            { name: `${p}.mlp.up_proj`, rows: I },
          ],
      down_proj: `${p}.mlp.down_proj`,
    },
  };
}

/** The Hugging Face class and model_type of each variant, for config.json files written by wgpt. */
export const LLAMA_HF_CLASSES: Record<LlamaVariant, { architectures: string[]; model_type: string }> = {
  llama: { architectures: ['LlamaForCausalLM'], model_type: 'llama' },
  mistral: { architectures: ['MistralForCausalLM'], model_type: 'mistral' },
  qwen2: { architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2' },
  phi3: { architectures: ['Phi3ForCausalLM'], model_type: 'phi3' },
};
