// What every lab shares: the model it runs on, what it returns (BASE and TWEAK text, a table, figures and the
// numbers behind them), and the BASE-vs-TWEAK comparison the intervention labs are made of.
import { generate } from '../generate.ts';
import { hookedModel, type Intervention } from '../hooks/index.ts';
import type { ModelDims } from '../hooks/points.ts';
import type { ForwardOptions, LanguageModel } from '../model/model.ts';
import { softmax } from '../sampling/logprobs.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { UserError } from '../errors.ts';
import { groupedBars, heatmap, lines as lineChart, showToken, type Figure } from './figures.ts';

export interface LabContext {
  model: LanguageModel;
  tokenizer: Tokenizer;
  /** The folder the model came from (labs that read weights from the checkpoint). */
  modelDir: string;
  /** The model is the embedded 7M one: labs whose effect it is too small to show say so. */
  embedded?: boolean;
}

export interface LabResult {
  lab: string;
  /** What to look for in the figures, two or three lines. */
  lesson: string[];
  /** Said when the model is too small to show the effect, with the command that runs the lab on a real model. */
  tooSmall?: string;
  /** The prompt, and its continuation without and with the intervention, when the lab has one. */
  prompt?: string;
  base?: string;
  tweak?: string;
  /** Where BASE and TWEAK first differ: the step, and the character of each continuation it starts at. */
  divergence?: { step: number; base: number; tweak: number };
  /** Lines to print (a table). */
  lines: string[];
  figures: Figure[];
  /** Everything else worth keeping in --json. */
  numbers?: Record<string, unknown>;
}

export interface CompareOptions {
  prompt: string;
  maxNewTokens?: number;
  /** Decoding of both runs: greedy by default, so BASE and TWEAK differ only by the intervention. */
  temperature?: number;
  topK?: number;
  seed?: number;
  /** Candidates shown in the next-token figure. */
  top?: number;
}

export const DEFAULT_PROMPT = 'ROMEO:\nI love thee';

/** The model the labs name when the embedded one is too small for an effect. */
export const REAL_MODEL = 'openai-community/gpt2';

/** "On the embedded model <why>; see it on a real model: wgpt lab <lab> <args> --model openai-community/gpt2". */
export function tooSmall(ctx: LabContext, why: string, lab: string, args = ''): string | undefined {
  if (!ctx.embedded) return undefined;
  return `the embedded 7M model is too small for this: ${why}. See it on a real model: wgpt lab ${lab}${args ? ` ${args}` : ''} --model ${REAL_MODEL}`;
}

export function encodePrompt(ctx: LabContext, prompt: string): number[] {
  const ids = ctx.tokenizer.encode(prompt);
  if (ids.length === 0) throw new UserError('the prompt is empty: give a prompt of at least one token');
  if (ids.length > ctx.model.nCtx) throw new UserError(`the prompt has ${ids.length} tokens and the model holds ${ctx.model.nCtx}: shorten it`);
  return ids;
}

export function dims(ctx: LabContext): ModelDims {
  return ctx.model.dims;
}

export function checkLayer(ctx: LabContext, layer: number): void {
  const L = dims(ctx).nLayer;
  if (!(Number.isInteger(layer) && layer >= 0 && layer < L)) throw new UserError(`layer ${layer} does not exist: the model has layers 0..${L - 1}`);
}

export function checkHead(ctx: LabContext, head: number): void {
  const NH = dims(ctx).NH;
  if (!(Number.isInteger(head) && head >= 0 && head < NH)) throw new UserError(`head ${head} does not exist: the model has heads 0..${NH - 1}`);
}

/** A sweep of one intervention's strength (or an ablation grid): the mean KL over BASE's continuation per point. */
export interface Sweep {
  name: string;
  title: string;
  xTitle: string;
  /** Grid sweeps (every layer x head) give each point a row too, and draw a heatmap. */
  yTitle?: string;
  points: { x: number | string; y?: string; interventions: Intervention[]; fixed?: Pick<ForwardOptions, 'ropeAngleScale'> }[];
}

