// Models from the Hugging Face hub: `--model org/name` anywhere in wgpt, `wgpt pull`, `wgpt models`, `wgpt rm`.
// Node only: everything here loads fs and friends on first use (process.getBuiltinModule), so importing this file
// from code that also runs in a browser pulls nothing of Node into the bundle.
import { cachedModelDir } from './cache.ts';
import { HubError } from './errors.ts';
import { pullModel, type PullEvent } from './pull.ts';
import { hubSettings, isRepoId, node } from './settings.ts';

export { cachedModelDir, listCachedModels, removeCachedModel, type CachedModel } from './cache.ts';
export { HubError, type HubErrorCode } from './errors.ts';
export { pullModel, type PullEvent, type PullOptions, type PullResult } from './pull.ts';
export { hubSettings, isRepoId, type HubSettings } from './settings.ts';

export interface ResolveOptions {
  /** Never download; default: HF_HUB_OFFLINE (the CLI's --offline sets it). */
  offline?: boolean;
  revision?: string;
  onProgress?: (event: PullEvent) => void;
}

/**
 * The folder to load for `--model`: an existing path as it is; `org/name` (when no such folder exists) from the
 * cache, pulled first if the cache lacks it. Anything else comes back unchanged, for the loader to report.
 */
export async function resolveModelDir(nameOrPath: string, options: ResolveOptions = {}): Promise<string> {
  if (!isRepoId(nameOrPath) || node().fsSync.existsSync(nameOrPath)) return nameOrPath;
  const repo = nameOrPath;
  const settings = hubSettings();
  const revision = options.revision ?? 'main';
  const cached = await cachedModelDir(settings.cacheDir, repo, revision);
  if (cached) return cached;
  if (options.offline ?? settings.offline) {
    throw new HubError('offline', `${repo} is not in the cache (${settings.cacheDir}) and --offline forbids downloading: run \`wgpt pull ${repo}\` while online, or give a model folder`);
  }
  try {
    return (await pullModel(repo, { revision, onProgress: options.onProgress, settings })).dir;
  } catch (e) {
    if (e instanceof HubError && e.code === 'not-found') {
      throw new HubError('not-found', `${e.message}, or give a model folder (there is no folder ${repo} here)`);
    }
    throw e;
  }
}
