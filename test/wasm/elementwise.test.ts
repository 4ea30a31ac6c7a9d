import { describe, expect, it } from 'vitest';
import { residualAddReference } from '../../src/kernels/add.ts';
import { embedReference } from '../../src/kernels/embedding.ts';
import { geluReference } from '../../src/kernels/gelu.ts';
import { gaussianReference, interveneReference, type Box, type BoxView, type InterveneOp } from '../../src/kernels/intervene.ts';
import { swigluReference } from '../../src/kernels/swiglu.ts';
import { packF16, roundToF16 } from '../../src/half.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, randomArray } from '../helpers.ts';
import type { WasmKernels } from '../../src/backend/wasm/kernels.ts';
import { kernels, place, read, untouched } from './setup.ts';

describe('wasm gelu', () => {
  // As for the WGSL kernel: atol 1e-14 covers only the float64 reference's own rounding on tiny negative outputs.
  const TOL = { rtol: 1e-4, atol: 1e-14 };
  const PLANTED = [50, -50, 10, -10, 9.5, -9.5, 6, -6, -3, 1e-3, -1e-3, 1e-30, 3e7, -3e7];

  it.each([1, 3, 1001, 70_001])('matches the CPU reference for n=%i', async (n) => {
    const k = await kernels();
    const x = randomArray(new Rng(n), n, 6);
    x.set(PLANTED.slice(0, n));
    const xt = place(k, 'f32', [n], x, 'x');
    k.gelu(xt, n);
    const ref = Float64Array.from(x);
    geluReference(ref, n);
    expectClose(read(k, xt), ref, TOL, 'gelu');
    expect(untouched(k, xt)).toBe(true);
  });
});

describe('wasm swiglu', () => {
  // atol only covers gates below -80, where the clamp returns ~1e-33 instead of smaller (as in WGSL)
  const TOL = { rtol: 1e-4, atol: 1e-30 };

  it.each([
    { rows: 1, I: 1 },
    { rows: 3, I: 37 },
    { rows: 5, I: 130 },
  ])('matches the CPU reference: [$rows, 2 x $I]', async ({ rows, I }) => {
    const k = await kernels();
    const rng = new Rng(rows * 1000 + I);
    const gateUp = randomArray(rng, rows * 2 * I, 8);
    gateUp[0] = -100; // past the clamp
    if (I > 2) gateUp[2] = 100;
    const out = place(k, 'f32', [rows, I], undefined, 'out');
    k.swiglu(out, place(k, 'f32', [rows, 2 * I], gateUp, 'gateUp'), rows, I);
    const ref = new Float64Array(rows * I);
    swigluReference(ref, gateUp, rows, I);
    expectClose(read(k, out), ref, TOL, 'swiglu');
    expect(untouched(k, out)).toBe(true);
  });
});

describe('wasm residual add', () => {
  it.each([1, 7, 768 * 3 + 5])('matches the CPU reference for n=%i', async (n) => {
    const k = await kernels();
    const rng = new Rng(n + 5);
    const x = randomArray(rng, n);
    const y = randomArray(rng, n, 3);
    const xt = place(k, 'f32', [n], x, 'x');
    k.residualAdd(xt, place(k, 'f32', [n], y, 'y'), n);
    const ref = Float64Array.from(x);
    residualAddReference(ref, y, n);
    // one f32 addition of two exact inputs: within half an ulp
    expectClose(read(k, xt), ref, { rtol: 1e-6, atol: 0 }, 'x + y');
    expect(untouched(k, xt)).toBe(true);
  });
});

describe('wasm embedding', () => {
  // one f32 addition of exactly known inputs (f16 halves widen exactly): relative error alone, as in WGSL
  const TOL = { rtol: 1e-4, atol: 0 };
  type Table = 'f32' | 'f16x2';

  function table(k: WasmKernels, rng: Rng, rows: number, C: number, dtype: Table, label: string) {
    const values = randomArray(rng, rows * C, 0.5);
    values[1] = 3e-6; // an f16 subnormal
    if (dtype === 'f32') return { tensor: place(k, 'f32', [rows, C], values, label), values };
    return { tensor: place(k, 'f16x2', [rows, C], packF16(values, C), label), values: values.map(roundToF16) };
  }

  it.each([
    { T: 5, C: 7, pos0: 0, wte: 'f32', wpe: 'f32' },
    { T: 1, C: 13, pos0: 9, wte: 'f16x2', wpe: 'f16x2' },
    { T: 4, C: 10, pos0: 2, wte: 'f16x2', wpe: 'f32' },
    { T: 6, C: 9, pos0: 0, wte: 'f16x2', wpe: 'none' },
    { T: 3, C: 8, pos0: 0, wte: 'f32', wpe: 'none' },
  ] as const)('matches the CPU reference: T $T, C $C, pos0 $pos0, wte $wte, wpe $wpe', async ({ T, C, pos0, wte, wpe }) => {
    const k = await kernels();
    const rng = new Rng(T * 1000 + C + pos0);
    const V = 50;
    const ids = Uint32Array.from({ length: T }, () => rng.int(0, V - 1));
    ids[0] = V - 1;
    const wteT = table(k, rng, V, C, wte, 'wte');
    const wpeT = wpe === 'none' ? undefined : table(k, rng, pos0 + T + 3, C, wpe, 'wpe');
    const out = place(k, 'f32', [T, C], undefined, 'out');
    k.embed(out, place(k, 'u32', [T], ids, 'ids'), wteT.tensor, wpeT?.tensor, { T, C, pos0 });
    const ref = new Float64Array(T * C);
    embedReference(ref, ids, wteT.values, wpeT?.values, { T, C, pos0 });
    expectClose(read(k, out), ref, TOL, 'embedding');
    expect(untouched(k, out)).toBe(true);
  });

  it('refuses ids past the vocabulary and positions past wpe', async () => {
    const k = await kernels();
    const wte = k.arena.alloc('f32', [4, 3], 'wte');
    const wpe = k.arena.alloc('f32', [2, 3], 'wpe');
    const out = k.arena.alloc('f32', [2, 3], 'out');
    expect(() => k.embed(out, k.arena.upload('u32', [2], Uint32Array.of(1, 4), 'ids'), wte, undefined, { T: 2, C: 3, pos0: 0 })).toThrow(/token id 4 is past the vocabulary of 4/);
    expect(() => k.embed(out, k.arena.upload('u32', [2], Uint32Array.of(1, 2), 'ids'), wte, wpe, { T: 2, C: 3, pos0: 1 })).toThrow(/run past the 2 positions/);
  });
});

