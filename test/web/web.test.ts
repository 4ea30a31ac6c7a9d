// The demo site in a real browser: build it, serve it over HTTP on 127.0.0.1, and drive Debian's Chromium (headless,
// WebGPU on SwiftShader) with playwright-core. Greedy generation in the browser must give exactly the tokens the CLI
// gives in Node for the same prompt and settings: the same runtime, kernels and weights on both sides. The other
// model sources give the same tokens too: the embedded model served by a local Hugging Face hub (test/hub/hub-server.ts,
// named by ?hf-endpoint=) and downloaded once into the Cache API, and the same files chosen in the file input.
// The page as a teaching page: every heatmap has a legend and labelled axes, a hovered token is highlighted in
// every view and in the output text, axe-core finds no serious or critical accessibility violation, nothing
// scrolls sideways at phone width, a failed load keeps the working model, and a browser without WebGPU is told
// what it lacks when WebGPU is asked for; without navigator.gpu the page runs on WebAssembly and generates the CLI's
// tokens. Screenshots of every view at desktop and phone width go to test/web/artifacts/shots.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
const VIEWS = ['Tokens', 'Next token', 'Attention', 'Logit lens', 'Hidden states', 'Interventions', 'Profile'];
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 1400 };
/** Screenshots of every view; WEB_SHOTS=dir puts them elsewhere. */
const shots = process.env.WEB_SHOTS ?? join(artifacts, 'shots');

const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

