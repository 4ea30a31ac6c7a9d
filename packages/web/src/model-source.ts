// Opening a model in the browser: the embedded one (served at model/), a Hugging Face id (downloaded once from the
// hub, or from the mirror that ?hf-endpoint= names, then read from the Cache API), or files the user chose. The
// browser's counterpart of src/runtime.ts, which is Node-only.
import {
  DEFAULT_ENDPOINT,
  fetchModelFiles,
  gpt2Tokenizer,
  loadHfTokenizer,
  loadModel,
  localModelFiles,
  readModelConfig,
  type DownloadProgress,
  isWasmDevice,
  type Device,
  type LanguageModel,
  type ModelConfig,
  type ModelFiles,
  type Tokenizer,
  type WeightFormat,
} from 'wgpt';

/** `endpoint` is the hub's base URL without a trailing slash (see hubEndpoint). */
export type ModelSource = { kind: 'embedded' } | { kind: 'hub'; id: string; endpoint: string } | { kind: 'local'; files: File[] };

export interface BrowserModel {
  model: LanguageModel;
  tokenizer: Tokenizer;
  config: ModelConfig;
  name: string;
}

/** The model does not fit the adapter: the message says which limit and what to try. */
export class ModelTooLargeError extends Error {
  override name = 'ModelTooLargeError';
}

export const CACHE_NAME = 'wgpt-models';
const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

/**
 * The hub to download from: https://huggingface.co, or the one the page's address names with ?hf-endpoint=URL
 * (a mirror, or a local hub in the tests), the role HF_ENDPOINT plays for the CLI. The hub must allow CORS.
 */
export function hubEndpoint(search: string): string {
  const endpoint = new URLSearchParams(search).get('hf-endpoint');
  if (!endpoint) return DEFAULT_ENDPOINT;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new Error(`?hf-endpoint=${endpoint} is not a URL: write the hub's base URL, e.g. ?hf-endpoint=https://huggingface.co`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`?hf-endpoint=${endpoint} is not an http(s) URL: write the hub's base URL, e.g. ?hf-endpoint=https://huggingface.co`);
  }
  return url.href.replace(/\/+$/, '');
}

export function filesOf(source: ModelSource, onProgress: (p: DownloadProgress) => void): { files: ModelFiles; name: string } {
  switch (source.kind) {
    case 'embedded':
      return { files: fetchModelFiles('./model/', { onProgress }), name: 'wgpt-shakespeare (embedded)' };
    case 'hub': {
      const id = source.id.trim();
      if (!HUB_ID.test(id)) throw new Error(`"${id}" is not a Hugging Face model id: write it as owner/name, e.g. openai-community/gpt2`);
      return { files: fetchModelFiles(`${source.endpoint}/${id}/resolve/main/`, { cacheName: CACHE_NAME, onProgress }), name: id };
    }
    case 'local':
      if (source.files.length === 0) throw new Error('no files chosen: pick config.json and the *.safetensors file(s) together');
      return { files: localModelFiles(source.files), name: source.files.map((f) => f.name).join(', ') };
  }
}

/** Why a source holds no model, in the page's terms (which source, and what to do). */
function noConfig(source: ModelSource, name: string): string {
  switch (source.kind) {
    case 'embedded':
      return 'this site has no embedded model (model/config.json is missing): build the site again after npm run setup';
    case 'hub':
      return `${name} was not found on ${new URL(source.endpoint).host}: check the model id (owner/name, as on the model's Hugging Face page)`;
    case 'local':
      return `${name} is not a model: it has no config.json; choose config.json and the *.safetensors file(s) together`;
  }
}

export async function openBrowserModel(gpu: Device, source: ModelSource, weights: WeightFormat, onProgress: (p: DownloadProgress) => void): Promise<BrowserModel> {
  const { files, name } = filesOf(source, onProgress);
  if (!(await files.exists('config.json'))) throw new Error(noConfig(source, name));
  const config = await readModelConfig(files);
  const tokenizer = config.arch === 'gpt2' ? gpt2Tokenizer() : await loadHfTokenizer(files);
  // WebAssembly memory that cannot grow says so at once (how much was needed, the 4 GiB limit)
  if (isWasmDevice(gpu)) return { model: await loadModel(gpu, files, { weights }), tokenizer, config, name };
  // Buffer creation past the adapter's memory or limits fails asynchronously: catch it in error scopes.
  const { device } = gpu;
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  let model: LanguageModel;
  try {
    model = await loadModel(gpu, files, { weights });
  } finally {
    const validation = await device.popErrorScope();
    const memory = await device.popErrorScope();
    const failure = memory ?? validation;
    if (failure) {
      throw new ModelTooLargeError(`${name} does not fit this GPU (${failure.message.split('\n')[0]}): try f16 weights or a smaller model`);
    }
  }
  return { model, tokenizer, config, name };
}
