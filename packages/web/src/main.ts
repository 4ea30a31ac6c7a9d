// The demo page: load a model, generate with every decoding control, and look inside. UI only: the model, the
// kernels, the tokenizer and the sampler are the runtime's (../../src), the same code the CLI runs in Node.
import { acquireGpu, generate, type DownloadProgress, type GenerateOptions, type Gpu, type WeightFormat } from 'wgpt';
import { $, el, input } from './dom.ts';
import { hubEndpoint, openBrowserModel, type BrowserModel, type ModelSource } from './model-source.ts';
import { registerBundledShaders } from './shaders.ts';
import type { InsideState, SamplingView, View } from './state.ts';
import { insideViews } from './views/index.ts';

registerBundledShaders();

let gpu: Gpu | undefined;
let loaded: BrowserModel | undefined;
let localFiles: File[] = [];
let running: AbortController | undefined;
let inside: InsideState | undefined;
let activeView: View = insideViews[0]!;
let gpuQueue: Promise<unknown> = Promise.resolve();

// ---- errors: one visible line each, and the page keeps working ----

function showError(message: string): void {
  const box = el('div', 'error');
  box.append(el('span', '', message));
  const close = el('button', '', 'dismiss');
  close.addEventListener('click', () => box.remove());
  box.append(close);
  $('errors').append(box);
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));
window.addEventListener('unhandledrejection', (event) => showError(messageOf(event.reason)));

const WEBGPU_HELP =
  'WebGPU is on by default in Chrome and Edge 113+ (Windows, macOS, ChromeOS, Android), Safari 26+ and Firefox 141+ (Windows). ' +
  'On Linux use Chrome with the flags chrome://flags/#enable-unsafe-webgpu and #enable-vulkan turned on, and hardware acceleration on. ' +
  'The page must be served over https or from localhost.';
const NO_WEBGPU = `This browser has no WebGPU, which wgpt needs. ${WEBGPU_HELP}`;

async function ensureGpu(): Promise<Gpu> {
  if (gpu) return gpu;
  if (!('gpu' in navigator)) throw new Error(NO_WEBGPU);
  let acquired: Gpu;
  try {
    acquired = await acquireGpu();
  } catch (e) {
    // navigator.gpu is there but gives no adapter (blocklisted GPU, acceleration off): the same advice applies
    throw new Error(`WebGPU is not usable here: ${messageOf(e)}. ${WEBGPU_HELP}`);
  }
  acquired.device.lost.then((info) => {
    if (gpu !== acquired) return;
    gpu = undefined;
    loaded = undefined;
    inside = undefined;
    void renderView();
    setReady(false);
    $('model-status').textContent = 'no model loaded';
    if (info.reason !== 'destroyed') showError(`The GPU device was lost (${info.message || 'no reason given'}): load the model again; if it keeps happening, try f16 weights or a smaller model.`);
  });
  gpu = acquired;
  $('adapter').textContent = `${acquired.info.name}${acquired.info.kind === 'software' ? ' (CPU, slow)' : ''}`;
  $('adapter').title = acquired.info.reason;
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
  $('model-status').textContent = p.cached ? `${p.file}: from the browser cache` : `downloading ${p.file}: ${mb(p.loaded)}${p.total ? ` / ${mb(p.total)}` : ''} MB`;
}

async function load(): Promise<void> {
  const button = $('load') as HTMLButtonElement;
  button.disabled = true;
  setReady(false);
  try {
    const g = await ensureGpu();
    await exclusive(async () => {
      loaded?.model.destroy();
      loaded = undefined;
      inside = undefined;
      void renderView(); // the previous model's views go away while the next one loads
      $('model-status').textContent = 'loading…';
      const t0 = performance.now();
      loaded = await openBrowserModel(g, chosenSource(), ($('weights') as HTMLSelectElement).value as WeightFormat, progress);
      const bytes = loaded.model.gpuBytes();
      const mib = (bytes.weights + bytes.activations + bytes.kvCache) / 2 ** 20;
      $('model-status').textContent = `${loaded.name}: ${loaded.config.arch}, ${loaded.config.nLayer} layers, context ${loaded.model.nCtx}, ${mib.toFixed(0)} MiB on the GPU, loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    });
    setReady(true);
    setSequence(loaded!.tokenizer.encode(input('prompt').value), undefined);
  } catch (e) {
    $('model-status').textContent = 'no model loaded';
    showError(messageOf(e));
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
    stats.textContent = `${result.tokens.length} tokens, ${t.tokens_per_s} tok/s decode, prefill ${t.prefill_ms.toFixed(0)} ms (${result.finish_reason}) on ${gpu?.info.name ?? 'the GPU'}`;
    output.dataset.tokens = JSON.stringify(result.tokens);
    setSequence([...result.prompt_tokens, ...result.tokens], result.prompt_tokens.length);
  } catch (e) {
    stats.textContent = '';
    showError(messageOf(e));
  } finally {
    running = undefined;
    ($('stop') as HTMLButtonElement).disabled = true;
    setReady(!!loaded);
  }
}

// ---- the inside views ----

function setSequence(ids: number[], promptLength: number | undefined): void {
  if (!loaded || !gpu || ids.length === 0) return;
  const n = Math.min(ids.length, loaded.model.nCtx);
  inside = {
    gpu,
    loaded,
    ids: ids.slice(0, n),
    promptLength: Math.min(promptLength ?? n, n),
    selected: Math.min(promptLength ?? n, n) - 1,
    sampling,
    select(index) {
      this.selected = index;
      void renderView();
    },
    exclusive,
    memo: new Map(),
  };
  void renderView();
}

let renderCount = 0;
async function renderView(): Promise<void> {
  const root = $('view');
  const ticket = ++renderCount;
  for (const button of $('tabs').children) button.classList.toggle('active', button.textContent === activeView.name);
  if (!inside) {
    root.replaceChildren(el('p', 'hint', 'Load a model to look inside it.'));
    return;
  }
  const box = el('div');
  box.dataset.view = activeView.name;
  try {
    await activeView.render(box, inside);
    box.dataset.rendered = 'true';
  } catch (e) {
    box.replaceChildren(el('p', 'unavailable', messageOf(e)));
  }
  if (ticket === renderCount) root.replaceChildren(box);
}

for (const view of insideViews) {
  const button = el('button', '', view.name);
  button.addEventListener('click', () => {
    activeView = view;
    void renderView();
  });
  $('tabs').append(button);
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

$('load').addEventListener('click', () => void load());
$('generate').addEventListener('click', () => void runGenerate());
$('stop').addEventListener('click', () => running?.abort());
input('prompt').addEventListener('change', () => {
  if (loaded && !running) setSequence(loaded.tokenizer.encode(input('prompt').value), undefined);
});
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
if (!('gpu' in navigator)) {
  showError(NO_WEBGPU);
  ($('load') as HTMLButtonElement).disabled = true;
} else {
  void load(); // the embedded model is small: load it right away
}
