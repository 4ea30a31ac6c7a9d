// temperature: greedy decoding (T = 0) against sampling at T = 1.2 with top-k, and the entropy of the
// distribution each token was drawn from, step by step (greedy: the model's own distribution at T = 1).
import { generate } from '../generate.ts';
import { runWithCache } from '../hooks/index.ts';
import { entropy, softmax } from '../sampling/logprobs.ts';
import { encodePrompt, type LabContext, type LabResult } from './common.ts';
import { lines as lineChart } from './figures.ts';

export async function temperatureLab(ctx: LabContext, prompt: string, o: { maxNewTokens?: number; temperature?: number; topK?: number; seed?: number }): Promise<LabResult> {
  const ids = encodePrompt(ctx, prompt);
  const n = o.maxNewTokens ?? 20;
  const hot = { temperature: o.temperature ?? 1.2, topK: o.topK ?? 40 };
  const greedy = await generate(ctx.model, ctx.tokenizer, ids, { maxNewTokens: n, temperature: 0, stopAtEos: false });
  const sampled = await generate(ctx.model, ctx.tokenizer, ids, { maxNewTokens: n, ...hot, seed: o.seed ?? 0, stopAtEos: false });
  const V = ctx.model.vocabSize;
  const entropies = async (tokens: number[], temperature: number, topK: number) => {
    const all = [...ids, ...tokens];
    const { logits } = await runWithCache(ctx.model, all.slice(0, -1), []);
    return tokens.map((_, i) => {
      const row = Array.from(logits.subarray((ids.length - 1 + i) * V, (ids.length + i) * V), (x) => x / temperature);
      if (topK > 0) {
        const kth = [...row].sort((a, b) => b - a)[topK - 1]!;
        row.forEach((x, j) => (row[j] = x < kth ? -Infinity : x));
      }
      return entropy(softmax(row));
    });
  };
  const hGreedy = await entropies(greedy.tokens, 1, 0);
  const hHot = await entropies(sampled.tokens, hot.temperature, hot.topK);
  const hotName = `T=${hot.temperature}, top-k ${hot.topK}`;
  const data = [
    ...hGreedy.map((h, i) => ({ step: i + 1, entropy: h, run: 'T=0 (greedy; model at T=1)', token: ctx.tokenizer.tokenString(greedy.tokens[i]!) })),
    ...hHot.map((h, i) => ({ step: i + 1, entropy: h, run: hotName, token: ctx.tokenizer.tokenString(sampled.tokens[i]!) })),
  ];
  const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / Math.max(a.length, 1);
  return {
    lab: 'temperature',
    base: greedy.text,
    tweak: sampled.text,
    lines: [`mean entropy per step: T=0 ${mean(hGreedy).toFixed(3)} nats, ${hotName} ${mean(hHot).toFixed(3)} nats`],
    figures: [
      {
        name: 'temperature-entropy',
        title: 'Entropy per step',
        spec: lineChart({ title: `Entropy of the next-token distribution per step: greedy vs ${hotName}`, x: 'step', xTitle: 'generated token', y: 'entropy', yTitle: 'entropy (nats)', series: 'run', seriesTitle: 'decoding', points: true }),
        data,
      },
    ],
    numbers: { prompt, greedy_tokens: greedy.tokens, sampled_tokens: sampled.tokens, seed: o.seed ?? 0 },
  };
}
