import { describe, expect, it } from 'vitest';
import { entropy, logSoftmax, softmax, topLogprobs } from '../../src/sampling/logprobs.ts';
import { resolveSamplingOptions, SamplingOptionError } from '../../src/sampling/options.ts';
import { processLogits } from '../../src/sampling/processors.ts';
import { Sampler, sampleFrom } from '../../src/sampling/sampler.ts';
import { Rng } from '../../src/random.ts';
import { randomArray } from '../helpers.ts';

const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

/** Draws `n` tokens from the same logits with an empty context. */
function draw(sampler: Sampler, logits: Float32Array, n: number): number[] {
  return Array.from({ length: n }, () => sampler.next(logits, []));
}

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
function chiSquare(counts: number[], probs: number[]): number {
  const n = counts.reduce((a, b) => a + b, 0);
  return counts.reduce((sum, c, i) => sum + (c - n * probs[i]!) ** 2 / (n * probs[i]!), 0);
}

describe('Sampler', () => {
  const logits = randomArray(new Rng(3), 100, 2);

  it('gives the same tokens for the same seed, and different tokens for another seed', () => {
    const a = draw(new Sampler({ seed: 42, topK: 50 }), logits, 200);
    const b = draw(new Sampler({ seed: 42, topK: 50 }), logits, 200);
    const c = draw(new Sampler({ seed: 43, topK: 50 }), logits, 200);
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
  });

  // a sampled token's temperature and filters write into the sampler's scratch rows (FilterScratch), token after
  // token: each token must be the one fresh arrays give, whatever the rows before it were (and a longer row)
  it.each([
    { temperature: 0.8 },
    { temperature: 1 },
    { temperature: 0.9, topK: 40, topP: 0.9 },
    { temperature: 1.2, topP: 0.5 },
    { temperature: 0.7, minP: 0.05 },
    { temperature: 1, typicalP: 0.8, topK: 30 },
    { temperature: 0.8, repetitionPenalty: 1.3, topK: 20 },
  ])('draws what fresh arrays give, row after row: %o', (options) => {
    const sampler = new Sampler({ seed: 5, ...options });
    const resolved = resolveSamplingOptions(options);
    const rng = new Rng(11);
    const reference = new Rng(5);
    const context = [3, 7, 3, 9];
    for (let step = 0; step < 40; step++) {
      const row = randomArray(rng, step < 30 ? 100 : 130, 3);
      if (step % 7 === 3) row.fill(-Infinity, 0, 60); // a row with most ids out: the buffers' old values must not leak
      const want = sampleFrom(softmax(processLogits(row, context, resolved)), reference.uniform());
      expect(sampler.next(row, context), `step ${step}`).toBe(want);
    }
  });

  it('reports the seed it uses, also when it picked one', () => {
    expect(new Sampler({ seed: 9 }).seed).toBe(9);
    const s = new Sampler({});
    expect(draw(new Sampler({ seed: s.seed }), logits, 50)).toEqual(draw(s, logits, 50));
  });

  it('draws tokens with the frequencies of the distribution', () => {
    const probs = [0.4, 0.3, 0.15, 0.1, 0.05];
    const counts = new Array<number>(probs.length).fill(0);
    for (const id of draw(new Sampler({ seed: 1234 }), logitsOf(probs), 20_000)) counts[id]!++;
    // 4 degrees of freedom: a correct sampler exceeds 18.47 with probability 0.001
    expect(chiSquare(counts, probs)).toBeLessThan(18.47);
  });

  it('draws from the filtered distribution, renormalised', () => {
    const probs = [0.4, 0.3, 0.15, 0.1, 0.05];
    const counts = [0, 0];
    for (const id of draw(new Sampler({ seed: 99, topK: 2 }), logitsOf(probs), 10_000)) {
      expect(id).toBeLessThan(2);
      counts[id]!++;
    }
    // 1 degree of freedom, bound at probability 0.001; top-2 leaves 0.4 : 0.3
    expect(chiSquare(counts, [4 / 7, 3 / 7])).toBeLessThan(10.83);
  });

  it('temperature sharpens: at 0.5 the odds of 0.6 : 0.4 become 0.36 : 0.16', () => {
    const counts = [0, 0];
    for (const id of draw(new Sampler({ seed: 5, temperature: 0.5 }), logitsOf([0.6, 0.4]), 10_000)) counts[id]!++;
    expect(chiSquare(counts, [0.36 / 0.52, 0.16 / 0.52])).toBeLessThan(10.83);
  });

  it('greedy takes the argmax, the lowest id on a tie, after the bias and penalties', () => {
    const x = Float32Array.from([1, 3, 0.5, 3, 2]);
    expect(new Sampler({ temperature: 0 }).next(x, [])).toBe(1);
    expect(new Sampler({ temperature: 0, logitBias: { 4: 1.5 } }).next(x, [])).toBe(4);
    // the penalty makes 1 and 3 score 1.5, below token 4's 2
    expect(new Sampler({ temperature: 0, repetitionPenalty: 2 }).next(x, [1, 3])).toBe(4);
    // truncation filters do not change the argmax, so greedy ignores them
    expect(new Sampler({ temperature: 0, topK: 1, typicalP: 0.1 }).next(x, [])).toBe(1);
  });

  it('rejects options out of range at construction', () => {
    expect(() => new Sampler({ topP: 2 })).toThrow(SamplingOptionError);
  });

  it('says so when bans remove every token', () => {
    expect(() => new Sampler({ noRepeatNgram: 1 }).next(Float32Array.from([1, 2]), [0, 1])).toThrow(SamplingOptionError);
  });
});

