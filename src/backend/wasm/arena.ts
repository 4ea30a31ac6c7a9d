// A bump allocator for tensors in the kernels' WebAssembly memory. A model allocates its weights and activations
// once, in order, and frees them all together (or back to a mark), so a pointer bump is the whole allocator;
// the memory grows by whole pages as the top passes its end.
import { byteSize, type DType } from '../../gpu/buffers.ts';
import { isQuantFormat, quantWords, type QuantFormat } from '../../quant.ts';
import { MAX_PAGES, PAGE_BYTES } from './module.ts';

/** Tensor's dtypes, and the q8 / q4 block formats of src/quant.ts for a [rows, cols] weight matrix. */
export type WasmDType = DType | QuantFormat;

/** A tensor in WebAssembly memory: `byteLength` bytes at byte address `ptr`. Same dtypes and shapes as Tensor. */
export interface WasmTensor {
  ptr: number;
  byteLength: number;
  dtype: WasmDType;
  shape: number[];
  label: string;
}

/** Bytes of a tensor of `dtype[shape]`: q8 / q4 hold integers and scales in u32 words (src/quant.ts). */
export function tensorBytes(dtype: WasmDType, shape: readonly number[]): number {
  if (!isQuantFormat(dtype)) return byteSize(dtype, shape);
  const cols = shape.at(-1) ?? 1;
  return 4 * quantWords(dtype, shape.reduce((a, b) => a * b, 1) / Math.max(cols, 1), cols);
}

/** Every tensor starts on a 64-byte boundary: one cache line, so threads writing neighbouring tensors never share one. */
const ALIGN = 64;

const MEMORY_LIMIT = MAX_PAGES * PAGE_BYTES;

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/** Bytes for a person: MiB below 1 GiB, GiB above. */
function size(bytes: number): string {
  return bytes < 2 ** 30 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 2 ** 30).toFixed(2)} GiB`;
}

export class WasmArena {
  private top: number;

  constructor(
    readonly memory: WebAssembly.Memory,
    /** The first free byte (the module's heap base). */
    base: number,
  ) {
    this.top = alignUp(Math.max(base, ALIGN), ALIGN);
  }

  /** Bytes in use, from address 0. */
  get used(): number {
    return this.top;
  }

  /** A new zero-filled tensor (a region freed by `release` and reused is zeroed again). */
  alloc(dtype: WasmDType, shape: number[], label: string): WasmTensor {
    const byteLength = Math.max(4, tensorBytes(dtype, shape));
    const ptr = this.top;
    const end = alignUp(ptr + byteLength, ALIGN);
    this.reserve(end, label);
    this.top = end;
    new Uint8Array(this.memory.buffer, ptr, byteLength).fill(0);
    return { ptr, byteLength, dtype, shape: [...shape], label };
  }

  /** A new tensor holding `data` (f32 values, or u32 words for u32, f16x2, q8 and q4). */
  upload(dtype: WasmDType, shape: number[], data: Float32Array | Uint32Array, label: string): WasmTensor {
    const t = this.alloc(dtype, shape, label);
    if (data.byteLength > t.byteLength) throw new Error(`${label}: ${data.byteLength} bytes of data do not fit ${dtype}[${shape}] (${t.byteLength} bytes)`);
    new Uint8Array(this.memory.buffer, t.ptr, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return t;
  }

  /**
   * The address of `bytes` free bytes above the top, neither zeroed nor allocated: a kernel call's temporary,
   * valid until the next alloc or upload (the memory grown to hold it if need be).
   */
  scratch(bytes: number, label: string): number {
    this.reserve(alignUp(this.top + bytes, ALIGN), label);
    return this.top;
  }

  /** Where the next tensor would go: pass it to `release` to free everything allocated after this call. */
  mark(): number {
    return this.top;
  }

  release(mark: number): void {
    if (mark > this.top) throw new Error(`release: mark ${mark} is past the top ${this.top}`);
    this.top = mark;
  }

  /** The tensor's floats, as a view of the memory (taken afresh: growing a memory replaces its buffer). */
  f32(t: WasmTensor): Float32Array {
    return new Float32Array(this.memory.buffer, t.ptr, t.byteLength / 4);
  }

  /**
   * A copy of floats from .. to - 1 of the tensor, out of the memory, copied as bytes: the slice of a Float32Array
   * over the shared memory took about 0.8 ms for GPT-2's 50257 logits in a decode step, this about 0.5 ms (most of
   * it making the new array).
   */
  copyF32(t: WasmTensor, from: number, to: number): Float32Array<ArrayBuffer>;
  copyF32<A extends ArrayBufferLike>(t: WasmTensor, from: number, to: number, into: Float32Array<A> | undefined): Float32Array<A | ArrayBuffer>;
  copyF32(t: WasmTensor, from: number, to: number, into?: Float32Array): Float32Array {
    if (!(0 <= from && from <= to && to * 4 <= t.byteLength)) throw new Error(`${t.label}: floats ${from}..${to} lie outside the tensor`);
    if (into && into.length !== to - from) throw new Error(`${t.label}: ${to - from} floats do not fit an array of ${into.length}`);
    const out = into ?? new Float32Array(to - from);
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(new Uint8Array(this.memory.buffer, t.ptr + from * 4, (to - from) * 4));
    return out;
  }

  /** The tensor's 32-bit words (token ids, packed halves). */
  u32(t: WasmTensor): Uint32Array {
    return new Uint32Array(this.memory.buffer, t.ptr, t.byteLength / 4);
  }

  /** Grow the memory to hold `end` bytes; on failure, say how much was needed, and change nothing. */
  private reserve(end: number, label: string): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > MEMORY_LIMIT) {
      throw new Error(`out of WebAssembly memory: ${label} needs ${size(end - this.top)} more, ${size(end)} in all, past the ${size(MEMORY_LIMIT)} a wasm32 memory can hold; use a smaller model, f16 weights, or the WebGPU device`);
    }
    try {
      this.memory.grow(Math.ceil((end - have) / PAGE_BYTES));
    } catch {
      throw new Error(`out of WebAssembly memory: ${label} needs ${size(end)} in all and this runtime would not grow its memory past ${size(have)}; use a smaller model or f16 weights`);
    }
  }
}
