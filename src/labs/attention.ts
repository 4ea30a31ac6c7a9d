// attention: where each token looks. Three figures from blocks.L.attn.hook_pattern [NH, T, T]: one head, every
// head of the layer side by side, and the mean over heads.
import { runWithCache } from '../hooks/index.ts';
import { checkHead, checkLayer, dims, encodePrompt, type LabContext, type LabResult } from './common.ts';
import { heatmap, tokenLabels } from './figures.ts';

export async function attentionLab(ctx: LabContext, prompt: string, layer: number, head: number): Promise<LabResult> {
  checkLayer(ctx, layer);
  checkHead(ctx, head);
  const ids = encodePrompt(ctx, prompt);
  const T = ids.length;
  const NH = dims(ctx).NH;
  const name = `blocks.${layer}.attn.hook_pattern`;
  const pattern = (await runWithCache(ctx.model, ids, [name])).cache.get(name)!.data; // [NH, T, T]
  const labels = tokenLabels(ids.map((id) => ctx.tokenizer.tokenString(id)));
  const at = (h: number, q: number, k: number) => pattern[(h * T + q) * T + k]!;
  const cells = (h: number) => labels.flatMap((query, q) => labels.map((key, k) => ({ head: h, query, key, weight: k <= q ? at(h, q, k) : null })));
  const mean = labels.flatMap((query, q) => labels.map((key, k) => {
    let s = 0;
    for (let h = 0; h < NH; h++) s += at(h, q, k);
    return { query, key, weight: k <= q ? s / NH : null };
  }));
  const common = { x: 'key', y: 'query', xTitle: 'attended-to token (key)', yTitle: 'attending token (query)', value: 'weight', valueTitle: 'attention', xOrder: labels, yOrder: labels, domain: [0, 1] as [number, number] };
  const lines = [`layer ${layer}, head ${head}: the token each position attends to most`];
  labels.forEach((query, q) => {
    let best = 0;
    for (let k = 1; k <= q; k++) if (at(head, q, k) > at(head, q, best)) best = k;
    lines.push(`  ${query.padEnd(18)} -> ${labels[best]} (${at(head, q, best).toFixed(3)})`);
  });
  return {
    lab: 'attention',
    lesson: [
      "Each row is one token's attention over itself and the tokens before it (a row sums to 1; above the diagonal is masked).",
      'Look for a diagonal just below the main one (a previous-token head), a bright first column (a resting place when',
      'nothing else is relevant), and bright cells on an earlier copy of the same token (an induction head).',
    ],
    lines,
    figures: [
      { name: `attention-L${layer}H${head}`, title: `Layer ${layer} head ${head}`, spec: heatmap({ ...common, title: `Attention pattern, layer ${layer} head ${head}` }), data: cells(head) },
      {
        name: `attention-L${layer}-all-heads`,
        title: `Layer ${layer}, all heads`,
        spec: heatmap({ ...common, xTitle: 'key', yTitle: 'query', title: `Attention patterns of every head in layer ${layer}`, cell: 20, facet: { field: 'head', title: 'head', columns: Math.min(NH, 4) } }),
        data: Array.from({ length: NH }, (_, h) => cells(h)).flat(),
      },
      { name: `attention-L${layer}-mean`, title: `Layer ${layer}, mean over heads`, spec: heatmap({ ...common, title: `Attention averaged over the ${NH} heads of layer ${layer}` }), data: mean },
    ],
    numbers: { prompt, tokens: ids, layer, head },
  };
}
