// logit-lens: read the residual stream through the final norm and the unembedding, as if the model stopped there:
// first the embeddings alone (the stream entering block 0), then after each block. A table of the top token per
// layer at every position, and a heatmap of the probability each layer gives the token the model finally predicts.
import { logitLens, runWithCache } from '../hooks/index.ts';
import { softmax } from '../sampling/logprobs.ts';
import { DEFAULT_PROMPT, encodePrompt, tooSmall, type LabContext, type LabResult } from './common.ts';
import { heatmap, showToken, tokenLabels } from './figures.ts';

export async function logitLensLab(ctx: LabContext, prompt: string): Promise<LabResult> {
  const ids = encodePrompt(ctx, prompt);
  const lens = await logitLens(ctx.model, ids);
  const { T, V } = lens;
  // the embedding row: token + position embeddings, the stream before any block has written to it
  const embedded = (await runWithCache(ctx.model, ids, ['blocks.0.hook_resid_pre'])).cache.get('blocks.0.hook_resid_pre')!.data;
  const streams = [{ name: 'embeddings', logits: await ctx.model.unembed!(embedded) }, ...lens.layers.map((logits, l) => ({ name: `after block ${l}`, logits }))];
  const labels = tokenLabels(ids.map((id) => ctx.tokenizer.tokenString(id)));
  const row = (logits: Float32Array, t: number) => logits.subarray(t * V, (t + 1) * V);
  const argmax = (p: ArrayLike<number>) => {
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
    return best;
  };
  const tok = (id: number) => showToken(ctx.tokenizer.tokenString(id));
  const finalIds = labels.map((_, t) => argmax(row(lens.logits, t)));
  const data: Record<string, unknown>[] = [];
  const lines = [`top token at each position, read after each block (the last row is the model's own prediction)`];
  for (const { name, logits } of streams) {
    const tops: string[] = [];
    for (let t = 0; t < T; t++) {
      const p = softmax(row(logits, t));
      const top = argmax(p);
      tops.push(tok(top));
      data.push({ layer: name, position: labels[t], p: p[finalIds[t]!]!, top: tok(top), final: tok(finalIds[t]!) });
    }
    lines.push(`  ${name.padEnd(16)} ${tops.join(' | ')}`);
  }
  const last = data.filter((d) => d.position === labels[T - 1]).map((d) => `${d.layer} ${(d.p as number).toFixed(3)}`);
  lines.push(`p(final prediction ${tok(finalIds[T - 1]!)}) at the last position: ${last.join(', ')}`);
  return {
    lab: 'logit-lens',
    lesson: [
      "Read each row as the model's guess if it stopped there; the embeddings row is before any block has run. Look for",
      'the row where the final prediction (bright cells) takes over at each position, and how early: easy tokens settle first.',
    ],
    tooSmall: tooSmall(ctx, 'with 4 blocks the guess settles in a step or two, not the gradual refinement the lens shows in deeper models', 'logit-lens', prompt === DEFAULT_PROMPT ? '' : `--prompt ${JSON.stringify(prompt)}`),
    lines,
    figures: [
      {
        name: 'logit-lens',
        title: 'Logit lens',
        spec: heatmap({
          title: "Logit lens: probability of the model's final prediction, read after each block (cell text: that row's top token)",
          x: 'position', y: 'layer', xTitle: 'position (token)', yTitle: 'residual stream read', value: 'p', valueTitle: 'p(final token)',
          xOrder: labels, yOrder: streams.map((s) => s.name), text: 'top', domain: [0, 1], cell: 56,
        }),
        data,
      },
    ],
    numbers: { prompt, tokens: ids, final_predictions: finalIds, rows: streams.map((s) => s.name) },
  };
}
