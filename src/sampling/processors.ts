// Logits processors: the steps between the model's logits and the token a sampler draws.
//
// Each one is a small pure function: it takes the logits of the next position (a Float32Array of V values,
// V = vocabulary size), returns a new array, and leaves its input alone. -Infinity marks a removed token.
// They run in this order, the same in Node and in the browser (see processLogits):
//
//   1. logit bias           add a fixed value to chosen tokens            (--logit-bias)
//   2. repetition penalty   make tokens already in the context less likely (--repetition-penalty)
//   3. no-repeat-ngram      ban tokens that would repeat an n-gram          (--no-repeat-ngram)
//   4. temperature          sharpen (< 1) or flatten (> 1) the distribution (--temperature)
//   5. top-k                keep the k most likely tokens                   (--top-k)
//   6. top-p                keep the smallest set with probability >= p     (--top-p)
//   7. min-p                drop tokens far less likely than the best one   (--min-p)
//   8. typical-p            keep the tokens of typical surprise             (--typical-p)
//
// Steps 1-3 change what the model "wants"; greedy decoding (temperature 0) takes the argmax after them.
// Steps 4-8 shape the distribution a token is drawn from. The truncation filters (5-8) each recompute
// probabilities from what the previous step left, so top-p after top-k measures mass among the k survivors.
import { idsByValueDescending, softmax } from './logprobs.ts';
import { SamplingOptionError, type ResolvedSamplingOptions } from './options.ts';

/** logits[id] += bias for each [id, bias] pair. A bias of -Infinity bans the token. */
export function applyLogitBias(logits: Float32Array, bias: Iterable<readonly [number, number]>): Float32Array {
  const out = logits.slice();
  for (const [id, value] of bias) {
    if (id >= out.length) {
      throw new SamplingOptionError(`--logit-bias token ${id} is outside the vocabulary (ids 0..${out.length - 1})`);
    }
    out[id] = out[id]! + value;
  }
  return out;
}

/**
 * The CTRL / Hugging Face repetition penalty: for every token already in the context (prompt included),
 * a positive logit is divided by `penalty` and a negative one multiplied by it, so with penalty > 1 the token
 * always becomes less likely. (Dividing a negative logit would make it *more* likely; hence the two cases.)
 * Each token is penalised once, however often it occurs.
 */
export function applyRepetitionPenalty(logits: Float32Array, context: readonly number[], penalty: number): Float32Array {
  const out = logits.slice();
  for (const id of new Set(context)) {
    const x = out[id];
    if (x === undefined) continue; // an id outside this vocabulary cannot be penalised
    out[id] = x > 0 ? x / penalty : x * penalty;
  }
  return out;
}

/**
 * Bans every token that would complete an n-gram (n = `n` tokens) already present in the context: if the
 * last n-1 tokens occurred before, followed by token t, then t is banned now. With n = 1 every token of
 * the context is banned. Nothing is banned while the context is shorter than n-1.
 */
export function applyNoRepeatNgram(logits: Float32Array, context: readonly number[], n: number): Float32Array {
  const out = logits.slice();
  const T = context.length;
  if (n < 1 || T + 1 < n) return out;
  const prefixStart = T - (n - 1); // the last n-1 tokens, which the next token would extend into an n-gram
  // every earlier n-gram context[i .. i+n-1] whose first n-1 tokens equal that prefix
  for (let i = 0; i + n - 1 < T; i++) {
    let same = true;
    for (let j = 0; j < n - 1 && same; j++) same = context[i + j] === context[prefixStart + j];
    if (same) {
      const banned = context[i + n - 1]!;
      if (banned < out.length) out[banned] = -Infinity;
    }
  }
  return out;
}

/**
 * logits / temperature, for temperature > 0 (temperature 0, greedy, is the sampler's argmax instead); into `into`
 * where given (a sampler's buffer, reused every token), else a new array.
 */
export function applyTemperature(logits: Float32Array, temperature: number, into?: Float32Array): Float32Array {
  const out = into ?? new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i]! / temperature;
  return out;
}

/**
 * Keeps exactly the k largest logits (fewer if fewer are left) and sets the rest to -Infinity. Among equal
 * logits at the cut the lower ids are kept, so the count is exact and the result deterministic.
 */
export function topKFilter(logits: Float32Array, k: number, into?: Float32Array): Float32Array {
  return keepOnly(logits, idsByValueDescending(logits, k), into);
}

/**
 * Nucleus (top-p) filtering: sort tokens from most to least likely and keep the shortest prefix whose
 * probabilities add up to at least p. The most likely token is always kept.
 */
export function topPFilter(logits: Float32Array, p: number, into?: Float32Array, probsInto?: Float64Array): Float32Array {
  const probs = softmax(logits, probsInto);
  const kept: number[] = [];
  let mass = 0;
  for (const id of idsByValueDescending(logits)) {
    kept.push(id);
    mass += probs[id]!;
    if (mass >= p) break;
  }
  return keepOnly(logits, kept, into);
}

/**
 * Min-p filtering: drop every token whose probability is below minP times the probability of the most
 * likely token. The threshold follows the model's confidence: strict when one token dominates, loose when
 * many are close. The most likely token is always kept (minP <= 1).
 */
