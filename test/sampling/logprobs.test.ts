import { describe, expect, it } from 'vitest';
import { idsByValueDescending, logprobsOf, logSoftmax } from '../../src/sampling/logprobs.ts';
import { Rng } from '../../src/random.ts';

describe('idsByValueDescending', () => {
  it('the one-pass selection for small limits agrees with a full sort (ties: lower id first; -Infinity never)', () => {
    const rng = new Rng(5);
    for (let trial = 0; trial < 200; trial++) {
      const n = rng.int(1, 300);
      // few distinct values, so ties are common; some tokens removed
      const values = Float32Array.from({ length: n }, () => (rng.uniform() < 0.1 ? -Infinity : rng.int(-5, 5)));
      const sorted = [...values.keys()].filter((i) => values[i]! > -Infinity).sort((a, b) => values[b]! - values[a]! || a - b);
      for (const limit of [0, 1, 5, 63, 64, 1000]) {
        expect(idsByValueDescending(values, limit)).toEqual(sorted.slice(0, limit));
      }
    }
  });
});

describe('logprobsOf', () => {
  // what generate reports a token with, from one row: it must equal logSoftmax + idsByValueDescending exactly
  function expected(logits: Float32Array, id: number, k: number) {
    const lp = logSoftmax(logits);
    return { logprob: lp[id]!, top: idsByValueDescending(lp, k).map((t) => ({ id: t, logprob: lp[t]! })) };
  }

  it('gives what a whole row of log-probabilities gives, bit for bit: random rows, removed tokens, k from 0 to 70', () => {
    const rng = new Rng(11);
    for (let trial = 0; trial < 60; trial++) {
      const n = rng.int(1, 2000);
      const logits = Float32Array.from({ length: n }, () => (rng.uniform() < 0.05 ? -Infinity : rng.range(-20, 20)));
      logits[rng.int(0, n - 1)] = 3; // one finite value at least
      for (const k of [0, 1, 5, 20, 70]) {
        const id = rng.int(0, n - 1);
        expect(logprobsOf(logits, id, k)).toEqual(expected(logits, id, k));
      }
    }
  });

  it('ranks values that float32 rounds to one log-probability by id, as the row does (the ties past the candidates included)', () => {
    // 30 logits just above 0.001, distinct in float32 and rising with id, and one of 10: their log-probabilities,
    // near -10 where float32's steps are a thousand times coarser, tie, so the row lists them by id, the reverse
    // of their raw order
    const logits = new Float32Array(100).fill(-10);
    for (let i = 0; i < 30; i++) logits[i] = 0.001 + i * 1e-9;
    logits[99] = 10;
    expect(new Set(logits.subarray(0, 30)).size).toBe(30);
    const lp = logSoftmax(logits);
    expect(new Set(lp.subarray(0, 30)).size).toBeLessThan(5); // the ties are real
    for (const k of [1, 3, 10, 25, 40]) expect(logprobsOf(logits, 7, k)).toEqual(expected(logits, 7, k));
  });
});
