// Which files of a hub repository make a model wgpt can run, and the check that keeps their names inside the cache.
import { checkFileName } from '../loading/files.ts';
import { INDEX_FILE, SINGLE_FILE } from '../loading/checkpoint.ts';
import { HubError } from './errors.ts';

export { INDEX_FILE, SINGLE_FILE };

export const CONFIG_FILE = 'config.json';

/** Downloaded when the repository has them. The weights (model.safetensors or the index and its shards) come on top. */
export const OPTIONAL_FILES = [
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'vocab.json', // GPT-2 style BPE, when there is no tokenizer.json
  'merges.txt',
  'chat_template.jinja', // newer models keep the chat template here instead of in tokenizer_config.json
  'chat_template.json',
];

/**
 * Refuse a file name that could leave the model's folder. Names come from the server (a file listing) and from
 * files we downloaded (an index names its shards), so a hostile one must not be able to say "../../.bashrc".
 */
export function checkHubFileName(file: string, from: string): string {
  try {
    checkFileName(file, from);
  } catch {
    throw new HubError('bad-name', `refusing to download ${JSON.stringify(file)} named by ${from}: a model file name must be a plain relative path inside the model folder`);
  }
  return file;
}

/** The shard files a model.safetensors.index.json names, each once, in order of first mention. */
export function shardsOfIndex(text: string, source: string): string[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new HubError('not-a-model', `${source} is not valid JSON (${(e as Error).message}): the model's shard index is broken`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new HubError('not-a-model', `${source} has no weight_map object: the model's shard index is broken`);
  }
  const shards = new Set<string>();
  for (const shard of Object.values(weightMap)) {
    if (typeof shard !== 'string') throw new HubError('not-a-model', `${source} maps a tensor to ${JSON.stringify(shard)}, not a file name`);
    shards.add(checkHubFileName(shard, source));
  }
  return [...shards];
}
