// The demo page: load a model, generate with every decoding control, and look inside. UI only: the model, the
// kernels, the tokenizer and the sampler are the runtime's (../../src), the same code the CLI runs in Node.
import { acquireGpu, generate, getWasmDevice, isWasmDevice, type Device, type DownloadProgress, type GenerateOptions, type WeightFormat } from 'wgpt';
import { $, el, input, linkHover, refreshHover } from './dom.ts';
import { explained, setUpGlossary } from './glossary.ts';
import { hubEndpoint, openBrowserModel, type BrowserModel, type ModelSource } from './model-source.ts';
import { registerBundledShaders } from './shaders.ts';
import type { InsideState, SamplingView, View } from './state.ts';
import { insideViews } from './views/index.ts';

registerBundledShaders();

/** The device the loaded model runs on: a WebGPU device, or the WebAssembly kernels on the CPU. */
let gpu: Device | undefined;
let loaded: BrowserModel | undefined;
let localFiles: File[] = [];
let running: AbortController | undefined;
let inside: InsideState | undefined;
let activeView: View = insideViews[0]!;
let gpuQueue: Promise<unknown> = Promise.resolve();

// ---- errors: one banner at a time, in the page's terms, and the page keeps working ----

function showError(message: string): void {
  const box = el('div', 'error');
  box.append(el('span', '', message));
  const close = el('button', '', 'dismiss');
  close.type = 'button';
  close.addEventListener('click', () => box.remove());
  box.append(close);
  $('errors').replaceChildren(box); // the newest replaces the last: banners never pile up
}

function clearError(): void {
  $('errors').replaceChildren();
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
window.addEventListener('unhandledrejection', (event) => showError(messageOf(event.reason)));

const WEBGPU_HELP =
  'WebGPU is on by default in Chrome and Edge 113+ (Windows, macOS, ChromeOS, Android), Safari 26+ and Firefox 141+ (Windows). ' +
  'On Linux use Chrome with the flags chrome://flags/#enable-unsafe-webgpu and #enable-vulkan turned on, and hardware acceleration on. ' +
  'The page must be served over https or from localhost.';
const NO_WEBGPU = `This browser has no WebGPU (navigator.gpu is missing), which wgpt needs to run the model: the page cannot generate here. ${WEBGPU_HELP}`;

type DeviceChoice = 'auto' | 'webgpu' | 'wasm';

/** The device picked in the page (or by ?device=): auto takes WebGPU when the browser gives an adapter. */
function deviceChoice(): DeviceChoice {
  return ($('device') as HTMLSelectElement).value as DeviceChoice;
}

/** The device of the next load: the current one when it is still what the page asks for, or a new one. */
async function ensureGpu(): Promise<Device> {
  const choice = deviceChoice();
  if (gpu && (choice === 'auto' || (choice === 'wasm') === isWasmDevice(gpu))) return gpu;
  let acquired: Device;
  if (choice === 'wasm') acquired = await getWasmDevice('chosen in the page');
  else if (!('gpu' in navigator)) {
    if (choice === 'webgpu') throw new Error(NO_WEBGPU);
    acquired = await getWasmDevice('this browser has no WebGPU (navigator.gpu is missing)');
  } else {
    try {
      acquired = await acquireGpu();
    } catch (e) {
      // navigator.gpu is there but gives no adapter (blocklisted GPU, acceleration off): the same advice applies
      if (choice === 'webgpu') throw new Error(`WebGPU is not usable here: this browser has navigator.gpu but no GPU adapter (${messageOf(e)}). ${WEBGPU_HELP}`);
      acquired = await getWasmDevice(`WebGPU gave no adapter here (${messageOf(e)})`);
    }
  }
  if (!isWasmDevice(acquired)) {
    const webgpu = acquired;
    webgpu.device.lost.then((info) => {
      if (gpu !== webgpu) return;
      gpu = undefined;
      loaded = undefined;
      inside = undefined;
      void renderView();
      setReady(false);
      $('model-status').textContent = 'no model loaded';
      if (info.reason !== 'destroyed') showError(`The GPU device was lost (${info.message || 'no reason given'}): load the model again; if it keeps happening, try f16 weights or a smaller model.`);
    });
  }
  gpu = acquired;
  const { info } = acquired;
  $('adapter').textContent = isWasmDevice(acquired) ? `${info.name}: ${info.reason}` : `${info.name}${info.kind === 'software' ? ' (CPU, slow)' : ''}`;
  $('adapter').title = info.reason;
  $('adapter').dataset.device = isWasmDevice(acquired) ? 'wasm' : 'webgpu';
  return acquired;
}

/** One thing at a time on the GPU: a forward pass rewrites the model's activations and KV cache. */
function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const next = gpuQueue.then(work, work);
  gpuQueue = next.catch(() => undefined);
  return next;
}

