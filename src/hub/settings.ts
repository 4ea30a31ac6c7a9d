// Where the hub is, who we are to it, and where its files go. wgpt reads the same environment variables as
// Python's huggingface_hub, so the two share one cache and one login:
//   HF_ENDPOINT      the hub's base URL (default https://huggingface.co), for mirrors and tests
//   HF_TOKEN         an access token, sent as "Authorization: Bearer ..." (gated and private models);
//                    without it, the token file `huggingface-cli login` writes ($HF_HOME/token)
//   HF_HUB_CACHE     the cache folder; default $HF_HOME/hub, HF_HOME defaulting to ~/.cache/huggingface
//   HF_HUB_OFFLINE   1: never download, use only what is in the cache (the CLI's --offline sets it)
import { HubError } from './errors.ts';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export interface HubSettings {
  /** Base URL without a trailing slash. */
  endpoint: string;
  token?: string;
  /** The hub cache folder: models--{org}--{name}/ live here. */
  cacheDir: string;
  offline: boolean;
}

/** Node's built-in modules, loaded on first use so a browser bundle that imports src/hub never includes them. */
export function node() {
  if (typeof process === 'undefined' || !process.getBuiltinModule) {
    throw new Error('the Hugging Face hub cache needs Node >= 20.16; in a browser, fetch the model files directly');
  }
  return {
    fs: process.getBuiltinModule('fs/promises') as typeof import('fs/promises'),
    fsSync: process.getBuiltinModule('fs') as typeof import('fs'),
    path: process.getBuiltinModule('path') as typeof import('path'),
    os: process.getBuiltinModule('os') as typeof import('os'),
    crypto: process.getBuiltinModule('crypto') as typeof import('crypto'),
  };
}

/** Read the settings from the environment (each call reads it afresh, so tests and --offline can change it). */
export function hubSettings(env: Record<string, string | undefined> = process.env): HubSettings {
  const { path, os, fsSync } = node();
  const home = env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'huggingface');
  let token = env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined;
  if (!token) {
    try {
      token = fsSync.readFileSync(env.HF_TOKEN_PATH || path.join(home, 'token'), 'utf8').trim() || undefined;
    } catch {
      // no login: anonymous access
    }
  }
  return {
    endpoint: (env.HF_ENDPOINT || DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    token,
    cacheDir: env.HF_HUB_CACHE || path.join(home, 'hub'),
    offline: ['1', 'on', 'yes', 'true'].includes((env.HF_HUB_OFFLINE ?? '').toLowerCase()),
  };
}

/**
 * A hub model id is `org/name`: two segments of letters, digits, '-', '_' and '.', not starting with '-' or '.',
 * with no '--' or '..' (the hub's own rules; '--' would make the cache folder name ambiguous).
 */
const REPO_ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\/[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function isRepoId(text: string): boolean {
  return text.length <= 96 * 2 + 1 && REPO_ID.test(text) && !text.includes('--') && !text.includes('..');
}

/** An old id without an org (gpt2, distilgpt2, bert-base-uncased): the hub still answers to them, with a redirect. */
export function isLegacyId(text: string): boolean {
  return text.length <= 96 && /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(text) && !text.includes('--') && !text.includes('..');
}

export function checkRepoId(text: string): string {
  if (!isRepoId(text)) {
    throw new HubError('bad-id', `"${text}" is not a hub model id: give org/name, as in HuggingFaceTB/SmolLM2-135M`);
  }
  return text;
}

/** A name the server gives us (a commit hash, an etag) that becomes one path segment in the cache. */
export function checkSegment(text: string, what: string): string {
  if (!/^[A-Za-z0-9_.-]{1,128}$/.test(text) || text === '.' || text === '..') {
    throw new HubError('bad-name', `refusing ${what} ${JSON.stringify(text)} from the hub: it must be a plain name to be used in the cache folder`);
  }
  return text;
}
