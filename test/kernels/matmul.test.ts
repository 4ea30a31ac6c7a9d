import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadQuantized, uploadTensor, writeTensor, type Tensor } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { packF16, roundToF16 } from '../../src/half.ts';
import { defaultVersion, matmul, matmulKernel, matmulReference, type MatmulVersion } from '../../src/kernels/matmul.ts';
import { roundQuantized } from '../../src/quant.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

type WeightDtype = 'f32' | 'f16x2' | 'q8' | 'q4';

/** Sentinel values after the M * N outputs: a kernel writing past its output overwrites them. */
const GUARD = 4;

interface Case {
  M: number;
  N: number;
  K: number;
  out: Tensor;
  ref: Float64Array;
}

/** Upload random operands, poison the output, record the GPU matmul, and compute the CPU reference. */
function prepare(g: Gpu, rec: Recorder, version: MatmulVersion, dtype: WeightDtype, withBias: boolean, M: number, N: number, K: number): Case {
  const rng = new Rng(M * 1_000_003 + N * 1009 + K);
  const a = randomArray(rng, M * K);
  const w = randomArray(rng, N * K);
  const bias = withBias ? randomArray(rng, N) : undefined;

  const at = uploadTensor(g.device, 'f32', [M, K], a, 'a');
  // The f16, q8 and q4 paths are judged against the reference on the same rounded (dequantized) weights.
  const { wt, wRef } = weights(g, dtype, w, N, K);
  const bt = bias && uploadTensor(g.device, 'f32', [N], bias, 'bias');
  const out = createTensor(g.device, 'f32', [M * N + GUARD], 'out');
  poison(g.device, out);
  writeTensor(g.device, out, new Float32Array(GUARD).fill(7), M * N * 4);

  matmul(rec, out, at, wt, bt, M, N, K, { version });
  const ref = new Float64Array(M * N);
  matmulReference(ref, a, wRef, bias, M, N, K);
  return { M, N, K, out, ref };
}

/** w [N, K] as a GPU tensor of `dtype`, and the values the GPU reads for it. */
function weights(g: Gpu, dtype: WeightDtype, w: Float32Array, N: number, K: number): { wt: Tensor; wRef: Float32Array } {
  if (dtype === 'f32') return { wt: uploadTensor(g.device, 'f32', [N, K], w, 'w'), wRef: w };
  if (dtype === 'f16x2') return { wt: uploadTensor(g.device, 'f16x2', [N, K], packF16(w, K), 'w'), wRef: w.map(roundToF16) };
  return { wt: uploadQuantized(g.device, dtype, N, K, w, 'w'), wRef: roundQuantized(dtype, w, N, K) };
}

async function check(g: Gpu, c: Case, what: string): Promise<void> {
  const result = await readF32(g.device, c.out);
  const got = result.subarray(0, c.M * c.N);
  // f32 sums of K <= 129 products of values in [-1, 1) (sums of magnitude ~sqrt(K) / 3) carry rounding
  // errors near 1e-6 in absolute terms whatever the sum's size; atol 1e-5 covers them for sums that cancel to
  // near zero, and everything else must be within a relative 1e-4.
  expectClose(got, c.ref, { rtol: 1e-4, atol: 1e-5 }, what);
  expect([...result.subarray(c.M * c.N)], `${what}: wrote past the output`).toEqual(new Array(GUARD).fill(7));
}

// Every weight format for the versions that read any; q8 and q4 for the quantized versions (q, matvec.q).
const formatsOf = (weights: 'any' | 'quant') => (weights === 'any' ? (['f32', 'f16x2', 'q8', 'q4'] as const) : (['q8', 'q4'] as const));
const variantsOf = (weights: 'any' | 'quant') => formatsOf(weights).flatMap((dtype) => [true, false].map((bias) => ({ dtype, bias })));
// Not multiples of any tile or workgroup size. v2's blocks are 4 (m) x 8 (n) and matvec's 8 rows, each
// handled as two halves of 4: these leave 1, 2 and 3 rows of a last block, and last blocks of w that end in
// either half. K covers an odd count, a multiple of 4 (the vec4 path) and 4n + 1; for q8 and q4 a part block
// (7), whole blocks (64) and 4 blocks and one value (129).
const Ms = [1, 6, 39];
const Ns = [3, 70, 133];
const Ks = [7, 64, 129];