export function minPFilter(logits: Float32Array, minP: number, into?: Float32Array, probsInto?: Float64Array): Float32Array {
  const probs = softmax(logits, probsInto);
  let maxProb = 0;
  for (let i = 0; i < probs.length; i++) maxProb = Math.max(maxProb, probs[i]!);
  const threshold = minP * maxProb;
  const out = copyOf(logits, into);
  for (let i = 0; i < out.length; i++) if (probs[i]! < threshold) out[i] = -Infinity;
  return out;
}

/**
 * Locally typical sampling (Meister et al. 2022), as Hugging Face's TypicalLogitsWarper does it. The entropy
 * H = -sum p ln p is the surprise the model expects; a token's own surprise is -ln p. Tokens are ranked by
 * how far their surprise is from H, |-ln p - H|, and the closest ones are kept until their probability
 * reaches `mass` (the token that crosses the line included, and any tied with it). At least one is kept.
 */
export function typicalFilter(logits: Float32Array, mass: number, into?: Float32Array, probsInto?: Float64Array): Float32Array {
  const probs = softmax(logits, probsInto);
  let H = 0;
  for (let i = 0; i < probs.length; i++) if (probs[i]! > 0) H -= probs[i]! * Math.log(probs[i]!);
  // distance of each remaining token's surprise from the expected surprise
  const distance = new Float64Array(logits.length).fill(Infinity);
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    if (probs[i]! > 0) {
      distance[i] = Math.abs(-Math.log(probs[i]!) - H);
      ids.push(i);
    }
  }
  ids.sort((a, b) => distance[a]! - distance[b]! || a - b);
  // the first position at which the cumulative probability reaches `mass` is the last one kept
  let last = 0;
  let cumulative = 0;
  for (; last < ids.length - 1; last++) {
    cumulative += probs[ids[last]!]!;
    if (cumulative >= mass) break;
  }
  const cutoff = distance[ids[last]!]!;
  const out = copyOf(logits, into);
  for (let i = 0; i < out.length; i++) if (distance[i]! > cutoff) out[i] = -Infinity;
  return out;
}

/** Whether steps 1-3 change anything: a logit bias, a repetition penalty or a no-repeat n-gram. */
export function penalises(o: ResolvedSamplingOptions): boolean {
  return o.logitBias.length > 0 || o.repetitionPenalty !== 1 || o.noRepeatNgram > 0;
}

/** Steps 1-3: bias and penalties, the part of processing that greedy decoding uses too. */
export function applyPenalties(logits: Float32Array, context: readonly number[], o: ResolvedSamplingOptions): Float32Array {
  let x = logits;
  if (o.logitBias.length > 0) x = applyLogitBias(x, o.logitBias);
  if (o.repetitionPenalty !== 1) x = applyRepetitionPenalty(x, context, o.repetitionPenalty);
  if (o.noRepeatNgram > 0) x = applyNoRepeatNgram(x, context, o.noRepeatNgram);
  return x === logits ? logits.slice() : x;
}

/** Steps 4-8: temperature and the truncation filters, for sampling (temperature > 0). */
export function applyFilters(logits: Float32Array, o: ResolvedSamplingOptions, scratch?: FilterScratch): Float32Array {
  let x = logits;
  // with scratch, each step writes the row the step before did not
  const row = () => scratch?.other(x);
  if (o.temperature !== 1) x = applyTemperature(x, o.temperature, row());
  if (o.topK > 0) x = topKFilter(x, o.topK, row());
  if (o.topP < 1) x = topPFilter(x, o.topP, row(), scratch?.probs);
  if (o.minP > 0) x = minPFilter(x, o.minP, row(), scratch?.probs);
  if (o.typicalP < 1) x = typicalFilter(x, o.typicalP, row(), scratch?.probs);
  return x === logits ? copyOf(logits, row()) : x;
}

/**
 * Rows a sampler lends applyFilters, so that a token allocates none (each a fresh 200-600 KB array for GPT-2's
 * vocabulary, which costs more in allocation and page faults than the arithmetic): two rows the filters write in
 * turn, and one float64 row for their probabilities and the draw's. What applyFilters returns lives in one of them
 * until the next call.
 */
export class FilterScratch {
  private readonly a: Float32Array;
  private readonly b: Float32Array;
  readonly probs: Float64Array;

  constructor(readonly size: number) {
    [this.a, this.b, this.probs] = [new Float32Array(size), new Float32Array(size), new Float64Array(size)];
  }

  /** The row that is not x. */
  other(x: Float32Array): Float32Array {
    return x === this.a ? this.b : this.a;
  }
}

/** All eight steps in order: the logits a sampling step draws from (softmax of the result). */
export function processLogits(logits: Float32Array, context: readonly number[], o: ResolvedSamplingOptions): Float32Array {
  return applyFilters(applyPenalties(logits, context, o), o);
}

/** logits copied into `into` where given, else into a new array. */
function copyOf(logits: Float32Array, into?: Float32Array): Float32Array {
  if (!into) return logits.slice();
  into.set(logits);
  return into;
}

/** A copy of `logits` (into `into` where given) with every id not in `keep` set to -Infinity. */
function keepOnly(logits: Float32Array, keep: readonly number[], into?: Float32Array): Float32Array {
  const out = (into ?? new Float32Array(logits.length)).fill(-Infinity);
  for (const id of keep) out[id] = logits[id]!;
  return out;
}
