// The WebAssembly kernels on q8 and q4 weights (assembly/matmul_q.ts, embedding_q.ts) against the float64 CPU
// references run on the dequantized weights, the values the blocks stand for (src/quant.ts).
import { describe, expect, it } from 'vitest';
import { WasmBackend } from '../../src/backend/wasm.ts';
import { activationRoundingBound, kernelOrder, quantOrder, roundActivations } from '../../src/backend/wasm/kernels.ts';
import { matmulReference } from '../../src/kernels/matmul.ts';
import { embedReference } from '../../src/kernels/embedding.ts';
import { dequantize, quantize, type QuantFormat } from '../../src/quant.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, randomArray } from '../helpers.ts';
import { expectSameBits, kernels, place, randomMatmul, read, runMatmul, untouched } from './setup.ts';

// f32 rounding, as for the f32 matmul (test/wasm/matmul.test.ts)...
const TOL = { rtol: 1e-4, atol: 1e-5 };
// ... plus what rounding the activations costs (activationRoundingBound: at most max|a_block| / 65534 a value for
// q8's int16, a few 1e-5 of a typical output; max|a_block| / 254 for q4's int8).

/** Every output within TOL of the reference plus its activation bound; the first mismatch named. */
function expectWithin(got: Float32Array, ref: Float64Array, bound: Float64Array, what: string): void {
  for (let i = 0; i < ref.length; i++) {
    const allowed = TOL.atol + Math.abs(ref[i]!) * TOL.rtol + bound[i]!;
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= allowed)) expect.fail(`${what}[${i}]: got ${got[i]}, reference ${ref[i]}, error ${err.toExponential(2)} over the ${allowed.toExponential(2)} allowed`);
  }
}

// K: 1, 3 and 31 (one partial block only), 33, 66 and 131 (whole blocks and a tail), 96 (whole blocks), 160
// (an odd number of blocks, matvec's two-block steps); 512 (four groups of four blocks, q4's interleaved words),
// 250 (two groups, the last block partial) and 300 (two groups, then a whole block and a partial one); N and M
// not multiples of 4 or of the thread counts.
const shapes = [
  { M: 1, N: 1, K: 1 },
  { M: 1, N: 37, K: 31 },
  { M: 1, N: 103, K: 66 },
  { M: 1, N: 70, K: 160 },
  { M: 1, N: 9, K: 96 },
  { M: 2, N: 5, K: 3 },
  { M: 6, N: 37, K: 33 },
  { M: 7, N: 13, K: 160 },
  { M: 13, N: 41, K: 131 },
  { M: 1, N: 19, K: 250 },
  { M: 1, N: 22, K: 512 },
  { M: 1, N: 11, K: 300 },
  { M: 5, N: 14, K: 300 },
  { M: 9, N: 6, K: 250 },
];
const variants = (['q8', 'q4'] as const).flatMap((format) => [true, false].map((bias) => ({ format, bias })));

async function run(threads: number, format: QuantFormat, withBias: boolean, M: number, N: number, K: number, floatActivations = false, relaxedSimd = true) {
  const k = await kernels(threads, false, relaxedSimd);
  const { a, w, bias } = randomMatmul(new Rng(M * 1_000_003 + N * 1009 + K + (format === 'q4' ? 7 : 0)), M, N, K, withBias);
  a[0] = 4; // an outlier: the rest of its block gets coarser steps
  for (let k = 0; k < K; k++) w[k] = 0.25 + 0.5 * w[k]!; // q4's minimum away from 0 in the first row
  const packed = quantize(format, w, N, K);
  const x = dequantize(format, packed, N, K);
  const r = runMatmul(k, a, { dtype: format, data: packed, values: x }, bias, M, N, K, floatActivations ? 'matvecQ8F32' : undefined);
  return { ...r, a, x, bias, bound: activationRoundingBound(format, a, x, M, N, K) };
}

