import { describe, expect, it } from 'vitest';
import { poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { residualAdd, residualAddReference } from '../../src/kernels/add.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

describe('residual add', () => {
  it.each([1, 257, 1000, 70_001])('matches the CPU reference for n=%i', async (n) => {
    const g = await gpu();
    const rng = new Rng(n);
    const x = randomArray(rng, n);
    const y = randomArray(rng, n);
    // one extra element past n stays untouched: the kernel must not write beyond its range
    const xt = uploadTensor(g.device, 'f32', [n + 1], new Float32Array([...x, 7]), 'x');
    const yt = uploadTensor(g.device, 'f32', [n], y, 'y');
    const rec = new Recorder(g);
    residualAdd(rec, xt, yt, n);
    await rec.submit();
    const out = await readF32(g.device, xt);
    const ref = Float64Array.from(x);
    residualAddReference(ref, y, n);
    expectClose(out.subarray(0, n), ref, { rtol: 1e-6, atol: 0 });
    expect(out[n]).toBe(7);
  });

  it('reports the poisoned value when nothing runs', async () => {
    const g = await gpu();
    const t = uploadTensor(g.device, 'f32', [4], new Float32Array(4), 't');
    poison(g.device, t);
    const out = await readF32(g.device, t);
    expect(Number.isNaN(out[0])).toBe(true);
  });
});
