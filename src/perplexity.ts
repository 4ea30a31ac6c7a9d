// Perplexity over a long token sequence, by sliding windows (`wgpt perplexity`). The sequence is usually far longer
// than the model's context, so it is read in windows of `context` tokens whose starts are `stride` tokens apart:
//
//   ids:       t0 t1 t2 t3 t4 t5 t6 t7 t8 t9          (n = 10, context = 6, stride = 3)
//   window 0:  [t0 ............ t5]                   scores t1 .. t5, each from every token before it
//   window 1:           [t3 ............ t8]          scores t6 .. t8, each from t3 up to the token before it
//   window 2:                    [t6 ....... t9]      scores t9, from t6 t7 t8
//
// Every token but the first is scored exactly once: by the first window that holds it as a target. In window 0 token
// t has the t tokens before it as context; in every later window a token has at least `context - stride` tokens of
// context (t6 above has t3 t4 t5). This is Hugging Face's strided perplexity and llama.cpp's `--ppl-stride`.
// llama.cpp's default mode (no stride) differs: it cuts the text into disjoint chunks of n_ctx tokens and scores
// only the second half of each, so half of the tokens are never scored. Here stride = context / 2 (the default)
// scores all of them with at least as much context as that mode gives the ones it scores.
//
// A window runs on the KV cache in two parts: its context prefix (the tokens before its first target's
// predecessor) as one forward that keeps only the cache, then the rest with every position's logits, in chunks of
// SCORE_CHUNK tokens that each continue the cache, so no more than [SCORE_CHUNK, V] logits are read back at a time.
// Positions restart at 0 in every window (the model sees each window as a whole sequence), so the cache of one
// window cannot be reused by the next: its keys were computed at other positions.
//
// NLL of a target is -log softmax(logits)[target], computed in float64 over the whole row (max subtracted before
// exp), and summed in float64: perplexity = exp(mean NLL).
import { UserError } from './errors.ts';
import type { LanguageModel } from './model/model.ts';

/** Positions whose logits one forward reads back at most: [SCORE_CHUNK, V] floats. */
const SCORE_CHUNK = 64;

export interface PerplexityOptions {
  /** Tokens in a window: at least 2, at most the model's context (model.nCtx, the default). */
  context?: number;
  /** Tokens between the starts of two windows: 1 .. context - 1; default context / 2 (rounded down). */
  stride?: number;
  /** Called after each window, with the running figures. */
  onProgress?: (progress: PerplexityProgress) => void;
}

export interface PerplexityProgress {
  window: number; // windows done, 1 .. windows
  windows: number;
  scored: number; // tokens scored so far
  nllMean: number; // their mean NLL so far
}

export interface PerplexityResult {
  /** exp(nllMean). */
  perplexity: number;
  /** Mean negative log-likelihood of the scored tokens, in nats per token. */
  nllMean: number;
  /** Tokens in the input. */
  tokens: number;
  /** Tokens scored: every token but the first, tokens - 1. */
  scored: number;
  windows: number;
  context: number;
  stride: number;
  /** The NLL of every scored token: tokenNll[i] is that of ids[i + 1]. */
  tokenNll: Float64Array;
}

/** How many windows of `context` tokens, `stride` apart, cover n tokens (the last one ends at the last token). */
export function perplexityWindows(n: number, context: number, stride: number): number {
  return n <= context ? 1 : 1 + Math.ceil((n - context) / stride);
}

/**
 * The perplexity of `model` on `ids`, scored by sliding windows (the header of src/perplexity.ts says which tokens
 * are scored with which context). The ids are scored as given: encode the text first (tokenizer.encode), and add a
 * BOS token in front if the model expects one.
 */
export async function perplexity(model: LanguageModel, ids: readonly number[], options: PerplexityOptions = {}): Promise<PerplexityResult> {
  const n = ids.length;
  const context = options.context ?? model.nCtx;
  if (!(Number.isSafeInteger(context) && context >= 2 && context <= model.nCtx)) {
    throw new UserError(`the perplexity context must be a whole number of tokens in [2, ${model.nCtx}] (the model's context), got ${context}`);
  }
  const stride = options.stride ?? Math.floor(context / 2);
  if (!(Number.isSafeInteger(stride) && stride >= 1 && stride < context)) {
    throw new UserError(`the perplexity stride must be a whole number in [1, ${context - 1}] (below the context of ${context}, so every scored token has context), got ${stride}`);
  }
  if (n < 2) throw new UserError(`perplexity needs at least 2 tokens (the first one is never scored), got ${n}`);

  const windows = perplexityWindows(n, context, stride);
  const tokenNll = new Float64Array(n - 1);
  let nllSum = 0;
  let scoredTo = 1; // targets 1 .. scoredTo - 1 are scored
  for (let w = 0; w < windows; w++) {
    const begin = w * stride;
    const end = Math.min(begin + context, n);
    // targets scoredTo .. end - 1, each predicted from ids[begin .. t - 1]: the logits of input positions t - 1
    const window = ids.slice(begin, end - 1);
    const first = scoredTo - 1 - begin; // window index of the first input whose logits are needed
    if (first > 0) await model.forward(window.slice(0, first), 0);
    for (let a = first; a < window.length; a += SCORE_CHUNK) {
      const chunk = window.slice(a, a + SCORE_CHUNK);
      const { logits } = await model.forward(chunk, a, { allLogits: true });
      for (let j = 0; j < chunk.length; j++) {
        const t = begin + a + j + 1;
        const nll = tokenNllOf(logits, j, model.vocabSize, ids[t]!);
        tokenNll[t - 1] = nll;
        nllSum += nll;
      }
    }
    scoredTo = end;
    options.onProgress?.({ window: w + 1, windows, scored: scoredTo - 1, nllMean: nllSum / (scoredTo - 1) });
  }
  const nllMean = nllSum / (n - 1);
  return { perplexity: Math.exp(nllMean), nllMean, tokens: n, scored: n - 1, windows, context, stride, tokenNll };
}

/** -log softmax(row)[target] of row `r` of logits [T, V], in float64: logsumexp(row) - row[target]. */
export function tokenNllOf(logits: Float32Array, r: number, V: number, target: number): number {
  const row = logits.subarray(r * V, (r + 1) * V);
  let max = -Infinity;
  for (let i = 0; i < V; i++) if (row[i]! > max) max = row[i]!;
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(row[i]! - max);
  return max + Math.log(sum) - row[target]!;
}
