// Shared test helpers: the GPU, seeded random inputs, and the llm.c-style checker.
import { expect } from 'vitest';
import { getGpu, type Gpu } from '../src/gpu/device.ts';
import { Rng } from '../src/random.ts';

/** The process-wide GPU (SwiftShader on a machine without one). */
export function gpu(): Promise<Gpu> {
  return getGpu();
}

/** Values uniform in [-scale, scale), never exactly zero. */
export function randomArray(rng: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v = rng.range(-scale, scale);
    if (v === 0) v = scale / 3;
    out[i] = v;
  }
  return out;
}

export interface Tolerance {
  rtol: number;
  atol: number;
}

/**
 * Every element within `atol + |ref| * rtol`; non-finite reference values are skipped, NaN in the GPU output
 * always fails (outputs are poisoned with NaN before a run). The first mismatches are printed.
 */
export function expectClose(actual: ArrayLike<number>, reference: ArrayLike<number>, tol: Tolerance, what = 'output'): void {
  expect(actual.length, `${what} length`).toBe(reference.length);
  const bad: string[] = [];
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    if (!Number.isFinite(r)) continue;
    const a = actual[i]!;
    const err = Math.abs(a - r);
    const allowed = tol.atol + Math.abs(r) * tol.rtol;
    if (!(err <= allowed)) {
      if (bad.length < 8) bad.push(`[${i}] got ${a}, want ${r} (err ${err.toExponential(2)} > ${allowed.toExponential(2)})`);
      else bad.push('');
    }
    if (Number.isFinite(err)) worst = Math.max(worst, err / (tol.atol + Math.abs(r) * tol.rtol));
  }
  const shown = bad.filter(Boolean);
  expect(bad.length, `${what}: ${bad.length} mismatches (worst ${worst.toFixed(2)}x the allowance)\n${shown.join('\n')}`).toBe(0);
}

