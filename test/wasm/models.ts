// Small models of each architecture on the WebAssembly backend, in any weight format: what the tests of its fused
// step (fused.test.ts) and of the replayed decode step (replay.test.ts) run. The configs are test/hooks/fused-cases.ts's.
import type { LlamaConfig } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource } from '../../src/model/llama.ts';
import type { LanguageModel, WeightFormat } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { device } from '../helpers.ts';
import { gpt2Config, llamaConfig, partialRotaryConfig, qkvBiasConfig } from '../hooks/fused-cases.ts';

const llama = (config: LlamaConfig) => async (weights: WeightFormat) => new Llama(await device('wasm'), config, llamaParamSource(randomLlamaParams(config, 3)), { weights });

/** [name, make(weights)] for GPT-2, Llama with grouped-query heads, Llama with partial rotary, Qwen2's q|k|v bias. */
export const wasmModels: [string, (weights: WeightFormat) => Promise<LanguageModel>][] = [
  ['gpt2', async (weights) => new GPT2(await device('wasm'), gpt2Config, randomGPT2Params(gpt2Config, 3), weights)],
  ['llama', llama(llamaConfig)],
  ['llama, partial rotary', llama(partialRotaryConfig)],
  ['llama, q|k|v bias', llama(qkvBiasConfig)],
];
