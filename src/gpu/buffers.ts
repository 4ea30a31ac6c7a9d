// GPU buffers: creation, upload, readback. A `Tensor` is a view of a storage buffer with its element type and
// shape; kernels take Tensors so their bindings carry offsets and sizes, and a model allocates its buffers once.
import { quantize, quantWords, type QuantFormat } from '../quant.ts';

export type DType = 'f32' | 'u32' | 'f16x2' | 'q8' | 'q4';

/**
 * A region of a storage buffer. `f16x2` is half-precision data packed two values to a u32 (low half first), the
 * layout `unpack2x16float` reads; it lets f16 weights run on adapters without the `shader-f16` feature.
 * `q8` and `q4` are a quantized matrix [rows, cols] in the block layout of src/quant.ts (its integers, then its
 * scales, in u32 words), padded to whole 16-byte vectors so a kernel may read it as vec4<u32>.
 * `shape` counts logical elements (halves for f16x2, values for q8 and q4), row-major.
 */
export interface Tensor {
  buffer: GPUBuffer;
  /** Byte offset into `buffer`; a multiple of the device's minStorageBufferOffsetAlignment (256). */
  offset: number;
  /** Bytes covered, a multiple of 4. */
  byteLength: number;
  dtype: DType;
  shape: number[];
}

/** Usage of every tensor buffer. Read lazily: in Node GPUBufferUsage exists only once the device layer ran. */
function storageUsage(): number {
  return GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/**
 * Bytes needed to hold `shape` elements of `dtype` (f16x2 rounds each row up to whole u32s; q8 and q4 hold whole
 * blocks and scale words, padded to 16 bytes).
 */
export function byteSize(dtype: DType, shape: readonly number[]): number {
  if (dtype === 'f32' || dtype === 'u32') return numel(shape) * 4;
  const cols = shape.at(-1) ?? 1;
  const rows = numel(shape) / Math.max(cols, 1);
  if (dtype === 'f16x2') return rows * Math.ceil(cols / 2) * 4;
  return align(quantWords(dtype, rows, cols) * 4, 16);
}

/** A new zero-filled storage tensor of its own buffer. */
export function createTensor(device: GPUDevice, dtype: DType, shape: number[], label: string): Tensor {
  const byteLength = Math.max(4, byteSize(dtype, shape));
  const buffer = device.createBuffer({ label, size: align(byteLength, 4), usage: storageUsage() });
  return { buffer, offset: 0, byteLength, dtype, shape };
}

/** A new tensor holding `data` (Float32Array for f32, Uint32Array for u32, packed f16x2 and quantized q8, q4). */
export function uploadTensor(
  device: GPUDevice,
  dtype: DType,
  shape: number[],
  data: Float32Array | Uint32Array,
  label: string,
): Tensor {
  const tensor = createTensor(device, dtype, shape, label);
  if (data.byteLength !== tensor.byteLength) {
    throw new Error(`${label}: ${data.byteLength} bytes of data for a ${dtype}[${shape}] tensor of ${tensor.byteLength}`);
  }
  device.queue.writeBuffer(tensor.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return tensor;
}

/** A new q8 or q4 tensor holding `values` (a row-major [rows, cols] matrix), quantized as src/quant.ts lays it out. */
export function uploadQuantized(device: GPUDevice, format: QuantFormat, rows: number, cols: number, values: Float32Array, label: string): Tensor {
  const padded = new Uint32Array(byteSize(format, [rows, cols]) / 4);
  padded.set(quantize(format, values, rows, cols));
  return uploadTensor(device, format, [rows, cols], padded, label);
}

/** Copy a tensor (or its first `byteLength` bytes) back to the CPU. */
export async function readTensor(device: GPUDevice, t: Tensor, byteLength = t.byteLength): Promise<ArrayBuffer> {
  const size = align(byteLength, 4);
  const staging = device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder({ label: 'readback' });
  encoder.copyBufferToBuffer(t.buffer, t.offset, staging, 0, size);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const copy = staging.getMappedRange().slice(0, byteLength);
  staging.unmap();
  staging.destroy();
  return copy;
}

export async function readF32(device: GPUDevice, t: Tensor, count?: number): Promise<Float32Array> {
  return new Float32Array(await readTensor(device, t, count === undefined ? t.byteLength : count * 4));
}

/** Fill a tensor with a value (NaN by default), so a kernel that leaves an element unwritten is caught. */
export function poison(device: GPUDevice, t: Tensor, value = Number.NaN): void {
  const data = new Float32Array(t.byteLength / 4).fill(value);
  device.queue.writeBuffer(t.buffer, t.offset, data);
}

export function writeTensor(device: GPUDevice, t: Tensor, data: Float32Array | Uint32Array, byteOffset = 0): void {
  device.queue.writeBuffer(t.buffer, t.offset + byteOffset, data.buffer, data.byteOffset, data.byteLength);
}

export function align(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
