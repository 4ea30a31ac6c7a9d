// Interventions: change one thing inside the model as it runs (silence or scale an attention head, push one MLP
// neuron, add noise to a block's output), then run BASE and TWEAK on the same text: each continues greedily, the
// two texts are shown with the point where they part marked, KL(BASE‖TWEAK) is drawn for each step of BASE's
// continuation, and the next-token candidates are compared. The changes are the hook API's (src/hooks), applied
// on the GPU at every step.
import { generate, hookedModel, softmax, type Intervention } from 'wgpt';
import { el, heat, inkOn, showToken } from '../dom.ts';
import { explained, term } from '../glossary.ts';
import type { InsideState, View } from '../state.ts';
import { dims } from './activations.ts';
import { heatmapFrame, legend } from './heatmap.ts';
import { tokenStrip } from './tokens.ts';

type Kind = 'ablate-head' | 'scale-head' | 'nudge-neuron' | 'noise';
type Field = 'layer' | 'head' | 'factor' | 'neuron' | 'value' | 'sigma';
const form = { kind: 'ablate-head' as Kind, layer: 0, head: 0, factor: 2, neuron: 0, value: 5, sigma: 1 };
const CONTINUATION = 12;
const CANDIDATES = 8;

const KINDS: { kind: Kind; label: string; fields: Field[] }[] = [
  { kind: 'ablate-head', label: 'silence an attention head', fields: ['layer', 'head'] },
  { kind: 'scale-head', label: 'turn an attention head up or down', fields: ['layer', 'head', 'factor'] },
  { kind: 'nudge-neuron', label: 'push one MLP neuron', fields: ['layer', 'neuron', 'value'] },
  { kind: 'noise', label: 'add random noise to a block\'s output', fields: ['layer', 'sigma'] },
];

/** The intervention in plain words, e.g. "silence head 2 of block 1". */
function describe(): string {
  const { layer, head, factor, neuron, value, sigma } = form;
  switch (form.kind) {
    case 'ablate-head':
      return `silence head ${head} of block ${layer}`;
    case 'scale-head':
      return `multiply the output of head ${head} of block ${layer} by ${factor}`;
    case 'nudge-neuron':
      return `add ${value} to MLP neuron ${neuron} of block ${layer}`;
    case 'noise':
      return `add noise of size ${sigma} to the output of block ${layer}`;
  }
}

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

const FIELDS: Record<Field, { label: string; help: string; step: number; max?: (d: ReturnType<typeof dims>) => number }> = {
  layer: { label: 'block', help: 'which block, from 0', step: 1, max: (d) => d.nLayer - 1 },
  head: { label: 'head', help: 'which head of the block, from 0', step: 1, max: (d) => d.NH - 1 },
  factor: { label: 'multiply by', help: '0 silences the head, 1 changes nothing, 2 doubles it', step: 0.1 },
  neuron: { label: 'neuron', help: 'which unit of the MLP hidden layer, from 0', step: 1, max: (d) => d.I - 1 },
  value: { label: 'add', help: 'added to the neuron after its nonlinearity, at every position', step: 0.5 },
  sigma: { label: 'noise size (σ)', help: 'standard deviation of the Gaussian noise added to every dimension', step: 0.1 },
};

function field(key: Field, d: ReturnType<typeof dims>, onChange: () => void): HTMLLabelElement {
  const spec = FIELDS[key];
  const max = spec.max?.(d);
  const wrap = el('label', '', `${spec.label}${max !== undefined ? ` (0-${max})` : ''} `);
  wrap.title = spec.help;
  const f = el('input');
  f.type = 'number';
  f.step = String(spec.step);
  if (max !== undefined) {
    f.min = '0';
    f.max = String(max);
  }
  f.value = String(form[key]);
  f.addEventListener('change', () => {
    const v = Number(f.value);
    if (Number.isFinite(v)) form[key] = max !== undefined ? Math.max(0, Math.min(max, Math.round(v))) : v;
    f.value = String(form[key]);
    onChange();
  });
  wrap.append(f);
  return wrap;
}

interface Comparison {
  prefix: number[];
  base: number[];
  tweak: number[];
  /** Next-token probabilities after the prefix. */
  pBase: Float64Array;
  pTweak: Float64Array;
  /** KL(BASE‖TWEAK) in nats at each step of BASE's continuation. */
  kl: number[];
}

