// embeddings: word vectors projected to 2-D, labelled, twice: with PCA (ml-pca), the linear projection that keeps
// the most variance, and with t-SNE (DruidJS), which keeps each word's nearest neighbours near and says nothing by
// its axes or by the distances between groups. A word's vector is either static, its row of the token embedding
// (hook_embed), or the mean over its tokens of a block's output (the tutorial averages the last block's). The
// analogy pairs (man/woman, king/queen, ...) are drawn as arrows and their differences compared by cosine; the
// control pairs say whether a near-synonym (love/like) sits nearer than an opposite (love/hate).
import { euclidean, TSNE } from '@saehrimnir/druidjs';
import { PCA } from 'ml-pca';
import { runWithCache } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { checkLayer, dims, REAL_MODEL, tooSmall, type LabContext, type LabResult } from './common.ts';
import { labelledScatter } from './figures.ts';

export const DEFAULT_WORDS = ['man', 'woman', 'king', 'queen', 'boy', 'girl', 'prince', 'princess', 'father', 'mother', 'lord', 'lady', 'love', 'like', 'hate', 'death', 'life'];

/** Pairs that differ the same way: their difference vectors should point alike (the analogy). */
const ANALOGY_PAIRS: [string, string][] = [['man', 'woman'], ['king', 'queen'], ['boy', 'girl'], ['prince', 'princess'], ['father', 'mother'], ['lord', 'lady']];
/** A word, a near-synonym and an opposite: the synonym should be the nearer. */
const CONTROL: [string, string, string][] = [['love', 'like', 'hate'], ['life', 'live', 'death']];

/** t-SNE's gradient steps: enough for a few dozen points to settle. */
const TSNE_ITERATIONS = 1000;
/** Below this many words t-SNE has too few neighbours to keep and collapses; PCA only. */
const TSNE_MIN_WORDS = 8;

