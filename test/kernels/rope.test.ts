import { describe, expect, it } from 'vitest';
import { readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { rope, ropeInvFreq } from '../../src/kernels/rope.ts';
import { gpu } from '../helpers.ts';
import { expectRope, ROPE_CASES, ropeInputs } from './cases.ts';

describe('rope', () => {
  it.each(ROPE_CASES)('matches the CPU reference: $name', async (c) => {
    const g = await gpu();
    const inputs = ropeInputs(c);
    const { o, x, invFreq } = inputs;
    const xT = uploadTensor(g.device, 'f32', [o.T, o.stride], x, 'x');
    const rec = new Recorder(g);
    rope(rec, xT, uploadTensor(g.device, 'f32', [c.rotaryDim / 2], invFreq, 'invFreq'), o);
    await rec.submit();
    expectRope(inputs, await readF32(g.device, xT));
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
