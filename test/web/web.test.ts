// The demo site in a real browser: build it, serve it over HTTP on 127.0.0.1, and drive Debian's Chromium (headless,
// WebGPU on SwiftShader) with playwright-core. Greedy generation in the browser must give exactly the tokens the CLI
// gives in Node for the same prompt and settings: the same runtime, kernels and weights on both sides. The other
// model sources give the same tokens too: the embedded model served by a local Hugging Face hub (test/hub/hub-server.ts,
// named by ?hf-endpoint=) and downloaded once into the Cache API, and the same files chosen in the file input.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHub, type FakeHub } from '../hub/hub-server.ts';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(repo, 'packages/web/dist');
const artifacts = join(repo, 'test/web/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const PROMPT = 'ROMEO:';
const NEW_TOKENS = 20;
/** Fewer tokens for the other model sources: the same weights, so a few greedy steps show they load the same. */
const FEW_TOKENS = 4;
const HUB_ID = 'wgpt/shakespeare';
const MODEL_FILES = ['config.json', 'generation_config.json', 'model.safetensors'];

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wgsl': 'text/plain',
  '.safetensors': 'application/octet-stream',
};

/** A plain static file server over `root`, as any static host would be. */
function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    let file = join(root, path);
    if (existsSync(file) && statSync(file).isDirectory()) file = join(file, 'index.html');
    if (!file.startsWith(root) || !existsSync(file)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    res.end(req.method === 'HEAD' ? undefined : readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

let cli: number[] | undefined;
/** The CLI's greedy tokens for PROMPT on the embedded model, run once. */
function cliTokens(): number[] {
  cli ??= (
    JSON.parse(
      execFileSync(
        'node',
        [join(repo, 'packages/cli/bin/wgpt.js'), 'generate', PROMPT, '--json', '--temperature', '0', '--max-new-tokens', String(NEW_TOKENS)],
        { cwd: repo, encoding: 'utf8' },
      ),
    ) as { tokens: number[] }
  ).tokens;
  return cli;
}

/** Wait until the page says `name` is loaded (the status line reads "{name}: ..., loaded in ... s"). */
async function waitForModel(page: Page, name: string): Promise<void> {
  await page.waitForFunction(
    (prefix) => {
      const status = document.getElementById('model-status')?.textContent ?? '';
      return status.startsWith(prefix) && status.includes('loaded in');
    },
    `${name}:`,
    { timeout: 180_000 },
  );
}

/** Generate `count` greedy tokens from PROMPT in the page: the new token ids. */
async function generateGreedy(page: Page, count: number): Promise<number[]> {
  await page.fill('#prompt', PROMPT);
  await page.$eval('#temperature', (node) => {
    const slider = node as HTMLInputElement;
    slider.value = '0';
    slider.dispatchEvent(new Event('input'));
  });
  await page.fill('#max-tokens', String(count));
  await page.click('#generate');
  await page.waitForSelector('#output[data-tokens]', { timeout: 180_000 });
  return JSON.parse((await page.getAttribute('#output', 'data-tokens'))!) as number[];
}

describe('the web demo in Chromium', () => {
  let server: Server;
  let site: string;
  let hub: FakeHub | undefined;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: join(repo, 'packages/web'), stdio: 'inherit' });
    server = await serve(dist);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    site = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    await page.goto(site);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    server?.close();
  });

  it('generates the same greedy tokens as the CLI', async () => {
    const expected = cliTokens();
    expect(expected).toHaveLength(NEW_TOKENS);

    // the page loads the embedded model by itself
    await waitForModel(page, 'wgpt-shakespeare (embedded)');
    expect(await page.textContent('#errors')).toBe('');
    expect(await generateGreedy(page, NEW_TOKENS)).toEqual(expected);
    expect(await page.textContent('#stats')).toMatch(/tok\/s/);
    expect(await page.textContent('#adapter')).not.toBe('no GPU yet');
  }, 400_000);

  it('renders the attention and logit-lens views', async () => {
    for (const name of ['Attention', 'Logit lens']) {
      await page.click(`#tabs button:text-is("${name}")`);
      const view = await page.waitForSelector(`#view [data-view="${name}"][data-rendered="true"]`, { timeout: 120_000 });
      expect(await view.$$('canvas, table.grid td.cell')).not.toHaveLength(0);
    }
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'logit-lens.png'), fullPage: true });

    // clicking a token moves the choice, and the next view follows it
    await page.click('#view .token[data-index="4"]');
    await page.waitForSelector('#view [data-view="Logit lens"][data-rendered="true"] .token.selected[data-index="4"]');
    await page.click('#tabs button:text-is("Attention")');
    const attention = await page.waitForSelector('#view [data-view="Attention"][data-rendered="true"]', { timeout: 120_000 });
    expect(await attention.$eval('.token.selected', (node) => (node as HTMLElement).dataset.index)).toBe('4');
    await page.screenshot({ path: join(artifacts, 'web.png'), fullPage: true });
    expect(await page.textContent('#errors')).toBe('');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('renders every other view, and runs an intervention', async () => {
    for (const name of ['Tokens', 'Next token', 'Hidden states', 'Profile', 'Interventions']) {
      await page.click(`#tabs button:text-is("${name}")`);
      const view = await page.waitForSelector(`#view [data-view="${name}"][data-rendered="true"]`, { timeout: 120_000 });
      expect(await view.$$('.unavailable')).toHaveLength(0);
    }
    await page.click('#view button:text-is("Run BASE vs TWEAK")');
    await page.waitForSelector('#view h3:text-is("BASE")', { timeout: 120_000 });
    expect(await page.$$('#view .unavailable')).toHaveLength(0);
    await page.screenshot({ path: join(artifacts, 'interventions.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('says so when a download fails, and keeps the loaded model', async () => {
    await page.route('https://huggingface.co/**', (route) => route.abort('internetdisconnected'));
    await page.check('input[name=source][value=hub]');
    await page.fill('#hub-id', 'openai-community/gpt2');
    await page.click('#load');
    await page.waitForSelector('#errors .error', { timeout: 60_000 });
    expect(await page.textContent('#errors')).toMatch(/could not (reach|fetch) https:\/\/huggingface\.co\/openai-community\/gpt2\/resolve\/main\/config\.json/);
    await page.click('#errors .error button');
    // the page still works: load the embedded model again and generate
    await page.check('input[name=source][value=embedded]');
    await page.click('#load');
    await page.waitForFunction(() => document.getElementById('model-status')?.textContent?.includes('loaded in'), undefined, { timeout: 120_000 });
    await page.fill('#max-tokens', '2');
    await page.click('#generate');
    await page.waitForSelector('#output[data-tokens]', { timeout: 120_000 });
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('downloads a model by hub id with a progress bar, and after a reload reads it from the browser cache', async () => {
    const files = Object.fromEntries(MODEL_FILES.map((file) => [file, new Uint8Array(readFileSync(join(repo, 'weights', file)))]));
    hub = await startHub({ [HUB_ID]: { commit: 'c0ffee'.padEnd(40, '0'), files } });
    // the weights' bytes: a GET of the CDN URL the hub redirects model.safetensors to
    const weightDownloads = () => hub!.requests.filter((r) => r.method === 'GET' && r.url.startsWith('/cdn/') && r.status === 200).length;
    const loadFromHub = async () => {
      await waitForModel(page, 'wgpt-shakespeare (embedded)'); // the page loads the embedded model first, by itself
      await page.check('input[name=source][value=hub]');
      await page.fill('#hub-id', HUB_ID);
      await page.click('#load');
    };
    await page.goto(`${site}?hf-endpoint=${encodeURIComponent(hub.url)}`);

    // Throttle the network for the download, so the progress bar can be seen part-way (loopback would be instant).
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    const throttle = (bytesPerSecond: number) =>
      cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 0, downloadThroughput: bytesPerSecond, uploadThroughput: -1 });
    await throttle(8e6);
    await loadFromHub();
    await page.waitForFunction(
      () => {
        const bar = document.getElementById('progress') as HTMLProgressElement;
        const status = document.getElementById('model-status')?.textContent ?? '';
        return !bar.hidden && bar.value > 0.25 * bar.max && bar.value < bar.max && /^downloading model\.safetensors: [\d.]+ \/ 29\.0 MB$/.test(status);
      },
      undefined,
      { timeout: 60_000 },
    );
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: join(artifacts, 'download.png') });
    await throttle(-1);
    await waitForModel(page, HUB_ID);
    expect(weightDownloads()).toBe(1);
    expect(await generateGreedy(page, FEW_TOKENS)).toEqual(cliTokens().slice(0, FEW_TOKENS));

    // a reload finds every file in the Cache API: nothing more comes from the hub
    const before = hub.requests.length;
    await page.reload();
    await loadFromHub();
    await waitForModel(page, HUB_ID);
    expect(hub.requests.slice(before)).toEqual([]);
    expect(weightDownloads()).toBe(1);
    expect(await generateGreedy(page, FEW_TOKENS)).toEqual(cliTokens().slice(0, FEW_TOKENS));
    expect(await page.textContent('#errors')).toBe('');
    expect(pageErrors).toEqual([]);
  }, 400_000);

  it('loads local files chosen in the file input', async () => {
    await waitForModel(page, HUB_ID);
    await page.setInputFiles('#local-files', [join(repo, 'weights/config.json'), join(repo, 'weights/model.safetensors')]);
    expect(await page.isChecked('input[name=source][value=local]')).toBe(true);
    await page.click('#load');
    await waitForModel(page, 'config.json, model.safetensors');
    expect(await generateGreedy(page, FEW_TOKENS)).toEqual(cliTokens().slice(0, FEW_TOKENS));
    expect(await page.textContent('#errors')).toBe('');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('explains how to get WebGPU in a browser without it', async () => {
    const plain = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-features=WebGPU', '--no-first-run'] });
    try {
      const p = await plain.newPage();
      await p.goto(page.url());
      // this Chromium still shows navigator.gpu without an adapter; either way the page says what to do
      await p.waitForSelector('#errors .error', { timeout: 30_000 });
      const message = await p.textContent('#errors');
      expect(message).toMatch(/WebGPU is not usable here|This browser has no WebGPU/);
      expect(message).toMatch(/Chrome and Edge 113\+.*chrome:\/\/flags\/#enable-unsafe-webgpu/);
      expect(await p.textContent('#model-status')).toBe('no model loaded');
    } finally {
      await plain.close();
    }
  }, 60_000);
});
