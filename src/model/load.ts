// From a model folder to a model on the GPU: config.json -> typed config -> checkpoint -> architecture.
import type { Device } from '../backend/device.ts';
import { openCheckpoint } from '../loading/checkpoint.ts';
import type { ModelFiles } from '../loading/files.ts';
import { parseConfig, type ModelConfig } from './config.ts';
import { GPT2 } from './gpt2.ts';
import { readGPT2Params } from './gpt2-params.ts';
import { Llama } from './llama.ts';
import { llamaCheckpointSource } from './llama-params.ts';
import { WEIGHT_FORMATS, type LanguageModel, type WeightFormat } from './model.ts';

export interface LoadOptions {
  weights?: WeightFormat;
  /** Llama-style models: positions the KV cache holds (default min(max_position_embeddings, 4096); see LlamaOptions). */
  contextLength?: number;
}

export class ModelLoadError extends Error {
  override name = 'ModelLoadError';
}

/** Read and validate `config.json` of a model folder. */
export async function readModelConfig(files: ModelFiles): Promise<ModelConfig> {
  if (!(await files.exists('config.json'))) {
    throw new ModelLoadError(`${files.name} has no config.json: point --model at a Hugging Face model folder (config.json + *.safetensors)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(await files.readText('config.json'));
  } catch (e) {
    throw new ModelLoadError(`${files.name}/config.json is not valid JSON (${(e as Error).message}): fix or download it again`);
  }
  return parseConfig(json, `${files.name}/config.json`);
}

/** Load a model folder onto the GPU. */
export async function loadModel(gpu: Device, files: ModelFiles, options: LoadOptions = {}): Promise<LanguageModel> {
  checkWeightFormat(options.weights);
  const config = await readModelConfig(files);
  const checkpoint = await openCheckpoint(files);
  switch (config.arch) {
    case 'gpt2':
      return new GPT2(gpu, config, readGPT2Params(checkpoint, config), options.weights ?? 'f32');
    case 'llama':
      return new Llama(gpu, config, llamaCheckpointSource(checkpoint, config), { weights: options.weights, contextLength: options.contextLength });
  }
}

/** A weights option that is not one of WEIGHT_FORMATS is a one-line error naming them (JavaScript callers, the web page). */
export function checkWeightFormat(weights: unknown): asserts weights is WeightFormat | undefined {
  if (weights === undefined || (WEIGHT_FORMATS as readonly unknown[]).includes(weights)) return;
  const list = `${WEIGHT_FORMATS.slice(0, -1).join(', ')} or ${WEIGHT_FORMATS.at(-1)}`;
  throw new ModelLoadError(`weights must be ${list}, got ${JSON.stringify(weights)}`);
}
