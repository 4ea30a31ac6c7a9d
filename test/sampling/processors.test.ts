import { describe, expect, it } from 'vitest';
import { resolveSamplingOptions, SamplingOptionError, validateSamplingOptions } from '../../src/sampling/options.ts';
import {
  applyLogitBias,
  applyNoRepeatNgram,
  applyRepetitionPenalty,
  applyTemperature,
  minPFilter,
  processLogits,
  topKFilter,
  topPFilter,
  typicalFilter,
} from '../../src/sampling/processors.ts';
import { softmax } from '../../src/sampling/logprobs.ts';
import { Rng } from '../../src/random.ts';
import { randomArray } from '../helpers.ts';

/** Logits whose softmax is exactly `probs` (up to rounding): log p. */
const logitsOf = (probs: number[]) => Float32Array.from(probs, Math.log);

/** The ids a filter kept (finite logits), in id order. */
const kept = (logits: Float32Array) => [...logits.keys()].filter((i) => logits[i]! > -Infinity);

// Ids are listed out of probability order so that no filter can pass by keeping a prefix of the ids.
//                 id:   0     1     2    3    4
const PROBS = /*   */ [0.15, 0.05, 0.5, 0.2, 0.1];

describe('logit bias', () => {
  it('adds to the chosen tokens only, from a Map or an object, and -Infinity bans', () => {
    const x = Float32Array.from([1, 2, 3, 4]);
    expect([...applyLogitBias(x, new Map([[1, 0.5], [3, -Infinity]]))]).toEqual([1, 2.5, 3, -Infinity]);
    expect([...applyLogitBias(x, resolveSamplingOptions({ logitBias: { 0: -2 } }).logitBias)]).toEqual([-1, 2, 3, 4]);
    expect([...x]).toEqual([1, 2, 3, 4]); // the input is left alone
  });

  it('rejects a token outside the vocabulary', () => {
    expect(() => applyLogitBias(new Float32Array(4), [[4, 1]])).toThrow(SamplingOptionError);
  });
});

describe('repetition penalty', () => {
  it('divides positive and multiplies negative logits of tokens in the context, once each', () => {
    const x = Float32Array.from([2, -1, 0.5, -3, 1]);
    // token 1 appears twice but is penalised once; tokens 2 and 4 are not in the context
    const out = applyRepetitionPenalty(x, [0, 1, 1, 3], 2);
    expect([...out]).toEqual([1, -2, 0.5, -6, 1]);
  });

  it('makes a repeated token less likely whatever the sign of its logit', () => {
    const x = Float32Array.from([0.3, -0.7, 0.1]);
    for (const id of [0, 1]) {
      const before = softmax(x)[id]!;
      const after = softmax(applyRepetitionPenalty(x, [id], 1.3))[id]!;
      expect(after).toBeLessThan(before);
    }
  });
});

describe('no-repeat-ngram', () => {
  const V = 10;
  /** The ids the filter set to -Infinity, starting from V equal logits. */
  const banned = (context: number[], n: number) => {
    const out = applyNoRepeatNgram(new Float32Array(V).fill(0.5), context, n);
    return [...out.keys()].filter((i) => out[i] === -Infinity);
  };

  it('bans exactly the tokens that would complete an n-gram already present', () => {
    // last two tokens (5, 6) were followed by 7 before: 7 would repeat the trigram 5 6 7
    expect(banned([5, 6, 7, 5, 6], 3)).toEqual([7]);
    // bigrams starting with the last token 1: (1, 2) twice and (1, 3) once
    expect(banned([1, 2, 1, 3, 1, 2, 1], 2)).toEqual([2, 3]);
    // trigrams starting with (2, 1): (2, 1, 3) and (2, 1, 2)
    expect(banned([1, 2, 1, 3, 1, 2, 1, 2, 1], 3)).toEqual([2, 3]);
    // n-grams that do not match the current prefix ban nothing
    expect(banned([1, 2, 3, 4], 2)).toEqual([]);
  });

  it('with n = 1 bans every token of the context; with a short context, nothing', () => {
    expect(banned([4, 1, 4, 8], 1)).toEqual([1, 4, 8]);
    expect(banned([3], 3)).toEqual([]);
    expect(banned([3, 3], 3)).toEqual([]); // (3, 3) has never been followed by anything yet
  });
});

