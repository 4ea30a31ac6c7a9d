// temperature: what sampling temperature does to the next-token distribution, measured on the same contexts (the
// prompt and its greedy continuation) for every temperature, before any truncation: its entropy and the
// probability of its top token, step by step. Then, separately, what top-k and top-p take away at one
// temperature, and a sample per temperature side by side.
import { generate } from '../generate.ts';
import { entropy, softmax } from '../sampling/logprobs.ts';
import { topKFilter, topPFilter } from '../sampling/processors.ts';
import { UserError } from '../errors.ts';
import { encodePrompt, mean, type LabContext, type LabResult } from './common.ts';
import { groupedBars, lines as lineChart, showToken } from './figures.ts';

/** The temperatures every context is read at. */
export const TEMPERATURES = [0.5, 0.7, 1, 1.2, 1.5, 2];

export interface TemperatureOptions {
  maxNewTokens?: number;
  /** The temperature the top-k / top-p figure is drawn at. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export async function temperatureLab(ctx: LabContext, prompt: string, o: TemperatureOptions): Promise<LabResult> {
  const ids = encodePrompt(ctx, prompt);
  const n = Math.min(o.maxNewTokens ?? 20, ctx.model.nCtx - ids.length);
  if (n < 1) throw new UserError(`the prompt fills the model's ${ctx.model.nCtx}-token context: shorten it so there is room to generate`);
  const T0 = o.temperature ?? 1.2;
  const topK = o.topK ?? 40;
  const topP = o.topP ?? 0.9;
  if (!(T0 > 0)) throw new UserError(`--temperature must be above 0 here (the filters are compared on a sampled distribution), got ${T0}`);

  // the contexts: the prompt and its greedy continuation; row P-1+i is the distribution of step i
  const greedy = await generate(ctx.model, ctx.tokenizer, ids, { maxNewTokens: n, temperature: 0, stopAtEos: false });
  const context = [...ids, ...greedy.tokens].slice(0, ids.length + greedy.tokens.length - 1);
  const { logits } = await ctx.model.forward(context, 0, { allLogits: true });
  const V = ctx.model.vocabSize;
  const rows = greedy.tokens.map((_, i) => logits.subarray((ids.length - 1 + i) * V, (ids.length + i) * V));
  const stepLabel = (i: number) => `${i + 1}: ${showToken(ctx.tokenizer.tokenString(greedy.tokens[i]!))}`;

  const perStep: { step: string; temperature: string; entropy: number; top_p: number }[] = [];
  const perTemperature = TEMPERATURES.map((t) => {
    const hs: number[] = [];
    const tops: number[] = [];
    rows.forEach((row, i) => {
      const p = softmax(Float32Array.from(row, (x) => x / t));
      const h = entropy(p);
      const top = Math.max(...p);
      hs.push(h);
      tops.push(top);
      perStep.push({ step: stepLabel(i), temperature: `T=${t}`, entropy: h, top_p: top });
    });
    return { temperature: t, mean_entropy: mean(hs), mean_top_probability: mean(tops) };
  });

  // the filters at T0: the distribution sampling draws from, after top-k or top-p, on the same contexts
  const filters: { filter: string; apply: (z: Float32Array) => Float32Array }[] = [
    { filter: 'none', apply: (z) => z },
    ...[...new Set([topK, 10, 3])].filter((k) => k > 0).map((k) => ({ filter: `top-k ${k}`, apply: (z: Float32Array) => topKFilter(z, k) })),
    ...[...new Set([0.95, topP, 0.5])].filter((p) => p > 0 && p < 1).map((p) => ({ filter: `top-p ${p}`, apply: (z: Float32Array) => topPFilter(z, p) })),
  ];
  const filtered = filters.map(({ filter, apply }) => {
    const hs: number[] = [];
    const kept: number[] = [];
    for (const row of rows) {
      const p = softmax(apply(Float32Array.from(row, (x) => x / T0)));
      hs.push(entropy(p));
      kept.push(p.reduce((c, x) => c + (x > 0 ? 1 : 0), 0));
    }
    return { filter, mean_entropy: mean(hs), mean_tokens_kept: mean(kept) };
  });

  // one sample per temperature, same seed, no filters
  const samples: { temperature: number; text: string; tokens: number[] }[] = [{ temperature: 0, text: greedy.text, tokens: greedy.tokens }];
  for (const t of [0.5, 1, 1.5, 2]) {
    const s = await generate(ctx.model, ctx.tokenizer, ids, { maxNewTokens: n, temperature: t, topK: 0, seed: o.seed ?? 0, stopAtEos: false });
    samples.push({ temperature: t, text: s.text, tokens: s.tokens });
  }

  const lines = [
    `on the same ${rows.length} contexts (the prompt and its greedy continuation), no truncation:`,
    `  ${'T'.padEnd(5)} ${'mean entropy (nats)'.padStart(20)} ${'mean p(top token)'.padStart(18)}`,
    ...perTemperature.map((r) => `  ${String(r.temperature).padEnd(5)} ${r.mean_entropy.toFixed(3).padStart(20)} ${r.mean_top_probability.toFixed(3).padStart(18)}`),
    `at T=${T0}, what the filters leave (the distribution sampling draws from):`,
    ...filtered.map((f) => `  ${f.filter.padEnd(12)} entropy ${f.mean_entropy.toFixed(3)} nats, ${f.mean_tokens_kept.toFixed(1)} tokens kept on average`),
    `a sample per temperature (seed ${o.seed ?? 0}, no filters):`,
    ...samples.map((s) => `  T=${String(s.temperature).padEnd(4)} ${JSON.stringify(s.text)}`),
  ];
  const order = TEMPERATURES.map((t) => `T=${t}`);
  const steps = rows.map((_, i) => stepLabel(i));
  return {
    lab: 'temperature',
    lesson: [
      'The same contexts read at each temperature: entropy rises and the top token loses probability as T grows',
      '(T -> 0 is greedy: all the probability on one token). Top-k and top-p are a separate step after T: they cut the',
      'tail, and their figure shows how much entropy each takes away. Compare the samples: low T repeats, high T wanders.',
    ],
    prompt,
    lines,
    figures: [
      {
        name: 'temperature-entropy',
        title: 'Entropy per step at each temperature',
        spec: lineChart({ title: 'Entropy of the next-token distribution, same contexts, each temperature (no top-k / top-p)', x: 'step', xTitle: "step: the greedy continuation's token", xType: 'ordinal', xOrder: steps, y: 'entropy', yTitle: 'entropy (nats)', series: 'temperature', seriesTitle: 'temperature', points: true, yScale: { domainMin: 0 } }),
        data: perStep,
      },
      {
        name: 'temperature-top-probability',
        title: "Top token's probability per step at each temperature",
        spec: lineChart({ title: "Probability of the most likely token, same contexts, each temperature", x: 'step', xTitle: "step: the greedy continuation's token", xType: 'ordinal', xOrder: steps, y: 'top_p', yTitle: 'p(top token)', series: 'temperature', seriesTitle: 'temperature', points: true, yScale: { domain: [0, 1] } }),
        data: perStep,
      },
      {
        name: 'temperature-filters',
        title: `What top-k and top-p leave at T=${T0}`,
        spec: groupedBars({ title: `Mean entropy after each filter at T=${T0}, same contexts`, category: 'filter', categoryTitle: 'filter', group: 'measure', value: 'mean_entropy', valueTitle: 'mean entropy (nats)', order: filtered.map((f) => f.filter) }),
        data: filtered.map((f) => ({ ...f, measure: `T=${T0}` })),
      },
    ],
    numbers: { prompt, context_tokens: greedy.tokens, temperatures: perTemperature, filters: filtered, filter_temperature: T0, samples, seed: o.seed ?? 0, per_step: perStep, order },
  };
}