describe.each(variants)('wasm matmul, $format weights, bias $bias', ({ format, bias }) => {
  it.each(shapes)('matches the CPU reference on the dequantized weights: [$M, $K] x [$N, $K]', async ({ M, N, K }) => {
    const r = await run(1, format, bias, M, N, K);
    expectWithin(r.got, r.ref, r.bound, `out [${M}, ${N}]`);
    expect(r.intact, 'wrote past the end of a tensor').toBe(true);
  });

  it.each(shapes)('gives the same bits on 2 threads: [$M, $K] x [$N, $K]', async ({ M, N, K }) => {
    expectSameBits(await run(1, format, bias, M, N, K), await run(2, format, bias, M, N, K), 2);
  });

  // what the kernels compute, exactly: the dequantized weights times the activations rounded as roundActivations
  // says; only f32 rounding is left (the bound above allows for any rounding of a within half a step)
  it.each(shapes)('equals the reference run on the rounded activations within f32 rounding: [$M, $K] x [$N, $K]', async ({ M, N, K }) => {
    const r = await run(1, format, bias, M, N, K);
    const rounded = Float64Array.from(r.a);
    roundActivations(format, rounded, M, K);
    const ref = new Float64Array(M * N);
    matmulReference(ref, rounded, r.x, r.bias, M, N, K);
    expectClose(r.got, ref, TOL, `out [${M}, ${N}]`);
  });

  // q4's kernels read the blocks in two ways (assembly/matmul_q.ts): with relaxed SIMD's int8 dot products and
  // without; the runtime picks the build, and the tokens must not depend on it.
  it.each(shapes)('gives the same bits with and without relaxed SIMD, on 1 and 2 threads: [$M, $K] x [$N, $K]', async ({ M, N, K }) => {
    const relaxed = await kernels(1);
    expect(relaxed.relaxedSimd, 'this runtime has no relaxed SIMD, so nothing compares the two builds').toBe(true);
    const plain = await run(1, format, bias, M, N, K, false, false);
    expectWithin(plain.got, plain.ref, plain.bound, `out [${M}, ${N}] without relaxed SIMD`);
    expectSameBits(plain, await run(1, format, bias, M, N, K), 1);
    expectSameBits(plain, await run(2, format, bias, M, N, K, false, false), 2);
  });
});

describe('wasm q8 matvec on f32 activations (the version kept for comparison)', () => {
  it.each(shapes.filter((s) => s.M === 1))('matches the CPU reference within f32 rounding: [1, $K] x [$N, $K]', async ({ N, K }) => {
    for (const threads of [1, 2]) {
      const r = await run(threads, 'q8', true, 1, N, K, true);
      expectClose(r.got, r.ref, TOL, `out [1, ${N}], ${threads} threads`);
      expect(r.intact).toBe(true);
    }
  });
});

describe('wasm q kernels', () => {
  it('give back the memory of the quantized activations', async () => {
    const k = await kernels();
    const a = k.arena.upload('f32', [3, 40], new Float32Array(120).fill(0.5), 'a');
    const w = k.arena.upload('q4', [5, 40], quantize('q4', new Float32Array(200).fill(0.25), 5, 40), 'w');
    const out = k.arena.alloc('f32', [3, 5], 'out');
    const mark = k.arena.mark();
    k.matmul(out, a, w, undefined, 3, 5, 40);
    expect(k.arena.mark()).toBe(mark);
    expectClose(k.arena.f32(out), new Float64Array(15).fill(40 * 0.5 * 0.25), TOL, 'out');
  });

  it('refuse a weight tensor too small for its format and shape', async () => {
    const k = await kernels();
    const a = k.arena.alloc('f32', [1, 40], 'a');
    const w = k.arena.alloc('q8', [4, 40], 'w');
    const out = k.arena.alloc('f32', [1, 5], 'out');
    expect(() => k.matmul(out, a, w, undefined, 1, 5, 40)).toThrow(/w needs 360 bytes for q8\[5,40\], its tensor has 288/);
  });
});