// Every version of the kernel, from its list; one-row versions on M = 1 only.
describe.each(matmulKernel.versions.map((v) => [v.name, v.rows, v.weights] as const))('matmul %s', (version, rows, formats) => {
  const shapes = (rows === 'one' ? [1] : Ms).flatMap((M) => Ns.flatMap((N) => Ks.map((K) => [M, N, K] as const)));

  it.each(variantsOf(formats))('matches the CPU reference with $dtype weights, bias: $bias', async ({ dtype, bias }) => {
    const g = await gpu();
    const rec = new Recorder(g);
    const cases = shapes.map(([M, N, K]) => prepare(g, rec, version, dtype, bias, M, N, K));
    await rec.submit();
    for (const c of cases) await check(g, c, `${version} ${dtype} [${c.M},${c.K}]x[${c.N},${c.K}]`);
  });
});

describe('matmul dispatch', () => {
  it('folds a matvec over many rows into a 2-D grid and still covers every row', async () => {
    // 8 rows per workgroup: 530_001 rows need 66_251 workgroups, past the 65535 limit of one dimension.
    const g = await gpu();
    const rec = new Recorder(g);
    const c = prepare(g, rec, 'matvec', 'f16x2', true, 1, 530_001, 8);
    expect(rec.dispatches[0]!.workgroups[1]).toBeGreaterThan(1);
    await rec.submit();
    await check(g, c, 'matvec folded');
  });

  it('folds matvec.v2 the same way', async () => {
    // 8 rows per invocation, 64 invocations per workgroup: 33_554_440 rows need 65_537 workgroups.
    const g = await gpu();
    const rec = new Recorder(g);
    const c = prepare(g, rec, 'matvec.v2', 'f32', true, 1, 33_554_440, 4);
    expect(rec.dispatches[0]!.workgroups[1]).toBeGreaterThan(1);
    await rec.submit();
    await check(g, c, 'matvec.v2 folded');
  });

  it('picks the adapter\'s matvec for one row and v2 otherwise', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = (shape: number[]) => createTensor(g.device, 'f32', shape, 't');
    matmul(rec, t([1, 6]), t([1, 8]), t([6, 8]), undefined, 1, 6, 8);
    matmul(rec, t([2, 6]), t([2, 8]), t([6, 8]), undefined, 2, 6, 8);
    const matvec = g.info.kind === 'software' ? 'matmul.matvec.v2.wgsl' : 'matmul.matvec.wgsl';
    expect(rec.dispatches.map((d) => d.shader)).toEqual([matvec, 'matmul.v2.wgsl']);
    expect(rec.dispatches[0]!.shape).toBe('[1,8]x[6,8]');
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([1, 2].flatMap((M) => [defaultVersion(M, soft), defaultVersion(M, hard)])).toEqual(['matvec.v2', 'matvec', 'v2', 'v2']);
  });

  it('picks the quantized versions for q8 and q4 weights, on every adapter', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const rng = new Rng(5);
    const w = uploadQuantized(g.device, 'q4', 6, 40, randomArray(rng, 6 * 40), 'w');
    const t = (shape: number[]) => createTensor(g.device, 'f32', shape, 't');
    matmul(rec, t([1, 6]), t([1, 40]), w, undefined, 1, 6, 40);
    matmul(rec, t([3, 6]), t([3, 40]), w, undefined, 3, 6, 40);
    expect(rec.dispatches.map((d) => d.shader)).toEqual(['matmul.matvec.q.wgsl', 'matmul.q.wgsl']);
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([1, 2].flatMap((M) => [defaultVersion(M, soft, 'q8'), defaultVersion(M, hard, 'q4')])).toEqual(['matvec.q', 'matvec.q', 'q', 'q']);
    expect(() => matmul(rec, t([1, 6]), t([1, 40]), t([6, 40]), undefined, 1, 6, 40, { version: 'matvec.q' })).toThrow(/reads q8 or q4 weights, got f32/);
  });

  it('says what is wrong with mismatched operands', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = (shape: number[]) => createTensor(g.device, 'f32', shape, 't');
    expect(() => matmul(rec, t([2, 6]), t([2, 8]), t([6, 4]), undefined, 2, 6, 8)).toThrow(/w needs 192 bytes/);
    expect(() => matmul(rec, t([2, 6]), t([2, 8]), t([6, 8]), undefined, 2, 6, 8, { version: 'matvec' })).toThrow(/M = 1/);
  });
});
