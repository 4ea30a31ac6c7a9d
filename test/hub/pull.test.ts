// `wgpt pull` and the hub cache, against a real HTTP server on 127.0.0.1 that speaks the hub's URL layout and
// headers (test/hub/hub-server.ts). Every test gets its own HF_HOME in a temp folder.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, lstatSync, readdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HubError, listCachedModels, pullModel, resolveModelDir, type PullEvent } from '../../src/hub/index.ts';
import { Rng } from '../../src/random.ts';
import { gitBlobSha1, isLfs, sha256, startHub, type FakeHub, type FakeRepo, type HubOptions } from './hub-server.ts';

const BIN = new URL('../../packages/cli/bin/wgpt.js', import.meta.url).pathname;
const TIMEOUT = 20_000; // each test talks to a loopback server: seconds at most, unless something hangs

const text = (s: string) => new TextEncoder().encode(s);
const json = (o: unknown) => text(JSON.stringify(o, null, 2));

function randomBytes(seed: number, n: number): Uint8Array {
  const rng = new Rng(seed);
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = rng.nextU32() & 0xff;
  return bytes;
}

/** A sharded model with tokenizer files, plus files a pull must leave alone (README, .bin, a subfolder). */
function shardedRepo(): FakeRepo {
  const shard1 = 'model-00001-of-00002.safetensors';
  const shard2 = 'model-00002-of-00002.safetensors';
  return {
    commit: 'a'.repeat(8) + '0123456789abcdef0123456789abcdef',
    files: {
      'config.json': json({ architectures: ['LlamaForCausalLM'], hidden_size: 8 }),
      'generation_config.json': json({ bos_token_id: 1, eos_token_id: 2 }),
      'tokenizer.json': json({ model: { type: 'BPE', vocab: Object.fromEntries([...Array(200).keys()].map((i) => [`t${i}`, i])) } }),
      'tokenizer_config.json': json({ chat_template: '{{ messages }}' }),
      'special_tokens_map.json': json({ bos_token: '<s>' }),
      'model.safetensors.index.json': json({ metadata: { total_size: 0 }, weight_map: { 'a.weight': shard1, 'b.weight': shard2, 'c.weight': shard1 } }),
      [shard1]: randomBytes(1, 300_001),
      [shard2]: randomBytes(2, 150_007),
      'README.md': text('# tiny'),
      'pytorch_model.bin': randomBytes(3, 5000),
      'onnx/model.onnx': randomBytes(4, 5000),
    },
  };
}

function singleRepo(extra: Partial<FakeRepo> = {}): FakeRepo {
  return {
    commit: 'b'.repeat(40),
    files: {
      'config.json': json({ model_type: 'gpt2' }),
      'vocab.json': json({ a: 0, b: 1 }),
      'merges.txt': text('#version: 0.2\na b\n'),
      'model.safetensors': randomBytes(5, 200_003),
    },
    ...extra,
  };
}

let home: string;
let hub: FakeHub | undefined;
const cacheDir = () => join(home, 'hub');
const modelDir = (repo: string) => join(cacheDir(), `models--${repo.replace('/', '--')}`);

beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'wgpt-hub-'));
  vi.stubEnv('HF_HOME', home);
  vi.stubEnv('HF_HUB_CACHE', undefined);
  vi.stubEnv('HF_TOKEN', undefined);
  vi.stubEnv('HUGGING_FACE_HUB_TOKEN', undefined);
  vi.stubEnv('HF_HUB_OFFLINE', undefined);
});

afterEach(async () => {
  await hub?.close();
  hub = undefined;
  vi.unstubAllEnvs();
  await rm(home, { recursive: true, force: true });
});

async function serve(repos: Record<string, FakeRepo>, misbehave: HubOptions = {}): Promise<FakeHub> {
  hub = await startHub(repos, misbehave);
  vi.stubEnv('HF_ENDPOINT', hub.url);
  return hub;
}

/** GETs that carried file bytes (not the API listing, not HEADs). */
const fileGets = (h: FakeHub) => h.requests.filter((r) => r.method === 'GET' && !r.url.startsWith('/api/') && r.status !== 302);

async function rejection(promise: Promise<unknown>): Promise<HubError> {
  const error = await promise.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(HubError);
  expect((error as Error).message).not.toContain('\n');
  return error as HubError;
}

