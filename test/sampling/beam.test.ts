import { describe, expect, it } from 'vitest';
import { beamSearch, type BeamStep } from '../../src/sampling/beam.ts';
import { logSoftmax } from '../../src/sampling/logprobs.ts';
import { Rng } from '../../src/random.ts';

const V = 4; // tokens 0..3
const L = 3; // new tokens

/**
 * A fixed random "model": the next-token log-probabilities depend on the whole sequence so far, drawn from
 * an Rng seeded by the sequence.
 */
function toyModel(seed: number): { logprobs: (seq: number[]) => Float32Array; step: BeamStep } {
  const cache = new Map<string, Float32Array>();
  const logprobs = (seq: number[]): Float32Array => {
    const key = seq.join(',');
    let lp = cache.get(key);
    if (!lp) {
      const rng = new Rng(seq.reduce((h, t) => (Math.imul(h, 31) + t + 1) >>> 0, seed));
      // how peaked the distribution is varies by prefix, so the greedy first choice can lead to flat,
      // costly continuations: the trap that beam search exists to avoid
      const sharpness = 4 * rng.uniform();
      lp = logSoftmax(Float32Array.from({ length: V }, () => sharpness * rng.normal()));
      cache.set(key, lp);
    }
    return lp;
  };
  const step: BeamStep = async (sequences) => sequences.map(logprobs);
  return { logprobs, step };
}

interface Scored {
  tokens: number[];
  logprob: number;
  score: number;
  finishedByEos: boolean;
}

/**
 * Every hypothesis of up to `maxLen` new tokens, scored as beam search scores them: sequences that end at
 * `eos` (the eos counted in the length, left out of `tokens`) and sequences that reach maxLen without it.
 */
function exhaustive(logprobs: (seq: number[]) => Float32Array, prompt: number[], maxLen: number, lengthPenalty: number, eos?: number): Scored[] {
  const out: Scored[] = [];
  const extend = (tokens: number[], sum: number) => {
    const lp = logprobs([...prompt, ...tokens]);
    for (let t = 0; t < V; t++) {
      const s = sum + lp[t]!;
      const length = tokens.length + 1;
      if (t === eos) out.push({ tokens, logprob: s, score: s / length ** lengthPenalty, finishedByEos: true });
      else if (length === maxLen) out.push({ tokens: [...tokens, t], logprob: s, score: s / length ** lengthPenalty, finishedByEos: false });
      else extend([...tokens, t], s);
    }
  };
  extend([], 0);
  return out.sort((a, b) => b.score - a.score);
}