function kl(p: Float64Array, q: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < p.length; i++) if (p[i]! > 0) sum += p[i]! * Math.log(p[i]! / Math.max(q[i]!, 1e-30));
  return sum;
}

async function compare(state: InsideState, iv: Intervention): Promise<Comparison> {
  const { model, tokenizer } = state.loaded;
  const V = model.vocabSize;
  const prefix = state.ids.slice(0, state.selected + 1);
  const steps = Math.min(CONTINUATION, model.nCtx - prefix.length);
  if (steps < 1) throw new Error(`the text up to the chosen token fills the model's context of ${model.nCtx} tokens: choose an earlier token`);
  const greedy = { temperature: 0, maxNewTokens: steps, stopAtEos: false };
  const tweaked = hookedModel(model, [iv]);
  return state.exclusive(async () => {
    const base = (await generate(model, tokenizer, prefix, greedy)).tokens;
    const tweak = (await generate(tweaked, tokenizer, prefix, greedy)).tokens;
    // both models read BASE's text: the distributions at each of its steps, compared
    const path = [...prefix, ...base.slice(0, -1)];
    const lb = (await model.forward(path, 0, { allLogits: true })).logits;
    const lt = (await tweaked.forward(path, 0, { allLogits: true })).logits;
    const at = (logits: Float32Array, i: number) => softmax(logits.subarray(i * V, (i + 1) * V));
    const klSteps = base.map((_, s) => kl(at(lb, prefix.length - 1 + s), at(lt, prefix.length - 1 + s)));
    return { prefix, base, tweak, pBase: at(lb, prefix.length - 1), pTweak: at(lt, prefix.length - 1), kl: klSteps };
  });
}

function show(state: InsideState, what: string, iv: Intervention, r: Comparison, out: HTMLElement): void {
  const { tokenizer } = state.loaded;
  const tok = (id: number) => showToken(tokenizer.tokenString(id));
  let parted = r.base.findIndex((id, s) => id !== r.tweak[s]);
  if (parted < 0) parted = r.base.length;

  // the two continuations, token by token; from the first difference on, marked
  const texts = el('div', 'compare-text');
  for (const [name, ids] of [
    ['BASE', r.base],
    ['TWEAK', r.tweak],
  ] as const) {
    const line = el('div', 'run');
    line.append(el('b', 'run-name', name));
    const text = el('span', 'run-text');
    text.append(el('span', 'prompt', tokenizer.decode(r.prefix.slice(-8))));
    ids.forEach((id, s) => text.append(el('span', s >= parted ? 'diverged' : 'same', tokenizer.decode([id]))));
    line.append(text);
    texts.append(line);
  }
  const summary =
    parted === r.base.length
      ? `The two continuations are the same for all ${r.base.length} tokens: the change moved the probabilities (below) but not the greedy choice.`
      : `They part at step ${parted + 1} of ${r.base.length} (marked from there on).`;

  // KL(BASE‖TWEAK) at each step of BASE's continuation
  const maxKl = Math.max(...r.kl, 1e-6);
  const strip = el('div', 'kl-strip');
  r.kl.forEach((k, s) => {
    const cell = el('span', s >= parted ? 'diverged' : '', tok(r.base[s]!));
    const t = k / maxKl;
    cell.style.background = heat(t);
    cell.style.color = inkOn(t);
    cell.title = `step ${s + 1}, before ${tok(r.base[s]!)}: KL ${k.toFixed(4)} nats`;
    strip.append(cell);
  });
  const klKey = legend({
    title: 'KL(BASE‖TWEAK) in nats, 0 = no difference',
    colour: heat,
    ticks: [
      { at: 0, label: '0' },
      { at: 0.5, label: (maxKl / 2).toPrecision(2) },
      { at: 1, label: maxKl.toPrecision(2) },
    ],
  });
  const klFigure = heatmapFrame('How far TWEAK\'s next-token distribution is from BASE\'s at each step of BASE\'s text', 'step, labelled by BASE\'s token', 'KL', strip, klKey);

  // next-token candidates after the prefix, BASE and TWEAK on one scale from 0
  const ids = [...new Set([...topOf(r.pBase, CANDIDATES), ...topOf(r.pTweak, CANDIDATES)])];
  const maxP = Math.max(...ids.map((id) => Math.max(r.pBase[id]!, r.pTweak[id]!)));
  const bars = el('div', 'bars pairs');
  bars.append(el('b', '', 'token'), el('b', '', `probability, 0 to ${maxP.toFixed(3)}: BASE (top), TWEAK (below)`), el('b', '', 'BASE → TWEAK'));
  for (const id of ids) {
    const pair = el('div', 'pair');
    for (const [name, p] of [
      ['base', r.pBase[id]!],
      ['tweak', r.pTweak[id]!],
    ] as const) {
      const bar = el('div', `bar ${name}`);
      bar.style.width = `${(100 * p) / maxP}%`;
      pair.append(bar);
    }
    const change = r.pTweak[id]! - r.pBase[id]!;
    bars.append(el('span', '', tok(id)), pair, el('span', change > 0 ? 'up' : change < 0 ? 'down' : '', `${r.pBase[id]!.toFixed(3)} → ${r.pTweak[id]!.toFixed(3)}`));
  }

  const hook = el('p', 'hint');
  hook.append(`TWEAK: ${what}. Inside the model this is op "${iv.op}" at the `, term('hook'), ` ${iv.hook}`);
  if (iv.hook.endsWith('hook_z')) hook.append(' (', term('hook-z'), ')');
  hook.append('.');
  out.replaceChildren(
    el('h3', '', 'The continuations'),
    hook,
    texts,
    el('p', '', summary),
    klFigure,
    el('h3', '', `The next token after position ${state.selected}`),
    bars,
  );
}