describe('temperature', () => {
  it('divides the logits', () => {
    expect([...applyTemperature(Float32Array.from([1, -2, 4]), 0.5)]).toEqual([2, -4, 8]);
  });
});

describe('top-k', () => {
  it('keeps exactly the k largest logits', () => {
    const rng = new Rng(7);
    const x = randomArray(rng, 53, 3);
    for (const k of [1, 7, 52, 53, 100]) {
      const out = topKFilter(x, k);
      const ids = kept(out);
      expect(ids.length).toBe(Math.min(k, 53));
      const smallestKept = Math.min(...ids.map((i) => x[i]!));
      for (let i = 0; i < x.length; i++) {
        if (out[i] === -Infinity) expect(x[i]!).toBeLessThan(smallestKept);
        else expect(out[i]).toBe(x[i]); // kept logits are unchanged
      }
    }
  });

  it('keeps exactly k when logits tie at the cut, lower ids first', () => {
    expect(kept(topKFilter(Float32Array.from([1, 2, 2, 2, 0]), 2))).toEqual([1, 2]);
  });

  it('never brings back a removed token', () => {
    expect(kept(topKFilter(Float32Array.from([-Infinity, 1, -Infinity]), 2))).toEqual([1]);
  });
});

describe('top-p', () => {
  it('keeps the smallest set of most likely tokens whose probability reaches p', () => {
    const x = logitsOf(PROBS);
    // sorted: 0.5 (id 2), 0.2 (id 3), 0.15 (id 0), 0.1 (id 4), 0.05 (id 1); cumulative 0.5, 0.7, 0.85, 0.95, 1
    expect(kept(topPFilter(x, 0.3))).toEqual([2]);
    expect(kept(topPFilter(x, 0.6))).toEqual([2, 3]);
    expect(kept(topPFilter(x, 0.8))).toEqual([0, 2, 3]);
    expect(kept(topPFilter(x, 0.9))).toEqual([0, 2, 3, 4]);
    expect(kept(topPFilter(x, 1))).toEqual([0, 1, 2, 3, 4]);
  });

  it('always keeps at least the most likely token', () => {
    expect(kept(topPFilter(logitsOf([0.01, 0.98, 0.01]), 1e-9))).toEqual([1]);
  });
});

describe('min-p', () => {
  it('drops tokens below min_p times the largest probability', () => {
    const x = logitsOf(PROBS);
    // max 0.5: threshold 0.125 keeps 0.5, 0.2, 0.15; threshold 0.25 keeps 0.5 only
    expect(kept(minPFilter(x, 0.25))).toEqual([0, 2, 3]);
    expect(kept(minPFilter(x, 0.5))).toEqual([2]);
    expect(kept(minPFilter(x, 0.05))).toEqual([0, 1, 2, 3, 4]);
  });

  it('scales with the maximum: a flat distribution keeps more at the same min_p', () => {
    // max 0.12: threshold 0.5 * 0.12 = 0.06 drops only the two 0.04 tokens
    const flat = [0.12, 0.11, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.04, 0.04, 0.09];
    expect(kept(minPFilter(logitsOf(flat), 0.5))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 10]);
  });
});

describe('typical-p', () => {
  // Hand computation for probabilities 0.5, 0.2, 0.15, 0.1, 0.05:
  //   entropy H = -sum p ln p = 1.33307
  //   surprise -ln p:            0.69315  1.60944  1.89712  2.30259  2.99573
  //   distance |-ln p - H|:      0.63993  0.27636  0.56405  0.96951  1.66266
  //   by distance: 0.2 (0.276), 0.15 (0.564), 0.5 (0.640), 0.1 (0.970), 0.05 (1.663)
  //   cumulative probability:    0.2      0.35     0.85     0.95     1.0
  // mass 0.3 stops at 0.15 (0.35 >= 0.3): the most likely token, far less surprising than typical, is dropped.
  const x = logitsOf(PROBS); // ids: 0.15 -> 0, 0.05 -> 1, 0.5 -> 2, 0.2 -> 3, 0.1 -> 4

  it('keeps the tokens closest to the expected surprise up to the mass', () => {
    expect(kept(typicalFilter(x, 0.1))).toEqual([3]);
    expect(kept(typicalFilter(x, 0.3))).toEqual([0, 3]);
    expect(kept(typicalFilter(x, 0.5))).toEqual([0, 2, 3]);
    expect(kept(typicalFilter(x, 0.9))).toEqual([0, 2, 3, 4]);
    expect(kept(typicalFilter(x, 1))).toEqual([0, 1, 2, 3, 4]);
  });

  it('keeps every token of a uniform distribution (all equally typical)', () => {
    expect(kept(typicalFilter(new Float32Array(6).fill(0.25), 0.2)).length).toBe(6);
  });
});

