import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { defaultVersion, rmsNorm, rmsNormKernel, rmsNormReference } from '../../src/kernels/rmsnorm.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// Every output is a product of three factors (x, 1/rms, gamma) with no cancellation, so its relative error is a
// few f32 ulps whatever its size: no absolute allowance is needed.
const TOL = { rtol: 1e-4, atol: 0 };

/** Every version of the kernel, from its list. */
const VERSIONS = rmsNormKernel.versions.map((v) => v.name);

describe.each(VERSIONS)('rmsnorm %s', (version) => {
  it.each([
    [1, 257],
    [7, 5],
    [7, 48],
    [33, 130],
    [4, 700],
    [130, 37], // more rows than v2's 64 invocations per workgroup, not a multiple of them
  ])('matches the CPU reference for rows=%i, C=%i', async (rows, C) => {
    const g = await gpu();
    const rng = new Rng(rows * 1000 + C);
    // rows of different scales, one of them large, so a missing normalisation shows
    const x = new Float32Array(rows * C);
    for (let r = 0; r < rows; r++) x.set(randomArray(rng, C, r === 0 ? 300 : rng.range(0.05, 4)), r * C);
    const gamma = randomArray(rng, C, 2);
    const eps = 1e-6;
    // one element past the output stays poisoned: the kernel must not write beyond its rows
    const outT = createTensor(g.device, 'f32', [rows * C + 1], 'out');
    poison(g.device, outT);
    const rec = new Recorder(g);
    rmsNorm(rec, outT, uploadTensor(g.device, 'f32', [rows, C], x, 'x'), uploadTensor(g.device, 'f32', [C], gamma, 'gamma'), rows, C, eps, { version });
    await rec.submit();
    const out = await readF32(g.device, outT);
    expect(Number.isNaN(out[rows * C])).toBe(true);
    const ref = new Float64Array(rows * C);
    rmsNormReference(ref, x, gamma, rows, C, eps);
    expectClose(out.subarray(0, rows * C), ref, TOL);
  });
});

describe('rmsnorm versions', () => {
  it('picks v2 (one invocation per row) on a software adapter and v1 on a hardware one', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = createTensor(g.device, 'f32', [6], 't');
    rmsNorm(rec, t, t, t, 2, 3, 1e-6);
    expect(rec.dispatches[0]!.shader).toBe(g.info.kind === 'software' ? 'rmsNorm.v2.wgsl' : 'rmsNorm.v1.wgsl');
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([defaultVersion(soft), defaultVersion(hard)]).toEqual(['v2', 'v1']);
  });
});
