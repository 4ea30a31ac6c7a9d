// A small Hugging Face hub on 127.0.0.1 for the pull tests: the real URL layout and headers, and ways to misbehave.
//
//   GET  /api/models/{org}/{name}/revision/{rev}   { id, sha, siblings: [{ rfilename }] }
//   HEAD|GET /{org}/{name}/resolve/{rev}/{file}    small files: 200, ETag = git blob sha1, X-Repo-Commit
//                                                  LFS files: 302 to /cdn/{sha256}, X-Linked-Etag, X-Linked-Size
//   HEAD|GET /cdn/{sha256}                          the bytes, with Range support
//   an old short id (gpt2) redirects, API and files alike, to its org/name with a relative 307, as the hub does
//   errors carry X-Error-Code: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo
//   every answer allows CORS, as the hub's do, so a page on another origin (the web demo's test) can read it
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRepo {
  commit: string;
  files: Record<string, Uint8Array>;
  /** Only requests with "Authorization: Bearer {token}" may read the files (the API still lists them, as the hub does for gated models). */
  token?: string;
}

export interface Misbehaviour {
  /** Cut the connection after this many bytes of the first GET of each file whose name ends so. */
  dropAfter?: { suffix: string; bytes: number; times?: number };
  /** Serve these files with one byte changed (same length), so their sha256 differs from the advertised one. */
  corrupt?: string[];
  /** Answer Range requests with 200 and the whole file. */
  ignoreRange?: boolean;
  /** No /api/models route: clients must probe the files. */
  noApi?: boolean;
  /** Send file bodies this many bytes at a time, `delayMs` apart (a slow connection, so two pulls overlap). */
  throttle?: { bytes: number; delayMs: number };
}

export interface HubOptions extends Misbehaviour {
  /** Old short ids and the org/name each redirects to, e.g. { gpt2: 'openai-community/gpt2' }. */
  renamed?: Record<string, string>;
}

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
  status: number;
}

export interface FakeHub {
  url: string;
  requests: LoggedRequest[];
  close(): Promise<void>;
}

/** The hub's CORS headers: any origin may read, and see the headers a download checks. */
const CORS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers': 'Content-Length, Content-Range, Accept-Ranges, ETag, X-Repo-Commit, X-Linked-Etag, X-Linked-Size, X-Error-Code',
};

/** Files larger than this, and every .safetensors file, are served as LFS files (through the CDN redirect). */
const LFS_THRESHOLD = 1000;

