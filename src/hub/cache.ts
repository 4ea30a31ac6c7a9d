// The Hugging Face hub cache, laid out exactly as Python's huggingface_hub does, so each finds the other's downloads:
//
//   {cacheDir}/models--{org}--{name}/
//     blobs/{etag}               file contents, named by etag: the sha256 for LFS files (the weights), the git blob
//                                sha1 for small ones
//     blobs/{etag}.incomplete    a download in progress; renamed to blobs/{etag} only after its size and sha256 check
//     snapshots/{commit}/{file}  a relative symlink to ../../blobs/{etag}: the repository's files at one commit
//     refs/{revision}            the commit a branch or tag pointed to when last pulled (written without a newline)
//
// A file counts as downloaded only once its snapshot link exists, and a link is made only to a checked blob, so an
// interrupted pull leaves at most a .incomplete file that the next pull resumes.
import { HubError } from './errors.ts';
import { checkHubFileName, CONFIG_FILE, INDEX_FILE, shardsOfIndex, SINGLE_FILE } from './model-files.ts';
import { checkRepoId, checkSegment, node } from './settings.ts';

const COMMIT = /^[0-9a-f]{40}$/;
const INCOMPLETE = '.incomplete';

/** models--{org}--{name}: the repository's folder in the cache. */
export function modelFolder(cacheDir: string, repo: string): string {
  return node().path.join(cacheDir, `models--${checkRepoId(repo).replace('/', '--')}`);
}

export function blobPath(folder: string, etag: string): string {
  return node().path.join(folder, 'blobs', checkSegment(etag, 'etag'));
}

export function snapshotDir(folder: string, commit: string): string {
  return node().path.join(folder, 'snapshots', checkSegment(commit, 'commit'));
}

/** The commit `revision` pointed to when it was last pulled; a commit hash is its own answer. */
export async function readRef(folder: string, revision: string): Promise<string | undefined> {
  const { fs, path } = node();
  try {
    const commit = (await fs.readFile(path.join(folder, 'refs', checkHubFileName(revision, 'the revision')), 'utf8')).trim();
    return checkSegment(commit, 'commit');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    return COMMIT.test(revision) ? revision : undefined;
  }
}

export async function writeRef(folder: string, revision: string, commit: string): Promise<void> {
  if (revision === commit) return; // a commit needs no ref
  const { fs, path } = node();
  const file = path.join(folder, 'refs', checkHubFileName(revision, 'the revision'));
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.writeFile(file, commit); // no newline: Python reads the file without stripping it
}

