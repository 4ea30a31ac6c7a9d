// Shared by the WebAssembly kernel tests: kernel instances (built from source first if the .wasm is missing),
// tensors in their memory placed at odd addresses, poisoned, with a sentinel past the end, and one matmul run
// against the float64 reference, whatever format its weights are stored in.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect } from 'vitest';
import { tensorBytes, type WasmDType, type WasmTensor } from '../../src/backend/wasm/arena.ts';
import { kernelOrder, WasmKernels } from '../../src/backend/wasm/kernels.ts';
import { isQuantFormat } from '../../src/quant.ts';
import { matmulReference } from '../../src/kernels/matmul.ts';
import type { Rng } from '../../src/random.ts';
import { randomArray } from '../helpers.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SOURCES = 'src/backend/wasm/assembly';

/** Build the kernels (`npm run build:wasm`) when this checkout has not, or its sources changed since. */
function ensureBuilt(): void {
  const outputs = ['kernels.wasm', 'kernels.shared.wasm', 'kernels.relaxed.wasm', 'kernels.shared.relaxed.wasm'].map((f) => `${root}build/wasm/${f}`);
  const sources = readdirSync(`${root}${SOURCES}`).map((f) => `${root}${SOURCES}/${f}`);
  const newest = Math.max(...sources.map((f) => statSync(f).mtimeMs));
  if (outputs.every((f) => existsSync(f) && statSync(f).mtimeMs >= newest)) return;
  execFileSync('npm', ['run', '--silent', 'build:wasm'], { cwd: root, stdio: 'inherit' });
}

const instances = new Map<string, Promise<WasmKernels>>();

/**
 * Kernels over `threads` threads (a plain, unshared memory when `noSharedMemory`), one instance per file. Every
 * matvec and matmul is split over the threads, however small (minSplitWork 0), so the tests' shapes exercise it.
 * The build with relaxed SIMD is loaded where the runtime has it (as WasmKernels.create does), unless `relaxedSimd`
 * is false.
 */
export function kernels(threads = 1, noSharedMemory = false, relaxedSimd = true): Promise<WasmKernels> {
  const key = `${threads}/${noSharedMemory}/${relaxedSimd}`;
  let k = instances.get(key);
  if (!k) {
    ensureBuilt();
    k = WasmKernels.create({ threads, noSharedMemory, minSplitWork: 0, relaxedSimd });
    instances.set(key, k);
  }
  return k;
}

afterAll(async () => {
  for (const k of instances.values()) (await k).destroy();
  instances.clear();
});

/** Floats of NaN after a tensor's data: a kernel writing past its end overwrites one. */
export const SENTINEL = 3;

/**
 * A tensor of `dtype[shape]` holding `data`, starting one float past a 64-byte boundary (so no SIMD load is
 * aligned), followed by SENTINEL NaN floats. Without data, the tensor is filled with NaN.
 */
export function place(k: WasmKernels, dtype: WasmDType, shape: number[], data: Float32Array | Uint32Array | undefined, label: string): WasmTensor {
  const words = data?.length ?? tensorBytes(dtype, shape) / 4;
  const t = k.arena.alloc('f32', [1 + words + SENTINEL], label);
  const inner: WasmTensor = { ptr: t.ptr + 4, byteLength: t.byteLength - 4 * (1 + SENTINEL), dtype, shape, label };
  new Float32Array(k.memory.buffer, t.ptr, t.byteLength / 4).fill(Number.NaN);
  if (data) new Uint8Array(k.memory.buffer, inner.ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return inner;
}

/** The tensor's floats (a copy). */
export function read(k: WasmKernels, t: WasmTensor): Float32Array {
  return new Float32Array(k.memory.buffer, t.ptr, t.byteLength / 4).slice();
}

/** The SENTINEL floats after the tensor: all still NaN unless something wrote past its end. */
export function sentinel(k: WasmKernels, t: WasmTensor): number[] {
  return [...new Float32Array(k.memory.buffer, t.ptr + t.byteLength, SENTINEL)];
}

/** True when every sentinel float is still NaN. */
export function untouched(k: WasmKernels, t: WasmTensor): boolean {
  return sentinel(k, t).every(Number.isNaN);
}

/** Random operands of out[M, N] = a[M, K] @ w[N, K]^T + bias[N], drawn in that order from `rng`. */
export function randomMatmul(rng: Rng, M: number, N: number, K: number, withBias: boolean): { a: Float32Array; w: Float32Array; bias?: Float32Array } {
  const a = randomArray(rng, M * K);
  const w = randomArray(rng, N * K);
  return { a, w, bias: withBias ? randomArray(rng, N) : undefined };
}

/** The weights of a matmul as stored (`data`, in `dtype`) and the values they stand for (f16-rounded, dequantized). */
export interface StoredWeights {
  dtype: WasmDType;
  data: Float32Array | Uint32Array;
  values: Float32Array;
}

/**
 * One matmul on `k`, every operand placed at an odd address with sentinels after it, and the float64 reference run
 * on the values the weights stand for; the arena is given back after. `version` picks a kernel by name.
 */
export function runMatmul(k: WasmKernels, a: Float32Array, w: StoredWeights, bias: Float32Array | undefined, M: number, N: number, K: number, version?: string) {
  const mark = k.arena.mark();
  const at = place(k, 'f32', [M, K], a, 'a');
  const wt = place(k, w.dtype, [N, K], w.data && isQuantFormat(w.dtype) ? kernelOrder(w.dtype, w.data.slice() as Uint32Array, N, K) : w.data, 'w');
  const bt = bias && place(k, 'f32', [N], bias, 'bias');
  const out = place(k, 'f32', [M, N], undefined, 'out');
  k.matmul(out, at, wt, bt, M, N, K, 'matmul', version);
  const ref = new Float64Array(M * N);
  matmulReference(ref, a, w.values, bias, M, N, K);
  const result = { got: read(k, out), ref, intact: untouched(k, out) && untouched(k, at) && untouched(k, wt), threads: k.threads };
  k.arena.release(mark);
  return result;
}

/** A run over `threads` threads wrote exactly the bits of the run on one thread, and nothing past its tensors. */
export function expectSameBits(one: { got: Float32Array }, many: { got: Float32Array; threads: number; intact: boolean }, threads: number): void {
  expect(many.threads).toBe(threads);
  expect(many.intact, 'wrote past the end of a tensor').toBe(true);
  expect([...many.got]).toEqual([...one.got]);
}
