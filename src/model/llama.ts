// Llama-style models (Llama, Mistral, Qwen2, Phi-3). What changes from GPT-2: RMSNorm instead of LayerNorm,
// rotary position embeddings (RoPE) on q and k instead of learned positions, grouped-query attention (NKV key/value
// heads shared by NH query heads), a SwiGLU MLP, and an LM head of its own unless tied. What every architecture
// shares is in transformer.ts; the parameters and their names are in llama-params.ts and llama-variants.ts.
// Module names copy the Hugging Face checkpoint (embed_tokens, layers, input_layernorm, self_attn, qkv_proj,
// o_proj, post_attention_layernorm, mlp, gate_up_proj, down_proj, norm, lm_head).
import type { Act, Backend, Matrix, Norm } from '../backend/index.ts';
import type { Device } from '../backend/device.ts';
import { ConfigError, type LlamaConfig } from './config.ts';
import type { LlamaLinear, LlamaParamSource } from './llama-params.ts';
import type { Step } from './step.ts';
import { Transformer, type RunOptions, type TransformerWeights } from './transformer.ts';

export { llamaCheckpointSource, llamaParamSource, readLlamaParams, roundLlamaParams, type LlamaBlockParams, type LlamaLinear, type LlamaParams, type LlamaParamSource } from './llama-params.ts';

export interface LlamaOptions extends RunOptions {
  /**
   * Positions the KV cache holds (the model's nCtx). By default min(max_position_embeddings, sliding_window,
   * 4096): Llama 3.2 was trained for 131072 positions, and a cache that long would take gigabytes the usual
   * conversation never uses. Raise it up to max_position_embeddings; a sliding window caps it, because wgpt
   * attends to every cached position and could not otherwise match the model's windowed attention.
   */
  contextLength?: number;
}

/** The default cap on the KV cache, in positions (see LlamaOptions.contextLength). */
export const DEFAULT_CONTEXT = 4096;
/** Tc unless asked: a long context would make the scores of a whole-prompt step [NH, P, P] gigabytes. */
const DEFAULT_STEP_TOKENS = 256;

/** One block's weights, as the backend holds them. */
export interface LlamaBlock {
  input_layernorm: Norm;
  self_attn: { qkv_proj: Matrix; o_proj: Matrix }; // [QKV, C], [C, NH*HS]
  post_attention_layernorm: Norm;
  mlp: { gate_up_proj: Matrix; down_proj: Matrix }; // [2I, C], [C, I]
}

export class Llama extends Transformer<LlamaBlock> {
  constructor(
    gpu: Device,
    readonly config: LlamaConfig,
    params: LlamaParamSource,
    options: LlamaOptions = {},
  ) {
    const { hiddenSize: C, nHead: NH, nKVHead: NKV, headDim: HS, intermediateSize: I } = config;
    const dims = { arch: 'llama' as const, nLayer: config.nLayer, C, NH, NKV, HS, I, V: config.vocabSize };
    const rope = { rotaryDim: config.rotaryDim, theta: config.ropeTheta, scaling: config.ropeScaling ?? undefined };
    const spec = { dims, nCtx: contextLength(config, options.contextLength), norm: 'rmsnorm' as const, eps: config.rmsNormEps, mlpWidth: 2 * I, rope, stepTokens: options.maxStepTokens ?? DEFAULT_STEP_TOKENS };
    super(gpu, spec, options, (backend) => upload(backend, params));
  }

  /** HF's LlamaDecoderLayer. */
  protected block(x: Step, b: LlamaBlock): void {
    x.add('attn', x.attention(x.norm('ln1', b.input_layernorm), b.self_attn.qkv_proj, b.self_attn.o_proj)); // x = x + attn(input_layernorm(x))
    x.add('mlp', mlp(x, b.mlp, x.norm('ln2', b.post_attention_layernorm))); // x = x + mlp(post_attention_layernorm(x))
  }
}

/** HF's LlamaMLP: down_proj(silu(gate_proj(h)) * up_proj(h)), with gate and up as one matmul. */
function mlp(x: Step, m: LlamaBlock['mlp'], h: Act): Act {
  const gateUp = x.linear(h, m.gate_up_proj); // (T, 2I) gate | up
  return x.linear(x.swiglu(gateUp), m.down_proj); // (T, C)
}

/** Every parameter onto the backend, one layer on the CPU at a time. */
function upload(backend: Backend, params: LlamaParamSource): TransformerWeights<LlamaBlock> {
  const { hiddenSize: C, vocabSize: V, nLayer: L } = params.config;
  const linear = (l: LlamaLinear, label: string) => backend.matrix(l.weight, l.bias, l.out, l.in, label);
  const norm = (gamma: Float32Array, label: string) => backend.norm(gamma, undefined, label);
  const embed = backend.matrix(params.embedTokens(), undefined, V, C, 'embed_tokens');
  const blocks: LlamaBlock[] = [];
  for (let i = 0; i < L; i++) {
    const b = params.layer(i);
    const p = `layers.${i}`;
    blocks.push({
      input_layernorm: norm(b.input_layernorm, `${p}.input_layernorm`),
      self_attn: { qkv_proj: linear(b.self_attn.qkv_proj, `${p}.self_attn.qkv_proj`), o_proj: linear(b.self_attn.o_proj, `${p}.self_attn.o_proj`) },
      post_attention_layernorm: norm(b.post_attention_layernorm, `${p}.post_attention_layernorm`),
      mlp: { gate_up_proj: linear(b.mlp.gate_up_proj, `${p}.mlp.gate_up_proj`), down_proj: linear(b.mlp.down_proj, `${p}.mlp.down_proj`) },
    });
  }
  const finalNorm = norm(params.norm(), 'norm');
  const head = params.lmHead();
  return { embed, blocks, norm: finalNorm, lmHead: head ? backend.matrix(head, undefined, V, C, 'lm_head') : embed }; // tied: the embedding itself
}

/** The KV cache length: the option, checked, or the default cap (see LlamaOptions.contextLength). */
function contextLength(config: LlamaConfig, requested: number | undefined): number {
  const { maxPositionEmbeddings: max, slidingWindow: window } = config;
  const limit = Math.min(max, window ?? Infinity);
  if (requested === undefined) return Math.min(limit, DEFAULT_CONTEXT);
  if (!Number.isSafeInteger(requested) || requested < 1) throw new ConfigError(`the context length must be a positive integer, got ${requested}`);
  if (requested > max) throw new ConfigError(`a context of ${requested} positions is longer than the model's max_position_embeddings (${max}): ask for at most ${max}`);
  if (window !== null && requested > window) {
    throw new ConfigError(`a context of ${requested} positions is longer than the model's sliding_window (${window}), and sliding-window attention is not implemented: ask for at most ${window}`);
  }
  return requested;
}
