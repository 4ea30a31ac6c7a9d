import { describe, expect, it } from 'vitest';
import { readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { rope, ropeInvFreq, ropeReference, type RopeOptions } from '../../src/kernels/rope.ts';
import { Rng } from '../../src/random.ts';
import { expectClose, gpu, randomArray } from '../helpers.ts';

// Outputs are x1 cos - x2 sin with |x| <= 1: where the two terms cancel, what is left is the absolute rounding of
// O(1) terms and of the reduced angle, a few f32 ulps of 1 (about 1e-7 measured), so atol is 1e-6.
const TOL = { rtol: 1e-4, atol: 1e-6 };

describe('rope', () => {
  it.each([
    { name: 'prefill, 3 heads of 20', T: 9, pos0: 0, nHeads: 3, headDim: 20, rotaryDim: 20, theta: 10_000 },
    { name: 'partial rotary 12 of 20, after a prefix', T: 4, pos0: 5, nHeads: 5, headDim: 20, rotaryDim: 12, theta: 10_000 },
    { name: 'decode at position 13', T: 1, pos0: 13, nHeads: 2, headDim: 12, rotaryDim: 12, theta: 500_000 },
    { name: 'decode at position 5000 (angles of ~800 turns)', T: 1, pos0: 5000, nHeads: 3, headDim: 12, rotaryDim: 12, theta: 10_000 },
  ])('matches the CPU reference: $name', async ({ T, pos0, nHeads, headDim, rotaryDim, theta }) => {
    const g = await gpu();
    const rng = new Rng(T * 100 + pos0 + headDim);
    // The heads sit at an odd offset inside rows with an odd stride, as keys do in a fused qkv buffer.
    const offset = 7;
    const stride = offset + nHeads * headDim + 3;
    const o: RopeOptions = { T, pos0, nHeads, headDim, rotaryDim, stride, offset };
    const x = randomArray(rng, T * stride);
    const invFreq = ropeInvFreq(rotaryDim, theta);
    const xT = uploadTensor(g.device, 'f32', [T, stride], x, 'x');
    const rec = new Recorder(g);
    rope(rec, xT, uploadTensor(g.device, 'f32', [rotaryDim / 2], invFreq, 'invFreq'), o);
    await rec.submit();
    const out = await readF32(g.device, xT);
    const ref = Float64Array.from(x);
    ropeReference(ref, invFreq, o);
    expectClose(out, ref, TOL, 'rotated rows');

    // Everything outside the rotated dims (padding, and dims rotaryDim.. of each head) is left bit for bit.
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < stride; c++) {
        const inHead = c >= offset && c < offset + nHeads * headDim;
        const rotated = inHead && (c - offset) % headDim < rotaryDim;
        const i = t * stride + c;
        if (!rotated && out[i] !== x[i]) throw new Error(`x[${t}, ${c}] changed from ${x[i]} to ${out[i]}`);
      }
    }
  });
});

describe('ropeInvFreq', () => {
  it('is 1 / theta^(2i / dim) by default', () => {
    for (const [dim, theta] of [[128, 10_000], [64, 500_000], [12, 10_000]] as const) {
      const f = ropeInvFreq(dim, theta);
      expect(f.length).toBe(dim / 2);
      expect(f[0]).toBe(1);
      for (let i = 0; i < dim / 2; i++) expect(Math.abs(f[i]! - theta ** (-(2 * i) / dim))).toBeLessThanOrEqual(2e-7 * f[i]!);
    }
  });

  it('divides every frequency by the factor for linear scaling', () => {
    const base = ropeInvFreq(64, 10_000);
    const scaled = ropeInvFreq(64, 10_000, { type: 'linear', factor: 4 });
    for (let i = 0; i < 32; i++) expect(scaled[i]).toBe(Math.fround(base[i]! / 4));
  });

  it('keeps high, divides low and blends the middle frequencies for llama3 scaling', () => {
    // Llama 3.1's rope_scaling: wavelengths under 8192 / 4 are kept, over 8192 / 1 divided by 8.
    const scaling = { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } as const;
    const base = ropeInvFreq(128, 500_000);
    const scaled = ropeInvFreq(128, 500_000, scaling);
    let kept = 0;
    let divided = 0;
    let blended = 0;
    for (let i = 0; i < 64; i++) {
      const f = base[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < 2048) {
        expect(scaled[i]).toBe(f);
        kept++;
      } else if (wavelen > 8192) {
        expect(scaled[i]).toBe(Math.fround(f / 8));
        divided++;
      } else {
        // the smooth factor runs from 1 (keep) at wavelength 2048 to 0 (divide by 8) at 8192
        const smooth = (8192 / wavelen - 1) / (4 - 1);
        const want = (1 - smooth) * (f / 8) + smooth * f;
        expect(Math.abs(scaled[i]! - want)).toBeLessThanOrEqual(1e-6 * want); // f32 rounding of each step
        expect(scaled[i]!).toBeLessThan(f);
        expect(scaled[i]!).toBeGreaterThan(f / 8);
        blended++;
      }
      if (i > 0) expect(scaled[i]!).toBeLessThan(scaled[i - 1]!); // still a decreasing sequence of frequencies
    }
    expect(kept).toBeGreaterThan(0);
    expect(divided).toBeGreaterThan(0);
    expect(blended).toBeGreaterThan(0);
  });
});
