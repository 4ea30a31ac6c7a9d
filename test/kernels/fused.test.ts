// The fused decode kernels against their CPU references (the unfused references composed), on random,
// non-aligned shapes, f32, packed f16, q8 and q4 weights, outputs poisoned with NaN first.
import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadQuantized, uploadTensor, writeTensor } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { packF16, roundToF16 } from '../../src/half.ts';
import {
  attentionDecode,
  attentionDecodeKernel,
  attentionDecodeReference,
  lmHead,
  lmHeadFusedOn,
  lmHeadReference,
  matmulFused,
  matmulFusedReference,
  matvecFused,
  matvecFusedReference,
  type MatvecFusedOptions,
} from '../../src/kernels/fused.ts';
import { ropeInvFreq } from '../../src/kernels/rope.ts';
import { roundQuantized } from '../../src/quant.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

type WeightDtype = 'f32' | 'f16x2' | 'q8' | 'q4';
const DTYPES = ['f32', 'f16x2', 'q8', 'q4'] as const;

/** w [rows, K] as a GPU tensor, and the values the GPU reads for it (f16-rounded, or dequantized). */
function weights(g: Gpu, w: Float32Array, rows: number, K: number, dtype: WeightDtype) {
  if (dtype === 'f32') return { tensor: uploadTensor(g.device, 'f32', [rows, K], w, 'w'), ref: w };
  if (dtype === 'f16x2') return { tensor: uploadTensor(g.device, 'f16x2', [rows, K], packF16(w, K), 'w'), ref: w.map(roundToF16) };
  return { tensor: uploadQuantized(g.device, dtype, rows, K, w, 'w'), ref: roundQuantized(dtype, w, rows, K) };
}

const epilogues = [undefined, 'gelu', 'swiglu', 'residual'] as const;
const norms = [undefined, 'layernorm', 'rmsnorm'] as const;
// N leaves 1..7 outputs of a last block of 8; K covers odd, 4n (the vec4 path) and 4n + 1
const shapes = [
  [3, 7],
  [70, 64],
  [133, 129],
] as const;

describe.each(DTYPES)('matvecFused with %s weights', (dtype) => {
  it.each(norms.flatMap((norm) => epilogues.map((epilogue) => ({ norm, epilogue }))))('norm $norm, epilogue $epilogue matches the reference', async ({ norm, epilogue }) => {
    const g = await gpu();
    const rec = new Recorder(g);
    const cases = shapes.map(([N, K], i) => {
      const rng = new Rng(N * 7919 + K + i);
      const rows = epilogue === 'swiglu' ? 2 * N : N;
      // a row with a large common offset, as a residual stream has, tests LayerNorm's shifted statistics
      const a = randomArray(rng, K).map((v) => v * 2 + 3);
      const w = weights(g, randomArray(rng, rows * K), rows, K, dtype);
      const bias = i === 1 ? undefined : randomArray(rng, rows);
      const gamma = randomArray(rng, K);
      const beta = randomArray(rng, K);
      const prior = randomArray(rng, N); // the residual stream before the add
      const out = createTensor(g.device, 'f32', [N + 4], 'out');
      poison(g.device, out);
      writeTensor(g.device, out, new Float32Array(4).fill(7), N * 4);
      if (epilogue === 'residual') writeTensor(g.device, out, prior);
      const eps = 1e-5;
      const fusedNorm = norm && { kind: norm, gamma: uploadTensor(g.device, 'f32', [K], gamma, 'gamma'), beta: norm === 'layernorm' ? uploadTensor(g.device, 'f32', [K], beta, 'beta') : undefined, eps };
      const options: MatvecFusedOptions = { norm: fusedNorm, epilogue };
      matvecFused(rec, out, uploadTensor(g.device, 'f32', [K], a, 'a'), w.tensor, bias && uploadTensor(g.device, 'f32', [rows], bias, 'bias'), N, K, options);
      const ref = Float64Array.from(epilogue === 'residual' ? prior : new Float32Array(N));
      matvecFusedReference(ref, a, w.ref, bias, N, K, { norm: norm && { kind: norm, gamma, beta, eps }, epilogue });
      return { N, K, out, ref };
    });
    await rec.submit();
    for (const c of cases) {
      const got = await readF32(g.device, c.out);
      expectClose(got.subarray(0, c.N), c.ref, { rtol: 1e-4, atol: 1e-4 }, `[${c.N}, ${c.K}]`);
      expect([...got.subarray(c.N)], 'wrote past the output').toEqual([7, 7, 7, 7]);
    }
  });
});

// N leaves 1..7 rows of a last workgroup of 8; K below, at and past the 32 invocations' stripes (odd, 4n, 4n + 1),
// one far past (each invocation several chunks); a vocabulary-like N
const headShapes = [
  [3, 7],
  [70, 64],
  [133, 129],
  [29, 1001],
  [5003, 48],
] as const;

