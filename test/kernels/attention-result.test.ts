// The per-head attention result and its sum over heads against their float64 CPU references, on non-aligned
// shapes, f32, packed f16, q8 and q4 weights, with and without a bias, whole or cut into row chunks (a split weight).
// Outputs are poisoned with NaN first and guarded past their end.
import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadQuantized, uploadTensor, writeTensor, type Tensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { packF16, roundToF16 } from '../../src/half.ts';
import { attentionResult, attentionResultReference, sumHeads, sumHeadsReference } from '../../src/kernels/attention-result.ts';
import { matmulReference } from '../../src/kernels/matmul.ts';
import { roundQuantized } from '../../src/quant.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

const GUARD = 5;
// sums of HS <= 24 products of values in [-1, 1): f32 rounding near 1e-6 absolute (see matmul.test.ts)
const TOL = { rtol: 1e-4, atol: 1e-5 };

const shapes = [
  { T: 1, NH: 3, HS: 5, C: 13 },
  { T: 7, NH: 4, HS: 6, C: 26 },
  { T: 11, NH: 2, HS: 24, C: 45 },
];
const variants = (['f32', 'f16x2', 'q8', 'q4'] as const).flatMap((dtype) => [true, false].flatMap((withBias) => [1, 2].map((chunks) => ({ dtype, withBias, chunks }))));

describe.each(shapes)('attentionResult and sumHeads, T=$T NH=$NH HS=$HS C=$C', ({ T, NH, HS, C }) => {
  it.each(variants)('match the CPU references ($dtype weights, bias $withBias, $chunks chunk(s))', async ({ dtype, withBias, chunks }) => {
    const g = await gpu();
    const K = NH * HS;
    const rng = new Rng(T * 1000 + NH * 100 + HS + C);
    const z = randomArray(rng, T * K);
    const w = randomArray(rng, C * K);
    const bias = withBias ? randomArray(rng, C) : undefined;
    // q8 and q4 are quantized chunk by chunk, as the GPU holds a split weight
    const cut = chunks === 1 ? C : Math.floor(C / 2) + 1;
    const parts = chunks === 1 ? [[0, C]] : [[0, cut], [cut, C - cut]];
    const rounded = (part: Float32Array, rows: number) => (dtype === 'f32' ? part : dtype === 'f16x2' ? part.map(roundToF16) : roundQuantized(dtype, part, rows, K));
    const wRef = new Float32Array(C * K);
    for (const [row0, rows] of parts) wRef.set(rounded(w.subarray(row0 * K, (row0 + rows) * K), rows), row0 * K);

    const guarded = (n: number, name: string): Tensor => {
      const t = createTensor(g.device, 'f32', [n + GUARD], name);
      poison(g.device, t);
      writeTensor(g.device, t, new Float32Array(GUARD).fill(7), n * 4);
      return t;
    };
    const zt = uploadTensor(g.device, 'f32', [T, K], z, 'z');
    const result = guarded(T * NH * C, 'result');
    const out = guarded(T * C, 'out');
    const rec = new Recorder(g);
    // rows 0 .. cut - 1 in one chunk, cut .. C - 1 in the other
    for (const [row0, rows] of parts) {
      const part = w.subarray(row0 * K, (row0 + rows) * K);
      const wt =
        dtype === 'f32'
          ? uploadTensor(g.device, 'f32', [rows, K], part, 'w')
          : dtype === 'f16x2'
            ? uploadTensor(g.device, 'f16x2', [rows, K], packF16(part, K), 'w')
            : uploadQuantized(g.device, dtype, rows, K, part, 'w');
      const bt = bias && uploadTensor(g.device, 'f32', [rows], bias.subarray(row0, row0 + rows), 'bias');
      attentionResult(rec, result, zt, wt, { T, NH, HS, C, row0, rows });
      sumHeads(rec, out, result, bt, { T, NH, C, row0, rows });
    }
    await rec.submit();

    const refResult = attentionResultReference(z, wRef, { T, NH, HS, C });
    const refOut = new Float64Array(T * C);
    sumHeadsReference(refOut, refResult, bias, { T, NH, C });
    const gotResult = await readF32(g.device, result);
    const gotOut = await readF32(g.device, out);
    expectClose(gotResult.subarray(0, T * NH * C), refResult, TOL, 'result');
    expectClose(gotOut.subarray(0, T * C), refOut, TOL, 'sum over heads');
    expect([...gotResult.subarray(T * NH * C), ...gotOut.subarray(T * C)], 'wrote past the outputs').toEqual(new Array(2 * GUARD).fill(7));
  });
});

describe('the attention result references', () => {
  it('add up, head by head, to the output projection z @ w^T + bias', () => {
    const [T, NH, HS, C] = [5, 3, 7, 11];
    const rng = new Rng(42);
    const z = randomArray(rng, T * NH * HS);
    const w = randomArray(rng, C * NH * HS);
    const bias = randomArray(rng, C);
    const viaHeads = new Float64Array(T * C);
    sumHeadsReference(viaHeads, attentionResultReference(z, w, { T, NH, HS, C }), bias, { T, NH, C });
    const direct = new Float64Array(T * C);
    matmulReference(direct, z, w, bias, T, C, NH * HS);
    expectClose(viaHeads, direct, { rtol: 1e-12, atol: 1e-12 }, 'sum of heads');
  });
});