describe('q4 weights in WebAssembly memory', () => {
  // cols 40: no whole group of four blocks; 128: one; 300: two, then a whole block and a partial one
  it.each([40, 128, 300])('interleave the words of whole groups of four blocks and read back in src/quant.ts order: %i columns', async (cols) => {
    const rows = 3;
    const values = randomArray(new Rng(cols), rows * cols, 0.5);
    const packed = quantize('q4', values, rows, cols);
    const stored = kernelOrder('q4', packed.slice(), rows, cols);
    const nb = Math.ceil(cols / 32);
    // word i of block j of a group at 4 * i + j; the blocks after the groups and the scales where they were
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < nb; b++) {
        for (let i = 0; i < 4; i++) {
          const at = b < (nb & ~3) ? (r * nb + (b & ~3)) * 4 + 4 * i + (b & 3) : (r * nb + b) * 4 + i;
          expect(stored[at], `row ${r}, block ${b}, word ${i}`).toBe(packed[(r * nb + b) * 4 + i]);
        }
      }
    }
    expect([...stored.subarray(rows * nb * 4)]).toEqual([...packed.subarray(rows * nb * 4)]);
    expect([...quantOrder('q4', stored, rows, cols)]).toEqual([...packed]);
    // the backend's weight values (hook_result's projection) from its stored words
    const backend = new WasmBackend(await kernels(), { weights: 'q4' });
    try {
      const m = backend.matrix(values, undefined, rows, cols, 'w');
      expect([...backend.weightValues(m as Parameters<typeof backend.weightValues>[0])]).toEqual([...dequantize('q4', packed, rows, cols)]);
    } finally {
      backend.destroy();
    }
  });
});

describe('wasm embedding from quantized tables', () => {
  it.each([
    { T: 5, C: 7, pos0: 0, format: 'q8', wpe: true },
    { T: 3, C: 45, pos0: 4, format: 'q4', wpe: true },
    { T: 4, C: 64, pos0: 1, format: 'q8', wpe: true },
    { T: 6, C: 33, pos0: 0, format: 'q4', wpe: false },
    { T: 3, C: 250, pos0: 2, format: 'q4', wpe: true },
    { T: 2, C: 300, pos0: 0, format: 'q4', wpe: false },
  ] as const)('equals the reference on the dequantized tables bit for bit: T $T, C $C, $format, wpe $wpe', async ({ T, C, pos0, format, wpe }) => {
    const k = await kernels();
    const rng = new Rng(T * 1000 + C);
    const V = 50;
    const ids = Uint32Array.from({ length: T }, () => rng.int(0, V - 1));
    ids[0] = V - 1;
    const table = (rows: number, label: string) => {
      const values = randomArray(rng, rows * C, 0.5);
      const packed = quantize(format, values, rows, C);
      return { tensor: place(k, format, [rows, C], kernelOrder(format, packed.slice(), rows, C), label), values: dequantize(format, packed, rows, C) };
    };
    const wteT = table(V, 'wte');
    const wpeT = wpe ? table(pos0 + T + 3, 'wpe') : undefined;
    const out = place(k, 'f32', [T, C], undefined, 'out');
    k.embed(out, place(k, 'u32', [T], ids, 'ids'), wteT.tensor, wpeT?.tensor, { T, C, pos0 });
    const ref = new Float32Array(T * C); // f32: one f32 addition of the two dequantized values, as the kernel
    embedReference(ref, ids, wteT.values, wpeT?.values, { T, C, pos0 });
    expect([...read(k, out)]).toEqual([...ref]);
    expect(untouched(k, out)).toBe(true);
  });

  it('refuses a quantized table beside one of another format', async () => {
    const k = await kernels();
    const wte = k.arena.alloc('q8', [4, 3], 'wte');
    const wpe = k.arena.alloc('f32', [2, 3], 'wpe');
    const out = k.arena.alloc('f32', [1, 3], 'out');
    expect(() => k.embed(out, k.arena.upload('u32', [1], Uint32Array.of(1), 'ids'), wte, wpe, { T: 1, C: 3, pos0: 0 })).toThrow(/share one format, got q8 and f32/);
  });
});
