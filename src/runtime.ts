// Opening a model by name: the embedded default, or a local folder. Shared by the CLI, the bench and labs.
import { getDevice, type Device, type DeviceChoice } from './backend/device.ts';
import type { AcquireOptions } from './gpu/device.ts';
import { nodeModelFiles } from './loading/files.ts';
import { checkWeightFormat, loadModel, readModelConfig } from './model/load.ts';
import type { LanguageModel, WeightFormat } from './model/model.ts';
import { UserError } from './errors.ts';
import { resolveModelDir, type PullEvent } from './hub/index.ts';
import type { ModelFiles } from './loading/files.ts';
import type { ModelConfig } from './model/config.ts';
import { gpt2Tokenizer } from './tokenizer/gpt2.ts';
import { loadHfTokenizer } from './tokenizer/hf.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';

export interface OpenedModel {
  /** The device the model runs on (a WebGPU device or the WebAssembly kernels); `gpu.info` says which and why. */
  gpu: Device;
  model: LanguageModel;
  tokenizer: Tokenizer;
  /** What the user would call it: the folder they gave, or "wgpt-shakespeare (embedded)". */
  name: string;
}

export interface OpenOptions {
  weights?: WeightFormat;
  /** 'auto' (default): a hardware WebGPU adapter when there is one, WebAssembly otherwise; or 'webgpu', 'wasm'. */
  device?: DeviceChoice;
  /** WebGPU: 'software' goes straight to SwiftShader (and implies the webgpu device). */
  adapter?: AcquireOptions['adapter'];
  /** WebAssembly: threads for matvec and matmul (default: every core). */
  threads?: number;
  /** Llama-style models: positions the KV cache holds (default min(max_position_embeddings, 4096)). */
  contextLength?: number;
  /** For `org/name` models: never download (default: HF_HUB_OFFLINE), and download progress. */
  offline?: boolean;
  onProgress?: (event: PullEvent) => void;
}

/** The folder of the embedded default model (weights/ at the top of the repository). */
export function defaultModelDir(): string {
  return new URL('../weights/', import.meta.url).pathname;
}

/** A model folder found and checked, with its config and tokenizer: everything but the GPU. */
export interface ModelFolder {
  files: ModelFiles;
  config: ModelConfig;
  tokenizer: Tokenizer;
  /** What the user would call it: the folder or hub id they gave, or the embedded model's name. */
  name: string;
}

/** Find a model folder or hub model `org/name` (default: the embedded model) and read its config and tokenizer. */
export async function openModelFolder(modelPath: string | undefined, options: OpenOptions = {}): Promise<ModelFolder> {
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  const dir = modelPath === undefined
    ? defaultModelDir()
    : await resolveModelDir(modelPath, { offline: options.offline, onProgress: options.onProgress });
  if (!fs.existsSync(dir)) {
    throw new UserError(`model folder ${dir} does not exist: give --model a folder holding config.json and *.safetensors`);
  }
  if (!fs.statSync(dir).isDirectory()) {
    throw new UserError(`${dir} is a file: give --model the folder that holds config.json and *.safetensors`);
  }
  const files = nodeModelFiles(dir);
  const config = await readModelConfig(files);
  const tokenizer = await tokenizerFor(config, files);
  return { files, config, tokenizer, name: modelPath ?? 'wgpt-shakespeare (embedded default)' };
}

/** Open a model folder or hub model `org/name` (default: the embedded model) on a device, with its tokenizer. */
export async function openModel(modelPath: string | undefined, options: OpenOptions = {}): Promise<OpenedModel> {
  checkWeightFormat(options.weights); // before anything is read or downloaded
  const { files, tokenizer, name } = await openModelFolder(modelPath, options); // fails fast, before touching the GPU
  const gpu = await getDevice({ device: options.device, adapter: options.adapter, threads: options.threads });
  const model = await loadModel(gpu, files, { weights: options.weights, contextLength: options.contextLength });
  return { gpu, model, tokenizer, name };
}

/** GPT-2 models use GPT-2's tokenizer (built in); every other model the tokenizer.json of its folder. */
async function tokenizerFor(config: ModelConfig, files: ModelFiles): Promise<Tokenizer> {
  switch (config.arch) {
    case 'gpt2':
      return gpt2Tokenizer();
    case 'llama':
      return loadHfTokenizer(files);
  }
}
