// wgpt's public API: everything a program, the CLI (packages/cli) and the demo site (packages/web) use, in one
// import (`import { openModel, generate } from 'wgpt'`). Dependencies run one way: packages/* import this file
// only; it imports the modules of src/ (and, through runBench, bench/); they import shaders/ by file name.
//
//   const { model, tokenizer } = await openModel(undefined);          // the embedded model (Node)
//   const result = await generate(model, tokenizer, 'ROMEO:', { temperature: 0, maxNewTokens: 20 });
//
// Importing this file loads nothing of Node and no GPU: Node's modules (fs, the Dawn binding) load when a call
// first needs them, so a browser bundle can import it too.

import type { BenchOptions } from '../bench/harness.ts';

// Opening a model and generating text
export { defaultModelDir, openModel, openModelFolder, type ModelFolder, type OpenedModel, type OpenOptions } from './runtime.ts';
export {
  fitPrompt,
  generate,
  randomSeed,
  GenerateError,
  PromptTooLongError,
  type FinishReason,
  type GenerateOptions,
  type GenerationResult,
  type GenerationStep,
  type TokenLogprob,
} from './generate.ts';
export { WEIGHT_FORMATS, type ForwardOptions, type ForwardResult, type LanguageModel, type WeightFormat } from './model/model.ts';
export { perplexity, perplexityWindows, type PerplexityOptions, type PerplexityProgress, type PerplexityResult } from './perplexity.ts';
export { loadModel, readModelConfig, type LoadOptions } from './model/load.ts';
export { parseConfig, type GPT2Config, type LlamaConfig, type ModelConfig } from './model/config.ts';

// Errors: a UserError carries one line saying what to do; anything else is a bug
export { isUserError, UserError } from './errors.ts';

// Tokenizers
export { chatPrompt, gpt2Tokenizer, loadHfTokenizer, StreamDecoder, type ChatMessage, type Tokenizer } from './tokenizer/index.ts';

// Sampling: the logits processors the generate options name, and the distribution helpers
export {
  applyTemperature,
  entropy,
  idsByValueDescending,
  logSoftmax,
  minPFilter,
  softmax,
  topKFilter,
  topLogprobs,
  topPFilter,
  typicalFilter,
  type SamplingOptions,
} from './sampling/index.ts';

// Looking inside: TransformerLens hook names, cached activations, interventions, the logit lens
export {
  findHookPoint,
  HOOK_POINTS,
  hookedModel,
  HookError,
  hookNames,
  hookShape,
  logitLens,
  modelDims,
  runWithCache,
  runWithHooks,
  type Activation,
  type HookedRun,
  type HookPoint,
  type Intervention,
  type LogitLens,
  type ModelDims,
} from './hooks/index.ts';

// The `wgpt lab` experiments and their figures, as one namespace (labs.ablateHead, labs.writeFigures, ...)
export * as labs from './labs/index.ts';
export type { Experiment, Figure, LabContext, LabResult } from './labs/index.ts';

// The device: a WebGPU adapter (Dawn in Node, navigator.gpu in a browser) or the WebAssembly kernels on the CPU
export { deviceKind, DEVICES, getDevice, getWasmDevice, isWasmDevice, type Device, type DeviceChoice, type DeviceOptions, type WasmDevice } from './backend/index.ts';
export { hasWasmSimd } from './backend/wasm/module.ts';
export { acquireGpu, getGpu, INSTALL_HINT, NoAdapterError, type AcquireOptions, type Gpu, type GpuInfo } from './gpu/device.ts';
export { registerShaderSources } from './gpu/shaders.ts';
export { formatProfile, profileByKernel, profileRows, type KernelTotal, type ProfileRow } from './profile.ts';

// Model files: a Node folder, a download (browser, Cache API), files the user chose (browser)
export { nodeModelFiles, type ModelFiles } from './loading/files.ts';
export { DownloadError, fetchModelFiles, localModelFiles, type DownloadProgress, type FetchFilesOptions } from './loading/browser-files.ts';

// The Hugging Face hub cache (Node)
export {
  HubError,
  hubSettings,
  listCachedModels,
  pullModel,
  removeCachedModel,
  resolveModelDir,
  type CachedModel,
  type HubSettings,
  type PullEvent,
  type PullResult,
} from './hub/index.ts';
export { DEFAULT_ENDPOINT } from './hub/settings.ts';

// The bench harness (bench/). runBench loads it when it runs: it times kernels through modules no program needs.
export { compareReports, engineCounters } from '../bench/report.ts';
export type { BenchOptions, BenchPart, BenchReport } from '../bench/harness.ts';

/** Run the bench (`wgpt bench`): kernel timings against the adapter's ceilings, a profile, end-to-end throughput. */
export async function runBench(options: BenchOptions = {}) {
  return (await import('../bench/harness.ts')).runBench(options);
}