/** `from`: 'static' or a block index. `seed` fixes t-SNE's random start, so the same words give the same map. */
export async function embeddingsLab(ctx: LabContext, words: string[], seed = 0, from: 'static' | number = dims(ctx).nLayer - 1): Promise<LabResult> {
  if (words.length < 3) throw new UserError('give at least 3 words to project');
  if (from !== 'static') checkLayer(ctx, from);
  const C = dims(ctx).C;
  const hook = from === 'static' ? 'hook_embed' : `blocks.${from}.hook_resid_post`;
  const source = from === 'static' ? 'static token embeddings (hook_embed)' : `mean over its tokens of block ${from}'s output`;
  const vectors: number[][] = [];
  const pieces: number[] = [];
  for (const word of words) {
    const ids = ctx.tokenizer.encode(` ${word}`); // with its leading space, as a word appears mid-sentence
    const e = (await runWithCache(ctx.model, ids, [hook])).cache.get(hook)!.data;
    vectors.push(Array.from({ length: C }, (_, c) => ids.reduce((s, _, t) => s + e[t * C + c]!, 0) / ids.length));
    pieces.push(ids.length);
  }
  const vec = (w: string) => vectors[words.indexOf(w)];
  const cos = (x: number[], y: number[]) => {
    let dot = 0, nx = 0, ny = 0;
    for (let d = 0; d < x.length; d++) { dot += x[d]! * y[d]!; nx += x[d]! ** 2; ny += y[d]! ** 2; }
    return dot / Math.sqrt(nx * ny);
  };
  const minus = (x: number[], y: number[]) => x.map((v, d) => v - y[d]!);

  const pairs = ANALOGY_PAIRS.filter(([a, b]) => vec(a) && vec(b));
  const analogies = pairs.slice(1).map(([a, b]) => ({ pair: `${b}-${a}`, against: `${pairs[0]![1]}-${pairs[0]![0]}`, cos: cos(minus(vec(b)!, vec(a)!), minus(vec(pairs[0]![1])!, vec(pairs[0]![0])!)) }));
  const controls = CONTROL.filter((c) => c.every((w) => vec(w))).map(([w, near, far]) => ({ word: w, near, far, cos_near: cos(vec(w)!, vec(near)!), cos_far: cos(vec(w)!, vec(far)!) }));

  const pca = new PCA(vectors, { center: true });
  const xy = pca.predict(vectors, { nComponents: 2 }).to2DArray();
  const explained = pca.getExplainedVariance();
  const data = words.map((word, i) => ({ word, pc1: xy[i]![0]!, pc2: xy[i]![1]!, tokens: pieces[i]! }));
  const at = (w: string) => data[words.indexOf(w)]!;
  const arrows = pairs.map(([a, b]) => ({ from: a, to: b, x: at(a).pc1, y: at(a).pc2, x2: at(b).pc1, y2: at(b).pc2 }));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

  const lines = [
    `${words.length} words, each the ${source} (C = ${C})`,
    ...analogies.map((x) => `analogy: cos(${x.pair}, ${x.against}) = ${x.cos.toFixed(3)}  (1: the same direction)`),
    ...controls.map((x) => `control: cos(${x.word}, ${x.near}) = ${x.cos_near.toFixed(3)}, cos(${x.word}, ${x.far}) = ${x.cos_far.toFixed(3)}  (${x.cos_near > x.cos_far ? `${x.near} is nearer, as it should be` : `${x.far} is nearer than ${x.near}`})`),
    `PCA: PC1 explains ${pct(explained[0]!)}, PC2 ${pct(explained[1]!)}`,
    ...data.map((d) => `  ${d.word.padEnd(10)} ${d.pc1.toFixed(3).padStart(8)} ${d.pc2.toFixed(3).padStart(8)}${d.tokens > 1 ? `  (mean of ${d.tokens} tokens)` : ''}`),
  ];
  const figures: LabResult['figures'] = [
    {
      name: 'embeddings-pca',
      title: 'PCA of word vectors',
      spec: {
        title: `Word vectors (${source}) on their first two principal components; arrows: analogy pairs`,
        width: 480,
        height: 400,
        layer: [
          { data: { values: arrows }, mark: { type: 'rule', color: '#e45756', strokeWidth: 1.5 }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, x2: { field: 'x2' }, y2: { field: 'y2' } } },
          scatterLayer({ title: '', x: 'pc1', xTitle: `PC1 (${pct(explained[0]!)} of variance)`, y: 'pc2', yTitle: `PC2 (${pct(explained[1]!)} of variance)`, label: 'word' }),
          { data: { values: arrows }, mark: { type: 'point', shape: 'triangle-right', color: '#e45756', filled: true, size: 50 }, encoding: { x: { field: 'x2', type: 'quantitative' }, y: { field: 'y2', type: 'quantitative' }, angle: { field: 'angle', type: 'quantitative', scale: null } }, transform: [{ calculate: '(atan2(-(datum.y2 - datum.y), datum.x2 - datum.x) * 180 / PI + 360) % 360', as: 'angle' }] },
        ],
      } as unknown as LabResult['figures'][number]['spec'],
      data,
    },
  ];
  let tsneNumbers: Record<string, unknown> = { skipped: `fewer than ${TSNE_MIN_WORDS} words` };
  if (words.length >= TSNE_MIN_WORDS) {
    // perplexity is the effective number of neighbours each point keeps; it must stay well below the number of
    // points (the usual 30..50 assume thousands), so a third of them, at most 5
    const perplexity = Math.max(2, Math.min(5, Math.floor((words.length - 1) / 3)));
    const placed = new TSNE(vectors, { d: 2, perplexity, metric: euclidean, seed }).transform(TSNE_ITERATIONS);
    const tsne = words.map((word, i) => ({ word, tsne1: placed[i]![0]!, tsne2: placed[i]![1]!, tokens: pieces[i]! }));
    lines.push(`t-SNE (perplexity ${perplexity}, ${TSNE_ITERATIONS} iterations, seed ${seed}):`, ...tsne.map((d) => `  ${d.word.padEnd(10)} ${d.tsne1.toFixed(3).padStart(8)} ${d.tsne2.toFixed(3).padStart(8)}`));
    figures.push({
      name: 'embeddings-tsne',
      title: 't-SNE of word vectors',
      spec: labelledScatter({ title: `Word vectors placed by t-SNE (perplexity ${perplexity}): neighbours stay near, axes mean nothing`, x: 'tsne1', xTitle: 't-SNE 1 (no units)', y: 'tsne2', yTitle: 't-SNE 2 (no units)', label: 'word' }),
      data: tsne,
    });
    tsneNumbers = { perplexity, iterations: TSNE_ITERATIONS, seed, metric: 'euclidean' };
  } else {
    lines.push(`no t-SNE: with fewer than ${TSNE_MIN_WORDS} words it has too few neighbours to keep and collapses`);
  }
  const weak = analogies.some((x) => x.cos < 0.5) || controls.some((x) => x.cos_far >= x.cos_near);
  return {
    lab: 'embeddings',
    lesson: [
      'In a model that has learnt meaning, the arrows of the analogy pairs point the same way (cos of the differences',
      'near 1) and a near-synonym sits nearer than an opposite. Look at the arrows and at the printed cosines.',
    ],
    tooSmall: weak ? tooSmall(ctx, 'trained on 1 MB of Shakespeare, its word vectors carry little meaning (see the cosines above)', 'embeddings', from === 'static' ? '--from static' : '') : undefined,
    lines,
    figures,
    numbers: { words, from: from === 'static' ? 'static' : `block ${from}`, hook, analogies, controls, arrows, explained_variance: explained.slice(0, 2), tsne: tsneNumbers, real_model: REAL_MODEL },
  };
}

/** The labelled scatter as one layer of a larger chart (its size and title belong to the chart). */
function scatterLayer(o: Parameters<typeof labelledScatter>[0]) {
  const { title: _t, width: _w, height: _h, ...layer } = labelledScatter(o) as unknown as Record<string, unknown>;
  return layer;
}