// ---- model sources ----

function chosenSource(): ModelSource {
  const kind = (document.querySelector('input[name=source]:checked') as HTMLInputElement).value;
  if (kind === 'hub') return { kind: 'hub', id: input('hub-id').value, endpoint: hubEndpoint(location.search) };
  if (kind === 'local') return { kind: 'local', files: localFiles };
  return { kind: 'embedded' };
}

function progress(p: DownloadProgress): void {
  const bar = $('progress') as HTMLProgressElement;
  bar.hidden = false;
  bar.max = p.total ?? Math.max(p.loaded, 1);
  bar.value = p.loaded;
  const mb = (n: number) => (n / 1e6).toFixed(1);
  $('load-status').textContent = p.cached ? `${p.file}: from the browser cache` : `downloading ${p.file}: ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
}

/**
 * Load the chosen model next to the one in use; only when it is ready does it replace that one. A failed load
 * leaves the working model, its views and Generate as they were, and says what failed in one banner.
 */
async function load(): Promise<void> {
  const button = $('load') as HTMLButtonElement;
  button.disabled = true;
  $('load-status').textContent = loaded ? 'loading… (the current model stays in use until the new one is ready)' : 'loading…';
  try {
    const source = chosenSource();
    const g = await ensureGpu();
    const t0 = performance.now();
    const next = await openBrowserModel(g, source, ($('weights') as HTMLSelectElement).value as WeightFormat, progress);
    await exclusive(async () => {
      const previous = loaded;
      inside = undefined; // the views drop the old model before it is freed
      loaded = next;
      previous?.model.destroy();
    });
    const bytes = next.model.gpuBytes();
    const mib = (bytes.weights + bytes.activations + bytes.kvCache) / 2 ** 20;
    $('model-status').textContent = `${next.name}: ${next.config.arch}, ${next.config.nLayer} layers, context ${next.model.nCtx}, ${mib.toFixed(0)} MiB on ${isWasmDevice(next.model.gpu) ? 'WebAssembly memory' : 'the GPU'}, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    $('block-count').textContent = String(next.config.nLayer);
    $('load-status').textContent = '';
    clearError();
    setReady(true);
    setSequence(next.tokenizer.encode(input('prompt').value), undefined);
  } catch (e) {
    $('load-status').textContent = loaded ? `still using ${loaded.name}` : '';
    showError(`Could not load the model: ${messageOf(e)}`);
  } finally {
    ($('progress') as HTMLProgressElement).hidden = true;
    button.disabled = false;
  }
}

function setReady(ready: boolean): void {
  ($('generate') as HTMLButtonElement).disabled = !ready;
}

// ---- the generate panel ----

function sampling(): SamplingView {
  return {
    temperature: Number(input('temperature').value),
    topK: Number(input('top-k').value),
    topP: Number(input('top-p').value),
    minP: Number(input('min-p').value),
  };
}

function generateOptions(signal: AbortSignal): GenerateOptions {
  return {
    ...sampling(),
    repetitionPenalty: Number(input('repetition-penalty').value),
    seed: Number(input('seed').value),
    maxNewTokens: Number(input('max-tokens').value),
    useCache: input('use-cache').checked,
    signal,
  };
}

async function runGenerate(): Promise<void> {
  if (!loaded || running) return;
  const model = loaded;
  const controller = new AbortController();
  running = controller;
  setReady(false);
  ($('stop') as HTMLButtonElement).disabled = false;
  const output = $('output');
  output.replaceChildren(el('span', 'prompt', input('prompt').value));
  delete output.dataset.tokens;
  const generated = el('span', 'generated');
  output.append(generated);
  const stats = $('stats');
  stats.textContent = 'prefill…';
  try {
    const result = await exclusive(async () => {
      let t0 = 0;
      let count = 0;
      return generate(model.model, model.tokenizer, input('prompt').value, generateOptions(controller.signal), (text) => {
        generated.textContent += text;
        count++;
        if (count === 1) t0 = performance.now();
        else stats.textContent = `${count} tokens, ${((1000 * (count - 1)) / (performance.now() - t0)).toFixed(1)} tok/s`;
      });
    });
    const t = result.timings;
    stats.textContent = `${result.tokens.length} tokens, ${t.tokens_per_s} tok/s decode, prefill ${t.prefill_ms.toFixed(0)} ms (${result.finish_reason}) on ${gpu?.info.name ?? 'the device'}`;
    output.dataset.tokens = JSON.stringify(result.tokens);
    if (loaded === model) setSequence([...result.prompt_tokens, ...result.tokens], result.prompt_tokens.length);
  } catch (e) {
    stats.textContent = '';
    showError(messageOf(e));
  } finally {
    running = undefined;
    ($('stop') as HTMLButtonElement).disabled = true;
    setReady(!!loaded);
  }
}

