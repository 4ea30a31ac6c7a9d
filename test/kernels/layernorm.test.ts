import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { defaultVersion, layerNorm, layerNormKernel, layerNormReference, type LayerNormVersion } from '../../src/kernels/layernorm.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// Outputs are O(1): normalised values times gamma plus beta, both O(1). Where the two terms nearly cancel, the
// output keeps the absolute rounding of its O(1) terms (a few f32 ulps of 1, ~1e-7), so atol is 1e-6.
const TOL = { rtol: 1e-4, atol: 1e-6 };

/** Rows of different offsets and spreads; every third row sits at 1000 + small noise, where a naive mean or
 * variance cancels catastrophically. No row is constant. */
function makeRows(rng: Rng, rows: number, C: number): Float32Array {
  const x = new Float32Array(rows * C);
  for (let r = 0; r < rows; r++) {
    const [offset, spread] = r % 3 === 0 ? [1000, 0.1] : [rng.range(-3, 3), rng.range(0.2, 3)];
    const noise = randomArray(rng, C, spread);
    for (let c = 0; c < C; c++) x[r * C + c] = offset + noise[c]!;
  }
  return x;
}

/** Every version of the kernel, from its list. */
const VERSIONS = layerNormKernel.versions.map((v) => v.name);

async function run(version: LayerNormVersion, rows: number, C: number, x: Float32Array, seed: number): Promise<{ out: Float32Array; ref: Float64Array }> {
  const g = await gpu();
  const rng = new Rng(seed);
  const gamma = randomArray(rng, C, 1.5);
  const beta = randomArray(rng, C, 1);
  const eps = 1e-5;
  // one element past the output stays poisoned: the kernel must not write beyond its rows
  const outT = createTensor(g.device, 'f32', [rows * C + 1], 'out');
  poison(g.device, outT);
  const rec = new Recorder(g);
  layerNorm(
    rec,
    outT,
    uploadTensor(g.device, 'f32', [rows, C], x, 'x'),
    uploadTensor(g.device, 'f32', [C], gamma, 'gamma'),
    uploadTensor(g.device, 'f32', [C], beta, 'beta'),
    rows,
    C,
    eps,
    { version },
  );
  await rec.submit();
  const out = await readF32(g.device, outT);
  expect(Number.isNaN(out[rows * C])).toBe(true);
  const ref = new Float64Array(rows * C);
  layerNormReference(ref, x, gamma, beta, rows, C, eps);
  return { out: out.subarray(0, rows * C), ref };
}

describe.each(VERSIONS)('layernorm %s', (version) => {
  it.each([
    [1, 257],
    [7, 5],
    [7, 48],
    [33, 130],
    [4, 700],
    [130, 37], // more rows than v2's 64 invocations per workgroup, not a multiple of them
  ])('matches the CPU reference for rows=%i, C=%i', async (rows, C) => {
    const rng = new Rng(rows * 1000 + C);
    const { out, ref } = await run(version, rows, C, makeRows(rng, rows, C), rows + C);
    expectClose(out, ref, TOL);
  });

  it('keeps its precision on rows far from zero (1000 + noise, -5000 + noise)', async () => {
    const rng = new Rng(42);
    const C = 300;
    const x = new Float32Array(2 * C);
    for (let c = 0; c < C; c++) {
      x[c] = 1000 + rng.range(-0.01, 0.01);
      x[C + c] = -5000 + rng.range(-0.01, 0.01) * (c % 2 ? 1 : -1) - 0.001;
    }
    const { out, ref } = await run(version, 2, C, x, 7);
    expectClose(out, ref, TOL);
  });
});

describe('layernorm versions', () => {
  it('picks v2 (one invocation per row) on a software adapter and v1 on a hardware one', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = createTensor(g.device, 'f32', [6], 't');
    layerNorm(rec, t, t, t, t, 2, 3, 1e-5);
    expect(rec.dispatches[0]!.shader).toBe(g.info.kind === 'software' ? 'layerNorm.v2.wgsl' : 'layerNorm.v1.wgsl');
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([defaultVersion(soft), defaultVersion(hard)]).toEqual(['v2', 'v1']);
  });
});
