// Quantized weights on the CPU: the q8 and q4 block formats the kernels read, made at load time from f32 values,
// and their exact dequantized values (what a reference forward pass runs on).
//
// A weight matrix [rows, cols] (nn.Linear's [out, in]) is quantized row by row, in blocks of QBLOCK = 32 values
// along the row; a row of `cols` values has ceil(cols / 32) blocks, the last padded with zeros. Each block is a
// scale word and QWORDS[format] words of packed integers:
//
//   q8  scale: the f32 bits of d = max|x| / 127     values: 32 int8 q, four to a u32, low byte first
//       x ~ d * q,  q in -127 .. 127                 (value j of a block: word j >> 2, bits 8 * (j & 3))
//   q4  scale: f16 d (low half) | f16 m (high half)  values: 32 uint4 q, eight to a u32, low nibble first
//       x ~ m + d * q,  q in 0 .. 15, m = min(x)     (value j of a block: word j >> 3, bits 4 * (j & 7))
//
// The packed integers and the scales live in two regions of one u32 array, integers first:
//
//   words 0 .. rows * blocks * QWORDS - 1                     the integers, row by row, block by block
//   words rows * blocks * QWORDS .. + rows * blocks - 1       the scale word of each block, row by row
//
// so a row's integers are contiguous and 16-byte aligned (8 or 4 words a block) for vector loads on the GPU and in
// WebAssembly. Bytes per weight: q8 36 / 32 (0.281x f32), q4 20 / 32 (0.156x).
import { f16BitsToF32, f32ToF16Bits, roundToF16 } from './half.ts';
import type { WeightFormat } from './model/model.ts';

export type QuantFormat = 'q8' | 'q4';

/** Values per block. */
export const QBLOCK = 32;

/** u32 words of packed integers per block. */
export const QWORDS: Readonly<Record<QuantFormat, number>> = { q8: 8, q4: 4 };

export function isQuantFormat(format: string): format is QuantFormat {
  return format === 'q8' || format === 'q4';
}

/** Blocks in a row of `cols` values. */
export function quantBlocks(cols: number): number {
  return Math.ceil(cols / QBLOCK);
}

/** u32 words of a quantized [rows, cols] matrix: integers, then scales. */
export function quantWords(format: QuantFormat, rows: number, cols: number): number {
  return rows * quantBlocks(cols) * (QWORDS[format] + 1);
}

/** The word where the scales start. */
export function quantScaleOffset(format: QuantFormat, rows: number, cols: number): number {
  return rows * quantBlocks(cols) * QWORDS[format];
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function f32Bits(x: number): number {
  f32[0] = x;
  return u32[0]!;
}

function bitsF32(bits: number): number {
  u32[0] = bits;
  return f32[0]!;
}

/** Quantize a row-major [rows, cols] matrix (values.length = rows * cols) to `format`, laid out as above. */
export function quantize(format: QuantFormat, values: ArrayLike<number>, rows: number, cols: number): Uint32Array {
  const nb = quantBlocks(cols);
  const W = QWORDS[format];
  const out = new Uint32Array(quantWords(format, rows, cols));
  const s0 = quantScaleOffset(format, rows, cols);
  const block = new Float32Array(QBLOCK);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      block.fill(0);
      const c0 = b * QBLOCK;
      const n = Math.min(QBLOCK, cols - c0);
      for (let j = 0; j < n; j++) block[j] = values[r * cols + c0 + j]!;
      const q = r * nb + b;
      out[s0 + q] = format === 'q8' ? quantizeQ8Block(block, out, q * W) : quantizeQ4Block(block, out, q * W);
    }
  }
  return out;
}

/** Write one q8 block's integers at out[w0 ..]; returns its scale word. */
function quantizeQ8Block(x: Float32Array, out: Uint32Array, w0: number): number {
  let amax = 0;
  for (const v of x) amax = Math.max(amax, Math.abs(v));
  const d = Math.fround(amax / 127);
  const inv = d === 0 ? 0 : 1 / d;
  for (let j = 0; j < QBLOCK; j++) {
    const q = Math.max(-127, Math.min(127, Math.round(x[j]! * inv)));
    out[w0 + (j >> 2)] = (out[w0 + (j >> 2)]! | ((q & 0xff) << (8 * (j & 3)))) >>> 0;
  }
  return f32Bits(d);
}

/** Write one q4 block's integers at out[w0 ..]; returns its scale word (f16 d | f16 m << 16). */
function quantizeQ4Block(x: Float32Array, out: Uint32Array, w0: number): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of x) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  // d and m are stored as f16: quantize against the rounded values, so the integers fit what the kernels read
  const mBits = f32ToF16Bits(lo);
  const m = f16BitsToF32(mBits);
  const dBits = f32ToF16Bits((hi - m) / 15);
  const d = f16BitsToF32(dBits);
  const inv = d === 0 ? 0 : 1 / d;
  for (let j = 0; j < QBLOCK; j++) {
    const q = Math.max(0, Math.min(15, Math.round((x[j]! - m) * inv)));
    out[w0 + (j >> 3)] = (out[w0 + (j >> 3)]! | (q << (4 * (j & 7)))) >>> 0;
  }
  return (dBits | (mBits << 16)) >>> 0;
}

/** The values a quantized matrix stands for, [rows, cols] in f32: d * q (q8) or m + d * q (q4), each one f32 op. */
export function dequantize(format: QuantFormat, packed: Uint32Array, rows: number, cols: number): Float32Array {
  const nb = quantBlocks(cols);
  const W = QWORDS[format];
  const s0 = quantScaleOffset(format, rows, cols);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const b = r * nb + Math.floor(c / QBLOCK);
      const j = c % QBLOCK;
      const s = packed[s0 + b]!;
      if (format === 'q8') {
        const q = ((packed[b * W + (j >> 2)]! >>> (8 * (j & 3))) << 24) >> 24; // sign-extend the byte
        out[r * cols + c] = bitsF32(s) * q;
      } else {
        const q = (packed[b * W + (j >> 3)]! >>> (4 * (j & 7))) & 0xf;
        out[r * cols + c] = f16BitsToF32(s >>> 16) + f16BitsToF32(s & 0xffff) * q;
      }
    }
  }
  return out;
}

/** `values` ([rows, cols]) as a backend holding them in `format` sees them: quantized, then dequantized. */
export function roundQuantized(format: QuantFormat, values: Float32Array, rows: number, cols: number): Float32Array {
  return dequantize(format, quantize(format, values, rows, cols), rows, cols);
}

/** A weight matrix (rows of `cols` values) as a backend holding it in `format` sees it. */
export function roundWeights(format: WeightFormat, values: Float32Array, cols: number): Float32Array {
  if (format === 'f32') return values;
  if (format === 'f16') return values.map(roundToF16);
  return roundQuantized(format, values, values.length / cols, cols);
}
