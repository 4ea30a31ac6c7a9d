import { describe, expect, it } from 'vitest';
import { readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { gelu, geluReference } from '../../src/kernels/gelu.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// The reference computes 1 + tanh(u) in float64, which keeps only ~1e-16 absolutely when tanh(u) is near -1; for
// |x| <= 50 that leaves it wrong by up to 0.5 * 50 * 1.1e-16 ~ 3e-15 on the tiny outputs of negative x. atol
// 1e-14 covers that and nothing else: every other output must match to rtol.
const TOL = { rtol: 1e-4, atol: 1e-14 };

/** Values where GELU changes character: large positive and negative (tanh saturates), near zero, the tail. */
const PLANTED = [50, -50, 10, -10, 9.5, -9.5, 6, -6, -3, 1e-3, -1e-3, 1e-30, 3e7, -3e7];

describe('gelu', () => {
  // 16_777_217 elements need 65_537 workgroups of 256: the dispatch folds into a 2-D grid
  it.each([1, 1000, 70_001, 16_777_217])('matches the CPU reference for n=%i', async (n) => {
    const g = await gpu();
    const rng = new Rng(n);
    const x = randomArray(rng, n, 6);
    x.set(PLANTED.slice(0, n));
    // one extra element past n stays untouched: the kernel must not write beyond its range
    const data = new Float32Array(n + 1);
    data.set(x);
    data[n] = 7;
    const xt = uploadTensor(g.device, 'f32', [n + 1], data, 'x');
    const rec = new Recorder(g);
    gelu(rec, xt, n);
    await rec.submit();
    const out = await readF32(g.device, xt);
    const ref = Float64Array.from(x);
    geluReference(ref, n);
    expectClose(out.subarray(0, n), ref, TOL);
    expect(out[n]).toBe(7);
  });
});
