// Talking to the hub over HTTP, with Node's built-in fetch. The hub's URL layout and headers:
//
//   GET  {endpoint}/api/models/{repo}/revision/{revision}   JSON: { sha: commit, siblings: [{ rfilename }] }
//   HEAD {endpoint}/{repo}/resolve/{revision}/{file}
//        small files:  200, ETag: "<git blob sha1>", Content-Length, X-Repo-Commit
//        LFS files:    302 to a CDN, X-Linked-Etag: "<sha256 of the file>", X-Linked-Size, X-Repo-Commit
//   GET  the same URL (following the redirect) for the bytes, with Range: bytes=N- to resume
//
// Errors carry X-Error-Code (RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo), which tells a missing
// file in a real repository from a repository that does not exist.
import { HubError } from './errors.ts';
import { checkSegment, isRepoId, type HubSettings } from './settings.ts';

export interface FileMetadata {
  /** Names the blob in the cache: the sha256 for LFS files, the git blob sha1 otherwise. */
  etag: string;
  /** Size in bytes, when the server says. */
  size?: number;
  /** The file's sha256, when the hub says (LFS files: their etag is the sha256). */
  sha256?: string;
  /** The commit the file was resolved at. */
  commit?: string;
}

export interface RepoListing {
  commit: string;
  files: string[];
}

/** What the messages call the model: "org/name", with the revision when it is not main. */
export function describeRepo(repo: string, revision: string): string {
  return revision === 'main' ? repo : `${repo} (revision ${revision})`;
}

export function resolveUrl(settings: HubSettings, repo: string, revision: string, file: string): string {
  // the revision may hold '/' (refs/pr/1): it is one path segment; a file's '/' separates folders
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${settings.endpoint}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

export function requestHeaders(settings: HubSettings, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'user-agent': 'wgpt',
    'accept-encoding': 'identity', // sizes and Range offsets are in bytes of the file itself
    ...(settings.token ? { authorization: `Bearer ${settings.token}` } : {}),
    ...extra,
  };
}

/** fetch, with a failure to connect turned into a one-line HubError. */
export async function hubFetch(settings: HubSettings, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    throw networkError(settings, e);
  }
}

/** A network failure: the hub is unreachable, or a connection broke. Pulls retry these. */
export function networkError(settings: HubSettings, e: unknown, during?: string): HubError {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  const why = cause?.code ?? cause?.message ?? (e as Error).message;
  const mirror = settings.endpoint === 'https://huggingface.co' ? '' : ' and HF_ENDPOINT';
  if (during) {
    return new HubError('network', `the connection to ${settings.endpoint} broke while downloading ${during} (${why}): run the pull again to resume`);
  }
  return new HubError('network', `cannot reach ${settings.endpoint} (${why}): check your network connection${mirror}, or use --offline with a model already in the cache`);
}

/** Turn a refusal from the hub into a one-line HubError that says what to do. */
export function hubFailure(settings: HubSettings, res: Response, repo: string, revision: string, file?: string): HubError {
  const code = res.headers.get('x-error-code') ?? '';
  const status = `HTTP ${res.status}`;
  const what = describeRepo(repo, revision);
  if (code === 'RevisionNotFound') {
    return new HubError('not-found', `${repo} has no revision "${revision}" on the hub (${status}): check --revision`);
  }
  if (code === 'EntryNotFound' && file) {
    return new HubError('not-found', `${what} has no file ${file} on the hub (${status}): the repository does not hold it`);
  }
  if (res.status === 404 || (code === 'RepoNotFound' && res.status !== 401)) {
    return new HubError('not-found', `no model ${what} on the hub (${status}): check the name`);
  }
  if (res.status === 401 && code === 'RepoNotFound') {
    // the hub answers 401 rather than 404 to anonymous requests for a repository it will not show
    return new HubError('denied', `no model ${what} on the hub, or it is private (${status}): check the name, or set HF_TOKEN to a token that can read it`);
  }
  if (res.status === 401 || res.status === 403) {
    const fix = settings.token
      ? `the token in HF_TOKEN has no access: request access at ${settings.endpoint}/${repo} with that account, or check the token`
      : 'set HF_TOKEN to an access token (https://huggingface.co/settings/tokens) of an account allowed to read it';
    return new HubError('denied', `${what} is gated or private (${status}): ${fix}`);
  }
  if (res.status === 429) {
    return new HubError('http', `the hub is rate-limiting requests (${status}): wait a minute and pull again, or set HF_TOKEN`);
  }
  const target = file ? `${file} of ${what}` : what;
  if (res.status >= 500) {
    return new HubError('http', `${settings.endpoint} failed on ${target} (${status}): the hub may be down; try again later`);
  }
  return new HubError('http', `${settings.endpoint} refused ${target} (${status}${code ? ` ${code}` : ''}): check the name and --revision`);
}