/**
 * BASE vs TWEAK: the continuation of the prompt without and with the interventions (applied at every step of
 * generation), and with `fixed` forward options (a RoPE angle scale) in TWEAK. Then, on BASE's continuation,
 * step by step: KL(BASE || TWEAK) of the next-token distributions and how much TWEAK changes the log-probability
 * of the token BASE chose. Every run starts a new sequence at position 0, so TWEAK's KV cache never mixes with
 * BASE's.
 */
export async function compare(
  ctx: LabContext,
  lab: string,
  interventions: Intervention[],
  o: CompareOptions,
  what: string,
  fixed: Pick<ForwardOptions, 'ropeAngleScale'> = {},
  sweep?: Sweep,
): Promise<LabResult> {
  const ids = encodePrompt(ctx, o.prompt);
  const n = Math.min(o.maxNewTokens ?? 20, ctx.model.nCtx - ids.length);
  if (n < 1) throw new UserError(`the prompt fills the model's ${ctx.model.nCtx}-token context: shorten it so there is room to generate`);
  const decode = { maxNewTokens: n, temperature: o.temperature ?? 0, topK: o.topK ?? 0, seed: o.seed ?? 0, stopAtEos: false };
  const tweakModel = hookedModel(ctx.model, interventions, fixed);
  const base = await generate(ctx.model, ctx.tokenizer, ids, decode);
  const tweak = await generate(tweakModel, ctx.tokenizer, ids, decode);
  const tokenText = (id: number) => showToken(ctx.tokenizer.tokenString(id));

  // BASE's context (prompt + continuation), read by both models: row P-1+i is the distribution step i drew from
  const context = [...ids, ...base.tokens].slice(0, ids.length + base.tokens.length - 1);
  const P = ids.length;
  const V = ctx.model.vocabSize;
  const baseRows = stepRows((await ctx.model.forward(context, 0, { allLogits: true })).logits, P, base.tokens.length, V);
  const tweakRows = stepRows((await tweakModel.forward(context, 0, { allLogits: true })).logits, P, base.tokens.length, V);
  const steps = base.tokens.map((id, i) => {
    const [lp, lq] = [logProbs(baseRows[i]!), logProbs(tweakRows[i]!)];
    return { step: i + 1, base: tokenText(id), tweak: tweak.tokens[i] === undefined ? '' : tokenText(tweak.tokens[i]!), kl: kl(lp, lq), dlogp: lq[id]! - lp[id]! };
  });
  const diverge = base.tokens.findIndex((id, i) => tweak.tokens[i] !== id);

  // the next token after the prompt alone: step 1's distributions
  const pBase = softmax(baseRows[0]!);
  const pTweak = softmax(tweakRows[0]!);
  const top = o.top ?? 10;
  const union = [...new Set([...topIds(pBase, top), ...topIds(pTweak, top)])];
  const rows = union.flatMap((id) => [
    { token: tokenText(id), id, run: 'BASE', p: pBase[id]! },
    { token: tokenText(id), id, run: 'TWEAK', p: pTweak[id]! },
  ]);

  const lines = [
    "each run's own tokens; KL and the change in logprob of BASE's token are read on BASE's context at every step:",
    `step  ${'BASE'.padEnd(14)} ${'TWEAK'.padEnd(14)} ${'KL(BASE||TWEAK)'.padStart(15)} ${'dlogp(BASE tok)'.padStart(15)}`,
    ...steps.map((s, i) => `${String(s.step).padStart(4)}  ${s.base.padEnd(14)} ${s.tweak.padEnd(14)} ${s.kl.toFixed(4).padStart(15)} ${s.dlogp.toFixed(3).padStart(15)}${i === diverge ? '  <- first divergence' : ''}`),
    diverge < 0 ? `BASE and TWEAK agree on all ${steps.length} tokens` : `first divergence at step ${diverge + 1}: BASE ${steps[diverge]!.base}, TWEAK ${steps[diverge]!.tweak}`,
    `mean KL(BASE||TWEAK) over the continuation: ${mean(steps.map((s) => s.kl)).toFixed(4)} nats`,
  ];
  const perStep = steps.flatMap((s) => [
    { step: s.step, token: `${s.step}: ${s.base}`, measure: 'KL(BASE || TWEAK)', nats: s.kl },
    { step: s.step, token: `${s.step}: ${s.base}`, measure: "change in BASE token's logprob", nats: s.dlogp },
  ]);
  const figures: Figure[] = [
    {
      name: `${lab}-continuations`,
      title: `BASE and TWEAK continuations side by side (${what})`,
      spec: continuationsSpec(`After ${JSON.stringify(o.prompt)}: BASE and TWEAK token by token (${what})`, steps.length),
      data: steps.flatMap((s, i) => [
        { step: s.step, run: 'BASE', token: s.base, diverged: diverge >= 0 && i >= diverge ? (i === diverge ? 'first divergence' : 'after it') : 'same so far' },
        { step: s.step, run: 'TWEAK', token: s.tweak, diverged: diverge >= 0 && i >= diverge ? (i === diverge ? 'first divergence' : 'after it') : 'same so far' },
      ]),
    },
    {
      name: `${lab}-per-step`,
      title: `BASE vs TWEAK along the continuation (${what})`,
      spec: lineChart({
        title: `Along BASE's continuation (${what}): KL and the change in BASE's token logprob`,
        x: 'token', xTitle: "step: BASE's token", xType: 'ordinal', xOrder: steps.map((s) => `${s.step}: ${s.base}`),
        y: 'nats', yTitle: 'nats', series: 'measure', seriesTitle: null, points: true, zeroRule: true,
      }),
      data: perStep,
    },
    {
      name: `${lab}-next-token`,
      title: `Next token after the prompt: BASE vs TWEAK (${what})`,
      spec: groupedBars({ title: `Next-token probabilities, BASE vs TWEAK: ${what}`, category: 'token', categoryTitle: 'candidate next token', group: 'run', value: 'p', valueTitle: 'probability', order: union.map(tokenText) }),
      data: rows,
    },
  ];
  const swept = sweep ? await runSweep(ctx, sweep, context, baseRows, P) : undefined;
  if (sweep && swept) figures.push(sweepFigure(lab, sweep, swept));
  if (swept) lines.push(`${sweep!.title}: ${swept.map((p) => `${p.y !== undefined ? `${p.y} ` : ''}${p.x} ${p.kl.toFixed(3)}`).join(', ')}`);
  return {
    lab,
    lesson: [],
    prompt: o.prompt,
    base: base.text,
    tweak: tweak.text,
    divergence: diverge < 0 ? undefined : { step: diverge + 1, base: charsBefore(ctx, base.tokens, diverge), tweak: charsBefore(ctx, tweak.tokens, diverge) },
    lines,
    figures,
    numbers: {
      prompt: o.prompt,
      prompt_tokens: ids,
      interventions: interventions.map(describeIntervention),
      ...(fixed.ropeAngleScale !== undefined ? { rope_angle_scale: fixed.ropeAngleScale } : {}),
      base_tokens: base.tokens,
      tweak_tokens: tweak.tokens,
      first_divergence: diverge < 0 ? null : diverge + 1,
      steps,
      mean_kl: mean(steps.map((s) => s.kl)),
      ...(swept ? { sweep: swept } : {}),
    },
  };
}