/**
 * The text of each token of `ids`, for the output: each token decoded after a few tokens of context (so a
 * tokenizer that drops a word's leading space when it starts the text keeps it), a token that ends inside a
 * UTF-8 character joined with the next ones. Each piece carries the position of its first token.
 */
function tokenPieces(tokenizer: BrowserModel['tokenizer'], ids: number[]): { index: number; text: string }[] {
  const pieces: { index: number; text: string }[] = [];
  let start = 0;
  for (let i = 0; i < ids.length; i++) {
    const context = ids.slice(Math.max(0, start - 4), start);
    const before = tokenizer.decode(context);
    const after = tokenizer.decode([...context, ...ids.slice(start, i + 1)]);
    const text = after.startsWith(before) ? after.slice(before.length) : tokenizer.decode(ids.slice(start, i + 1));
    if (text.endsWith('\uFFFD') && i + 1 < ids.length && i - start < 3) continue;
    pieces.push({ index: start, text });
    start = i + 1;
  }
  return pieces;
}

/** The output text as tokens: hover one to find it in the views, click it to choose it. */
function showSequenceInOutput(state: InsideState): void {
  const output = $('output');
  const prompt = el('span', 'prompt');
  const generated = el('span', 'generated');
  for (const { index, text } of tokenPieces(state.loaded.tokenizer, state.ids)) {
    const piece = el('span', `tok${index === state.selected ? ' selected' : ''}`, text);
    linkHover(piece, index);
    piece.addEventListener('click', () => state.select(index));
    (index < state.promptLength ? prompt : generated).append(piece);
  }
  output.replaceChildren(prompt, generated);
}

// ---- the inside views ----

function setSequence(ids: number[], promptLength: number | undefined): void {
  if (!loaded || !gpu || ids.length === 0) return;
  const n = Math.min(ids.length, loaded.model.nCtx);
  const state: InsideState = {
    gpu,
    loaded,
    ids: ids.slice(0, n),
    promptLength: Math.min(promptLength ?? n, n),
    ...(ids.length > n ? { cutFrom: ids.length } : {}),
    selected: Math.min(promptLength ?? n, n) - 1,
    sampling,
    select(index) {
      this.selected = index;
      showSequenceInOutput(this);
      void renderView();
    },
    // work queued for a model that was replaced meanwhile does not run
    exclusive: (work) => exclusive(() => (inside === state ? work() : Promise.reject(new Error('the model changed: showing the new one')))),
    memo: new Map(),
  };
  inside = state;
  showSequenceInOutput(state);
  void renderView();
}

let renderCount = 0;
async function renderView(): Promise<void> {
  const root = $('view');
  const ticket = ++renderCount;
  for (const button of $('tabs').children) button.setAttribute('aria-pressed', String(button.textContent === activeView.name));
  if (!inside) {
    root.replaceChildren(el('p', 'hint', 'Load a model to look inside it.'));
    return;
  }
  const box = el('div');
  box.dataset.view = activeView.name;
  box.append(explained('p', 'view-intro', activeView.intro));
  if (inside.cutFrom) {
    const n = inside.ids.length;
    box.append(explained('p', 'unavailable', `The text has ${inside.cutFrom} tokens but the model holds ${n} (its {context}): the views look at the first ${n}, and Generate refuses it until the prompt is shorter.`));
  }
  const body = el('div');
  box.append(body);
  try {
    await activeView.render(body, inside);
    box.dataset.rendered = 'true';
  } catch (e) {
    body.replaceChildren(el('p', 'unavailable', messageOf(e)));
  }
  if (ticket !== renderCount) return;
  // a token chosen with the arrow keys keeps the keyboard focus through the redraw
  const hadFocus = root.contains(document.activeElement) && document.activeElement?.classList.contains('token');
  root.replaceChildren(box);
  if (hadFocus) box.querySelector<HTMLElement>('.token.selected')?.focus();
  refreshHover();
}

function openView(view: View): void {
  activeView = view;
  void renderView();
}

