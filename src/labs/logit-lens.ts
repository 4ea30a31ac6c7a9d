// logit-lens: read each block's residual stream through the final norm and the unembedding, as if the model
// stopped there. A table of the top token per layer at the last position, and a heatmap of the probability each
// layer gives the token the model finally predicts, by layer and position.
import { logitLens } from '../hooks/index.ts';
import { softmax } from '../sampling/logprobs.ts';
import { encodePrompt, type LabContext, type LabResult } from './common.ts';
import { heatmap, showToken, tokenLabels } from './figures.ts';

export async function logitLensLab(ctx: LabContext, prompt: string): Promise<LabResult> {
  const ids = encodePrompt(ctx, prompt);
  const lens = await logitLens(ctx.model, ids);
  const { T, V } = lens;
  const labels = tokenLabels(ids.map((id) => ctx.tokenizer.tokenString(id)));
  const row = (logits: Float32Array, t: number) => logits.subarray(t * V, (t + 1) * V);
  const argmax = (p: ArrayLike<number>) => {
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
    return best;
  };
  const finalIds = labels.map((_, t) => argmax(row(lens.logits, t)));
  const data: Record<string, unknown>[] = [];
  const lines = [`top token per layer after each position (the model's final prediction last)`];
  lens.layers.forEach((logits, l) => {
    const tops: string[] = [];
    labels.forEach((position, t) => {
      const p = softmax(row(logits, t));
      const top = argmax(p);
      tops.push(showToken(ctx.tokenizer.tokenString(top)));
      data.push({ layer: `layer ${l}`, position, p: p[finalIds[t]!]!, top: showToken(ctx.tokenizer.tokenString(top)), final: showToken(ctx.tokenizer.tokenString(finalIds[t]!)) });
    });
    lines.push(`  layer ${l}: ${tops.join(' | ')}`);
  });
  const layerOrder = lens.layers.map((_, l) => `layer ${l}`);
  return {
    lab: 'logit-lens',
    lines,
    figures: [
      {
        name: 'logit-lens',
        title: 'Logit lens',
        spec: heatmap({
          title: 'Logit lens: probability of the final prediction, by layer (cell text: that layer\u2019s top token)',
          x: 'position', y: 'layer', xTitle: 'position (token)', yTitle: 'residual stream after block', value: 'p', valueTitle: 'p(final token)',
          xOrder: labels, yOrder: layerOrder, text: 'top', cell: 46,
        }),
        data,
      },
    ],
    numbers: { prompt, tokens: ids, final_predictions: finalIds },
  };
}