/** The mean KL(BASE || TWEAK) over BASE's continuation for every point of a sweep: one forward pass each. */
async function runSweep(ctx: LabContext, sweep: Sweep, context: number[], baseRows: Float32Array[], P: number) {
  const out: { x: number | string; y?: string; kl: number }[] = [];
  const baseLp = baseRows.map(logProbs);
  for (const point of sweep.points) {
    const logits = (await hookedModel(ctx.model, point.interventions, point.fixed).forward(context, 0, { allLogits: true })).logits;
    const rows = stepRows(logits, P, baseRows.length, ctx.model.vocabSize);
    out.push({ x: point.x, ...(point.y !== undefined ? { y: point.y } : {}), kl: mean(rows.map((r, i) => kl(baseLp[i]!, logProbs(r)))) });
  }
  return out;
}

function sweepFigure(lab: string, sweep: Sweep, points: { x: number | string; y?: string; kl: number }[]): Figure {
  if (sweep.yTitle) {
    return {
      name: `${lab}-${sweep.name}`,
      title: sweep.title,
      spec: heatmap({ title: sweep.title, x: 'x', y: 'y', xTitle: sweep.xTitle, yTitle: sweep.yTitle, value: 'kl', valueTitle: 'mean KL (nats)', text: 'label', domain: [0, Math.max(...points.map((p) => p.kl)) || 1], cell: 44 }),
      data: points.map((p) => ({ ...p, label: p.kl.toFixed(3) })),
    };
  }
  return {
    name: `${lab}-${sweep.name}`,
    title: sweep.title,
    // the values as categories, evenly spaced: sweeps mix small steps near the identity with large ones
    spec: lineChart({ title: sweep.title, x: 'x', xTitle: sweep.xTitle, xType: 'ordinal', xOrder: points.map((p) => String(p.x)), y: 'kl', yTitle: 'mean KL over the continuation (nats)', series: 'what', seriesTitle: null, points: true, width: 420 }),
    data: points.map((p) => ({ ...p, x: String(p.x), what: 'mean KL(BASE || TWEAK)' })),
  };
}

