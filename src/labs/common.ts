// What every lab shares: the model it runs on, what it returns (BASE and TWEAK text, a table, figures and the
// numbers behind them), and the BASE-vs-TWEAK comparison the intervention labs are made of.
import { generate } from '../generate.ts';
import { hookedModel, type Intervention } from '../hooks/index.ts';
import type { ModelDims } from '../hooks/points.ts';
import type { ForwardOptions, LanguageModel } from '../model/model.ts';
import { softmax } from '../sampling/logprobs.ts';
import type { Tokenizer } from '../tokenizer/tokenizer.ts';
import { UserError } from '../errors.ts';
import { groupedBars, showToken, type Figure } from './figures.ts';

export interface LabContext {
  model: LanguageModel;
  tokenizer: Tokenizer;
  /** The folder the model came from (labs that read weights from the checkpoint). */
  modelDir: string;
}

export interface LabResult {
  lab: string;
  /** The continuation without and with the intervention, when the lab has one. */
  base?: string;
  tweak?: string;
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

/**
 * BASE vs TWEAK: the continuation of the prompt and the next-token distribution after it, without and with the
 * interventions (applied at every step of generation), and with `fixed` forward options (a RoPE angle scale) in
 * TWEAK. Every run starts a new sequence at position 0, so TWEAK's KV cache never mixes with BASE's.
 */
export async function compare(
  ctx: LabContext,
  lab: string,
  interventions: Intervention[],
  o: CompareOptions,
  what: string,
  fixed: Pick<ForwardOptions, 'ropeAngleScale'> = {},
): Promise<LabResult> {
  const ids = encodePrompt(ctx, o.prompt);
  const decode = { maxNewTokens: o.maxNewTokens ?? 20, temperature: o.temperature ?? 0, topK: o.topK ?? 0, seed: o.seed ?? 0, stopAtEos: false };
  const tweakModel = hookedModel(ctx.model, interventions, fixed);
  const base = await generate(ctx.model, ctx.tokenizer, ids, decode);
  const tweak = await generate(tweakModel, ctx.tokenizer, ids, decode);

  // the last position's logits [V] of the prompt alone
  const pBase = softmax((await ctx.model.forward(ids, 0)).logits);
  const pTweak = softmax((await tweakModel.forward(ids, 0)).logits);
  const top = o.top ?? 10;
  const union = [...new Set([...topIds(pBase, top), ...topIds(pTweak, top)])];
  const rows = union.flatMap((id) => [
    { token: showToken(ctx.tokenizer.tokenString(id)), id, run: 'BASE', p: pBase[id]! },
    { token: showToken(ctx.tokenizer.tokenString(id)), id, run: 'TWEAK', p: pTweak[id]! },
  ]);
  const order = union.map((id) => showToken(ctx.tokenizer.tokenString(id)));
  const lines = [`next token after the prompt (${what}):`, `  ${'token'.padEnd(14)} ${'BASE'.padStart(7)} ${'TWEAK'.padStart(7)}`];
  for (const id of union) lines.push(`  ${showToken(ctx.tokenizer.tokenString(id)).padEnd(14)} ${pBase[id]!.toFixed(4).padStart(7)} ${pTweak[id]!.toFixed(4).padStart(7)}`);
  return {
    lab,
    base: base.text,
    tweak: tweak.text,
    lines,
    figures: [
      {
        name: `${lab}-next-token`,
        title: `Next token after the prompt: BASE vs TWEAK (${what})`,
        spec: groupedBars({ title: `Next-token probabilities, BASE vs TWEAK: ${what}`, category: 'token', categoryTitle: 'candidate next token', group: 'run', value: 'p', valueTitle: 'probability', order }),
        data: rows,
      },
    ],
    numbers: {
      prompt: o.prompt,
      prompt_tokens: ids,
      interventions: interventions.map(describeIntervention),
      ...(fixed.ropeAngleScale !== undefined ? { rope_angle_scale: fixed.ropeAngleScale } : {}),
      base_tokens: base.tokens,
      tweak_tokens: tweak.tokens,
    },
  };
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
  if (/^\d+$/.test(text)) return Number(text);
  const ids = ctx.tokenizer.encode(text);
  if (ids.length !== 1) throw new UserError(`"${text}" is ${ids.length} tokens, not one: give a single token (or its id)`);
  return ids[0]!;
}
