// The demo site in a real browser: build it, serve it over HTTP on 127.0.0.1, and drive Debian's Chromium (headless,
// WebGPU on SwiftShader) with playwright-core. Greedy generation in the browser must give exactly the tokens the CLI
// gives in Node for the same prompt and settings: the same runtime, kernels and weights on both sides.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(repo, 'packages/web/dist');
const artifacts = join(repo, 'test/web/artifacts');
const CHROMIUM = '/usr/bin/chromium';
const PROMPT = 'ROMEO:';
const NEW_TOKENS = 20;

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

describe('the web demo in Chromium', () => {
  let server: Server;
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
    const { port } = server.address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${port}/`);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('generates the same greedy tokens as the CLI', async () => {
    const cli = execFileSync(
      'node',
      [join(repo, 'packages/cli/bin/wgpt.js'), 'generate', PROMPT, '--json', '--temperature', '0', '--max-new-tokens', String(NEW_TOKENS)],
      { cwd: repo, encoding: 'utf8' },
    );
    const expected = JSON.parse(cli) as { tokens: number[] };
    expect(expected.tokens).toHaveLength(NEW_TOKENS);

    // the page loads the embedded model by itself
    await page.waitForFunction(() => document.getElementById('model-status')?.textContent?.includes('loaded in'), undefined, { timeout: 180_000 });
    expect(await page.textContent('#errors')).toBe('');
    await page.fill('#prompt', PROMPT);
    await page.$eval('#temperature', (node) => {
      const slider = node as HTMLInputElement;
      slider.value = '0';
      slider.dispatchEvent(new Event('input'));
    });
    await page.fill('#max-tokens', String(NEW_TOKENS));
    await page.click('#generate');
    await page.waitForSelector('#output[data-tokens]', { timeout: 180_000 });
    const tokens = JSON.parse((await page.getAttribute('#output', 'data-tokens'))!) as number[];
    expect(tokens).toEqual(expected.tokens);
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
