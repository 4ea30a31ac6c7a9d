import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadQuantized, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { embed, embedReference, embedTokens } from '../../src/kernels/embedding.ts';
import { packF16, roundToF16 } from '../../src/half.ts';
import { roundQuantized } from '../../src/quant.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// Each output is one f32 addition of two exactly known inputs (f16 halves widen to f32 exactly), rounded once:
// its relative error is at most 2^-24 whatever its size, so no absolute allowance is needed. A q8 or q4 value is
// dequantized in one f32 operation, as the reference dequantizes it (src/quant.ts): exactly the same value.
const TOL = { rtol: 1e-4, atol: 0 };

type Table = 'f32' | 'f16x2' | 'q8' | 'q4';

/** A random [rows, C] table as a GPU tensor, and the values the GPU will see (f16-rounded, or dequantized). */
function table(g: { device: GPUDevice }, rng: Rng, rows: number, C: number, dtype: Table, label: string) {
  const values = randomArray(rng, rows * C, 0.5);
  if (dtype === 'f32') return { tensor: uploadTensor(g.device, 'f32', [rows, C], values, label), values };
  if (dtype === 'q8' || dtype === 'q4') return { tensor: uploadQuantized(g.device, dtype, rows, C, values, label), values: roundQuantized(dtype, values, rows, C) };
  return { tensor: uploadTensor(g.device, 'f16x2', [rows, C], packF16(values, C), label), values: values.map(roundToF16) };
}

function randomIds(rng: Rng, T: number, V: number): Uint32Array {
  const ids = Uint32Array.from({ length: T }, () => rng.int(0, V - 1));
  ids[0] = V - 1; // the last row of wte
  if (T > 2) ids[2] = ids[1]!; // a repeated token
  return ids;
}

async function runEmbed(T: number, C: number, pos0: number, wteType: Table, wpeType: Table | 'none') {
  const g = await gpu();
  const rng = new Rng(T * 1000 + C + pos0);
  const V = 50;
  const P = pos0 + T + 3;
  const ids = randomIds(rng, T, V);
  const wte = table(g, rng, V, C, wteType, 'wte');
  const wpe = wpeType === 'none' ? undefined : table(g, rng, P, C, wpeType, 'wpe');
  // one element past the output stays poisoned: the kernel must not write beyond its range
  const outT = createTensor(g.device, 'f32', [T * C + 1], 'out');
  poison(g.device, outT);
  const rec = new Recorder(g);
  embed(rec, outT, uploadTensor(g.device, 'u32', [T], ids, 'ids'), wte.tensor, wpe?.tensor, { T, C, pos0 });
  await rec.submit();
  const out = await readF32(g.device, outT);
  expect(Number.isNaN(out[T * C])).toBe(true);
  const ref = new Float64Array(T * C);
  embedReference(ref, ids, wte.values, wpe?.values, { T, C, pos0 });
  return { out: out.subarray(0, T * C), ref };
}

describe('embedding', () => {
  it.each([
    [1, 5, 0, 'f32', 'f32'],
    [7, 48, 3, 'f32', 'f32'],
    [33, 130, 0, 'f32', 'f32'],
    [7, 257, 11, 'f16x2', 'f16x2'], // odd C: every packed row ends in a pad half
    [33, 5, 2, 'f16x2', 'f16x2'],
    [7, 48, 1, 'f16x2', 'f32'],
    [1, 257, 40, 'f32', 'f16x2'],
    [7, 130, 0, 'f32', 'none'], // rotary models: no wpe
    [33, 257, 0, 'f16x2', 'none'],
    [7, 257, 11, 'q8', 'q8'], // C = 8 blocks and one value: a last block of one
    [33, 45, 2, 'q4', 'q4'],
    [7, 48, 1, 'q4', 'f32'],
    [1, 130, 40, 'q8', 'q4'],
    [33, 77, 0, 'q4', 'none'],
  ] as const)('matches the CPU reference for T=%i, C=%i, pos0=%i, wte %s, wpe %s', async (T, C, pos0, wteType, wpeType) => {
    const { out, ref } = await runEmbed(T, C, pos0, wteType, wpeType);
    expectClose(out, ref, TOL);
  });

  it('gives the token part alone with embedTokens', async () => {
    const g = await gpu();
    const rng = new Rng(5);
    const [T, C, V] = [9, 77, 20];
    const ids = randomIds(rng, T, V);
    const wte = table(g, rng, V, C, 'f16x2', 'wte');
    const outT = createTensor(g.device, 'f32', [T, C], 'out');
    poison(g.device, outT);
    const rec = new Recorder(g);
    embedTokens(rec, outT, uploadTensor(g.device, 'u32', [T], ids, 'ids'), wte.tensor, { T, C });
    await rec.submit();
    const ref = new Float64Array(T * C);
    embedReference(ref, ids, wte.values, undefined, { T, C, pos0: 0 });
    expectClose(await readF32(g.device, outT), ref, TOL);
  });

  it('says when the positions run past the model context', async () => {
    const g = await gpu();
    const wte = createTensor(g.device, 'f32', [10, 4], 'wte');
    const wpe = createTensor(g.device, 'f32', [8, 4], 'wpe');
    const ids = createTensor(g.device, 'u32', [3], 'ids');
    const out = createTensor(g.device, 'f32', [3, 4], 'out');
    const rec = new Recorder(g);
    expect(() => embed(rec, out, ids, wte, wpe, { T: 3, C: 4, pos0: 6 })).toThrow(/positions 6\.\.8 run past the 8 positions/);
  });
});
