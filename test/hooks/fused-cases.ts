// What the tests of the fused step share, on WebGPU (test/hooks/fused.test.ts) and WebAssembly
// (test/wasm/fused.test.ts): small models of each architecture, a prompt, and a run with hooks.
import { Hooks, type Intervention } from '../../src/hooks/index.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import type { ForwardResult, LanguageModel } from '../../src/model/model.ts';

export const gpt2Config: GPT2Config = {
  arch: 'gpt2', vocabSize: 61, nPositions: 24, nEmbd: 30, nLayer: 3, nHead: 3, nInner: 70,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 60, eosTokenId: 60,
};
/** Llama with grouped-query heads. */
export const llamaConfig: LlamaConfig = {
  arch: 'llama', variant: 'llama', maxPositionEmbeddings: 24, nLayer: 3, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
  slidingWindow: null, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
  vocabSize: 53, hiddenSize: 26, intermediateSize: 38, nHead: 4, nKVHead: 2, headDim: 6, rotaryDim: 6, tieWordEmbeddings: false,
};
/** A third of each head turned (Phi-3's partial_rotary_factor). */
export const partialRotaryConfig: LlamaConfig = { ...llamaConfig, nHead: 3, nKVHead: 1, headDim: 10, rotaryDim: 4 };
/** q | k | v bias (Qwen2). */
export const qkvBiasConfig: LlamaConfig = { ...llamaConfig, variant: 'qwen2', qkvBias: true };

export const prompt = [5, 17, 3, 40, 22, 9, 31];
export const next = 12;

export type Phase = 'prefill' | 'decode';

/**
 * Run the phase with these hooks, fused or not: the prompt's prefill, or the decode of `next` at the next position
 * after an unhooked, unfused prefill (so both decodes read the same KV cache).
 */
export async function runHooked(model: LanguageModel, phase: Phase, fused: boolean, names: string[], interventions: Intervention[] = []): Promise<ForwardResult & { cache: Map<string, Float32Array> }> {
  if (phase === 'decode') await model.forward(prompt, 0, { fused: false });
  const hooks = new Hooks(new Set(names), interventions);
  try {
    const result = phase === 'decode' ? await model.forward([next], prompt.length, { fused, hooks }) : await model.forward(prompt, 0, { fused, hooks });
    const cache = new Map([...(await hooks.collect())].map(([k, a]) => [k, a.data]));
    return { ...result, cache };
  } finally {
    hooks.release();
  }
}