export function isLfs(file: string, bytes: Uint8Array): boolean {
  return file.endsWith('.safetensors') || bytes.byteLength > LFS_THRESHOLD;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The id git gives a file: sha1 of "blob {size}\0" and the bytes. */
export function gitBlobSha1(bytes: Uint8Array): string {
  return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
}

export async function startHub(repos: Record<string, FakeRepo>, misbehave: HubOptions = {}): Promise<FakeHub> {
  const requests: LoggedRequest[] = [];
  const drops = new Map<string, number>(); // sha256 -> times dropped so far
  const blobs = new Map<string, { file: string; bytes: Uint8Array }>();
  for (const repo of Object.values(repos)) {
    for (const [file, bytes] of Object.entries(repo.files)) blobs.set(sha256(bytes), { file, bytes });
  }

  const server = createServer((req, res) => {
    const log: LoggedRequest = { method: req.method!, url: req.url!, range: req.headers.range, authorization: req.headers.authorization, status: 0 };
    requests.push(log);
    for (const [name, value] of Object.entries(CORS)) res.setHeader(name, value);
    const send = (status: number, headers: Record<string, string | number> = {}, body?: Uint8Array | string) => {
      log.status = status;
      res.writeHead(status, headers);
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const fail = (status: number, code: string) => send(status, { 'x-error-code': code, 'content-type': 'application/json' }, JSON.stringify({ error: code }));
    const path = decodeURI(new URL(req.url!, 'http://x').pathname);

    const old = /^(\/api\/models\/|\/)([^/]+)(\/.*)$/.exec(path);
    const renamed = old && misbehave.renamed?.[old[2]!];
    if (renamed) return send(307, { location: `${old[1]}${renamed}${old[3]}` });

    const api = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/(.+)$/.exec(path);
    if (api) {
      if (misbehave.noApi) return send(404, {}, 'Not Found');
      const repo = repos[api[1]!];
      if (!repo) return fail(404, 'RepoNotFound');
      if (!revisionOk(repo, decodeURIComponent(api[2]!))) return fail(404, 'RevisionNotFound');
      const body = JSON.stringify({ id: api[1], sha: repo.commit, siblings: Object.keys(repo.files).map((rfilename) => ({ rfilename })) });
      return send(200, { 'content-type': 'application/json' }, body);
    }

    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (resolve) {
      const repo = repos[resolve[1]!];
      if (!repo) return fail(404, 'RepoNotFound');
      if (repo.token !== undefined) {
        if (!req.headers.authorization) return fail(401, 'GatedRepo');
        if (req.headers.authorization !== `Bearer ${repo.token}`) return fail(403, 'GatedRepo');
      }
      if (!revisionOk(repo, decodeURIComponent(resolve[2]!))) return fail(404, 'RevisionNotFound');
      const file = resolve[3]!;
      const bytes = repo.files[file];
      if (!bytes) return fail(404, 'EntryNotFound');
      if (isLfs(file, bytes)) {
        const sha = sha256(bytes);
        const { port } = server.address() as AddressInfo;
        return send(302, {
          location: `http://127.0.0.1:${port}/cdn/${sha}`, // absolute, as the hub's CDN redirects are
          'x-linked-etag': `"${sha}"`,
          'x-linked-size': bytes.byteLength,
          'x-repo-commit': repo.commit,
          etag: `"${gitBlobSha1(bytes)}"`,
        });
      }
      return sendBytes(req, res, log, file, bytes, { etag: `"${gitBlobSha1(bytes)}"`, 'x-repo-commit': repo.commit });
    }

    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn && blobs.has(cdn[1]!)) {
      const { file, bytes } = blobs.get(cdn[1]!)!;
      return sendBytes(req, res, log, file, bytes, {});
    }
    send(404, {}, 'Not Found');
  });

  function sendBytes(req: IncomingMessage, res: ServerResponse, log: LoggedRequest, file: string, original: Uint8Array, headers: Record<string, string>) {
    let bytes = original;
    if (misbehave.corrupt?.includes(file)) {
      bytes = original.slice();
      bytes[bytes.length >> 1] ^= 0xff;
    }
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (range && !misbehave.ignoreRange) start = Number(range[1]);
    if (start > bytes.byteLength) {
      log.status = 416;
      res.writeHead(416, { 'content-range': `bytes */${bytes.byteLength}` }).end();
      return;
    }
    const partial = range !== null && !misbehave.ignoreRange;
    log.status = partial ? 206 : 200;
    res.writeHead(log.status, {
      ...headers,
      'accept-ranges': 'bytes',
      'content-length': bytes.byteLength - start,
      ...(partial ? { 'content-range': `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}` } : {}),
    });
    if (req.method === 'HEAD') return void res.end();

    const drop = misbehave.dropAfter;
    const dropped = drops.get(file) ?? 0;
    if (drop && file.endsWith(drop.suffix) && dropped < (drop.times ?? 1) && bytes.byteLength - start > drop.bytes) {
      drops.set(file, dropped + 1);
      // send the first bytes and, once the client has had time to read them, cut the connection mid-body
      res.write(bytes.subarray(start, start + drop.bytes), () => setTimeout(() => res.socket?.destroy(), 100));
      return;
    }
    const throttle = misbehave.throttle;
    if (!throttle) return void res.end(bytes.subarray(start));
    let at = start;
    const next = () => {
      if (res.destroyed) return;
      const end = Math.min(at + throttle.bytes, bytes.byteLength);
      res.write(bytes.subarray(at, end));
      at = end;
      if (at < bytes.byteLength) setTimeout(next, throttle.delayMs);
      else res.end();
    };
    next();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function revisionOk(repo: FakeRepo, revision: string): boolean {
  return revision === 'main' || revision === repo.commit;
}
