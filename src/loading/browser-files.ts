// Model folders in the browser, behind the same ModelFiles interface the loader reads in Node (files.ts):
//   fetchModelFiles   a folder at a URL: the demo's embedded model, or a Hugging Face repository
//                     (https://huggingface.co/{id}/resolve/main/), optionally kept in the Cache API so a reload
//                     does not download again, with download progress;
//   localModelFiles   files the user chose or dropped (File objects), looked up by their base name.
import { checkFileName, ModelFilesError, type ModelFiles } from './files.ts';

export interface DownloadProgress {
  file: string;
  /** Bytes received so far, and the total when the server said (Content-Length), else undefined. */
  loaded: number;
  total?: number;
  /** true when the bytes came from the Cache API (nothing was downloaded). */
  cached: boolean;
}

export interface FetchFilesOptions {
  /** Keep every fetched file in this Cache API cache (e.g. 'wgpt-models'); off when undefined. */
  cacheName?: string;
  onProgress?: (progress: DownloadProgress) => void;
  signal?: AbortSignal;
}

/** A fetch failed: the URL, what the server said, and what to do. */
export class DownloadError extends Error {
  override name = 'DownloadError';
}

/** The folder at `baseUrl` (ending in '/'): each file is `baseUrl + name`. */
export function fetchModelFiles(baseUrl: string, options: FetchFilesOptions = {}): ModelFiles {
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const known = new Map<string, boolean>(); // exists() answers, so a file is asked about once
  const url = (file: string) => {
    checkFileName(file, base);
    return new URL(file, new URL(base, globalThis.location?.href)).href;
  };
  const cache = async (): Promise<Cache | undefined> =>
    options.cacheName && typeof caches !== 'undefined' ? caches.open(options.cacheName) : undefined;

  async function get(file: string): Promise<Uint8Array<ArrayBuffer>> {
    const href = url(file);
    const store = await cache();
    const hit = await store?.match(href);
    if (hit) {
      const bytes = new Uint8Array(await hit.arrayBuffer());
      options.onProgress?.({ file, loaded: bytes.length, total: bytes.length, cached: true });
      return bytes;
    }
    let response: Response;
    try {
      response = await fetch(href, { signal: options.signal });
    } catch (e) {
      throw new DownloadError(`could not fetch ${href} (${(e as Error).message}): check the network connection and try again`);
    }
    if (response.status === 404) {
      throw new ModelFilesError('not-found', `${base} has no file ${file}: check the model id or folder (a model has config.json and *.safetensors)`);
    }
    if (!response.ok) {
      const hint = response.status === 401 || response.status === 403 ? 'the model may be gated or private; pick a public one' : 'try again later';
      throw new DownloadError(`fetching ${href} failed with HTTP ${response.status}: ${hint}`);
    }
    const bytes = await readWithProgress(response, file, options.onProgress);
    await store?.put(href, new Response(bytes, { headers: { 'content-type': 'application/octet-stream' } }));
    return bytes;
  }

  return {
    name: base,
    async exists(file) {
      const href = url(file);
      if (known.has(file)) return known.get(file)!;
      const store = await cache();
      let found = !!(await store?.match(href));
      if (!found) {
        let response: Response;
        try {
          response = await fetch(href, { method: 'HEAD', signal: options.signal });
        } catch (e) {
          throw new DownloadError(`could not reach ${href} (${(e as Error).message}): check the network connection and try again`);
        }
        // the hub answers 401 with X-Error-Code: RepoNotFound for a model that does not exist (or is private)
        const missingRepo = response.status === 401 && response.headers.get('x-error-code') === 'RepoNotFound';
        if (!missingRepo && (response.status === 401 || response.status === 403)) {
          throw new DownloadError(`${href} answered HTTP ${response.status}: the model may be gated or private; pick a public one`);
        }
        found = response.ok;
      }
      known.set(file, found);
      return found;
    },
    async readText(file) {
      return new TextDecoder().decode(await get(file));
    },
    readBytes: get,
  };
}

/** The body of `response`, read in chunks so progress can be shown. */
async function readWithProgress(response: Response, file: string, onProgress?: (p: DownloadProgress) => void): Promise<Uint8Array<ArrayBuffer>> {
  const header = Number(response.headers.get('content-length'));
  const total = Number.isFinite(header) && header > 0 ? header : undefined;
  if (!response.body) return new Uint8Array(await response.arrayBuffer());
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.length;
    onProgress?.({ file, loaded, total, cached: false });
  }
  if (total !== undefined && loaded !== total && response.headers.get('content-encoding') === null) {
    throw new DownloadError(`${file}: the download stopped at ${loaded} of ${total} bytes; try again`);
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  return bytes;
}

/** Files the user picked or dropped, by base name (a model folder is flat: config.json, *.safetensors, tokenizer.json). */
export function localModelFiles(files: Iterable<File>, name = 'local files'): ModelFiles {
  const byName = new Map<string, File>();
  for (const f of files) byName.set(f.name, f);
  const find = (file: string): File => {
    checkFileName(file, name);
    const f = byName.get(file);
    if (!f) throw new ModelFilesError('not-found', `${name} has no ${file}: choose it together with the other model files`);
    return f;
  };
  return {
    name,
    async exists(file) {
      checkFileName(file, name);
      return byName.has(file);
    },
    async readText(file) {
      return find(file).text();
    },
    async readBytes(file) {
      return new Uint8Array(await find(file).arrayBuffer());
    },
  };
}