describe('wasm intervene', () => {
  // scale and add are one or two f32 operations; the noise is the same hash, summed in f32 as the reference does
  const TOL = { rtol: 1e-5, atol: 1e-6 };
  // attention scores [NH 3, T 5, S 7] viewed as outer 3, rows 5, cols 7, after 2 floats of other data
  const view: BoxView = { outerStride: 35, rowStride: 7, offset: 2, rowBase: 4 };
  const box: Box = { o0: 1, nO: 2, r0: 1, nR: 3, c0: 2, nC: 3 };
  const nBox = box.nO * box.nR * box.nC;

  it.each([
    { name: 'zero (scale 0 over -infinity)', op: { scale: 0, sigma: 0, seed: 0 } },
    { name: 'scale by 1.7', op: { scale: 1.7, sigma: 0, seed: 0 } },
    { name: 'add a vector over the columns', op: { scale: 1, sigma: 0, seed: 0, source: { kind: 'columns', values: [0.5, -2, 3] } } },
    { name: 'patch the box from another run', op: { scale: 0, sigma: 0, seed: 0, source: { kind: 'box', values: Array.from({ length: nBox }, (_, i) => i / 7 - 1) } } },
    { name: 'add seeded noise', op: { scale: 1, sigma: 0.3, seed: 12345, source: undefined } },
  ] as { name: string; op: InterveneOp }[])('matches the CPU reference: $name', async ({ op }) => {
    const k = await kernels();
    const n = 2 + 3 * 35;
    const x = randomArray(new Rng(77), n);
    x[2 + 35 + 7 + 2] = -Infinity; // a masked score inside the box
    const xt = place(k, 'f32', [n], x, 'x');
    const srcMode = op.source?.kind === 'columns' ? 1 : op.source?.kind === 'box' ? 2 : 0;
    const src = op.source ? place(k, 'f32', [op.source.values.length], Float32Array.from(op.source.values), 'src') : undefined;
    k.intervene(xt, src, view, box, { scale: op.scale, sigma: op.sigma, seed: op.seed, srcMode });
    const ref = Float64Array.from(x);
    interveneReference(ref, view, box, op);
    const got = read(k, xt);
    expectClose(got, ref, TOL, 'intervened x');
    expect(untouched(k, xt)).toBe(true);
    // outside the box, nothing changes, bit for bit
    for (let i = 0; i < n; i++) {
      const rel = i - view.offset;
      const o = Math.floor(rel / 35);
      const r = Math.floor((rel % 35) / 7);
      const c = rel % 7;
      const inBox = rel >= 0 && o >= box.o0 && o < box.o0 + box.nO && r >= box.r0 && r < box.r0 + box.nR && c >= box.c0 && c < box.c0 + box.nC;
      if (!inBox && !Object.is(got[i], x[i])) throw new Error(`x[${i}] outside the box changed from ${x[i]} to ${got[i]}`);
    }
  });

  it('adds the reference noise values to the last bit', async () => {
    const k = await kernels();
    const xt = place(k, 'f32', [12], new Float32Array(12), 'x');
    const flat: BoxView = { outerStride: 12, rowStride: 4, offset: 0, rowBase: 9 };
    k.intervene(xt, undefined, flat, { o0: 0, nO: 1, r0: 0, nR: 3, c0: 0, nC: 4 }, { scale: 1, sigma: 1, seed: 0xdeadbeef, srcMode: 0 });
    const want = Array.from({ length: 12 }, (_, i) => gaussianReference(0xdeadbeef, 0, 9 + Math.floor(i / 4), i % 4));
    expect([...read(k, xt)]).toEqual(want);
  });
});
