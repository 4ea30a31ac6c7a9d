import { describe, expect, it } from 'vitest';
import { packF16, roundToF16 } from '../../src/half.ts';
import { MIN_SPLIT_WORK, splitRows } from '../../src/backend/wasm/pool.ts';
import { Rng } from '../../src/random.ts';
import { expectClose } from '../helpers.ts';
import { WasmKernels } from '../../src/backend/wasm/kernels.ts';
import { expectSameBits, kernels, randomMatmul, runMatmul } from './setup.ts';

// As for the WGSL matmul: f32 sums of up to a few hundred products of values in [-1, 1) carry rounding errors
// near 1e-6 in absolute terms; atol 1e-5 covers sums that cancel to near zero, the rest is held to 1e-4 relative.
const TOL = { rtol: 1e-4, atol: 1e-5 };

type WeightDtype = 'f32' | 'f16x2';

// None of these is a multiple of matmul's blocks (4 rows of a by 2 rows of w), of the steps along K (matvec 16
// weights, matmul 4 for f32 and 8 for f16) or of the thread counts: last blocks of 1, 2 and 3 rows, K tails of
// 1 to 13 weights, and K = 1, 3 and 7 with no SIMD body at all.
const shapes = [
  { M: 1, N: 1, K: 1 },
  { M: 1, N: 37, K: 29 },
  { M: 1, N: 103, K: 66 },
  { M: 1, N: 70, K: 3 },
  { M: 2, N: 5, K: 7 },
  { M: 6, N: 37, K: 29 },
  { M: 7, N: 13, K: 66 },
  { M: 13, N: 41, K: 131 },
];
const variants = (['f32', 'f16x2'] as const).flatMap((dtype) => [true, false].map((bias) => ({ dtype, bias })));

/** Run one matmul on `threads` threads; returns what it wrote, the float64 reference, and whether the sentinels held. */
async function run(threads: number, dtype: WeightDtype, withBias: boolean, M: number, N: number, K: number, noSharedMemory = false) {
  const k = await kernels(threads, noSharedMemory);
  const { a, w, bias } = randomMatmul(new Rng(M * 1_000_003 + N * 1009 + K), M, N, K, withBias);
  // f16 weights are judged against the reference on the same f16-rounded weights
  const stored = dtype === 'f32' ? { dtype, data: w, values: w } : { dtype, data: packF16(w, K), values: w.map(roundToF16) };
  return runMatmul(k, a, stored, bias, M, N, K);
}

describe.each(variants)('wasm matmul, $dtype weights, bias $bias', ({ dtype, bias }) => {
  it.each(shapes)('matches the CPU reference: [$M, $K] x [$N, $K]', async ({ M, N, K }) => {
    const r = await run(1, dtype, bias, M, N, K);
    expectClose(r.got, r.ref, TOL, `out [${M}, ${N}]`);
    expect(r.intact, 'wrote past the end of a tensor').toBe(true);
  });

  it.each(shapes)('gives the same bits on 3 threads: [$M, $K] x [$N, $K]', async ({ M, N, K }) => {
    expectSameBits(await run(1, dtype, bias, M, N, K), await run(3, dtype, bias, M, N, K), 3);
  });
});

