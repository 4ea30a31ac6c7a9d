// Downloading one file into the cache: atomic, resumable, checked.
//
//   1. bytes go to blobs/{etag}.incomplete; a pull that starts with one already there asks only for the rest
//      (Range: bytes=N-); a server that ignores Range answers 200 with the whole file, and we start over
//   2. a connection that breaks mid-file is retried, resuming from what reached the disk
//   3. the finished file's size and sha256 are compared with what the hub said; a mismatch deletes it
//   4. only then is it renamed to blobs/{etag}: a name without .incomplete always means a checked, whole file
import { HubError } from './errors.ts';
import { hubFailure, hubFetch, networkError, requestHeaders } from './http.ts';
import { node, type HubSettings } from './settings.ts';

export type DownloadEvent =
  | { type: 'start'; file: string; size?: number; resumeFrom: number }
  | { type: 'progress'; file: string; bytes: number; size?: number }
  | { type: 'retry'; file: string; attempt: number; reason: string };

export interface DownloadRequest {
  url: string;
  /** For messages: the file's name in the repository, and the repository. */
  file: string;
  repo: string;
  /** The revision the user asked for (for messages; the URL names the commit). */
  revision: string;
  /** The finished file: blobs/{etag}. */
  dest: string;
  size?: number;
  sha256?: string;
}

export interface DownloadOptions {
  onEvent?: (event: DownloadEvent) => void;
  /** How many times a broken connection is retried before giving up (the .incomplete file stays for next time). */
  retries?: number;
  /** Wait before the first retry; doubled each time. */
  retryDelayMs?: number;
  signal?: AbortSignal;
}

/** Download `req.url` to `req.dest`, checked. */
export async function downloadFile(settings: HubSettings, req: DownloadRequest, options: DownloadOptions = {}): Promise<void> {
  const { fs } = node();
  const partial = `${req.dest}.incomplete`;
  const retries = options.retries ?? 5;
  let delay = options.retryDelayMs ?? 250;
  let startedOver = false;
  for (let attempt = 0; ; attempt++) {
    const resumeFrom = await sizeOf(partial);
    try {
      await fetchRest(settings, req, partial, resumeFrom, options);
      await verify(req, partial);
      await fs.rename(partial, req.dest);
      return;
    } catch (e) {
      if (!(e instanceof HubError)) throw e;
      if (e.code === 'network' && attempt < retries) {
        options.onEvent?.({ type: 'retry', file: req.file, attempt: attempt + 1, reason: e.message });
        await new Promise((resolve) => setTimeout(resolve, delay));
        delay *= 2;
        continue;
      }
      if (e.code === 'checksum') {
        await fs.rm(partial, { force: true });
        // bytes kept from an earlier session may be what is wrong: one fresh download before giving up
        if (resumeFrom > 0 && !startedOver) {
          startedOver = true;
          continue;
        }
      }
      throw e;
    }
  }
}

/** Append the bytes from `from` on to `partial` (or rewrite it when the server sends the whole file). */
async function fetchRest(settings: HubSettings, req: DownloadRequest, partial: string, from: number, options: DownloadOptions): Promise<void> {
  const { fs } = node();
  if (req.size !== undefined && from === req.size) return; // all there: a pull stopped between the last byte and the rename
  if (req.size !== undefined && from > req.size) {
    await fs.rm(partial, { force: true });
    from = 0;
  }
  const res = await hubFetch(settings, req.url, {
    headers: requestHeaders(settings, from > 0 ? { range: `bytes=${from}-` } : {}),
    signal: options.signal,
  });
  if (res.status === 416) {
    // the server has fewer bytes than we kept: what we kept is not its file
    await res.body?.cancel();
    await fs.rm(partial, { force: true });
    throw new HubError('network', `${req.file} changed on the server while it was being downloaded: pull again`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw hubFailure(settings, res, req.repo, req.revision, req.file);
  }
  if (res.status === 200) from = 0; // Range ignored: the whole file follows
  else if (rangeStart(res.headers.get('content-range')) !== from) {
    await res.body?.cancel();
    await fs.rm(partial, { force: true });
    throw new HubError('network', `the server answered a different byte range for ${req.file} than asked: starting it over`);
  }
  options.onEvent?.({ type: 'start', file: req.file, size: req.size, resumeFrom: from });

  const out = await fs.open(partial, from > 0 ? 'a' : 'w');
  let bytes = from;
  try {
    const reader = res.body!.getReader();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if ((e as Error).name === 'AbortError') throw e;
        throw networkError(settings, e, `${req.file} of ${req.repo}`); // what reached the disk stays, for the retry
      }
      if (chunk.done) break;
      await out.write(chunk.value);
      bytes += chunk.value.byteLength;
      options.onEvent?.({ type: 'progress', file: req.file, bytes, size: req.size });
    }
  } finally {
    await out.close();
  }
  if (req.size !== undefined && bytes < req.size) {
    throw networkError(settings, new Error(`closed after ${bytes} of ${req.size} bytes`), `${req.file} of ${req.repo}`);
  }
}

/** Compare the finished file with the size and sha256 the hub gave (what is on disk, not what we think we wrote). */
async function verify(req: DownloadRequest, partial: string): Promise<void> {
  const size = await sizeOf(partial);
  const where = `${req.file} of ${req.repo}`;
  const again = `the download was deleted: run \`wgpt pull ${req.repo}\` again`;
  if (req.size !== undefined && size !== req.size) {
    throw new HubError('checksum', `${where} is ${size} bytes but the hub says ${req.size}; ${again}`);
  }
  if (req.sha256 === undefined) return;
  const { crypto, fsSync } = node();
  const hash = crypto.createHash('sha256');
  for await (const piece of fsSync.createReadStream(partial)) hash.update(piece as Uint8Array);
  const sha256 = hash.digest('hex');
  if (sha256 !== req.sha256) {
    throw new HubError('checksum', `${where} failed its checksum (sha256 ${sha256.slice(0, 12)}..., the hub says ${req.sha256.slice(0, 12)}...); ${again}`);
  }
}

/** "bytes 100-199/200" -> 100. */
function rangeStart(header: string | null): number | undefined {
  const match = /^bytes (\d+)-/.exec(header ?? '');
  return match ? Number(match[1]) : undefined;
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await node().fs.stat(file)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw e;
  }
}