/** Does the snapshot hold `file`, resolving to a real file (a link whose blob was deleted does not count)? */
export async function hasSnapshotFile(folder: string, commit: string, file: string): Promise<boolean> {
  const { fs, path } = node();
  try {
    return (await fs.stat(path.join(snapshotDir(folder, commit), checkHubFileName(file, 'the snapshot')))).isFile();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/** Make snapshots/{commit}/{file} point at blobs/{etag}. */
export async function linkSnapshotFile(folder: string, commit: string, file: string, etag: string): Promise<void> {
  const { fs, path } = node();
  const link = path.join(snapshotDir(folder, commit), checkHubFileName(file, 'the snapshot'));
  const blob = blobPath(folder, etag);
  await fs.mkdir(path.dirname(link), { recursive: true });
  await fs.rm(link, { force: true }); // a stale link from an earlier, broken cache
  try {
    await fs.symlink(path.relative(path.dirname(link), blob), link);
  } catch (e) {
    // No symlinks (Windows without developer mode): keep a copy, as huggingface_hub does in that case.
    if (!['EPERM', 'EACCES', 'ENOTSUP', 'EINVAL'].includes((e as NodeJS.ErrnoException).code ?? '')) throw e;
    await fs.copyFile(blob, link);
  }
}

/**
 * What a model folder still lacks before wgpt can load it: config.json, and model.safetensors or the index and
 * every shard it names. Tokenizer files are optional (GPT-2 models use the built-in tokenizer).
 */
export async function missingModelFiles(dir: string): Promise<string[]> {
  const { fs, path } = node();
  const has = async (file: string) => {
    try {
      return (await fs.stat(path.join(dir, file))).isFile();
    } catch {
      return false;
    }
  };
  const missing: string[] = [];
  if (!(await has(CONFIG_FILE))) missing.push(CONFIG_FILE);
  if (await has(INDEX_FILE)) {
    const shards = shardsOfIndex(await fs.readFile(path.join(dir, INDEX_FILE), 'utf8'), path.join(dir, INDEX_FILE));
    for (const shard of shards) if (!(await has(shard))) missing.push(shard);
  } else if (!(await has(SINGLE_FILE))) {
    missing.push(SINGLE_FILE);
  }
  return missing;
}

/** The snapshot folder of `repo` at `revision` when the cache holds the whole model, else undefined. No network. */
export async function cachedModelDir(cacheDir: string, repo: string, revision = 'main'): Promise<string | undefined> {
  const folder = modelFolder(cacheDir, repo);
  const commit = await readRef(folder, revision);
  if (!commit) return undefined;
  const dir = snapshotDir(folder, commit);
  return (await missingModelFiles(dir)).length === 0 ? dir : undefined;
}

export interface CachedModel {
  repo: string;
  /** The models--{org}--{name} folder. */
  folder: string;
  /** Bytes of finished files (blobs, and plain files in snapshots where a cache has no symlinks). */
  bytes: number;
  /** Bytes of unfinished downloads (.incomplete), which the next pull resumes. */
  partialBytes: number;
  /** revision -> commit, from refs/. */
  refs: Record<string, string>;
  /** Commits with a snapshot folder, and whether each holds a whole loadable model. */
  snapshots: { commit: string; complete: boolean }[];
}

/** Every model in the cache (datasets and spaces, which Python keeps beside them, are skipped). */
export async function listCachedModels(cacheDir: string): Promise<CachedModel[]> {
  const { fs } = node();
  let names: string[];
  try {
    names = await fs.readdir(cacheDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  const models: CachedModel[] = [];
  for (const name of names.sort()) {
    if (!name.startsWith('models--')) continue;
    const repo = name.slice('models--'.length).split('--').join('/');
    models.push(await describeModel(node().path.join(cacheDir, name), repo));
  }
  return models;
}

async function describeModel(folder: string, repo: string): Promise<CachedModel> {
  const { fs, path } = node();
  let bytes = 0;
  let partialBytes = 0;
  for (const { stats, file } of await walk(path.join(folder, 'blobs'))) {
    if (file.endsWith(INCOMPLETE)) partialBytes += stats.size;
    else bytes += stats.size;
  }
  const snapshots: CachedModel['snapshots'] = [];
  for (const commit of await readdirOrEmpty(path.join(folder, 'snapshots'))) {
    const dir = path.join(folder, 'snapshots', commit);
    for (const { stats } of await walk(dir)) if (stats.isFile()) bytes += stats.size; // copies, not links
    let complete = false;
    try {
      complete = (await missingModelFiles(dir)).length === 0;
    } catch {
      // a broken index: not loadable
    }
    snapshots.push({ commit, complete });
  }
  const refs: Record<string, string> = {};
  for (const { file } of await walk(path.join(folder, 'refs'))) {
    refs[file] = (await fs.readFile(path.join(folder, 'refs', file), 'utf8')).trim();
  }
  return { repo, folder, bytes, partialBytes, refs, snapshots };
}

/** Delete a model from the cache; returns what it was. */
export async function removeCachedModel(cacheDir: string, repo: string): Promise<CachedModel> {
  const { fs, path } = node();
  const folder = modelFolder(cacheDir, repo);
  if (!node().fsSync.existsSync(folder)) {
    throw new HubError('not-found', `no model ${repo} in the cache ${cacheDir}: \`wgpt models\` lists the cached ones`);
  }
  const model = await describeModel(folder, repo);
  await fs.rm(folder, { recursive: true, force: true });
  // huggingface_hub keeps lock files beside the models
  await fs.rm(path.join(cacheDir, '.locks', path.basename(folder)), { recursive: true, force: true });
  return model;
}

/** Files under `dir` (relative paths with '/', found by lstat: links are not followed). */
async function walk(dir: string, prefix = ''): Promise<{ file: string; stats: import('fs').Stats }[]> {
  const { fs, path } = node();
  const out: { file: string; stats: import('fs').Stats }[] = [];
  for (const name of await readdirOrEmpty(dir)) {
    const stats = await fs.lstat(path.join(dir, name));
    if (stats.isDirectory()) out.push(...(await walk(path.join(dir, name), `${prefix}${name}/`)));
    else out.push({ file: `${prefix}${name}`, stats });
  }
  return out;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await node().fs.readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}