describe('sampleFrom', () => {
  it('picks the first id whose cumulative probability exceeds u, skipping zero-probability ids', () => {
    const p = [0, 0.25, 0, 0.5, 0.25, 0];
    expect(sampleFrom(p, 0)).toBe(1);
    expect(sampleFrom(p, 0.2499)).toBe(1);
    expect(sampleFrom(p, 0.25)).toBe(3);
    expect(sampleFrom(p, 0.9999999)).toBe(4);
    expect(sampleFrom([0.3, 0.3, 0.3999999], 0.99999999)).toBe(2); // total a hair under 1
  });
});

describe('logSoftmax, topLogprobs, entropy', () => {
  it('logSoftmax exponentiates to probabilities that sum to 1 and equal softmax', () => {
    const x = randomArray(new Rng(8), 1000, 30); // logits up to +-30: exp would overflow float32 unshifted
    x[17] = -Infinity;
    const lp = logSoftmax(x);
    const p = softmax(x);
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      sum += Math.exp(lp[i]!);
      expect(Math.exp(lp[i]!)).toBeCloseTo(p[i]!, 6);
    }
    expect(sum).toBeCloseTo(1, 5);
    expect(lp[17]).toBe(-Infinity);
  });

  it('topLogprobs lists the k most likely tokens of the raw logits, most likely first', () => {
    const x = Float32Array.from([0.5, 2, -1, 2, 3, 0]);
    const top = topLogprobs(x, 3);
    expect(top.map((t) => t.id)).toEqual([4, 1, 3]); // 1 and 3 tie: lower id first
    const lp = logSoftmax(x);
    for (const t of top) expect(t.logprob).toBe(lp[t.id]);
    expect(topLogprobs(x, 10).length).toBe(6);
  });

  it('entropy is 0 for a certain outcome and ln V for a uniform one, in nats', () => {
    expect(entropy([0, 1, 0])).toBe(0);
    expect(entropy([0.25, 0.25, 0.25, 0.25])).toBeCloseTo(Math.log(4), 12);
    expect(entropy([0.5, 0.2, 0.15, 0.1, 0.05])).toBeCloseTo(1.333074293, 8);
  });
});
