// Interventions: change one thing inside the model as it runs (ablate or scale an attention head's output z, nudge
// one MLP neuron, add noise to a block's residual stream), then run BASE and TWEAK side by side: the next-token
// distribution after the chosen token, and a greedy continuation from it. The changes are the hook API's
// (src/hooks), applied on the GPU at every step.
import { generate, hookedModel, runWithHooks, softmax, topLogprobs, type Intervention } from 'wgpt';
import { el, showToken } from '../dom.ts';
import type { InsideState, View } from '../state.ts';
import { dims } from './activations.ts';
import { tokenStrip } from './tokens.ts';

type Kind = 'ablate-head' | 'scale-head' | 'nudge-neuron' | 'noise';
const form = { kind: 'ablate-head' as Kind, layer: 0, head: 0, factor: 2, neuron: 0, value: 5, sigma: 1 };
const CONTINUATION = 12;

function intervention(): Intervention {
  const l = form.layer;
  switch (form.kind) {
    case 'ablate-head':
      return { hook: `blocks.${l}.attn.hook_z`, op: 'zero', head: form.head };
    case 'scale-head':
      return { hook: `blocks.${l}.attn.hook_z`, op: 'scale', head: form.head, factor: form.factor };
    case 'nudge-neuron':
      return { hook: `blocks.${l}.mlp.hook_post`, op: 'add', neuron: form.neuron, value: form.value };
    case 'noise':
      return { hook: `blocks.${l}.hook_resid_post`, op: 'noise', sigma: form.sigma, seed: 0 };
  }
}

function field(label: string, key: 'layer' | 'head' | 'factor' | 'neuron' | 'value' | 'sigma', max?: number, step = 1): HTMLLabelElement {
  const wrap = el('label', '', `${label} `);
  const f = el('input');
  f.type = 'number';
  f.step = String(step);
  if (max !== undefined) {
    f.min = '0';
    f.max = String(max);
  }
  f.value = String(form[key]);
  f.addEventListener('change', () => {
    const v = Number(f.value);
    if (Number.isFinite(v)) form[key] = max !== undefined ? Math.max(0, Math.min(max, Math.round(v))) : v;
  });
  wrap.append(f);
  return wrap;
}

async function compare(state: InsideState, out: HTMLElement): Promise<void> {
  const { model, tokenizer } = state.loaded;
  const V = model.vocabSize;
  const iv = intervention();
  const prefix = state.ids.slice(0, state.selected + 1);
  const tok = (id: number) => showToken(tokenizer.tokenString(id));
  const greedy = { temperature: 0, maxNewTokens: CONTINUATION, stopAtEos: false, topLogprobs: 1 };
  const result = await state.exclusive(async () => {
    const base = await runWithHooks(model, prefix, []);
    const tweak = await runWithHooks(model, prefix, [iv]);
    const baseText = await generate(model, tokenizer, prefix, greedy);
    const tweakText = await generate(hookedModel(model, [iv]), tokenizer, prefix, greedy);
    return { base, tweak, baseText, tweakText };
  });
  const last = (logits: Float32Array) => logits.subarray((prefix.length - 1) * V, prefix.length * V);
  const column = (title: string, logits: Float32Array, text: string) => {
    const box = el('div');
    box.append(el('h3', '', title), el('pre', 'output', tokenizer.decode(prefix) + text));
    const probs = softmax(last(logits));
    const bars = el('div', 'bars');
    for (const c of topLogprobs(last(logits), 8)) {
      const bar = el('div', 'bar');
      bar.style.width = `${100 * probs[c.id]!}%`;
      bars.append(el('span', '', tok(c.id)), bar, el('span', '', probs[c.id]!.toFixed(3)), el('span'));
    }
    box.append(bars);
    return box;
  };
  const side = el('div', 'side');
  side.append(column('BASE', result.base.logits, result.baseText.text), column(`TWEAK: ${iv.op} ${iv.hook}`, result.tweak.logits, result.tweakText.text));
  out.replaceChildren(side);
}

export const interventionsView: View = {
  name: 'Interventions',
  render(root, state) {
    const d = dims(state);
    form.layer = Math.min(form.layer, d.nLayer - 1);
    form.head = Math.min(form.head, d.NH - 1);
    form.neuron = Math.min(form.neuron, d.I - 1);
    const kind = el('select');
    for (const [value, label] of [
      ['ablate-head', 'ablate a head (z = 0)'],
      ['scale-head', 'scale a head'],
      ['nudge-neuron', 'nudge an MLP neuron'],
      ['noise', 'add noise to the residual stream'],
    ] as const) {
      const option = el('option', '', label);
      option.value = value;
      option.selected = form.kind === value;
      kind.append(option);
    }
    kind.addEventListener('change', () => (form.kind = kind.value as Kind));
    const controls = el('div', 'view-controls');
    const run = el('button', '', 'Run BASE vs TWEAK');
    const out = el('div');
    run.addEventListener('click', () => {
      run.disabled = true;
      out.replaceChildren(el('p', 'hint', 'running…'));
      compare(state, out)
        .catch((e: unknown) => out.replaceChildren(el('p', 'unavailable', (e as Error).message)))
        .finally(() => (run.disabled = false));
    });
    controls.append(
      kind,
      field('layer', 'layer', d.nLayer - 1),
      field('head', 'head', d.NH - 1),
      field('factor', 'factor', undefined, 0.1),
      field('neuron', 'neuron', d.I - 1),
      field('value', 'value', undefined, 0.5),
      field('sigma', 'sigma', undefined, 0.1),
      run,
    );
    root.append(
      tokenStrip(state),
      el('p', 'hint', `Both runs read the sequence up to position ${state.selected} (click a token to move it), then continue greedily for ${CONTINUATION} tokens.`),
      controls,
      out,
    );
  },
};
