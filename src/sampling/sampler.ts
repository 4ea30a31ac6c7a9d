// The sampler: one call per generated token, from logits to a token id.
import { Rng } from '../random.ts';
import { argmax, maxLogit, softmax } from './logprobs.ts';
import { resolveSamplingOptions, SamplingOptionError, type ResolvedSamplingOptions, type SamplingOptions } from './options.ts';
import type { Candidates } from '../kernels/topk.ts';
import { processCandidates } from './gpu.ts';
import { applyFilters, applyPenalties, FilterScratch, penalises } from './processors.ts';

export { SamplingOptionError, validateSamplingOptions, type SamplingOptions } from './options.ts';

/**
 * Picks the next token from the model's logits, with the options' bias, penalties and filters applied in
 * the order documented in processors.ts. Temperature 0 takes the argmax (lowest id on a tie); otherwise a
 * token is drawn from softmax of the processed logits with a seeded generator, one uniform number per
 * token, so the same seed and the same logits give the same tokens.
 */
export class Sampler {
  readonly options: ResolvedSamplingOptions;
  /** The seed in use: the one given, or a random one when none was (report it so a run can be repeated). */
  readonly seed: number;
  private rng: Rng;
  /** The rows next()'s temperature and filters write, and its probabilities: none allocated a token. */
  private scratch?: FilterScratch;

  constructor(options: SamplingOptions = {}) {
    this.options = resolveSamplingOptions(options);
    this.seed = this.options.seed ?? Math.floor(Math.random() * 0x100000000);
    this.rng = new Rng(this.seed);
  }

  /** Whether this sampler decodes greedily (temperature 0). */
  get greedy(): boolean {
    return this.options.temperature === 0;
  }

  /**
   * The next token. `logits` (V values) are the model's output for the last position; `context` is every
   * token id so far, prompt included, which the repetition penalty and no-repeat-ngram look at.
   */
  next(logits: Float32Array, context: readonly number[], u?: number): number {
    // bias and penalties copy the row only where they change it; sampling writes its temperature and filters into
    // the sampler's scratch rows (FilterScratch), greedy decoding takes the argmax of the penalised row
    const o = this.options;
    const penalised = penalises(o) ? applyPenalties(logits, context, o) : logits;
    if (!this.greedy && this.scratch?.size !== logits.length) this.scratch = new FilterScratch(logits.length);
    const processed = this.greedy ? penalised : applyFilters(penalised, o, this.scratch);
    if (maxLogit(processed) === -Infinity) {
      throw new SamplingOptionError('every token was removed by --logit-bias / --no-repeat-ngram; loosen them');
    }
    if (this.greedy) return argmax(processed);
    return sampleFrom(softmax(processed, this.scratch!.probs), u ?? this.rng.uniform());
  }

  /**
   * The uniform number the next sampled token will use, drawn now: a caller that must know it before the logits
   * exist (a token chosen on the GPU, src/kernels/choose.ts) passes it back as next()'s `u`. Tokens drawn with u
   * given and without it come from one sequence, one number a token (greedy draws none).
   */
  draw(): number {
    return this.rng.uniform();
  }

  /**
   * The next token from candidates the GPU selected (src/sampling/gpu.ts), or undefined when they do not cover
   * what these options look at: then call next() with the whole row. Either way the token is the one next() would
   * choose from the whole row, and the generator advances only when a token is chosen.
   */
  nextFromCandidates(c: Candidates, context: readonly number[], vocabSize: number, u?: number): number | undefined {
    const processed = processCandidates(c, this.options, context, vocabSize);
    if (!processed) return undefined;
    if (this.greedy) return argmax(processed);
    return sampleFrom(softmax(processed), u ?? this.rng.uniform());
  }

  /** The logits `next` chooses from: after bias and penalties, and after the filters unless greedy. */
  process(logits: Float32Array, context: readonly number[]): Float32Array {
    const penalised = applyPenalties(logits, context, this.options);
    return this.greedy ? penalised : applyFilters(penalised, this.options);
  }
}

/**
 * Inverse-CDF sampling: the first id whose cumulative probability exceeds u (u uniform in [0, 1)). Rounding
 * can leave the total a hair under 1; then the last token with probability > 0 is taken.
 */
export function sampleFrom(probs: ArrayLike<number>, u: number): number {
  let cumulative = 0;
  let last = -1;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i]!;
    if (p <= 0) continue;
    cumulative += p;
    last = i;
    if (u < cumulative) return i;
  }
  if (last < 0) throw new Error('sampleFrom: every probability is 0');
  return last;
}
