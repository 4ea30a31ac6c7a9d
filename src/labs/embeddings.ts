// embeddings: token embeddings of a list of words projected to 2-D with PCA (ml-pca), labelled. Each word's
// embedding is read at hook_embed (the wte rows the model itself uses), averaged over its tokens when it has
// several. t-SNE is not offered: no small, maintained t-SNE package for JavaScript was found.
import { PCA } from 'ml-pca';
import { runWithCache } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { dims, type LabContext, type LabResult } from './common.ts';
import { labelledScatter } from './figures.ts';

export const DEFAULT_WORDS = ['man', 'woman', 'king', 'queen', 'boy', 'girl', 'prince', 'princess', 'father', 'mother', 'lord', 'lady', 'love', 'hate', 'death', 'life'];

export async function embeddingsLab(ctx: LabContext, words: string[]): Promise<LabResult> {
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
  return {
    lab: 'embeddings',
    lines: [
      `PCA of ${words.length} token embeddings (C = ${C}); PC1 explains ${pct(explained[0]!)}, PC2 ${pct(explained[1]!)}`,
      ...data.map((d) => `  ${d.word.padEnd(10)} ${d.pc1.toFixed(3).padStart(8)} ${d.pc2.toFixed(3).padStart(8)}${d.tokens > 1 ? `  (mean of ${d.tokens} tokens)` : ''}`),
      't-SNE: not available (no maintained JavaScript package); PCA only',
    ],
    figures: [
      {
        name: 'embeddings-pca',
        title: 'PCA of token embeddings',
        spec: labelledScatter({ title: 'Token embeddings projected on their first two principal components', x: 'pc1', xTitle: `PC1 (${pct(explained[0]!)} of variance)`, y: 'pc2', yTitle: `PC2 (${pct(explained[1]!)} of variance)`, label: 'word' }),
        data,
      },
    ],
    numbers: { words, explained_variance: explained.slice(0, 2) },
  };
}
