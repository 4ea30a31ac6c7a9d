// Weight matrices larger than one storage binding.
//
// A shader sees a buffer through a binding of at most maxStorageBufferBindingSize bytes (128 MiB by default, 1-4
// GiB on most adapters once raised), and one buffer holds at most maxBufferSize. The LM head of a 150k-token
// vocabulary is [V, C] = 151936 x 1536 floats (930 MB in f32): over the limit on many adapters. Such a matrix is
// stored as row chunks, each its own buffer within one binding, and used chunk by chunk:
//
//   matmul:  each chunk's rows are output columns row0 .. row0 + rows of out [M, N]. A chunk's matmul writes a
//            scratch [M, rows], then one copy per row puts it in place (copies need 4-byte alignment only, where a
//            binding offset into out would need 256).
//   embed:   the rows of the tokens are gathered by copies into a small [T, C] table, then embedded in order
//            (ids 0 .. T-1 against that table), so the embedding kernel never binds the split table. A q8 or q4
//            row is two runs of words (its blocks' integers, and its scale words), so it takes two copies.
//
// A q8 or q4 matrix is quantized chunk by chunk: each chunk is a whole quantized matrix of its rows (integers,
// then scales; src/quant.ts), so a kernel reads a chunk exactly as it reads an unsplit matrix.
//
// A matrix that fits is one chunk, and both reduce to the plain kernel call.
import { byteSize, createTensor, uploadQuantized, uploadTensor, type DType, type Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { packF16 } from '../half.ts';
import { embedTokens } from '../kernels/embedding.ts';
import { matmul } from '../kernels/matmul.ts';
import { isQuantFormat, QWORDS, quantBlocks, quantScaleOffset } from '../quant.ts';
import type { WeightFormat } from './model.ts';

/** Rows row0 .. row0 + rows - 1 of a matrix, with the matching slice of its bias. */
export interface RowChunk {
  row0: number;
  rows: number;
  weight: Tensor; // [rows, cols], f32, f16x2, q8 or q4
  bias?: Tensor; // [rows] f32
}

/** A [rows, cols] weight (nn.Linear's [out, in]) with an optional bias [rows], as one or more row chunks. */
export interface SplitMatrix {
  rows: number;
  cols: number;
  chunks: RowChunk[];
}

/** Upload a matrix (and its bias), cut into as few balanced row chunks as keep each within `maxBytes`. */
export function uploadSplitMatrix(
  device: GPUDevice,
  weight: Float32Array,
  bias: Float32Array | undefined,
  rows: number,
  cols: number,
  format: WeightFormat,
  maxBytes: number,
  label: string,
): SplitMatrix {
  const dtype: DType = format === 'f16' ? 'f16x2' : format;
  const rowBytes = byteSize(dtype, [1, cols]);
  const fit = Math.floor(maxBytes / rowBytes);
  if (fit < 1) throw new Error(`${label}: one row of ${cols} values (${rowBytes} bytes) is larger than a storage binding (${maxBytes} bytes)`);
  const count = Math.ceil(rows / fit);
  const per = Math.ceil(rows / count);
  const chunks: RowChunk[] = [];
  for (let row0 = 0; row0 < rows; row0 += per) {
    const n = Math.min(per, rows - row0);
    const part = count === 1 ? label : `${label}[${row0}:${row0 + n}]`;
    const values = weight.subarray(row0 * cols, (row0 + n) * cols);
    chunks.push({
      row0,
      rows: n,
      weight: upload(device, dtype, n, cols, values, part),
      bias: bias && uploadTensor(device, 'f32', [n], bias.subarray(row0, row0 + n), `${part}.bias`),
    });
  }
  return { rows, cols, chunks };
}

/** One chunk's rows [rows, cols] in `dtype`: f32 as they are, f16 packed, q8 and q4 quantized. */
function upload(device: GPUDevice, dtype: DType, rows: number, cols: number, values: Float32Array, label: string): Tensor {
  if (dtype === 'f16x2') return uploadTensor(device, dtype, [rows, cols], packF16(values, cols), label);
  if (isQuantFormat(dtype)) return uploadQuantized(device, dtype, rows, cols, values, label);
  return uploadTensor(device, dtype, [rows, cols], values, label);
}

/** Every tensor of a split matrix, for byte counts and destroy(). */
export function splitTensors(m: SplitMatrix): Tensor[] {
  return m.chunks.flatMap((c) => (c.bias ? [c.weight, c.bias] : [c.weight]));
}

/** Rows of the largest chunk of any split (more than one chunk) matrix: the width of the scratch buffer. */
export function splitScratchWidth(matrices: SplitMatrix[]): number {
  return Math.max(0, ...matrices.filter((m) => m.chunks.length > 1).flatMap((m) => m.chunks.map((c) => c.rows)));
}

/**
 * out[M, N] = a[M, K] @ w^T + bias, with N = w.rows and K = w.cols. A split w needs `scratch` (f32, at least
 * M x the largest chunk's rows).
 */
export function splitMatmul(
  rec: Recorder,
  out: Tensor,
  a: Tensor,
  w: SplitMatrix,
  M: number,
  scratch: Tensor | undefined,
  o: { layer?: number; label?: string } = {},
): void {
  const { rows: N, cols: K, chunks } = w;
  if (chunks.length === 1) {
    matmul(rec, out, a, chunks[0]!.weight, chunks[0]!.bias, M, N, K, o);
    return;
  }
  if (!scratch) throw new Error(`${o.label ?? 'matmul'}: a split weight needs a scratch buffer`);
  for (const c of chunks) {
    matmul(rec, scratch, a, c.weight, c.bias, M, c.rows, K, { ...o, label: `${o.label ?? 'matmul'}[${c.row0}:${c.row0 + c.rows}]` });
    for (let m = 0; m < M; m++) rec.copy(scratch, m * c.rows * 4, out, (m * N + c.row0) * 4, c.rows * 4, 'split_columns');
  }
}

/** The buffers a split embedding table needs: a [T, C] table of the gathered rows, and the ids 0 .. T-1. */
export interface GatherBuffers {
  rows: Tensor; // [Tmax, C], the split table's dtype
  iota: Tensor; // [Tmax] u32: 0, 1, 2, ...
}

export function createGatherBuffers(device: GPUDevice, table: SplitMatrix, Tmax: number): GatherBuffers {
  const { dtype } = table.chunks[0]!.weight;
  return {
    rows: createTensor(device, dtype, [Tmax, table.cols], 'gathered_rows'),
    iota: uploadTensor(device, 'u32', [Tmax], Uint32Array.from({ length: Tmax }, (_, i) => i), 'iota'),
  };
}

/**
 * out[T, C] = table[ids[t], :] (ids: the u32 tensor on the GPU, and the same ids on the CPU, which pick the
 * chunk of each row). A split table needs `gather`.
 */
export function splitEmbed(
  rec: Recorder,
  out: Tensor,
  ids: Tensor,
  idsOnCpu: readonly number[],
  table: SplitMatrix,
  gather: GatherBuffers | undefined,
  o: { label?: string } = {},
): void {
  const T = idsOnCpu.length;
  const C = table.cols;
  if (table.chunks.length === 1) {
    embedTokens(rec, out, ids, table.chunks[0]!.weight, { T, C, label: o.label });
    return;
  }
  if (!gather) throw new Error(`${o.label ?? 'embedding'}: a split table needs gather buffers`);
  const { dtype } = gather.rows;
  idsOnCpu.forEach((id, t) => {
    const c = table.chunks.find((c) => id >= c.row0 && id < c.row0 + c.rows);
    if (!c) throw new RangeError(`token id ${id} is outside the table of ${table.rows} rows`);
    const r = id - c.row0;
    if (!isQuantFormat(dtype)) {
      const rowBytes = byteSize(dtype, [1, C]);
      rec.copy(c.weight, r * rowBytes, gather.rows, t * rowBytes, rowBytes, 'gather_row');
      return;
    }
    // a quantized row: its blocks' integers, then its scale words, each from its region of the chunk to its region of the table
    const nb = quantBlocks(C);
    const intBytes = nb * QWORDS[dtype] * 4;
    rec.copy(c.weight, r * intBytes, gather.rows, t * intBytes, intBytes, 'gather_row');
    const [from, to] = [quantScaleOffset(dtype, c.rows, C), quantScaleOffset(dtype, gather.rows.shape[0]!, C)];
    rec.copy(c.weight, (from + r * nb) * 4, gather.rows, (to + t * nb) * 4, nb * 4, 'gather_scales');
  });
  embedTokens(rec, out, gather.iota, gather.rows, { T, C, label: o.label });
}
