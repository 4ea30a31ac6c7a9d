import { describe, expect, it } from 'vitest';
import { idsByValueDescending } from '../../src/sampling/logprobs.ts';
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