describe('wasm matmul threads', () => {
  it('runs the GPT-2 LM head shape, 50257 rows, on 2 threads as on 1', async () => {
    const one = await run(1, 'f16x2', false, 1, 50257, 35);
    const two = await run(2, 'f16x2', false, 1, 50257, 35);
    expect(two.threads).toBe(2);
    expect([...two.got]).toEqual([...one.got]);
    expectClose(two.got, two.ref, TOL, 'lm head');
  });

  it('runs on one thread over a plain memory where SharedArrayBuffer is not used', async () => {
    const k = await kernels(4, true);
    expect(k.shared).toBe(false);
    expect(k.threads).toBe(1);
    const r = await run(4, 'f32', true, 5, 23, 17, true);
    expectClose(r.got, r.ref, TOL, 'out');
    expect(r.intact).toBe(true);
  });

  it('splits rows into whole blocks of 4, at most the shares asked for, covering every row once', () => {
    expect(splitRows(10, 3)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(splitRows(3, 4)).toEqual([[0, 3]]);
    expect(splitRows(2304, 2)).toEqual([[0, 1152], [1152, 2304]]);
    for (const [N, threads] of [[50257, 2], [37, 5], [1, 3], [17, 4]] as const) {
      const shares = splitRows(N, threads);
      expect(shares.length).toBeLessThanOrEqual(threads);
      expect(shares[0]![0]).toBe(0);
      expect(shares.at(-1)![1]).toBe(N);
      for (let i = 0; i < shares.length; i++) {
        expect(shares[i]![0] % 4).toBe(0);
        expect(shares[i]![1]).toBeGreaterThan(shares[i]![0]);
        if (i > 0) expect(shares[i]![0]).toBe(shares[i - 1]![1]);
      }
    }
  });

  it('refuses operands too small for the shape, in one line', async () => {
    const k = await kernels();
    const a = k.arena.alloc('f32', [3, 8], 'a');
    const w = k.arena.alloc('f32', [5, 8], 'w');
    const out = k.arena.alloc('f32', [2, 5], 'out');
    expect(() => k.matmul(out, a, w, undefined, 3, 5, 8)).toThrow(/out needs 60 bytes for f32\[3,5\], its tensor has 40/);
    expect(() => k.matmul(out, a, w, undefined, 0, 5, 8)).toThrow(/M must be a positive integer/);
  });
});

describe('wasm thread pool', () => {
  it('reports a kernel that fails in a worker thread, and keeps working after it', async () => {
    const k = await kernels(2);
    const K = 16;
    const N = 64;
    const a = k.arena.upload('f32', [1, K], new Float32Array(K).fill(1), 'a');
    const out = k.arena.alloc('f32', [1, N], 'out');
    // weights whose first half of rows (the caller's share) lies in memory and whose second half (the worker's)
    // runs past its end: the worker's kernel traps
    const end = k.memory.buffer.byteLength;
    const w = { ptr: end - (N / 2) * K * 4, byteLength: N * K * 4, dtype: 'f32' as const, shape: [N, K], label: 'w' };
    // every thread claims shares until none is left, so the failing rows are a worker's, or the caller's own when
    // it got to them first
    expect(() => k.matmul(out, a, w, undefined, 1, N, K)).toThrow(/matvecF32: a worker thread failed|memory access out of bounds/);
    // the pool still runs jobs, and runs them right
    const r = await run(2, 'f32', true, 1, 37, 29);
    expectClose(r.got, r.ref, TOL, 'after a failure');
  });

  it('runs a job smaller than MIN_SPLIT_WORK on the calling thread alone, larger ones split', async () => {
    const k = await WasmKernels.create({ threads: 2 }); // the default threshold, as a model runs
    try {
      const K = 16;
      const N = 64; // 1024 multiply-adds
      const a = k.arena.upload('f32', [1, K], new Float32Array(K).fill(1), 'a');
      const out = k.arena.alloc('f32', [1, N], 'out');
      const rows = Math.ceil(MIN_SPLIT_WORK / K / 8) * 8;
      const big = k.arena.alloc('f32', [1, rows], 'out');
      // the rows a worker would get run past the end of memory: the calling thread itself traps on them
      const end = k.memory.buffer.byteLength;
      const w = { ptr: end - (N / 2) * K * 4, byteLength: N * K * 4, dtype: 'f32' as const, shape: [N, K], label: 'w' };
      expect(N * K).toBeLessThan(MIN_SPLIT_WORK);
      expect(() => k.matmul(out, a, w, undefined, 1, N, K)).toThrow(WebAssembly.RuntimeError);
      // past the threshold the job is split (the worker may fail first), and still fails
      const wBig = { ...w, ptr: end - (rows / 2) * K * 4, byteLength: rows * K * 4, shape: [rows, K] };
      expect(() => k.matmul(big, a, wBig, undefined, 1, rows, K)).toThrow(/matvecF32: a worker thread failed|memory access out of bounds/);
    } finally {
      k.destroy();
    }
  });
});
