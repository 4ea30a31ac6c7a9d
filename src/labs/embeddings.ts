// embeddings: token embeddings of a list of words projected to 2-D, labelled, twice: with PCA (ml-pca), the linear
// projection that keeps the most variance, and with t-SNE (DruidJS), which keeps each word's nearest neighbours
// near and says nothing by its axes or by the distances between groups. Each word's embedding is read at
// hook_embed (the rows of the token embedding the model itself uses), averaged over its tokens when it has several.
import { euclidean, TSNE } from '@saehrimnir/druidjs';
import { PCA } from 'ml-pca';
import { runWithCache } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { dims, type LabContext, type LabResult } from './common.ts';
import { labelledScatter } from './figures.ts';

export const DEFAULT_WORDS = ['man', 'woman', 'king', 'queen', 'boy', 'girl', 'prince', 'princess', 'father', 'mother', 'lord', 'lady', 'love', 'hate', 'death', 'life'];

/** t-SNE's gradient steps: enough for a few dozen points to settle. */
const TSNE_ITERATIONS = 1000;

/** `seed` fixes t-SNE's random start, so the same words give the same map. */
export async function embeddingsLab(ctx: LabContext, words: string[], seed = 0): Promise<LabResult> {
  if (words.length < 3) throw new UserError('give at least 3 words to project');
  const C = dims(ctx).C;
  const vectors: number[][] = [];
  const pieces: number[] = [];
  for (const word of words) {
    const ids = ctx.tokenizer.encode(` ${word}`); // with its leading space, as a word appears mid-sentence
    const e = (await runWithCache(ctx.model, ids, ['hook_embed'])).cache.get('hook_embed')!.data;
    vectors.push(Array.from({ length: C }, (_, c) => ids.reduce((s, _, t) => s + e[t * C + c]!, 0) / ids.length));
    pieces.push(ids.length);
  }
  const pca = new PCA(vectors, { center: true });
  const xy = pca.predict(vectors, { nComponents: 2 }).to2DArray();
  const explained = pca.getExplainedVariance();
  const data = words.map((word, i) => ({ word, pc1: xy[i]![0]!, pc2: xy[i]![1]!, tokens: pieces[i]! }));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

  // perplexity is the effective number of neighbours each point keeps; it must stay well below the number of
  // points (the usual 30..50 assume thousands), so a third of them, at most 5
  const perplexity = Math.max(1, Math.min(5, Math.floor((words.length - 1) / 3)));
  const placed = new TSNE(vectors, { d: 2, perplexity, metric: euclidean, seed }).transform(TSNE_ITERATIONS);
  const tsne = words.map((word, i) => ({ word, tsne1: placed[i]![0]!, tsne2: placed[i]![1]!, tokens: pieces[i]! }));
  return {
    lab: 'embeddings',
    lines: [
      `PCA of ${words.length} token embeddings (C = ${C}); PC1 explains ${pct(explained[0]!)}, PC2 ${pct(explained[1]!)}`,
      ...data.map((d) => `  ${d.word.padEnd(10)} ${d.pc1.toFixed(3).padStart(8)} ${d.pc2.toFixed(3).padStart(8)}${d.tokens > 1 ? `  (mean of ${d.tokens} tokens)` : ''}`),
      `t-SNE (perplexity ${perplexity}, ${TSNE_ITERATIONS} iterations, seed ${seed}):`,
      ...tsne.map((d) => `  ${d.word.padEnd(10)} ${d.tsne1.toFixed(3).padStart(8)} ${d.tsne2.toFixed(3).padStart(8)}`),
    ],
    figures: [
      {
        name: 'embeddings-pca',
        title: 'PCA of token embeddings',
        spec: labelledScatter({ title: 'Token embeddings projected on their first two principal components', x: 'pc1', xTitle: `PC1 (${pct(explained[0]!)} of variance)`, y: 'pc2', yTitle: `PC2 (${pct(explained[1]!)} of variance)`, label: 'word' }),
        data,
      },
      {
        name: 'embeddings-tsne',
        title: 't-SNE of token embeddings',
        spec: labelledScatter({ title: `Token embeddings placed by t-SNE (perplexity ${perplexity}): neighbours stay near`, x: 'tsne1', xTitle: 't-SNE 1 (no units)', y: 'tsne2', yTitle: 't-SNE 2 (no units)', label: 'word' }),
        data: tsne,
      },
    ],
    numbers: { words, explained_variance: explained.slice(0, 2), tsne: { perplexity, iterations: TSNE_ITERATIONS, seed, metric: 'euclidean' } },
  };
}