/**
 * The repository's commit and file list from the hub's API. Undefined when the server has no such API (some
 * mirrors), so the caller probes the files it knows instead.
 */
export async function listRepoFiles(settings: HubSettings, repo: string, revision: string): Promise<RepoListing | undefined> {
  const url = `${settings.endpoint}/api/models/${repo}/revision/${encodeURIComponent(revision)}`;
  const res = await hubFetch(settings, url, { headers: requestHeaders(settings, { accept: 'application/json' }) });
  const code = res.headers.get('x-error-code');
  if (res.status === 401 || res.status === 403 || code === 'RepoNotFound' || code === 'RevisionNotFound') {
    await res.body?.cancel();
    throw hubFailure(settings, res, repo, revision);
  }
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  let json: { sha?: unknown; siblings?: unknown };
  try {
    json = (await res.json()) as typeof json;
  } catch {
    return undefined;
  }
  if (typeof json.sha !== 'string' || !Array.isArray(json.siblings)) return undefined;
  const files = json.siblings.map((s: { rfilename?: unknown }) => s?.rfilename).filter((f): f is string => typeof f === 'string');
  return { commit: checkSegment(json.sha, 'commit'), files };
}

/**
 * The org/name the hub gives an old short id (gpt2 is openai-community/gpt2 now): the API answers for the new
 * name, through a redirect; a server without the API redirects the file URLs (as the hub does) instead.
 */
export async function resolveLegacyId(settings: HubSettings, name: string, revision: string): Promise<string> {
  const api = await hubFetch(settings, `${settings.endpoint}/api/models/${name}/revision/${encodeURIComponent(revision)}`, {
    headers: requestHeaders(settings, { accept: 'application/json' }),
  });
  if (api.ok) {
    const id = ((await api.json().catch(() => ({}))) as { id?: unknown }).id;
    if (typeof id === 'string' && isRepoId(id)) return id;
  } else {
    await api.body?.cancel();
  }
  const head = await hubFetch(settings, resolveUrl(settings, name, revision, 'config.json'), { method: 'HEAD', redirect: 'manual', headers: requestHeaders(settings) });
  const moved = /^\/([^/]+\/[^/]+)\/resolve\//.exec(head.headers.get('location') ?? '');
  if (head.status >= 300 && head.status < 400 && moved && isRepoId(decodeURIComponent(moved[1]!))) return decodeURIComponent(moved[1]!);
  throw new HubError('bad-id', `"${name}" is not a hub model id: give org/name, as in HuggingFaceTB/SmolLM2-135M (the hub knows no old short id "${name}" either)`);
}

/**
 * HEAD a file: its etag, size, sha256 and commit. Undefined when the repository exists but lacks the file.
 * Redirects to another host (the CDN holding LFS files) are not followed: the headers we need are on the redirect.
 * `at` is the commit when it is known already (every file of a pull comes from one commit), else the revision.
 */
export async function fileMetadata(settings: HubSettings, repo: string, revision: string, file: string, at = revision): Promise<FileMetadata | undefined> {
  let url = resolveUrl(settings, repo, at, file);
  let res: Response;
  for (let hops = 0; ; hops++) {
    res = await hubFetch(settings, url, { method: 'HEAD', redirect: 'manual', headers: requestHeaders(settings) });
    const location = res.headers.get('location');
    // a relative redirect means a renamed repository: follow it, as huggingface_hub does
    if (res.status >= 300 && res.status < 400 && location?.startsWith('/') && !location.startsWith('//') && hops < 5) {
      url = new URL(location, url).href;
      continue;
    }
    break;
  }
  if (res.status === 404 && (res.headers.get('x-error-code') ?? 'EntryNotFound') === 'EntryNotFound') return undefined;
  if (!res.ok && !(res.status >= 300 && res.status < 400)) throw hubFailure(settings, res, repo, revision, file);

  const linkedEtag = res.headers.get('x-linked-etag');
  const rawEtag = linkedEtag ?? res.headers.get('etag');
  if (!rawEtag) {
    throw new HubError('http', `${settings.endpoint} sent no ETag for ${file} of ${repo}: it does not look like a Hugging Face hub; check HF_ENDPOINT`);
  }
  const etag = checkSegment(rawEtag.replace(/^W\//, '').replace(/"/g, ''), 'etag');
  const sizeHeader = res.headers.get('x-linked-size') ?? (res.status === 200 ? res.headers.get('content-length') : null);
  const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
  const commit = res.headers.get('x-repo-commit');
  return {
    etag,
    size,
    sha256: linkedEtag && /^[0-9a-f]{64}$/.test(etag) ? etag : undefined,
    commit: commit ? checkSegment(commit, 'commit') : undefined,
  };
}