/** Two rows of token cells (BASE over TWEAK), one column per step, shaded from the first divergence on. */
function continuationsSpec(title: string, n: number): Figure['spec'] {
  return {
    title: { text: title, limit: 2000 },
    width: { step: Math.max(56, Math.min(90, Math.floor(1100 / Math.max(n, 1)))) },
    height: { step: 34 },
    encoding: {
      x: { field: 'step', type: 'ordinal', title: 'step', axis: { labelAngle: 0 } },
      y: { field: 'run', type: 'nominal', title: null, sort: ['BASE', 'TWEAK'] },
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: { color: { field: 'diverged', type: 'nominal', title: null, scale: { domain: ['same so far', 'first divergence', 'after it'], range: ['#f2f2f2', '#f58518', '#fdd9b5'] } } },
      },
      { mark: { type: 'text', fontSize: 11 }, encoding: { text: { field: 'token' } } },
    ],
  } as Figure['spec'];
}

/** Rows P-1 .. P-2+n of all-position logits [T, V]: the distributions the n generated tokens were drawn from. */
function stepRows(logits: Float32Array, P: number, n: number, V: number): Float32Array[] {
  return Array.from({ length: n }, (_, i) => logits.subarray((P - 1 + i) * V, (P + i) * V));
}

/** log softmax in float64. */
export function logProbs(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]!);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (x) => x - lse);
}

/** KL(P || Q) in nats from log-probabilities; terms with p = 0 add nothing. */
export function kl(lp: Float64Array, lq: Float64Array): number {
  let s = 0;
  for (let i = 0; i < lp.length; i++) if (lp[i]! > -Infinity) s += Math.exp(lp[i]!) * (lp[i]! - lq[i]!);
  return Math.max(0, s);
}

export const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(a.length, 1);

/** Characters of the continuation before token i (where to mark the first divergence). */
function charsBefore(ctx: LabContext, tokens: number[], i: number): number {
  return ctx.tokenizer.decode(tokens.slice(0, i)).length;
}

/** An intervention as JSON (a patch source is summarised by its shape). */
export function describeIntervention(iv: Intervention): Record<string, unknown> {
  const { source, vector, ...rest } = iv;
  return { ...rest, ...(vector ? { vector: Array.from(vector) } : {}), ...(source ? { source_shape: source.shape } : {}) };
}

export function topIds(p: ArrayLike<number>, k: number): number[] {
  const ids = Array.from({ length: p.length }, (_, i) => i);
  return ids.sort((a, b) => p[b]! - p[a]!).slice(0, k);
}

/** The single token a text is, or a one-line error. */
export function singleToken(ctx: LabContext, text: string): number {
  if (/^\d+$/.test(text)) {
    const V = ctx.model.vocabSize;
    if (Number(text) >= V) throw new UserError(`token id ${text} does not exist: the vocabulary has ids 0..${V - 1}`);
    return Number(text);
  }
  const ids = ctx.tokenizer.encode(text);
  if (ids.length !== 1) throw new UserError(`"${text}" is ${ids.length} tokens, not one: give a single token (or its id)`);
  return ids[0]!;
}
