import { describe, expect, it } from 'vitest';
import { layerNormReference } from '../../src/kernels/layernorm.ts';
import { rmsNormReference } from '../../src/kernels/rmsnorm.ts';
import { softmaxReference } from '../../src/kernels/softmax.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, randomArray } from '../helpers.ts';
import { kernels, place, read, untouched } from './setup.ts';

// As for the WGSL norms: outputs of O(1) keep a few f32 ulps of their O(1) terms (layernorm subtracts the mean,
// so atol 1e-6); rmsnorm only multiplies, so relative error alone. Probabilities: rtol 1e-4, atol 1e-7.
const LAYERNORM_TOL = { rtol: 1e-4, atol: 1e-6 };
const RMSNORM_TOL = { rtol: 1e-4, atol: 0 };
const SOFTMAX_TOL = { rtol: 1e-4, atol: 1e-7 };

// Rows of C channels: C below the SIMD width, tails of 1, 2 and 3, and GPT-2's 768.
const shapes = [
  { rows: 1, C: 3 },
  { rows: 5, C: 37 },
  { rows: 3, C: 70 },
  { rows: 7, C: 131 },
  { rows: 2, C: 768 },
];

describe('wasm layernorm', () => {
  it.each(shapes)('matches the CPU reference: [$rows, $C]', async ({ rows, C }) => {
    const k = await kernels();
    const rng = new Rng(rows * 1000 + C);
    // an offset of 3 on every value: the two-pass variance must not lose it to cancellation
    const x = randomArray(rng, rows * C).map((v) => v + 3);
    const gamma = randomArray(rng, C, 2);
    const beta = randomArray(rng, C);
    const out = place(k, 'f32', [rows, C], undefined, 'out');
    const xt = place(k, 'f32', [rows, C], x, 'x');
    k.layerNorm(out, xt, place(k, 'f32', [C], gamma, 'gamma'), place(k, 'f32', [C], beta, 'beta'), rows, C, 1e-5);
    const ref = new Float64Array(rows * C);
    layerNormReference(ref, x, gamma, beta, rows, C, 1e-5);
    expectClose(read(k, out), ref, LAYERNORM_TOL, 'layernorm');
    expect(untouched(k, out)).toBe(true);
    expect([...read(k, xt)]).toEqual([...x]);
  });
});

describe('wasm rmsnorm', () => {
  it.each(shapes)('matches the CPU reference: [$rows, $C]', async ({ rows, C }) => {
    const k = await kernels();
    const rng = new Rng(rows * 1000 + C + 1);
    const x = randomArray(rng, rows * C, 4);
    const gamma = randomArray(rng, C, 2);
    const out = place(k, 'f32', [rows, C], undefined, 'out');
    k.rmsNorm(out, place(k, 'f32', [rows, C], x, 'x'), place(k, 'f32', [C], gamma, 'gamma'), rows, C, 1e-6);
    const ref = new Float64Array(rows * C);
    rmsNormReference(ref, x, gamma, rows, C, 1e-6);
    expectClose(read(k, out), ref, RMSNORM_TOL, 'rmsnorm');
    expect(untouched(k, out)).toBe(true);
  });
});

describe('wasm softmax', () => {
  it.each([
    { rows: 1, cols: 1 },
    { rows: 4, cols: 3 },
    { rows: 6, cols: 37 },
    { rows: 3, cols: 50257 },
  ])('matches the CPU reference, with an outlier and masked entries: [$rows, $cols]', async ({ rows, cols }) => {
    const k = await kernels();
    const rng = new Rng(rows * 100 + cols);
    const x = randomArray(rng, rows * cols, 8);
    for (let r = 0; r < rows; r++) {
      x[r * cols + rng.int(0, cols - 1)] = 90; // exp(90) overflows f32 unless the row max is subtracted
      // a causal-mask tail: the last third of the row (but never the outlier's row entirely)
      for (let c = Math.ceil((2 * cols) / 3); c < cols; c++) if (x[r * cols + c] !== 90) x[r * cols + c] = -Infinity;
    }
    const xt = place(k, 'f32', [rows, cols], x, 'x');
    k.softmax(xt, rows, cols);
    const got = read(k, xt);
    const ref = Float64Array.from(x);
    softmaxReference(ref, rows, cols);
    expectClose(got, ref, SOFTMAX_TOL, 'softmax');
    expect(untouched(k, xt)).toBe(true);
    for (let i = 0; i < x.length; i++) if (x[i] === -Infinity && got[i] !== 0) throw new Error(`masked entry ${i} became ${got[i]}, not 0`);
  });

  it('turns a row masked everywhere into zeros, and leaves its neighbours right', async () => {
    const k = await kernels();
    const cols = 9;
    const x = new Float32Array(3 * cols).map((_, i) => (i % 7) - 3);
    x.fill(-Infinity, cols, 2 * cols);
    const xt = place(k, 'f32', [3, cols], x, 'x');
    k.softmax(xt, 3, cols);
    const ref = Float64Array.from(x);
    softmaxReference(ref, 3, cols);
    const got = read(k, xt);
    expect([...got.subarray(cols, 2 * cols)]).toEqual(new Array(cols).fill(0));
    expectClose(got, ref, SOFTMAX_TOL, 'softmax');
  });
});