describe.each(DTYPES)('lmHead with %s weights', (dtype) => {
  it.each(['layernorm', 'rmsnorm'] as const)('the final norm (%s) and the LM head match the reference', async (norm) => {
    const g = await gpu();
    const rec = new Recorder(g);
    const cases = headShapes.map(([N, K], i) => {
      const rng = new Rng(N * 7919 + K + i + (norm === 'rmsnorm' ? 1 : 0));
      // a residual row with a large common offset: LayerNorm's shifted statistics, and RMSNorm's large mean square
      const a = randomArray(rng, K).map((v) => v * 2 + 3);
      const w = weights(g, randomArray(rng, N * K), N, K, dtype);
      const bias = i % 2 === 1 ? randomArray(rng, N) : undefined; // tied heads have none; an untied one may
      const gamma = randomArray(rng, K);
      const beta = randomArray(rng, K);
      const out = createTensor(g.device, 'f32', [N + 4], 'out');
      poison(g.device, out);
      writeTensor(g.device, out, new Float32Array(4).fill(7), N * 4);
      const eps = 1e-5;
      const fusedNorm = { kind: norm, gamma: uploadTensor(g.device, 'f32', [K], gamma, 'gamma'), beta: norm === 'layernorm' ? uploadTensor(g.device, 'f32', [K], beta, 'beta') : undefined, eps };
      lmHead(rec, out, uploadTensor(g.device, 'f32', [K], a, 'a'), w.tensor, bias && uploadTensor(g.device, 'f32', [N], bias, 'bias'), fusedNorm, N, K);
      const ref = new Float64Array(N);
      lmHeadReference(ref, a, w.ref, bias, N, K, { kind: norm, gamma, beta, eps });
      return { N, K, out, ref };
    });
    await rec.submit();
    for (const c of cases) {
      const got = await readF32(g.device, c.out);
      expectClose(got.subarray(0, c.N), c.ref, { rtol: 1e-4, atol: 1e-4 }, `[${c.N}, ${c.K}]`);
      expect([...got.subarray(c.N)], 'wrote past the output').toEqual([7, 7, 7, 7]);
    }
  });
});

it('the fused tail runs on hardware adapters, and on software ones the final norm keeps its own dispatch', () => {
  expect(lmHeadFusedOn({ info: { kind: 'hardware' } })).toBe(true);
  expect(lmHeadFusedOn({ info: { kind: 'unknown' } })).toBe(true);
  expect(lmHeadFusedOn({ info: { kind: 'software' } })).toBe(false);
});

// M rows leave 1..3 rows of a last block of 4 (and one row); the same N and K as above
const rowShapes = [
  [5, 3, 7],
  [1, 70, 64],
  [7, 133, 129],
  [13, 37, 44],
] as const;

describe.each(DTYPES)('matmulFused with %s weights', (dtype) => {
  it.each(norms.flatMap((norm) => epilogues.map((epilogue) => ({ norm, epilogue }))))('norm $norm, epilogue $epilogue matches the reference', async ({ norm, epilogue }) => {
    const g = await gpu();
    const rec = new Recorder(g);
    const cases = rowShapes.map(([M, N, K], i) => {
      const rng = new Rng(M * 104729 + N * 7919 + K + i);
      const rows = epilogue === 'swiglu' ? 2 * N : N;
      // rows with large common offsets, each its own, as a residual stream has: LayerNorm's shifted statistics per row
      const a = randomArray(rng, M * K).map((v, j) => v * 2 + 3 + Math.floor(j / K));
      const w = weights(g, randomArray(rng, rows * K), rows, K, dtype);
      const bias = i === 1 ? undefined : randomArray(rng, rows);
      const gamma = randomArray(rng, K);
      const beta = randomArray(rng, K);
      const prior = randomArray(rng, M * N); // the residual stream before the add
      const out = createTensor(g.device, 'f32', [M * N + 4], 'out');
      poison(g.device, out);
      writeTensor(g.device, out, new Float32Array(4).fill(7), M * N * 4);
      if (epilogue === 'residual') writeTensor(g.device, out, prior);
      const eps = 1e-5;
      const fusedNorm = norm && { kind: norm, gamma: uploadTensor(g.device, 'f32', [K], gamma, 'gamma'), beta: norm === 'layernorm' ? uploadTensor(g.device, 'f32', [K], beta, 'beta') : undefined, eps };
      matmulFused(rec, out, uploadTensor(g.device, 'f32', [M * K], a, 'a'), w.tensor, bias && uploadTensor(g.device, 'f32', [rows], bias, 'bias'), M, N, K, { norm: fusedNorm, epilogue });
      const ref = Float64Array.from(epilogue === 'residual' ? prior : new Float32Array(M * N));
      matmulFusedReference(ref, a, w.ref, bias, M, N, K, { norm: norm && { kind: norm, gamma, beta, eps }, epilogue });
      return { M, N, K, out, ref };
    });
    await rec.submit();
    for (const c of cases) {
      const got = await readF32(g.device, c.out);
      expectClose(got.subarray(0, c.M * c.N), c.ref, { rtol: 1e-4, atol: 1e-4 }, `[${c.M}, ${c.K}] x [${c.N}, ${c.K}]`);
      expect([...got.subarray(c.M * c.N)], 'wrote past the output').toEqual([7, 7, 7, 7]);
    }
  });
});

