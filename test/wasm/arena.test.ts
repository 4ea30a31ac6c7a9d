import { describe, expect, it } from 'vitest';
import { WasmArena } from '../../src/backend/wasm/arena.ts';
import { hasWasmSimd } from '../../src/backend/wasm/module.ts';
import { kernels } from './setup.ts';

describe('wasm memory', () => {
  it('has SIMD here, and a shared memory when SharedArrayBuffer exists', async () => {
    expect(hasWasmSimd()).toBe(true);
    const k = await kernels();
    expect(k.shared).toBe(typeof SharedArrayBuffer !== 'undefined');
  });

  it('allocates 64-byte-aligned, zeroed tensors past the heap base, growing the memory, and releases to a mark', async () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    const arena = new WasmArena(memory, 1000);
    const a = arena.alloc('f32', [3, 5], 'a');
    expect(a.ptr).toBe(1024);
    expect(a.byteLength).toBe(60);
    const mark = arena.mark();
    const b = arena.upload('f32', [70_000], new Float32Array(70_000).fill(2), 'b');
    expect(b.ptr % 64).toBe(0);
    expect(b.ptr).toBeGreaterThanOrEqual(a.ptr + a.byteLength);
    expect(memory.buffer.byteLength).toBeGreaterThanOrEqual(b.ptr + b.byteLength);
    expect(arena.f32(b)[69_999]).toBe(2);
    arena.release(mark);
    const c = arena.alloc('f32', [10], 'c');
    expect(c.ptr).toBe(b.ptr);
    expect([...arena.f32(c)]).toEqual(new Array(10).fill(0)); // the reused region is zeroed
    const h = arena.alloc('f16x2', [4, 5], 'h');
    expect(h.byteLength).toBe(4 * 3 * 4); // rows of 5 halves padded to 3 words
  });

  it('copies floats out of a shared memory: the same values, owned by the copy, and a range inside the tensor only', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 100, shared: true });
    const arena = new WasmArena(memory, 1000);
    const values = Float32Array.from({ length: 50_257 }, (_, i) => Math.sin(i) * 1e3);
    const t = arena.upload('f32', [values.length], values, 't');
    const copy = arena.copyF32(t, 3, 50_000);
    expect(copy).toEqual(values.subarray(3, 50_000));
    expect(copy.buffer).toBeInstanceOf(ArrayBuffer);
    arena.f32(t).fill(0); // the memory changes, the copy does not
    expect(copy[0]).toBe(values[3]);
    expect(() => arena.copyF32(t, 0, 50_258)).toThrow(/outside the tensor/);
  });

  it('says how much was needed when a tensor does not fit, and loses nothing', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const arena = new WasmArena(memory, 64);
    const kept = arena.upload('f32', [4], Float32Array.of(1, 2, 3, 4), 'kept');
    const top = arena.mark();
    expect(() => arena.alloc('f32', [2 ** 30], 'wte')).toThrow(/out of WebAssembly memory: wte needs 4\.00 GiB more, 4\.00 GiB in all, past the 4\.00 GiB a wasm32 memory can hold/);
    expect(() => arena.alloc('f32', [100_000], 'wpe')).toThrow(/out of WebAssembly memory: wpe needs 0\.4 MiB in all and this runtime would not grow its memory past 0\.1 MiB/);
    expect(arena.mark()).toBe(top);
    expect([...arena.f32(kept)]).toEqual([1, 2, 3, 4]);
  });
});
