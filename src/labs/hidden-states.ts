// hidden-states: the residual stream after a layer for two sentences that differ in one word ("I love this
// movie" / "I hate this movie"): each token's activation over the hidden dimensions, and the mean over tokens of
// each sentence side by side.
import { runWithCache } from '../hooks/index.ts';
import { checkLayer, dims, encodePrompt, type LabContext, type LabResult } from './common.ts';
import { lines as lineChart, showToken } from './figures.ts';

export async function hiddenStatesLab(ctx: LabContext, a: string, b: string, layer: number, dimsShown = 64): Promise<LabResult> {
  checkLayer(ctx, layer);
  const name = `blocks.${layer}.hook_resid_post`;
  const C = dims(ctx).C;
  const D = Math.min(dimsShown, C);
  const run = async (text: string) => {
    const ids = encodePrompt(ctx, text);
    return { ids, h: (await runWithCache(ctx.model, ids, [name])).cache.get(name)!.data };
  };
  const [ra, rb] = [await run(a), await run(b)];
  const curves: Record<string, unknown>[] = [];
  for (const { ids, h } of [ra, rb]) {
    ids.forEach((id, t) => {
      for (let d = 0; d < D; d++) curves.push({ token: `${ids === ra.ids ? 'A' : 'B'}${t}: ${showToken(ctx.tokenizer.tokenString(id))}`, dim: d, value: h[t * C + d]! });
    });
  }
  const mean = (r: { ids: number[]; h: Float32Array }) => Array.from({ length: C }, (_, d) => r.ids.reduce((s, _, t) => s + r.h[t * C + d]!, 0) / r.ids.length);
  const [ma, mb] = [mean(ra), mean(rb)];
  const means = [...ma.slice(0, D).map((value, dim) => ({ sentence: `A: ${a}`, dim, value })), ...mb.slice(0, D).map((value, dim) => ({ sentence: `B: ${b}`, dim, value }))];
  let dot = 0, na = 0, nb = 0;
  for (let d = 0; d < C; d++) { dot += ma[d]! * mb[d]!; na += ma[d]! ** 2; nb += mb[d]! ** 2; }
  const cosine = dot / Math.sqrt(na * nb);
  const diff = ma.map((x, d) => ({ d, delta: Math.abs(x - mb[d]!) })).sort((x, y) => y.delta - x.delta).slice(0, 5);
  return {
    lab: 'hidden-states',
    lines: [
      `blocks.${layer}.hook_resid_post, first ${D} of ${C} dimensions`,
      `cosine similarity of the two sentences' mean activations: ${cosine.toFixed(4)}`,
      `dimensions that differ most: ${diff.map((x) => `${x.d} (${x.delta.toFixed(3)})`).join(', ')}`,
    ],
    figures: [
      { name: `hidden-states-L${layer}-tokens`, title: 'Per-token activations', spec: lineChart({ title: `Activations after block ${layer}, one curve per token`, x: 'dim', xTitle: 'hidden dimension', y: 'value', yTitle: 'activation', series: 'token', seriesTitle: 'token (A/B sentence)', width: 640 }), data: curves },
      { name: `hidden-states-L${layer}-mean`, title: 'Mean activation', spec: lineChart({ title: `Mean activation over tokens after block ${layer}: A vs B`, x: 'dim', xTitle: 'hidden dimension', y: 'value', yTitle: 'mean activation', series: 'sentence', seriesTitle: 'sentence', width: 640 }), data: means },
    ],
    numbers: { a, b, layer, cosine, tokens_a: ra.ids, tokens_b: rb.ids },
  };
}
