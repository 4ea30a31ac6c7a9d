// `pullModel('org/name')`: bring a model's files from the hub into the cache, as `wgpt pull` does.
//
//   1. which commit, which files: the API's listing, or (a server without the API) HEAD on each name we know
//   2. per file, skip it when the snapshot already has it; else HEAD for its etag, size and sha256, download the
//      blob unless another snapshot already brought it, and link the snapshot to it
//   3. the index of a sharded model is fetched first, and names the shards to fetch next
//   4. refs/{revision} is written last, once every file is in
//
// An old short id (gpt2, distilgpt2) is first resolved to the org/name the hub now gives it, and the whole pull
// holds the model's lock (lock.ts), so a second pull of the same model waits and then reuses what the first brought.
import { blobPath, hasSnapshotFile, linkSnapshotFile, modelFolder, snapshotDir, writeRef } from './cache.ts';
import { downloadFile, type DownloadEvent } from './download.ts';
import { HubError } from './errors.ts';
import { describeRepo, fileMetadata, listRepoFiles, resolveLegacyId, resolveUrl, type FileMetadata } from './http.ts';
import { lockFile, withLock } from './lock.ts';
import { CONFIG_FILE, INDEX_FILE, OPTIONAL_FILES, shardsOfIndex, SINGLE_FILE } from './model-files.ts';
import { checkRepoId, hubSettings, isLegacyId, node, type HubSettings } from './settings.ts';

export type PullEvent =
  | DownloadEvent
  | { type: 'done'; file: string; size: number; downloaded: boolean }
  /** An old short id named this org/name: what is pulled. */
  | { type: 'renamed'; from: string; repo: string }
  /** Another process is pulling the same model: this pull waits for it, then reuses its files. */
  | { type: 'waiting'; repo: string; pid: number; lockFile: string };

export interface PullOptions {
  /** Branch, tag or commit (default: main). */
  revision?: string;
  onProgress?: (event: PullEvent) => void;
  /** Retries of a broken connection per file (default 5). */
  retries?: number;
  retryDelayMs?: number;
  signal?: AbortSignal;
  /** Default: read from the environment (HF_ENDPOINT, HF_TOKEN, HF_HOME, ...). */
  settings?: HubSettings;
}

export interface PullResult {
  /** The org/name pulled: the one asked for, or what the hub now calls an old short id. */
  repo: string;
  revision: string;
  commit: string;
  /** The snapshot folder: a model folder wgpt (and transformers) can load. */
  dir: string;
  files: { file: string; size: number; downloaded: boolean }[];
}

export async function pullModel(name: string, options: PullOptions = {}): Promise<PullResult> {
  const settings = options.settings ?? hubSettings();
  const revision = options.revision ?? 'main';
  const repo = isLegacyId(name) ? await resolveLegacyId(settings, name, revision) : checkRepoId(name);
  if (repo !== name) options.onProgress?.({ type: 'renamed', from: name, repo });
  const folder = modelFolder(settings.cacheDir, repo);
  const lock = lockFile(settings.cacheDir, node().path.basename(folder));
  const onWait = ({ pid }: { pid: number }) => options.onProgress?.({ type: 'waiting', repo, pid, lockFile: lock });
  return withLock(lock, () => pullLocked(settings, repo, revision, folder, options), { onWait, signal: options.signal });
}

async function pullLocked(settings: HubSettings, repo: string, revision: string, folder: string, options: PullOptions): Promise<PullResult> {
  const what = describeRepo(repo, revision);

  // 1. the commit, and which of the files we want the repository has
  const known = new Map<string, FileMetadata>(); // HEAD answers, when probing got them already
  let commit: string;
  let present: (file: string) => Promise<boolean>;
  const listing = await listRepoFiles(settings, repo, revision);
  if (listing) {
    commit = listing.commit;
    const files = new Set(listing.files);
    present = async (file) => files.has(file);
  } else {
    const probe = async (file: string) => {
      if (!known.has(file)) {
        const meta = await fileMetadata(settings, repo, revision, file);
        if (!meta) return false;
        known.set(file, meta);
      }
      return true;
    };
    if (!(await probe(CONFIG_FILE))) throw new HubError('not-found', `no model ${what} on the hub (HTTP 404): check the name`);
    const config = known.get(CONFIG_FILE)!;
    if (!config.commit) {
      throw new HubError('http', `${settings.endpoint} did not say which commit ${what} is at (no X-Repo-Commit header): check HF_ENDPOINT`);
    }
    commit = config.commit;
    present = probe;
  }
  if (!(await present(CONFIG_FILE))) {
    throw new HubError('not-a-model', `${what} has no ${CONFIG_FILE}: it is not a transformers model wgpt can run`);
  }
  const sharded = await present(INDEX_FILE);
  if (!sharded && !(await present(SINGLE_FILE))) {
    throw new HubError('not-a-model', `${what} has no ${SINGLE_FILE} or ${INDEX_FILE}: wgpt reads safetensors weights only`);
  }
  const wanted = [CONFIG_FILE];
  for (const file of OPTIONAL_FILES) if (await present(file)) wanted.push(file);
  wanted.push(sharded ? INDEX_FILE : SINGLE_FILE);

  // 2. each file into the snapshot; 3. the shards once the index is in
  const result: PullResult = { repo, revision, commit, dir: snapshotDir(folder, commit), files: [] };
  const fetchOne = async (file: string) => {
    result.files.push(await pullFile(settings, folder, repo, revision, commit, file, known.get(file), options));
  };
  for (const file of wanted) await fetchOne(file);
  if (sharded) {
    const indexPath = node().path.join(result.dir, INDEX_FILE);
    const shards = shardsOfIndex(await node().fs.readFile(indexPath, 'utf8'), `${what}/${INDEX_FILE}`);
    for (const shard of shards) await fetchOne(shard);
  }

  // 4. the revision now names a complete snapshot
  await writeRef(folder, revision, commit);
  return result;
}

async function pullFile(
  settings: HubSettings,
  folder: string,
  repo: string,
  revision: string,
  commit: string,
  file: string,
  meta: FileMetadata | undefined,
  options: PullOptions,
): Promise<PullResult['files'][number]> {
  const { fs, path } = node();
  const done = (size: number, downloaded: boolean) => {
    options.onProgress?.({ type: 'done', file, size, downloaded });
    return { file, size, downloaded };
  };
  if (await hasSnapshotFile(folder, commit, file)) {
    return done((await fs.stat(path.join(snapshotDir(folder, commit), file))).size, false);
  }
  // HEAD at the commit, not the branch, so every file comes from the same commit even if the branch moves meanwhile
  meta ??= await fileMetadata(settings, repo, revision, file, commit);
  if (!meta) {
    throw new HubError('not-found', `${repo} names ${file}, but the hub has no such file at commit ${commit.slice(0, 12)} (HTTP 404): the repository is broken`);
  }
  const blob = blobPath(folder, meta.etag);
  let downloaded = false;
  if (!node().fsSync.existsSync(blob)) {
    await fs.mkdir(path.dirname(blob), { recursive: true });
    await downloadFile(
      settings,
      { url: resolveUrl(settings, repo, commit, file), file, repo, revision, dest: blob, size: meta.size, sha256: meta.sha256 },
      { onEvent: options.onProgress, retries: options.retries, retryDelayMs: options.retryDelayMs, signal: options.signal },
    );
    downloaded = true;
  }
  await linkSnapshotFile(folder, commit, file, meta.etag);
  return done((await fs.stat(blob)).size, downloaded);
}
