import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor, writeTensor, type Tensor } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { packF16, roundToF16 } from '../../src/half.ts';
import { defaultVersion, matmul, matmulKernel, matmulReference, type MatmulVersion } from '../../src/kernels/matmul.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

type WeightDtype = 'f32' | 'f16x2';

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
  // The f16 path is judged against the reference on the same f16-rounded weights.
  const wt = dtype === 'f32' ? uploadTensor(g.device, 'f32', [N, K], w, 'w') : uploadTensor(g.device, 'f16x2', [N, K], packF16(w, K), 'w');
  const wRef = dtype === 'f32' ? w : w.map(roundToF16);
  const bt = bias && uploadTensor(g.device, 'f32', [N], bias, 'bias');
  const out = createTensor(g.device, 'f32', [M * N + GUARD], 'out');
  poison(g.device, out);
  writeTensor(g.device, out, new Float32Array(GUARD).fill(7), M * N * 4);

  matmul(rec, out, at, wt, bt, M, N, K, { version });
  const ref = new Float64Array(M * N);
  matmulReference(ref, a, wRef, bias, M, N, K);
  return { M, N, K, out, ref };
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

const variants = (['f32', 'f16x2'] as const).flatMap((dtype) => [true, false].map((bias) => ({ dtype, bias })));
// Not multiples of any tile or workgroup size. v2's blocks are 4 (m) x 8 (n) and matvec's 8 rows, each
// handled as two halves of 4: these leave 1, 2 and 3 rows of a last block, and last blocks of w that end in
// either half. K covers an odd count, a multiple of 4 (the vec4 path) and 4n + 1.
const Ms = [1, 6, 39];
const Ns = [3, 70, 133];
const Ks = [7, 64, 129];

// Every version of the kernel, from its list; one-row versions on M = 1 only.
describe.each(matmulKernel.versions.map((v) => [v.name, v.rows] as const))('matmul %s', (version, rows) => {
  const shapes = (rows === 'one' ? [1] : Ms).flatMap((M) => Ns.flatMap((N) => Ks.map((K) => [M, N, K] as const)));

  it.each(variants)('matches the CPU reference with $dtype weights, bias: $bias', async ({ dtype, bias }) => {
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

  it('says what is wrong with mismatched operands', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = (shape: number[]) => createTensor(g.device, 'f32', shape, 't');
    expect(() => matmul(rec, t([2, 6]), t([2, 8]), t([6, 4]), undefined, 2, 6, 8)).toThrow(/w needs 192 bytes/);
    expect(() => matmul(rec, t([2, 6]), t([2, 8]), t([6, 8]), undefined, 2, 6, 8, { version: 'matvec' })).toThrow(/M = 1/);
  });
});
