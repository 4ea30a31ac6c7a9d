import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, writeTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { defaultVersion, softmax, softmaxKernel, softmaxReference } from '../../src/kernels/softmax.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// Probabilities are compared relative to themselves (rtol 1e-4). f32 holds ~7 digits of a row summing to 1, and
// GPUs may flush the tiniest exponentials (below 1e-38) to zero, so probabilities under 1e-7 are held to 1e-7.
const TOL = { rtol: 1e-4, atol: 1e-7 };

/** Every version of the kernel, from its list. */
const VERSIONS = softmaxKernel.versions.map((v) => v.name);

/**
 * Rows of values in [-5, 5) with, in turn: an outlier of 1000 (exp(1000) overflows f32: only a max-subtracting
 * softmax survives it), an outlier of +20 over the rest, a causal-style -infinity tail, and no change. When
 * there are at least 3 rows, row 2 is masked entirely.
 */
function makeRows(rng: Rng, rows: number, cols: number): Float32Array {
  const x = randomArray(rng, rows * cols, 5);
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const kind = r % 4;
    if (kind === 0) row[rng.int(0, cols - 1)] = 1000 + rng.range(0, 50);
    if (kind === 1) row[rng.int(0, cols - 1)] = 20 + rng.range(0, 5);
    if (kind === 2) row.fill(-Infinity, 1 + (r % cols));
  }
  if (rows >= 3) x.subarray(2 * cols, 3 * cols).fill(-Infinity);
  return x;
}

describe.each(VERSIONS)('softmax %s', (version) => {
  it.each([
    [1, 1],
    [7, 5],
    [3, 257],
    [9, 1000],
    [2, 50_257],
    [300, 33], // more rows than v2's 64 invocations per workgroup, not a multiple of them
  ])('matches the CPU reference for rows=%i, cols=%i', async (rows, cols) => {
    const g = await gpu();
    const rng = new Rng(rows * 7 + cols);
    const x = makeRows(rng, rows, cols);
    // one float past the rows is poisoned and must stay so: the kernel writes its rows only
    const t = createTensor(g.device, 'f32', [rows * cols + 1], 'x');
    poison(g.device, t);
    writeTensor(g.device, t, x);
    const rec = new Recorder(g);
    softmax(rec, t, rows, cols, { version });
    await rec.submit();
    const out = await readF32(g.device, t);
    expect(Number.isNaN(out[rows * cols])).toBe(true);
    const ref = Float64Array.from(x);
    softmaxReference(ref, rows, cols);
    expectClose(out.subarray(0, rows * cols), ref, TOL, 'probabilities');
    for (let i = 0; i < rows * cols; i++) {
      if (x[i] === -Infinity && out[i] !== 0) throw new Error(`masked entry ${i} became ${out[i]}, not 0`);
    }
  });
});


describe('softmax versions', () => {
  it('picks v2 (one invocation per row) on a software adapter and v1 on a hardware one', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    softmax(rec, createTensor(g.device, 'f32', [6], 't'), 2, 3);
    expect(rec.dispatches[0]!.shader).toBe(g.info.kind === 'software' ? 'softmax.v2.wgsl' : 'softmax.v1.wgsl');
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([defaultVersion(soft), defaultVersion(hard)]).toEqual(['v2', 'v1']);
  });
});
