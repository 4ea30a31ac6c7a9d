import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { swiglu, swigluReference } from '../../src/kernels/swiglu.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// Each output is products and a quotient with no cancellation (1 + exp(-g) adds two positives), so its relative
// error is a few f32 ulps. atol only covers gates below -80, where the kernel's clamp returns about
// |gate * up| * 2e-35 in place of a true output smaller still.
const TOL = { rtol: 1e-4, atol: 1e-30 };

/** Gate values where silu changes character: large positive and negative, near zero. */
const PLANTED_GATES = [100, -100, 30, -30, -87, -90, 1e-4, -1e-4];

describe('swiglu', () => {
  it.each([
    [1, 1],
    [1, 1000],
    [7, 5],
    [33, 130],
    [3, 257],
    [7, 10_001], // 70_007 elements
  ])('matches the CPU reference for rows=%i, I=%i', async (rows, I) => {
    const g = await gpu();
    const rng = new Rng(rows * 100_000 + I);
    const gateUp = randomArray(rng, rows * 2 * I, 8);
    // planted gates go into the gate half of the first row
    for (let i = 0; i < Math.min(I, PLANTED_GATES.length); i++) gateUp[i] = PLANTED_GATES[i]!;
    // one element past the output stays poisoned: the kernel must not write beyond its range
    const outT = createTensor(g.device, 'f32', [rows * I + 1], 'out');
    poison(g.device, outT);
    const rec = new Recorder(g);
    swiglu(rec, outT, uploadTensor(g.device, 'f32', [rows, 2 * I], gateUp, 'gateUp'), rows, I);
    await rec.submit();
    const out = await readF32(g.device, outT);
    expect(Number.isNaN(out[rows * I])).toBe(true);
    const ref = new Float64Array(rows * I);
    swigluReference(ref, gateUp, rows, I);
    expectClose(out.subarray(0, rows * I), ref, TOL);
  });
});