describe('beam search', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    for (const lengthPenalty of [0, 1]) {
      it(`equals exhaustive search without eos (seed ${seed}, lengthPenalty ${lengthPenalty})`, async () => {
        const model = toyModel(seed);
        const all = exhaustive(model.logprobs, [], L, lengthPenalty);
        // V ** (L - 1) beams hold every prefix, so nothing can be pruned wrongly
        const result = await beamSearch(model.step, { numBeams: V ** (L - 1), maxNewTokens: L, lengthPenalty, numReturn: 5 });
        expect(result.hypotheses.map((h) => h.tokens)).toEqual(all.slice(0, 5).map((h) => h.tokens));
        expect(result.tokens).toEqual(all[0]!.tokens);
        expect(result.score).toBeCloseTo(all[0]!.score, 6);
        expect(result.logprob).toBeCloseTo(all[0]!.logprob, 6);
        expect(result.finishedByEos).toBe(false);
      });
    }
  }

  for (const lengthPenalty of [-1, 0, 1, 2]) {
    it(`with an eos token ranks every hypothesis as exhaustive search does (lengthPenalty ${lengthPenalty})`, async () => {
      for (const seed of [11, 12, 13, 14]) {
        const model = toyModel(seed);
        const prompt = [2, 1];
        const all = exhaustive(model.logprobs, prompt, L, lengthPenalty, 0);
        // 40 hypotheses: 1 + 3 + 9 ending in eos, 27 of full length; 64 beams keep them all
        expect(all.length).toBe(40);
        const every = await beamSearch(model.step, { numBeams: 64, maxNewTokens: L, lengthPenalty, eosTokenId: 0, prompt, numReturn: 40 });
        expect(every.hypotheses.map((h) => [h.tokens, h.finishedByEos])).toEqual(all.map((h) => [h.tokens, h.finishedByEos]));
        every.hypotheses.forEach((h, i) => expect(h.score).toBeCloseTo(all[i]!.score, 6));
        // V ** (L - 1) beams are enough for the best one
        const best = await beamSearch(model.step, { numBeams: V ** (L - 1), maxNewTokens: L, lengthPenalty, eosTokenId: 0, prompt });
        expect([best.tokens, best.finishedByEos]).toEqual([all[0]!.tokens, all[0]!.finishedByEos]);
      }
    });
  }

  it('faces a model on which greedy decoding misses the best sequence (so the tests above mean something)', async () => {
    let misses = 0;
    for (const seed of [1, 2, 3, 4, 5]) {
      const model = toyModel(seed);
      const greedy = await beamSearch(model.step, { numBeams: 1, maxNewTokens: L, lengthPenalty: 0 });
      if (greedy.tokens.join() !== exhaustive(model.logprobs, [], L, 0)[0]!.tokens.join()) misses++;
    }
    expect(misses).toBeGreaterThanOrEqual(2);
  });

  it('with one beam is greedy decoding', async () => {
    for (const seed of [21, 22, 23]) {
      const model = toyModel(seed);
      const greedy: number[] = [];
      for (let i = 0; i < 6; i++) {
        const lp = model.logprobs(greedy);
        greedy.push(lp.indexOf(Math.max(...lp)));
      }
      const result = await beamSearch(model.step, { numBeams: 1, maxNewTokens: 6 });
      expect(result.tokens).toEqual(greedy);
    }
  });

  it('never does worse than greedy and returns hypotheses best first', async () => {
    for (const seed of [31, 32, 33, 34]) {
      const model = toyModel(seed);
      const greedy = await beamSearch(model.step, { numBeams: 1, maxNewTokens: 5, lengthPenalty: 0 });
      const beams = await beamSearch(model.step, { numBeams: 3, maxNewTokens: 5, lengthPenalty: 0, numReturn: 3 });
      expect(beams.score).toBeGreaterThanOrEqual(greedy.score);
      const scores = beams.hypotheses.map((h) => h.score);
      expect(scores).toEqual([...scores].sort((a, b) => b - a));
    }
  });

  it('stops early once no running beam can beat the finished ones', async () => {
    // eos (token 0) is near certain after the first token: both beams finish at step 2, and the beams still
    // running (log-prob about -50) cannot catch up even divided by 10 tokens, so step 3 never runs
    let steps = 0;
    const step: BeamStep = async (sequences) => {
      steps++;
      return sequences.map((s) => logSoftmax(Float32Array.from(s.length === 0 ? [-50, 1, 0.5, 0] : [50, 0, 0, 0])));
    };
    const result = await beamSearch(step, { numBeams: 2, maxNewTokens: 10, eosTokenId: 0, numReturn: 2 });
    expect(result.hypotheses.map((h) => h.tokens)).toEqual([[1], [2]]);
    expect(result.finishedByEos).toBe(true);
    expect(steps).toBe(2);
  });

  it('rejects impossible options', async () => {
    const { step } = toyModel(1);
    await expect(beamSearch(step, { numBeams: 0, maxNewTokens: 3 })).rejects.toThrow(RangeError);
    await expect(beamSearch(step, { numBeams: 2, maxNewTokens: 3, numReturn: 3 })).rejects.toThrow(RangeError);
  });
});

describe('beam search parents', () => {
  it('name, for each sequence, the sequence of the previous call it extends by one token', async () => {
    const model = toyModel(7);
    let previous: number[][] | undefined;
    let calls = 0;
    const step: BeamStep = async (sequences, parents) => {
      calls++;
      if (previous === undefined) expect(parents).toBeUndefined();
      else {
        expect(parents).toHaveLength(sequences.length);
        sequences.forEach((seq, i) => expect(seq.slice(0, -1)).toEqual(previous![parents![i]!]));
      }
      previous = sequences;
      return sequences.map(model.logprobs);
    };
    await beamSearch(step, { numBeams: 4, maxNewTokens: L, prompt: [1], eosTokenId: 0 });
    expect(calls).toBeGreaterThanOrEqual(2);
  });
});