describe('pullModel', () => {
  it('lays a sharded model out as the HF cache does; a second pull downloads nothing', async () => {
    const repo = shardedRepo();
    const h = await serve({ 'tiny-org/tiny-llama': repo });
    const events: PullEvent[] = [];
    const result = await pullModel('tiny-org/tiny-llama', { onProgress: (e) => events.push(e) });

    const folder = modelDir('tiny-org/tiny-llama');
    expect(result.commit).toBe(repo.commit);
    expect(result.dir).toBe(join(folder, 'snapshots', repo.commit));
    expect(readFileSync(join(folder, 'refs', 'main'), 'utf8')).toBe(repo.commit); // no newline, as Python writes it
    const expected = [
      'config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json',
      'model.safetensors.index.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors',
    ];
    expect(result.files.map((f) => f.file)).toEqual(expected);
    expect(readdirSync(result.dir).sort()).toEqual([...expected].sort()); // no README, .bin or onnx/
    for (const file of expected) {
      const bytes = repo.files[file]!;
      const link = join(result.dir, file);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      // blobs are named by etag: sha256 for LFS files, the git blob sha1 for the others
      const etag = isLfs(file, bytes) ? sha256(bytes) : gitBlobSha1(bytes);
      expect(readlinkSync(link)).toBe(`../../blobs/${etag}`);
      expect(new Uint8Array(readFileSync(link))).toEqual(bytes);
    }
    expect(readdirSync(join(folder, 'blobs')).some((f) => f.endsWith('.incomplete'))).toBe(false);
    const done = events.filter((e) => e.type === 'done');
    expect(done.map((e) => e.file)).toEqual(expected);
    expect(done.every((e) => e.type === 'done' && e.downloaded)).toBe(true);

    const before = h.requests.length;
    const again = await pullModel('tiny-org/tiny-llama');
    expect(again.files.every((f) => !f.downloaded)).toBe(true);
    expect(h.requests.slice(before).map((r) => r.url)).toEqual(['/api/models/tiny-org/tiny-llama/revision/main']);
  }, TIMEOUT);

  it('probes the known file names when the server has no listing API', async () => {
    const repo = singleRepo();
    const h = await serve({ 'tiny-org/gpt2-ish': repo }, { noApi: true });
    const result = await pullModel('tiny-org/gpt2-ish');
    expect(result.commit).toBe(repo.commit);
    expect(result.files.map((f) => f.file).sort()).toEqual(['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']);
    expect(new Uint8Array(readFileSync(join(result.dir, 'model.safetensors')))).toEqual(repo.files['model.safetensors']);
    expect(h.requests.some((r) => r.method === 'HEAD' && r.url.endsWith('/tokenizer.json') && r.status === 404)).toBe(true);
  }, TIMEOUT);

  it('resumes with a Range request after the server drops the connection mid-file', async () => {
    const repo = shardedRepo();
    const shard = 'model-00001-of-00002.safetensors';
    const h = await serve({ 'tiny-org/tiny-llama': repo }, { dropAfter: { suffix: shard, bytes: 100_000 } });
    const events: PullEvent[] = [];
    const result = await pullModel('tiny-org/tiny-llama', { retryDelayMs: 10, onProgress: (e) => events.push(e) });

    const cdn = `/cdn/${sha256(repo.files[shard]!)}`;
    const gets = fileGets(h).filter((r) => r.url === cdn);
    expect(gets).toHaveLength(2);
    expect(gets[0]!.range).toBeUndefined();
    const resumedAt = Number(/^bytes=(\d+)-$/.exec(gets[1]!.range ?? '')?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(100_000);
    expect(gets[1]!.status).toBe(206);
    expect(events.some((e) => e.type === 'retry' && e.file === shard)).toBe(true);
    expect(events.some((e) => e.type === 'start' && e.file === shard && e.resumeFrom === resumedAt)).toBe(true);
    expect(new Uint8Array(readFileSync(join(result.dir, shard)))).toEqual(repo.files[shard]);
  }, TIMEOUT);

  it('starts a file over when the server answers a Range request with the whole file', async () => {
    const repo = singleRepo();
    const h = await serve({ 'tiny-org/gpt2-ish': repo }, { dropAfter: { suffix: '.safetensors', bytes: 50_000 }, ignoreRange: true });
    const result = await pullModel('tiny-org/gpt2-ish', { retryDelayMs: 10 });
    const gets = fileGets(h).filter((r) => r.url.startsWith('/cdn/'));
    expect(gets.map((r) => [r.range !== undefined, r.status])).toEqual([[false, 200], [true, 200]]);
    expect(new Uint8Array(readFileSync(join(result.dir, 'model.safetensors')))).toEqual(repo.files['model.safetensors']);
  }, TIMEOUT);

  it('keeps an interrupted download as .incomplete only, and the next pull resumes it', async () => {
    const repo = singleRepo();
    const h = await serve({ 'tiny-org/gpt2-ish': repo }, { dropAfter: { suffix: '.safetensors', bytes: 70_000 } });
    const error = await rejection(pullModel('tiny-org/gpt2-ish', { retries: 0 }));
    expect(error.code).toBe('network');
    expect(error.message).toMatch(/broke while downloading model\.safetensors .*run the pull again to resume/);

    // nothing counts as complete: no blob under its final name, no snapshot link, no ref
    const folder = modelDir('tiny-org/gpt2-ish');
    const sha = sha256(repo.files['model.safetensors']!);
    expect(existsSync(join(folder, 'blobs', sha))).toBe(false);
    expect(statSync(join(folder, 'blobs', `${sha}.incomplete`)).size).toBeGreaterThan(0);
    expect(existsSync(join(folder, 'snapshots', repo.commit, 'model.safetensors'))).toBe(false);
    expect(existsSync(join(folder, 'refs', 'main'))).toBe(false);
    const [listed] = await listCachedModels(cacheDir());
    expect(listed!.snapshots.every((s) => !s.complete)).toBe(true);
    expect(listed!.partialBytes).toBeGreaterThan(0);
    await expect(resolveModelDir('tiny-org/gpt2-ish', { offline: true })).rejects.toThrow(/not in the cache/);

    const result = await pullModel('tiny-org/gpt2-ish');
    const last = fileGets(h).filter((r) => r.url === `/cdn/${sha}`).at(-1)!;
    expect(last.range).toMatch(/^bytes=[1-9]\d*-$/);
    expect(new Uint8Array(readFileSync(join(result.dir, 'model.safetensors')))).toEqual(repo.files['model.safetensors']);
    expect(existsSync(join(folder, 'blobs', `${sha}.incomplete`))).toBe(false);
  }, TIMEOUT);

  it('rejects a file whose sha256 differs from what the hub says, and caches nothing of it', async () => {
    const repo = shardedRepo();
    const shard = 'model-00002-of-00002.safetensors';
    await serve({ 'tiny-org/tiny-llama': repo }, { corrupt: [shard] });
    const error = await rejection(pullModel('tiny-org/tiny-llama'));
    expect(error.code).toBe('checksum');
    expect(error.message).toMatch(/model-00002-of-00002\.safetensors of tiny-org\/tiny-llama failed its checksum .*deleted: run `wgpt pull tiny-org\/tiny-llama` again/);

    const folder = modelDir('tiny-org/tiny-llama');
    const sha = sha256(repo.files[shard]!);
    expect(readdirSync(join(folder, 'blobs')).filter((f) => f.startsWith(sha))).toEqual([]); // neither the blob nor a .incomplete
    expect(existsSync(join(folder, 'snapshots', repo.commit, shard))).toBe(false);
    expect(existsSync(join(folder, 'refs', 'main'))).toBe(false);
    await expect(resolveModelDir('tiny-org/tiny-llama', { offline: true })).rejects.toThrow(/not in the cache/);
  }, TIMEOUT);

  it('says a missing model is missing (404) and a gated one needs HF_TOKEN (401, 403), which it sends as a Bearer token', async () => {
    const h = await serve({ 'tiny-org/gated': singleRepo({ token: 'hf_right' }) });
    const missing = await rejection(pullModel('tiny-org/nothing-here'));
    expect(missing.message).toMatch(/^no model tiny-org\/nothing-here on the hub \(HTTP 404\): check the name/);

    const anonymous = await rejection(pullModel('tiny-org/gated'));
    expect(anonymous.code).toBe('denied');
    expect(anonymous.message).toMatch(/^tiny-org\/gated is gated or private \(HTTP 401\): set HF_TOKEN/);

    vi.stubEnv('HF_TOKEN', 'hf_wrong');
    const wrong = await rejection(pullModel('tiny-org/gated'));
    expect(wrong.message).toMatch(/^tiny-org\/gated is gated or private \(HTTP 403\): the token in HF_TOKEN has no access/);
    expect(wrong.message).not.toContain('hf_wrong');

    vi.stubEnv('HF_TOKEN', 'hf_right');
    const result = await pullModel('tiny-org/gated');
    expect(existsSync(join(result.dir, 'model.safetensors'))).toBe(true);
    expect(h.requests.filter((r) => r.url.includes('/resolve/')).at(-1)!.authorization).toBe('Bearer hf_right');

    const revision = await rejection(pullModel('tiny-org/gated', { revision: 'v9' }));
    expect(revision.message).toMatch(/^tiny-org\/gated has no revision "v9" on the hub \(HTTP 404\): check --revision/);
  }, TIMEOUT);

  it('refuses a shard name that would leave the cache folder', async () => {
    const repo = singleRepo();
    delete repo.files['model.safetensors'];
    repo.files['model.safetensors.index.json'] = json({ weight_map: { 'a.weight': '../../../../escape.safetensors' } });
    repo.files['../../../../escape.safetensors'] = randomBytes(6, 2000);
    await serve({ 'tiny-org/escape': repo });
    const error = await rejection(pullModel('tiny-org/escape'));
    expect(error.code).toBe('bad-name');
    expect(error.message).toMatch(/^refusing to download "\.\.\/\.\.\/\.\.\/\.\.\/escape\.safetensors" named by tiny-org\/escape\/model\.safetensors\.index\.json/);
    const folder = modelDir('tiny-org/escape');
    for (const up of [1, 2, 3, 4]) expect(existsSync(join(folder, 'snapshots', repo.commit, ...Array(up).fill('..'), 'escape.safetensors'))).toBe(false);
    expect(existsSync(join(folder, 'refs', 'main'))).toBe(false);
  }, TIMEOUT);

  it('says when the hub cannot be reached', async () => {
    const h = await startHub({});
    const url = h.url;
    await h.close(); // nothing listens on that port now
    vi.stubEnv('HF_ENDPOINT', url);
    const error = await rejection(pullModel('tiny-org/tiny-llama'));
    expect(error.code).toBe('network');
    expect(error.message).toMatch(new RegExp(`^cannot reach ${url} \\(ECONNREFUSED\\): check your network connection and HF_ENDPOINT`));
  }, TIMEOUT);
});

describe('resolveModelDir', () => {
  it('finds a model in a cache laid out by Python, offline, and pulls one that is missing', async () => {
    // what huggingface_hub leaves after snapshot_download: blobs, relative links, refs/main without a newline
    const commit = 'c'.repeat(40);
    const folder = modelDir('py-org/from-python');
    const files = { 'config.json': json({ model_type: 'gpt2' }), 'model.safetensors': randomBytes(7, 3000) };
    await mkdir(join(folder, 'blobs'), { recursive: true });
    await mkdir(join(folder, 'snapshots', commit), { recursive: true });
    await mkdir(join(folder, 'refs'), { recursive: true });
    for (const [file, bytes] of Object.entries(files)) {
      const etag = isLfs(file, bytes) ? sha256(bytes) : gitBlobSha1(bytes);
      await writeFile(join(folder, 'blobs', etag), bytes);
      await symlink(`../../blobs/${etag}`, join(folder, 'snapshots', commit, file));
    }
    await writeFile(join(folder, 'refs', 'main'), commit);
    expect(await resolveModelDir('py-org/from-python', { offline: true })).toBe(join(folder, 'snapshots', commit));

    await serve({ 'tiny-org/gpt2-ish': singleRepo() });
    const events: PullEvent[] = [];
    const dir = await resolveModelDir('tiny-org/gpt2-ish', { onProgress: (e) => events.push(e) });
    expect(existsSync(join(dir, 'model.safetensors'))).toBe(true);
    expect(events.some((e) => e.type === 'done' && e.file === 'model.safetensors')).toBe(true);
    expect(await resolveModelDir('tiny-org/gpt2-ish', { offline: true })).toBe(dir);
  }, TIMEOUT);

  it('refuses to download when offline, in one line', async () => {
    const error = await rejection(resolveModelDir('tiny-org/absent', { offline: true }));
    expect(error.message).toBe(`tiny-org/absent is not in the cache (${cacheDir()}) and --offline forbids downloading: run \`wgpt pull tiny-org/absent\` while online, or give a model folder`);
    vi.stubEnv('HF_HUB_OFFLINE', '1');
    await expect(resolveModelDir('tiny-org/absent')).rejects.toThrow(/--offline forbids downloading/);
  }, TIMEOUT);

  it('leaves local paths alone, including an existing folder named like org/name', async () => {
    const local = join(home, 'my-org', 'my-model');
    await mkdir(local, { recursive: true });
    const cwd = process.cwd();
    process.chdir(home);
    try {
      expect(await resolveModelDir('my-org/my-model', { offline: true })).toBe('my-org/my-model');
    } finally {
      process.chdir(cwd);
    }
    expect(await resolveModelDir('./not/there', { offline: true })).toBe('./not/there');
    expect(await resolveModelDir(local, { offline: true })).toBe(local);
  }, TIMEOUT);
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The CLI as a user runs it, with this test's HF_HOME and hub. */
function wgpt(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, HF_HOME: home, HF_ENDPOINT: hub?.url ?? 'http://127.0.0.1:9', HF_TOKEN: '', HF_HUB_OFFLINE: '' };
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

function expectOneLineError(run: Run, pattern: RegExp): void {
  expect(run.code).toBe(2);
  const lines = run.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

describe('wgpt pull, models, rm', () => {
  it('pulls with a line per file, lists the model with its size, and removes it', async () => {
    const repo = shardedRepo();
    await serve({ 'tiny-org/tiny-llama': repo });
    const pull = await wgpt(['pull', 'tiny-org/tiny-llama']);
    expect(pull.code, pull.stderr).toBe(0);
    // not a terminal: plain lines on stderr, the summary on stdout
    expect(pull.stderr).toMatch(/downloading model-00001-of-00002\.safetensors \(300\.0 kB\)/);
    expect(pull.stderr).toMatch(/model-00001-of-00002\.safetensors {2}300\.0 kB {2}done/);
    expect(pull.stdout).toMatch(/^tiny-org\/tiny-llama: 8 files, 45\d\.\d kB \(8 downloaded\) in .*snapshots\/a{8}0123/);

    const models = await wgpt(['models']);
    expect(models.code, models.stderr).toBe(0);
    expect(models.stdout).toMatch(/^model\s+size\s+revision/);
    expect(models.stdout).toMatch(/tiny-org\/tiny-llama\s+45\d\.\d kB\s+main\n/);
    expect(models.stdout).toContain(`1 model, `);
    const listed = JSON.parse((await wgpt(['models', '--json'])).stdout);
    const total = Object.entries(repo.files).filter(([f]) => !['README.md', 'pytorch_model.bin', 'onnx/model.onnx'].includes(f)).reduce((s, [, b]) => s + b.byteLength, 0);
    expect(listed.models).toEqual([expect.objectContaining({ model: 'tiny-org/tiny-llama', bytes: total, complete: true, refs: { main: repo.commit } })]);

    const removed = await wgpt(['rm', 'tiny-org/tiny-llama']);
    expect(removed.code, removed.stderr).toBe(0);
    expect(removed.stdout).toMatch(/^removed tiny-org\/tiny-llama \(45\d\.\d kB\)/);
    expect(existsSync(modelDir('tiny-org/tiny-llama'))).toBe(false);
    expect((await wgpt(['models'])).stdout).toMatch(/^no models in /);
    expectOneLineError(await wgpt(['rm', 'tiny-org/tiny-llama']), /^wgpt: no model tiny-org\/tiny-llama in the cache .*`wgpt models` lists the cached ones$/);
  }, 60_000);

  it('errors in one line: a missing model, and --model org/name with --offline when it is not cached', async () => {
    await serve({});
    expectOneLineError(await wgpt(['pull', 'tiny-org/nothing-here']), /^wgpt: no model tiny-org\/nothing-here on the hub \(HTTP 404\): check the name$/);
    expectOneLineError(await wgpt(['pull', 'not-an-id']), /^wgpt: "not-an-id" is not a hub model id: give org\/name/);
    expectOneLineError(
      await wgpt(['generate', 'hi', '--model', 'tiny-org/absent', '--offline']),
      /^wgpt: tiny-org\/absent is not in the cache \(.*\) and --offline forbids downloading: run `wgpt pull tiny-org\/absent` while online/,
    );
    expect(hub!.requests.filter((r) => r.url.includes('absent'))).toEqual([]); // offline means no request at all
  }, 60_000);
});

describe('old short ids and concurrent pulls', () => {
  it('an old short id pulls the org/name the hub redirects it to, with the API and without', async () => {
    for (const noApi of [false, true]) {
      await serve({ 'openai-community/gpt2': singleRepo() }, { renamed: { gpt2: 'openai-community/gpt2' }, noApi });
      const events: PullEvent[] = [];
      const result = await pullModel('gpt2', { onProgress: (e) => events.push(e) });
      expect(result.repo).toBe('openai-community/gpt2');
      expect(result.dir).toBe(join(modelDir('openai-community/gpt2'), 'snapshots', 'b'.repeat(40)));
      expect(events[0]).toEqual({ type: 'renamed', from: 'gpt2', repo: 'openai-community/gpt2' });
      expect(existsSync(join(cacheDir(), 'models--gpt2'))).toBe(false);
      await hub!.close();
      hub = undefined;
      await rm(cacheDir(), { recursive: true, force: true });
    }
    await serve({}, { renamed: { gpt2: 'openai-community/gpt2' } });
    const error = await rejection(pullModel('no-such-old-id'));
    expect(error.message).toMatch(/^"no-such-old-id" is not a hub model id: give org\/name/);
  }, TIMEOUT);

  it('a lock left by a process that is gone is taken over', async () => {
    await serve({ 'tiny-org/gpt2-ish': singleRepo() });
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!; // exited: its pid names no live process
    const lock = join(cacheDir(), '.locks', 'models--tiny-org--gpt2-ish', 'wgpt-pull.lock');
    await mkdir(join(lock, '..'), { recursive: true });
    await writeFile(lock, JSON.stringify({ pid: dead, host: (await import('node:os')).hostname(), since: new Date().toISOString() }));
    const events: PullEvent[] = [];
    const result = await pullModel('tiny-org/gpt2-ish', { onProgress: (e) => events.push(e) });
    expect(result.files.every((f) => f.downloaded)).toBe(true);
    expect(events.some((e) => e.type === 'waiting')).toBe(false);
    expect(existsSync(lock)).toBe(false); // released
  }, TIMEOUT);

  it('wgpt pull gpt2 says where the old id went', async () => {
    await serve({ 'openai-community/gpt2': singleRepo() }, { renamed: { gpt2: 'openai-community/gpt2' } });
    const pull = await wgpt(['pull', 'gpt2']);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stderr).toMatch(/^gpt2 is openai-community\/gpt2 on the hub now: pulling openai-community\/gpt2$/m);
    expect(pull.stdout).toMatch(/^openai-community\/gpt2: 4 files/);
    expectOneLineError(await wgpt(['pull']), /^wgpt: which model\? give its hub id: `wgpt pull org\/name`/);
  }, 60_000);

  it('two wgpt pulls of one model at once: the second waits for the first and reuses its files', async () => {
    const repo = singleRepo();
    // about 5 s for the weights, so the second process starts while the first is still downloading
    const h = await serve({ 'tiny-org/gpt2-ish': repo }, { throttle: { bytes: 4000, delayMs: 100 } });
    const [a, b] = await Promise.all([wgpt(['pull', 'tiny-org/gpt2-ish']), wgpt(['pull', 'tiny-org/gpt2-ish'])]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const waited = [a, b].filter((r) => /another wgpt \(process \d+\) is pulling tiny-org\/gpt2-ish: waiting for it to finish/.test(r.stderr));
    expect(waited).toHaveLength(1);
    expect(waited[0]!.stdout).toMatch(/\(all cached already\)/);
    // each file's bytes crossed the network once, and every file is whole
    const gets = fileGets(h).map((r) => r.url);
    expect(gets).toHaveLength(new Set(gets).size);
    expect(gets.length).toBe(Object.keys(repo.files).length);
    const dir = join(modelDir('tiny-org/gpt2-ish'), 'snapshots', repo.commit);
    for (const [file, bytes] of Object.entries(repo.files)) expect(sha256(new Uint8Array(readFileSync(join(dir, file))))).toBe(sha256(bytes));
    expect(readdirSync(join(modelDir('tiny-org/gpt2-ish'), 'blobs')).some((f) => f.endsWith('.incomplete'))).toBe(false);
    expect(existsSync(join(cacheDir(), '.locks', 'models--tiny-org--gpt2-ish', 'wgpt-pull.lock'))).toBe(false);
  }, 90_000);
});