const TYPES: Record<string, string> = {
  '.wasm': 'application/wasm',
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
    // cross-origin isolation, as the built site's _headers asks of its host: SharedArrayBuffer for the WebAssembly threads
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', ...ISOLATION });
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

/** Open the tab `name` and wait until its view has drawn. */
async function openTab(page: Page, name: string): Promise<void> {
  await page.click(`#tabs button:text-is("${name}")`);
  await page.waitForSelector(`#view [data-view="${name}"][data-rendered="true"]`, { timeout: 120_000 });
}

/** Run the interventions form as it stands and wait for BASE vs TWEAK. */
async function runIntervention(page: Page): Promise<void> {
  await page.click('#view button:text-is("Run BASE vs TWEAK")');
  await page.waitForSelector('#view .compare-text', { timeout: 120_000 });
}

/** How far the page scrolls sideways: 0 when nothing is wider than the window. */
function sidewaysScroll(page: Page): Promise<number> {
  return page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
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
    page = await browser.newPage({ viewport: DESKTOP });
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
    expect(await page.textContent('#adapter')).not.toBe('no device yet');
    expect(await page.getAttribute('#adapter', 'data-device')).toBe('webgpu'); // auto: the browser gives an adapter
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
    // the form shows only the fields of the chosen kind, and says in words what TWEAK will do
    const fields = () => page.$$eval('#view .intervention-form label', (nodes) => nodes.map((n) => n.firstChild?.textContent?.trim() ?? ''));
    expect(await fields()).toEqual(['change', 'block (0-3)', 'head (0-3)']);
    await page.selectOption('#view .intervention-form select', 'nudge-neuron');
    expect(await fields()).toEqual(['change', 'block (0-3)', 'neuron (0-511)', 'add']);
    await page.selectOption('#view .intervention-form select', 'ablate-head');
    const [layer, head] = await page.$$('#view .intervention-form .view-controls input');
    await head!.fill('2');
    await layer!.fill('1');
    await layer!.press('Tab'); // a number field commits on change
    expect(await page.textContent('#view .intervention-form .plain')).toBe('TWEAK will silence head 2 of block 1.');
    await runIntervention(page);
    expect(await page.$$('#view .unavailable')).toHaveLength(0);
    expect(await page.$$eval('#view .compare-text .run-name', (nodes) => nodes.map((n) => n.textContent))).toEqual(['BASE', 'TWEAK']);
    // one KL value per step of BASE's continuation, each a number of nats
    const kl = await page.$$eval('#view .kl-strip span', (nodes) => nodes.map((n) => Number(/KL ([\d.e-]+) nats/.exec((n as HTMLElement).title)?.[1])));
    expect(kl.length).toBeGreaterThan(0);
    for (const k of kl) expect(k).toBeGreaterThanOrEqual(0);
    // every other kind runs too, and noise in the residual stream moves the distribution at every step
    for (const [kind, words] of [
      ['scale-head', 'multiply the output of head 2 of block 1 by 2'],
      ['nudge-neuron', 'add 5 to MLP neuron 0 of block 1'],
      ['noise', 'add noise of size 1 to the output of block 1'],
    ]) {
      await page.selectOption('#view .intervention-form select', kind!);
      expect(await page.textContent('#view .intervention-form .plain')).toBe(`TWEAK will ${words}.`);
      await runIntervention(page);
      expect(await page.$$('#view .unavailable')).toHaveLength(0);
      expect(await page.textContent('#view .comparison .hint')).toContain(`TWEAK: ${words}.`);
    }
    const noiseKl = await page.$$eval('#view .kl-strip span', (nodes) => nodes.map((n) => Number(/KL ([\d.e-]+) nats/.exec((n as HTMLElement).title)?.[1])));
    for (const k of noiseKl) expect(k).toBeGreaterThan(0);
    await page.screenshot({ path: join(artifacts, 'interventions.png'), fullPage: true });
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('gives every heatmap a legend with its unit and labelled axes', async () => {
    const tokens = async () => page.$$eval('#view .tokens .token .text', (nodes) => nodes.map((n) => n.textContent));
    for (const name of ['Attention', 'Logit lens', 'Hidden states', 'Interventions']) {
      await openTab(page, name);
      if (name === 'Interventions') await runIntervention(page);
      const figures = await page.$$eval('#view figure.heatmap', (nodes) =>
        nodes.map((f) => ({
          legend: f.querySelector('.legend-title')?.textContent ?? '',
          ticks: Array.from(f.querySelectorAll('.legend-ticks span'), (t) => t.textContent),
          x: f.querySelector('.axis-title.x')?.textContent ?? '',
          y: f.querySelector('.axis-title.y')?.textContent ?? '',
          caption: f.querySelector('figcaption')?.textContent ?? '',
        })),
      );
      expect(figures.length, name).toBeGreaterThan(0);
      for (const f of figures) {
        expect(f.legend, `${name}: ${f.caption}`).toMatch(/probability|no unit|nats/);
        expect(f.ticks[0], `${name}: ${f.caption}`).toMatch(/^(0|−[\d.]+)$/); // probability and KL scales start at 0
        expect(f.ticks.length).toBeGreaterThanOrEqual(3);
        expect(f.x.length).toBeGreaterThan(3);
        expect(f.y.length).toBeGreaterThan(3);
      }
      if (name === 'Attention') {
        // both axes of the pattern are labelled with the sequence's tokens
        const chips = await tokens();
        expect(await page.$$eval('#view figure.heatmap:first-of-type .ticks.x span', (n) => n.map((t) => t.textContent))).toEqual(chips);
        expect(await page.$$eval('#view figure.heatmap:first-of-type .ticks.y span', (n) => n.map((t) => t.textContent))).toEqual(chips);
      }
      if (name === 'Logit lens') {
        expect(await page.$$eval('#view table.lens tr:first-child th.tick', (n) => n.map((t) => t.textContent))).toEqual(await tokens());
        expect(await page.$$eval('#view table.lens th[scope=row]', (n) => n.map((t) => t.textContent))).toEqual(['block 0', 'block 1', 'block 2', 'block 3']);
      }
    }
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('links a token across the output text and every view, and marks the token that came next', async () => {
    await openTab(page, 'Attention');
    // hovering a token in the output text highlights it in the view: its chip, its axis labels, its row band
    // (tokens 4 and 6 of ROMEO:'s continuation are "O" and " I", visible text; token 3 is a newline)
    await page.hover('#output .tok[data-index="4"]');
    expect(await page.$$eval('#view .token.hover', (n) => n.map((t) => (t as HTMLElement).dataset.index))).toEqual(['4']);
    expect(await page.$$('#view .ticks.x span.hover[data-index="4"]')).toHaveLength(1);
    expect(await page.$$('#view .band.row.hover[data-index="4"]')).toHaveLength(1);
    // and hovering a chip in the view highlights the text in the output
    await page.hover('#view .token[data-index="6"]');
    expect(await page.$$eval('#output .tok.hover', (n) => n.map((t) => (t as HTMLElement).dataset.index))).toEqual(['6']);
    expect(await page.$$('#view .token.hover[data-index="4"]')).toHaveLength(0);

    // clicking the output text chooses the token for every view, and the output shows the choice
    await page.click('#output .tok[data-index="2"]');
    await page.waitForSelector('#view [data-view="Attention"][data-rendered="true"] .token.selected[data-index="2"]');
    expect(await page.$$eval('#output .tok.selected', (n) => n.map((t) => (t as HTMLElement).dataset.index))).toEqual(['2']);
    await openTab(page, 'Logit lens');
    expect(await page.$$eval('#view td.cell.selected', (n) => [...new Set(n.map((t) => (t as HTMLElement).dataset.index))])).toEqual(['2']);
    await page.hover('#output .tok[data-index="6"]');
    expect(await page.$$('#view td.cell.hover[data-index="6"]')).toHaveLength(4); // the column of every block

    // the next-token view marks the token that actually came next: the sampler's after the prompt, else the prompt's
    await openTab(page, 'Next token');
    const tokenAt = (i: number) => page.textContent(`#view .token[data-index="${i}"] .text`);
    const promptLength = (await page.$$('#output .prompt .tok')).length;
    expect(promptLength).toBe(3); // ROM EO :
    expect(await page.textContent('#view .bars .chosen')).toBe(`${await tokenAt(3)} ← drawn`);
    await page.click('#output .tok[data-index="0"]');
    await page.waitForSelector('#view [data-view="Next token"][data-rendered="true"] .token.selected[data-index="0"]');
    expect(await page.textContent('#view .bars .chosen')).toBe(`${await tokenAt(1)} ← next`);
    await page.click('#output .tok[data-index="5"]');
    await page.waitForSelector('#view [data-view="Next token"][data-rendered="true"] .token.selected[data-index="5"]');

    // the arrow keys move the choice, and the focus stays on the chosen token
    await page.focus('#view .token.selected');
    await page.keyboard.press('ArrowLeft');
    await page.waitForSelector('#view [data-rendered="true"] .token.selected[data-index="4"]');
    expect(await page.evaluate(() => (document.activeElement as HTMLElement).dataset.index)).toBe('4');
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('opens a view from the pipeline diagram and from an example prompt', async () => {
    await page.fill('#prompt', 'JULIET:');
    await page.click('#pipeline button:has-text("logits")');
    await page.waitForSelector('#view [data-view="Logit lens"][data-rendered="true"]', { timeout: 120_000 });
    // the view looks at the prompt as it is now
    expect(await page.$$eval('#view .tokens .token .text', (n) => n.map((t) => t.textContent).join(''))).toBe('JULIET:');
    expect(await page.getAttribute('#tabs button:text-is("Logit lens")', 'aria-pressed')).toBe('true');

    await page.click('#examples button:has-text("repeated passage")');
    await page.waitForSelector('#view [data-view="Attention"][data-rendered="true"]', { timeout: 120_000 });
    const prompt = await page.inputValue('#prompt');
    const half = prompt.slice(0, prompt.length / 2);
    expect(prompt).toBe(half + half);
    expect(await page.$$eval('#view .tokens .token', (n) => n.length)).toBeGreaterThan(20);
    expect(await page.textContent('#example-why')).toMatch(/second/);
    // every view says what to look for, and its terms link to the glossary
    for (const name of VIEWS) {
      await openTab(page, name);
      expect((await page.textContent('#view .view-intro'))!.length).toBeGreaterThan(100);
      for (const href of await page.$$eval('#view a.term', (n) => n.map((a) => (a as HTMLAnchorElement).hash))) {
        expect(await page.$$(`#glossary dt${href}`), href).toHaveLength(1);
      }
    }
    for (const term of ['KV cache', 'min-p', 'nats', 'hook_z', 'top-p', 'temperature', 'induction head']) {
      expect(await page.$$(`#glossary dt:text-is("${term}")`), term).toHaveLength(1);
    }
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('has no serious or critical accessibility violations (axe-core), and a visible keyboard focus', async () => {
    await page.addScriptTag({ path: join(repo, 'node_modules/axe-core/axe.min.js') });
    const violations: string[] = [];
    for (const name of VIEWS) {
      await openTab(page, name);
      if (name === 'Interventions') await runIntervention(page);
      const found = await page.evaluate(async () => {
        type Result = { id: string; impact: string; nodes: { target: string[] }[] };
        const axe = (window as unknown as { axe: { run(c: Document): Promise<{ violations: Result[]; passes: Result[] }> } }).axe;
        const result = await axe.run(document);
        if (result.passes.length < 10) return [`axe-core checked only ${result.passes.length} rules`];
        return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      });
      violations.push(...found.map((v) => `${name}: ${v}`));
    }
    expect(violations).toEqual([]);

    // Tab walks the controls in order, each with a visible outline
    await page.focus('#prompt');
    const seen: string[] = [];
    for (let i = 0; i < 30 && !seen.includes('generate'); i++) {
      await page.keyboard.press('Tab');
      const focus = await page.evaluate(() => {
        const node = document.activeElement as HTMLElement;
        const style = getComputedStyle(node);
        return { id: node.id, outline: style.outlineStyle, width: parseFloat(style.outlineWidth) };
      });
      if (focus.id) seen.push(focus.id);
      expect(focus.outline, focus.id).not.toBe('none');
      expect(focus.width, focus.id).toBeGreaterThanOrEqual(2);
    }
    expect(seen).toEqual(expect.arrayContaining(['temperature', 'top-k', 'top-p', 'min-p', 'use-cache', 'generate']));
  }, 300_000);

  it('fits a phone: nothing scrolls sideways at 390×844 on any tab (screenshots of every view at both widths)', async () => {
    mkdirSync(shots, { recursive: true });
    const overflow: Record<string, number> = {};
    for (const [width, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      await page.setViewportSize(viewport);
      await page.evaluate(() => window.scrollTo(0, 0));
      if (width === 'phone') overflow['first screen'] = await sidewaysScroll(page);
      for (const name of VIEWS) {
        await openTab(page, name);
        if (name === 'Interventions') await runIntervention(page);
        if (width === 'phone') overflow[name] = await sidewaysScroll(page);
        await page.screenshot({ path: join(shots, `${width}-${name.toLowerCase().replace(/ /g, '-')}.png`), fullPage: true });
      }
    }
    expect(overflow).toEqual(Object.fromEntries(Object.keys(overflow).map((k) => [k, 0])));
    await page.setViewportSize(DESKTOP);
    expect(pageErrors).toEqual([]);
  }, 400_000);

  it('says what Generate says about a prompt longer than the context; long sequences scroll inside their views', async () => {
    await page.fill('#prompt', 'ROMEO:\nBut soft, what light through yonder window breaks?\n'.repeat(20));
    await page.click('#pipeline button:has-text("attention")');
    await page.waitForSelector('#view [data-view="Attention"][data-rendered="true"]', { timeout: 120_000 });
    const note = /^The text has (\d+) tokens but the model holds 256 \(its context\): the views look at the first 256/.exec((await page.textContent('#view .unavailable'))!);
    expect(note).not.toBeNull();
    expect(await page.$$('#view .tokens .token')).toHaveLength(256);
    await page.click('#generate');
    await page.waitForSelector('#errors .error', { timeout: 60_000 });
    expect(await page.textContent('#errors')).toContain(`the prompt is ${note![1]} tokens but the model's context holds 256: shorten the prompt`);
    await page.click('#errors .error button');

    // at phone width the token strip and the 256×256 map scroll inside their boxes; the page does not scroll sideways
    await page.setViewportSize(PHONE);
    for (const name of ['Tokens', 'Attention', 'Next token']) {
      await openTab(page, name);
      expect(await sidewaysScroll(page), name).toBe(0);
      const strip = await page.$eval('#view .tokens', (n) => ({ height: n.clientHeight, content: n.scrollHeight }));
      expect(strip.height).toBeLessThan(130);
      expect(strip.content).toBeGreaterThan(strip.height);
    }
    await openTab(page, 'Attention');
    const map = await page.$eval('#view figure.heatmap .heatmap-scroll', (n) => ({ width: n.clientWidth, height: n.clientHeight, contentWidth: n.scrollWidth, contentHeight: n.scrollHeight, top: n.scrollTop }));
    expect(map.contentWidth).toBeGreaterThan(map.width);
    expect(map.contentHeight).toBeGreaterThan(map.height);
    expect(map.height).toBeLessThan(600);
    expect(map.top).toBeGreaterThan(0); // scrolled to the chosen token, the last one
    await page.$eval('#view figure.heatmap', (n) => n.scrollIntoView());
    await page.screenshot({ path: join(shots, 'phone-attention-256-tokens.png') });
    await page.setViewportSize(DESKTOP);
    await page.fill('#prompt', PROMPT);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('says so when a download fails, and keeps the loaded model', async () => {
    await page.route('https://huggingface.co/**', (route) => route.abort('internetdisconnected'));
    await page.check('input[name=source][value=hub]');
    await page.fill('#hub-id', 'openai-community/gpt2');
    await page.click('#load');
    await page.waitForSelector('#errors .error', { timeout: 60_000 });
    expect(await page.textContent('#errors')).toMatch(/could not (reach|fetch) https:\/\/huggingface\.co\/openai-community\/gpt2\/resolve\/main\/config\.json/);
    // the embedded model is still the one in use
    expect(await page.textContent('#model-status')).toMatch(/^wgpt-shakespeare \(embedded\):.*loaded in/);
    expect(await page.isEnabled('#generate')).toBe(true);
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
        const status = document.getElementById('load-status')?.textContent ?? '';
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

  it('keeps the working model when a load fails, and shows one banner in the page\'s terms', async () => {
    const working = await page.textContent('#model-status');
    expect(working).toMatch(/^config\.json, model\.safetensors: .*loaded in/);
    const failLoad = async () => {
      await page.click('#load');
      await page.waitForFunction(() => !(document.getElementById('load') as HTMLButtonElement).disabled && document.querySelector('#errors .error'), undefined, { timeout: 60_000 });
      const banners = await page.$$eval('#errors .error span', (n) => n.map((b) => b.textContent ?? ''));
      expect(banners).toHaveLength(1);
      expect(banners[0]).not.toMatch(/--model|--\w/);
      // the model that worked is still loaded, named, and generates
      expect(await page.textContent('#model-status')).toBe(working);
      expect(await page.isEnabled('#generate')).toBe(true);
      expect(await generateGreedy(page, FEW_TOKENS)).toEqual(cliTokens().slice(0, FEW_TOKENS));
      expect(await page.$$('#errors .error')).toHaveLength(1); // generating does not clear or add banners
      return banners[0]!;
    };

    // a model id the hub does not have
    await page.check('input[name=source][value=hub]');
    await page.fill('#hub-id', 'wgpt/no-such-model');
    expect(await failLoad()).toMatch(/^Could not load the model: wgpt\/no-such-model was not found on 127\.0\.0\.1:\d+: check the model id/);

    // a text file chosen as the model: the new banner replaces the last
    const dir = mkdtempSync(join(tmpdir(), 'wgpt-web-'));
    writeFileSync(join(dir, 'notes.txt'), 'not a model, just some notes\n');
    await page.setInputFiles('#local-files', [join(dir, 'notes.txt')]);
    expect(await failLoad()).toMatch(/^Could not load the model: notes\.txt is not a model: it has no config\.json; choose config\.json and the \*\.safetensors file\(s\) together$/);

    // a text file in place of the weights
    writeFileSync(join(dir, 'model.safetensors'), 'these are not weights\n');
    await page.setInputFiles('#local-files', [join(repo, 'weights/config.json'), join(dir, 'model.safetensors')]);
    expect(await failLoad()).toMatch(/^Could not load the model: .*model\.safetensors is not a safetensors file/);

    // the views still show the working model
    await openTab(page, 'Attention');
    expect(await page.$$('#view .unavailable')).toHaveLength(0);
    expect(pageErrors).toEqual([]);
  }, 300_000);

  it('runs on WebAssembly when navigator.gpu is missing, says so, and generates the same greedy tokens as the CLI', async () => {
    const context = await browser.newContext({ viewport: DESKTOP });
    try {
      await context.addInitScript(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
      const p = await context.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(site);
      await waitForModel(p, 'wgpt-shakespeare (embedded)');
      expect(await p.evaluate(() => 'gpu' in navigator)).toBe(false);
      // the test server sends COOP/COEP, so the page is cross-origin isolated and the kernels run on worker threads
      expect(await p.evaluate(() => crossOriginIsolated)).toBe(true);
      expect(await p.getAttribute('#adapter', 'data-device')).toBe('wasm');
      expect(await p.textContent('#adapter')).toMatch(/^WebAssembly SIMD128 \(CPU, \d+ threads?\): this browser has no WebGPU \(navigator\.gpu is missing\)/);
      expect(await p.textContent('#model-status')).toMatch(/MiB on WebAssembly memory/);
      expect(await p.textContent('#errors')).toBe('');
      expect(await generateGreedy(p, NEW_TOKENS)).toEqual(cliTokens());
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  }, 400_000);

  it('explains how to get WebGPU in a browser without it, when WebGPU is asked for', async () => {
    const plain = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-features=WebGPU', '--no-first-run'] });
    try {
      const p = await plain.newPage();
      await p.goto(`${site}?device=webgpu`);
      // this Chromium still shows navigator.gpu without an adapter; either way the page says what to do
      await p.waitForSelector('#errors .error', { timeout: 30_000 });
      const message = await p.textContent('#errors');
      expect(message).toMatch(/WebGPU is not usable here|This browser has no WebGPU/);
      expect(message).toMatch(/Chrome and Edge 113\+.*chrome:\/\/flags\/#enable-unsafe-webgpu/);
      expect(await p.textContent('#model-status')).toMatch(/^no model loaded/);
    } finally {
      await plain.close();
    }
  }, 60_000);
  it('says what the browser lacks when WebGPU is asked for and navigator.gpu is missing, or gives no adapter', async () => {
    const context = await browser.newContext({ viewport: PHONE });
    try {
      await context.addInitScript(() => delete (Navigator.prototype as { gpu?: unknown }).gpu);
      const p = await context.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(`${site}?device=webgpu`);
      await p.waitForSelector('#errors .error', { timeout: 30_000 });
      expect(await p.evaluate(() => 'gpu' in navigator)).toBe(false);
      expect(await p.textContent('#errors')).toMatch(/^This browser has no WebGPU \(navigator\.gpu is missing\), which wgpt needs to run the model/);
      expect(await p.textContent('#model-status')).toBe('no model loaded: this browser lacks WebGPU');
      expect(await p.isDisabled('#load')).toBe(true);
      expect(await p.isDisabled('#generate')).toBe(true);
      expect(await sidewaysScroll(p)).toBe(0);
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
    // navigator.gpu without an adapter: the page says that, not that WebGPU is missing
    const noAdapter = await browser.newContext({ viewport: PHONE });
    try {
      await noAdapter.addInitScript(() => Object.defineProperty(GPU.prototype, 'requestAdapter', { value: async () => null }));
      const p = await noAdapter.newPage();
      await p.goto(`${site}?device=webgpu`);
      await p.waitForSelector('#errors .error', { timeout: 30_000 });
      expect(await p.textContent('#errors')).toMatch(/^Could not load the model: WebGPU is not usable here: this browser has navigator\.gpu but no GPU adapter/);
      expect(await p.textContent('#model-status')).toBe('no model loaded');
      expect(await p.isDisabled('#generate')).toBe(true);
    } finally {
      await noAdapter.close();
    }
  }, 60_000);
});
