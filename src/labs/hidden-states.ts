// hidden-states: the residual stream after a block for two sentences that differ in one word ("I love this
// movie" / "I hate this movie"). Every token's activation over all the hidden dimensions (a heatmap, one row per
// token), and apart from it the mean over each sentence's tokens, dimension by dimension, with their difference.
import { runWithCache } from '../hooks/index.ts';
import { checkLayer, dims, encodePrompt, tooSmall, type LabContext, type LabResult } from './common.ts';
import { heatmap, lines as lineChart, showToken } from './figures.ts';

export async function hiddenStatesLab(ctx: LabContext, a: string, b: string, layer?: number): Promise<LabResult> {
  const { C, nLayer } = dims(ctx);
  const l = layer ?? nLayer - 1; // the last block: what the model has made of each token by the end
  checkLayer(ctx, l);
  const name = `blocks.${l}.hook_resid_post`;
  const run = async (text: string) => {
    const ids = encodePrompt(ctx, text);
    return { ids, h: (await runWithCache(ctx.model, ids, [name])).cache.get(name)!.data };
  };
  const [ra, rb] = [await run(a), await run(b)];
  const dimLabel = (d: number) => String(d).padStart(String(C - 1).length, '0');
  const cells: Record<string, unknown>[] = [];
  const rowOrder: string[] = [];
  for (const [tag, { ids, h }] of [['A', ra], ['B', rb]] as const) {
    ids.forEach((id, t) => {
      const row = `${tag}${t}: ${showToken(ctx.tokenizer.tokenString(id))}`;
      rowOrder.push(row);
      for (let d = 0; d < C; d++) cells.push({ token: row, dim: dimLabel(d), value: h[t * C + d]! });
    });
  }
  const mean = (r: { ids: number[]; h: Float32Array }) => Array.from({ length: C }, (_, d) => r.ids.reduce((s, _, t) => s + r.h[t * C + d]!, 0) / r.ids.length);
  const [ma, mb] = [mean(ra), mean(rb)];
  const means = [
    ...ma.map((value, dim) => ({ series: `A: ${a}`, dim, value })),
    ...mb.map((value, dim) => ({ series: `B: ${b}`, dim, value })),
    ...ma.map((x, dim) => ({ series: 'A - B', dim, value: x - mb[dim]! })),
  ];
  const cos = (x: number[], y: number[]) => {
    let dot = 0, nx = 0, ny = 0;
    for (let d = 0; d < x.length; d++) { dot += x[d]! * y[d]!; nx += x[d]! ** 2; ny += y[d]! ** 2; }
    return dot / Math.sqrt(nx * ny);
  };
  const cosine = cos(ma, mb);
  // per position: how alike the two sentences' tokens are (identical before the changed word: attention is causal)
  const T = Math.min(ra.ids.length, rb.ids.length);
  const perPosition = Array.from({ length: T }, (_, t) => cos(Array.from(ra.h.subarray(t * C, (t + 1) * C)), Array.from(rb.h.subarray(t * C, (t + 1) * C))));
  const bound = Math.max(...cells.map((c) => Math.abs(c.value as number)));
  const diff = ma.map((x, d) => ({ d, delta: Math.abs(x - mb[d]!) })).sort((x, y) => y.delta - x.delta).slice(0, 5);
  const ticks = Array.from({ length: C }, (_, d) => d).filter((d) => d % (C <= 128 ? 16 : 64) === 0).map(dimLabel);
  return {
    lab: 'hidden-states',
    lesson: [
      `Each row is one token's residual stream after block ${l}, all ${C} dimensions. Rows before the changed word are`,
      'identical in A and B (attention only looks back); from the changed word on they differ. A few dimensions are large',
      'for every token: they dominate the mean, which is why the two sentences\u2019 means are so alike (cosine near 1).',
    ],
    tooSmall: tooSmall(ctx, 'it learnt the words of Shakespeare, not their sentiment, so "love" and "hate" differ as two tokens, not as opposites', 'hidden-states'),
    lines: [
      `${name}: all ${C} dimensions`,
      `cosine of the two sentences' mean activations: ${cosine.toFixed(4)}`,
      `cosine of A and B token by token: ${perPosition.map((c, t) => `${t}: ${c.toFixed(3)}`).join(', ')}`,
      `dimensions whose means differ most: ${diff.map((x) => `${x.d} (${x.delta.toFixed(3)})`).join(', ')}`,
    ],
    figures: [
      {
        name: `hidden-states-L${l}-tokens`,
        title: 'Per-token activations',
        spec: heatmap({
          title: `Residual stream after block ${l}: one row per token of A and B, every dimension`,
          x: 'dim', y: 'token', xTitle: 'hidden dimension', yTitle: 'token (sentence A or B, position)', value: 'value', valueTitle: 'activation',
          yOrder: rowOrder, diverging: true, domain: [-bound, bound], cell: 20, cellWidth: C <= 128 ? 6 : Math.max(1, Math.floor(768 / C)), xTicks: ticks,
        }),
        data: cells,
      },
      {
        name: `hidden-states-L${l}-mean`,
        title: 'Mean over tokens',
        spec: lineChart({ title: `Mean over each sentence's tokens after block ${l} (cosine ${cosine.toFixed(3)}), and A - B`, x: 'dim', xTitle: 'hidden dimension', y: 'value', yTitle: 'mean activation', series: 'series', seriesTitle: null, width: 720, zeroRule: true }),
        data: means,
      },
    ],
    numbers: { layer: l, hook: name, a_tokens: ra.ids, b_tokens: rb.ids, cosine, per_position_cosine: perPosition },
  };
}