describe.each(attentionDecodeKernel.versions.flatMap((v) => DTYPES.map((dtype) => [v.name, dtype] as const)))('attentionDecode %s with %s weights', (version, dtype) => {
  // heads x head size not multiples of the workgroup; grouped-query attention (group 3); a first token (pos0 0);
  // GPT-2 (LayerNorm, bias, no RoPE), Llama (RMSNorm, RoPE, no bias), partial rotary (Phi), Qwen2 (RoPE and bias)
  const cases = [
    { nHead: 3, nKVHead: 3, headDim: 13, nCtx: 9, pos0: 5, norm: 'layernorm', bias: true, rotaryDim: 0 },
    { nHead: 6, nKVHead: 2, headDim: 16, nCtx: 71, pos0: 66, norm: 'layernorm', bias: true, rotaryDim: 0 },
    { nHead: 2, nKVHead: 2, headDim: 67, nCtx: 4, pos0: 0, norm: 'layernorm', bias: true, rotaryDim: 0 },
    { nHead: 6, nKVHead: 2, headDim: 14, nCtx: 40, pos0: 37, norm: 'rmsnorm', bias: false, rotaryDim: 14 },
    { nHead: 5, nKVHead: 1, headDim: 18, nCtx: 12, pos0: 11, norm: 'rmsnorm', bias: false, rotaryDim: 8 },
    { nHead: 3, nKVHead: 3, headDim: 22, nCtx: 30, pos0: 23, norm: 'rmsnorm', bias: true, rotaryDim: 22 },
    { nHead: 4, nKVHead: 2, headDim: 10, nCtx: 3, pos0: 0, norm: 'rmsnorm', bias: true, rotaryDim: 6 },
  ] as const;
  it.each(cases)('matches the reference: $nHead heads ($nKVHead KV) of $headDim, position $pos0, $norm, bias $bias, rotary $rotaryDim', async (shape) => {
    const g = await gpu();
    const rec = new Recorder(g);
    const { nHead, nKVHead, headDim: HS, nCtx, pos0, rotaryDim } = shape;
    const C = nHead * HS + 1; // C need not be NH * HS for the kernel; not a multiple of 4
    const QKV = (nHead + 2 * nKVHead) * HS;
    const rng = new Rng(C * 31 + pos0);
    const x = randomArray(rng, C).map((v) => v + 1.5);
    const w = weights(g, randomArray(rng, QKV * C, 0.3), QKV, C, dtype);
    const bias = shape.bias ? randomArray(rng, QKV) : undefined;
    const gamma = randomArray(rng, C);
    const beta = shape.norm === 'layernorm' ? randomArray(rng, C) : undefined;
    // frequencies near 1 and position up to 66: angles of tens of radians, each pair turned well past a quarter
    const invFreq = rotaryDim > 0 ? ropeInvFreq(rotaryDim, 50) : undefined;
    // earlier positions already cached; everything past pos0 poisoned, as a cache not yet written
    const cacheSize = nKVHead * nCtx * HS;
    const earlier = (values: Float32Array) => values.map((v, i) => (Math.floor(i / HS) % nCtx < pos0 ? v : Number.NaN));
    const k0 = earlier(randomArray(rng, cacheSize));
    const v0 = earlier(randomArray(rng, cacheSize));
    const kCache = uploadTensor(g.device, 'f32', [cacheSize], k0, 'k');
    const vCache = uploadTensor(g.device, 'f32', [cacheSize], v0, 'v');
    const scores = createTensor(g.device, 'f32', [nHead * nCtx], 'scores');
    poison(g.device, scores);
    const z = createTensor(g.device, 'f32', [nHead * HS], 'z');
    poison(g.device, z);
    const o = { C, nHead, nKVHead, headDim: HS, nCtx, pos0, eps: 1e-5, version };
    const f32 = (values: Float32Array, name: string) => uploadTensor(g.device, 'f32', [values.length], values, name);
    const norm = { kind: shape.norm, gamma: f32(gamma, 'gamma'), beta: beta && f32(beta, 'beta') };
    const rope = invFreq && { invFreq: f32(invFreq, 'inv_freq'), rotaryDim };
    attentionDecode(rec, z, f32(x, 'x'), norm, w.tensor, bias && f32(bias, 'bias'), kCache, vCache, scores, { ...o, rope });
    await rec.submit();

    const kRef = Float64Array.from(k0);
    const vRef = Float64Array.from(v0);
    const zRef = attentionDecodeReference(x, { kind: shape.norm, gamma, beta }, w.ref, bias, kRef, vRef, { ...o, rope: invFreq && { invFreq, rotaryDim } });
    expectClose(await readF32(g.device, z), zRef, { rtol: 1e-4, atol: 1e-5 }, 'z');
    // the appended row (and every earlier one, untouched); rows past pos0 stay NaN in both
    expectClose(await readF32(g.device, kCache), kRef, { rtol: 1e-4, atol: 1e-5 }, 'k cache');
    expectClose(await readF32(g.device, vCache), vRef, { rtol: 1e-4, atol: 1e-5 }, 'v cache');
  });
});