describe('processLogits', () => {
  it('applies bias, repetition penalty, no-repeat-ngram, temperature, top-k, top-p, min-p, typical-p in that order', () => {
    const rng = new Rng(11);
    const x = randomArray(rng, 40, 4);
    const context = [3, 9, 3, 17, 5, 3, 9];
    const o = resolveSamplingOptions({
      logitBias: { 1: 5, 9: 2 },
      repetitionPenalty: 1.4,
      noRepeatNgram: 2,
      temperature: 0.7,
      topK: 12,
      topP: 0.95,
      minP: 0.02,
      typicalP: 0.97,
    });
    let want = applyLogitBias(x, o.logitBias);
    want = applyRepetitionPenalty(want, context, o.repetitionPenalty);
    want = applyNoRepeatNgram(want, context, o.noRepeatNgram);
    want = applyTemperature(want, o.temperature);
    want = topKFilter(want, o.topK);
    want = topPFilter(want, o.topP);
    want = minPFilter(want, o.minP);
    want = typicalFilter(want, o.typicalP);
    expect([...processLogits(x, context, o)]).toEqual([...want]);
    expect(want[3]).toBe(-Infinity); // the context ends in 9, and 9 was followed by 3 before
    expect(want[1]).toBeGreaterThan(-Infinity); // the +5 bias lifts token 1 into the top 12
  });

  it('with every option off returns the logits unchanged', () => {
    const x = randomArray(new Rng(2), 30, 2);
    expect([...processLogits(x, [1, 2, 3, 1, 2], resolveSamplingOptions({}))]).toEqual([...x]);
  });
});

describe('validateSamplingOptions', () => {
  it('accepts the defaults and values at the edges of each range', () => {
    expect(() => validateSamplingOptions({})).not.toThrow();
    expect(() =>
      validateSamplingOptions({ temperature: 0, topK: 0, topP: 1, minP: 1, typicalP: 1, repetitionPenalty: 1, noRepeatNgram: 0, seed: 0 }),
    ).not.toThrow();
    expect(() => validateSamplingOptions({ logitBias: new Map([[50256, -Infinity]]) })).not.toThrow();
  });

  it.each([
    [{ topP: 1.5 }, '--top-p must be in (0, 1], got 1.5'],
    [{ topP: 0 }, '--top-p must be in (0, 1], got 0'],
    [{ temperature: -0.1 }, '--temperature must be a number >= 0 (0 means greedy), got -0.1'],
    [{ temperature: Number.NaN }, '--temperature must be a number >= 0 (0 means greedy), got NaN'],
    [{ topK: 2.5 }, '--top-k must be a whole number >= 0 (0 turns it off), got 2.5'],
    [{ minP: 1.2 }, '--min-p must be in [0, 1], got 1.2'],
    [{ typicalP: 0 }, '--typical-p must be in (0, 1], got 0'],
    [{ repetitionPenalty: 0 }, '--repetition-penalty must be a number > 0 (1 turns it off), got 0'],
    [{ noRepeatNgram: -1 }, '--no-repeat-ngram must be a whole number >= 0 (0 turns it off), got -1'],
    [{ seed: 1.5 }, '--seed must be a whole number in [0, 4294967295], got 1.5'],
    [{ logitBias: { [-3]: 1 } }, '--logit-bias needs a token id that is a whole number >= 0, got -3'],
    [{ logitBias: new Map([[5, Number.NaN]]) }, '--logit-bias value for token 5 must be a number (or -Infinity to ban it), got NaN'],
  ])('rejects %o with one line', (options, message) => {
    expect(() => validateSamplingOptions(options)).toThrow(new SamplingOptionError(message));
    expect(message).not.toContain('\n');
  });
});
