// From logits to probabilities: softmax, log-softmax, the most likely tokens, entropy.
//
// Logits are one Float32Array of V values (V = vocabulary size); -Infinity marks a token a filter removed,
// and gets probability 0. Sums run in float64 so that a 50257-way softmax loses nothing worth reading;
// softmax keeps float64 (the filters add probabilities up), logSoftmax returns float32 like the logits.

/**
 * Probabilities exp(x_i - max) / sum_j exp(x_j - max), in float64. -Infinity logits get 0. Into `into` where given
 * (a sampler's buffer, reused every token), else a new array.
 */
export function softmax(logits: ArrayLike<number>, into?: Float64Array): Float64Array {
  const V = logits.length;
  const max = maxLogit(logits);
  const probs = into ?? new Float64Array(V);
  if (max === -Infinity) throw new Error('softmax: every logit is -Infinity, so no token is left to choose');
  // subtracting the max keeps exp() from overflowing; the result is the same
  let sum = 0;
  for (let i = 0; i < V; i++) {
    const p = Math.exp(logits[i]! - max);
    probs[i] = p;
    sum += p;
  }
  for (let i = 0; i < V; i++) probs[i] = probs[i]! / sum;
  return probs;
}

/** log(softmax(x)) = x_i - logsumexp(x), summed in float64. -Infinity stays -Infinity. */
export function logSoftmax(logits: ArrayLike<number>): Float32Array {
  const V = logits.length;
  const logZ = logSumExp(logits, 'logSoftmax');
  const out = new Float32Array(V);
  for (let i = 0; i < V; i++) out[i] = logits[i]! - logZ;
  return out;
}

/** log sum_j exp(x_j), without overflow: the max plus the log of the float64 sum of exp(x_j - max). */
export function logSumExp(logits: ArrayLike<number>, what = 'logSumExp'): number {
  const max = maxLogit(logits);
  if (max === -Infinity) throw new Error(`${what}: every logit is -Infinity, so no token is left to choose`);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i]! - max);
  return max + Math.log(sum);
}

/**
 * What topLogprobs gives (the k most likely ids with their log-probabilities, as logSoftmax rounds them to
 * float32, ties in that rounding to the lower id) and the log-probability of `id`, without a row of
 * log-probabilities: one pass for the log-sum-exp, one for the candidates. Rounding to float32 keeps the order of
 * the raw logits but can tie neighbours, so k + TIE_MARGIN candidates are ranked, and where the last of them ties
 * the k-th the whole row is (the same answer, slower).
 */
export function logprobsOf(logits: Float32Array, id: number, k: number): { logprob: number; top: { id: number; logprob: number }[] } {
  const logZ = logSumExp(logits, 'logSoftmax');
  const lp = (i: number) => Math.fround(logits[i]! - logZ);
  if (k === 0) return { logprob: lp(id), top: [] };
  const candidates = idsByValueDescending(logits, k + TIE_MARGIN).map((i) => ({ id: i, logprob: lp(i) }));
  candidates.sort((a, b) => b.logprob - a.logprob || a.id - b.id);
  const top = candidates.slice(0, k);
  const covered = candidates.length < k + TIE_MARGIN || candidates.at(-1)!.logprob < top.at(-1)!.logprob;
  return { logprob: lp(id), top: covered ? top : topLogprobs(logits, k) };
}
const TIE_MARGIN = 8;

/**
 * The k most likely tokens of the raw logits with their log-probabilities, most likely first (ties: lower id
 * first). This is the `top_logprobs` of `wgpt generate --json`: taken before any sampling filter.
 */
export function topLogprobs(logits: ArrayLike<number>, k: number): { id: number; logprob: number }[] {
  const logprobs = logSoftmax(logits);
  return idsByValueDescending(logprobs, k).map((id) => ({ id, logprob: logprobs[id]! }));
}

/** Entropy -sum p ln p in nats (0 for a certain outcome, ln V for a uniform one). Zero probabilities add 0. */
export function entropy(probs: ArrayLike<number>): number {
  let h = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** The largest value (-Infinity when every value is -Infinity or the array is empty). */
export function maxLogit(logits: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i]! > max) max = logits[i]!;
  return max;
}

/** The index of the largest value; the lowest index wins a tie (greedy decoding is deterministic). */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i]! > values[best]!) best = i;
  return best;
}

/**
 * The ids of the `limit` largest finite values, largest first, lower id first among equal values.
 * -Infinity entries (removed tokens) are never returned, so there may be fewer than `limit`.
 */
export function idsByValueDescending(values: ArrayLike<number>, limit = values.length): number[] {
  if (limit < 64) return topIds(values, limit);
  const ids: number[] = [];
  for (let i = 0; i < values.length; i++) if (values[i]! > -Infinity) ids.push(i);
  ids.sort((a, b) => values[b]! - values[a]! || a - b);
  return ids.length > limit ? ids.slice(0, limit) : ids;
}

/**
 * idsByValueDescending for a small `limit`: one pass keeping the best `limit` ids in order, by insertion. Sorting
 * a whole vocabulary (50k-150k ids) for 5 candidates would cost more than a decode step on a fast GPU.
 */
function topIds(values: ArrayLike<number>, limit: number): number[] {
  const best: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v > -Infinity)) continue;
    // ids arrive in increasing order, so an equal value never displaces an earlier (lower) id
    if (best.length === limit && !(v > values[best[limit - 1]!]!)) continue;
    let at = best.length === limit ? limit - 1 : best.length;
    while (at > 0 && v > values[best[at - 1]!]!) {
      best[at] = best[at - 1]!;
      at--;
    }
    best[at] = i;
  }
  return best;
}
