// Shared test helpers: the GPU, seeded random inputs, and the llm.c-style checker.
import { expect } from 'vitest';
import { getWasmDevice, type Device } from '../src/backend/device.ts';
import { getGpu, type Gpu } from '../src/gpu/device.ts';
import { Checker, type Tolerance } from '../src/kernels/check.ts';
import { Rng } from '../src/random.ts';

/** The process-wide GPU (SwiftShader on a machine without one). */
export function gpu(): Promise<Gpu> {
  return getGpu();
}

/**
 * The process-wide GPU taken for a hardware one: every kernel runs the versions a GPU gets (workgroup reductions,
 * the fused decode tail), whatever adapter this machine has.
 */
export async function hardwareGpu(): Promise<Gpu> {
  const g = await getGpu();
  return { ...g, info: { ...g.info, kind: 'hardware' } };
}

/** The devices a model runs on, each test of a whole model running on both. */
export const DEVICE_KINDS = ['webgpu', 'wasm'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

/** The process-wide device of that kind: the GPU (SwiftShader here), or the WebAssembly kernels. */
export function device(kind: DeviceKind): Promise<Device> {
  return kind === 'wasm' ? getWasmDevice() : getGpu();
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

/**
 * Every element within `atol + |ref| * rtol`, by the checker the bench uses too (src/kernels/check.ts): NaN in the
 * GPU output always fails (outputs are poisoned with NaN before a run), a non-finite reference value must be
 * matched exactly. The first mismatches are printed.
 */
export function expectClose(actual: ArrayLike<number>, reference: ArrayLike<number>, tol: Tolerance, what = 'output'): void {
  expect(actual.length, `${what} length`).toBe(reference.length);
  const checker = new Checker(tol);
  checker.addAll(actual, reference, what);
  const { failed } = checker.result();
  expect(failed, checker.summary(what)).toBe(0);
}