for (const view of insideViews) {
  const button = el('button', '', view.name);
  button.type = 'button';
  button.addEventListener('click', () => openView(view));
  $('tabs').append(button);
}

// ---- the guided first screen: pipeline stages open their view, example prompts ----

/** The views look at the prompt as it is now (unless they show a generation of that same prompt). */
function followPrompt(): void {
  if (!loaded || running) return;
  const ids = loaded.tokenizer.encode(input('prompt').value);
  const shown = inside?.ids.slice(0, inside.promptLength);
  if (!shown || shown.length !== Math.min(ids.length, loaded.model.nCtx) || shown.some((id, i) => id !== ids[i])) {
    $('stats').textContent = ''; // the output now shows this prompt, not the last generation
    setSequence(ids, undefined);
  }
}

for (const stage of document.querySelectorAll<HTMLButtonElement>('#pipeline button[data-open]')) {
  stage.addEventListener('click', () => {
    const view = insideViews.find((v) => v.name === stage.dataset.open)!;
    followPrompt();
    openView(view);
    $('inside-panel').scrollIntoView({ behavior: 'smooth', block: 'start' });
    ([...$('tabs').children] as HTMLElement[]).find((b) => b.textContent === view.name)?.focus({ preventScroll: true });
  });
}

const EXAMPLES: { label: string; prompt: string; view: string; why: string }[] = [
  {
    label: 'a repeated passage (induction heads)',
    prompt: 'ROMEO:\nBut soft, what light through yonder window breaks?\n'.repeat(2),
    view: 'Attention',
    why: 'The second copy can be predicted from the first: look for a head whose rows in the second half light up one token after the same token in the first half.',
  },
  {
    label: 'a list (positions)',
    prompt: 'First Citizen:\nSecond Citizen:\nThird Citizen:\nFourth Citizen:\nFifth Citizen:\nSixth',
    view: 'Logit lens',
    why: 'Each line repeats the last one with the next number: see at which block the model starts to guess " Citizen" and ":" in their places.',
  },
  {
    label: 'a famous line (sampling)',
    prompt: 'JULIET:\nO Romeo, Romeo! wherefore art thou',
    view: 'Next token',
    why: 'One continuation is far more likely than the rest: move temperature, top-k, top-p and min-p and watch which candidates survive.',
  },
];
for (const example of EXAMPLES) {
  const button = el('button', 'example', example.label);
  button.type = 'button';
  button.title = example.why;
  button.addEventListener('click', () => {
    input('prompt').value = example.prompt;
    $('example-why').textContent = example.why;
    followPrompt();
    openView(insideViews.find((v) => v.name === example.view)!);
  });
  $('examples').append(button);
}

// ---- wiring ----

function showSlider(id: string, off: (v: number) => boolean): void {
  const update = () => {
    const v = Number(input(id).value);
    $(`${id}-value`).textContent = off(v) ? 'off' : String(v);
  };
  input(id).addEventListener('input', () => {
    update();
    if (activeView.followsSliders) void renderView();
  });
  update();
}
showSlider('temperature', () => false);
showSlider('top-k', (v) => v === 0);
showSlider('top-p', (v) => v >= 1);
showSlider('min-p', (v) => v === 0);

setUpGlossary($('glossary'));
$('load').addEventListener('click', () => void load());
$('generate').addEventListener('click', () => void runGenerate());
$('stop').addEventListener('click', () => running?.abort());
input('prompt').addEventListener('change', followPrompt);
input('hub-id').addEventListener('input', () => ((document.querySelector('input[name=source][value=hub]') as HTMLInputElement).checked = true));
input('local-files').addEventListener('change', () => {
  localFiles = [...(input('local-files').files ?? [])];
  (document.querySelector('input[name=source][value=local]') as HTMLInputElement).checked = true;
});
const drop = $('drop');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  localFiles = [...(e.dataTransfer?.files ?? [])];
  drop.textContent = `${localFiles.length} files: ${localFiles.map((f) => f.name).join(', ')}`;
  (document.querySelector('input[name=source][value=local]') as HTMLInputElement).checked = true;
});

void renderView();
const askedDevice = new URLSearchParams(location.search).get('device');
if (askedDevice === 'webgpu' || askedDevice === 'wasm' || askedDevice === 'auto') ($('device') as HTMLSelectElement).value = askedDevice;
if (!('gpu' in navigator) && deviceChoice() === 'webgpu') {
  showError(NO_WEBGPU);
  ($('load') as HTMLButtonElement).disabled = true;
  $('model-status').textContent = 'no model loaded: this browser lacks WebGPU';
} else {
  void load(); // the embedded model is small: load it right away
}