function topOf(p: Float64Array, k: number): number[] {
  const ids = Array.from({ length: p.length }, (_, i) => i);
  return ids.sort((a, b) => p[b]! - p[a]!).slice(0, k);
}

export const interventionsView: View = {
  name: 'Interventions',
  intro:
    'Change one thing inside the model and see what it does: an {intervention}. BASE runs the model as it is, TWEAK with the change, both from the chosen token on, always taking the most likely token. ' +
    'Look for heads whose silencing changes nothing (many) and the few that change the text; {kl} per step shows where the change matters even when the words stay the same.',
  render(root, state) {
    const d = dims(state);
    form.layer = Math.min(form.layer, d.nLayer - 1);
    form.head = Math.min(form.head, d.NH - 1);
    form.neuron = Math.min(form.neuron, d.I - 1);

    const formBox = el('form', 'intervention-form');
    const kindLabel = el('label', '', 'change ');
    const kind = el('select');
    for (const k of KINDS) {
      const option = el('option', '', k.label);
      option.value = k.kind;
      option.selected = form.kind === k.kind;
      kind.append(option);
    }
    kindLabel.append(kind);
    const fields = el('div', 'view-controls');
    const sentence = el('p', 'plain');
    sentence.setAttribute('aria-live', 'polite');
    const update = () => {
      const k = KINDS.find((x) => x.kind === form.kind)!;
      fields.replaceChildren(...k.fields.map((f) => field(f, d, () => (sentence.textContent = `TWEAK will ${describe()}.`))));
      sentence.textContent = `TWEAK will ${describe()}.`;
    };
    kind.addEventListener('change', () => {
      form.kind = kind.value as Kind;
      update();
    });
    update();
    const run = el('button', '', 'Run BASE vs TWEAK');
    run.type = 'submit';
    const out = el('div', 'comparison');
    formBox.addEventListener('submit', (e) => {
      e.preventDefault();
      run.disabled = true;
      const iv = intervention();
      const what = describe();
      out.replaceChildren(el('p', 'hint', 'running…'));
      compare(state, iv)
        .then((r) => show(state, what, iv, r, out))
        .catch((e: unknown) => out.replaceChildren(el('p', 'unavailable', (e as Error).message)))
        .finally(() => (run.disabled = false));
    });
    formBox.append(kindLabel, fields, sentence, run);
    root.append(
      tokenStrip(state),
      explained('p', 'hint', `Both runs read the text up to ${showToken(state.loaded.tokenizer.tokenString(state.ids[state.selected]!))} (position ${state.selected}; choose another token to move it), then continue for ${CONTINUATION} tokens.`),
      formBox,
      out,
    );
  },
};
