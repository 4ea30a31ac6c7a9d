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

/**
 * Quantize a row-major [rows, cols] matrix (values.length = rows * cols) to `format`, laid out as above. A load
 * quantizes every matrix of the model (GPT-2 124M: 124M values), so the loops read the values in place, make each
 * word of integers in one expression, and call nothing per value but small functions V8 inlines. The last block
 * of a row, when cols is not a multiple of 32, is copied into a zero-padded block first.
 */
export function quantize(format: QuantFormat, values: Float32Array, rows: number, cols: number): Uint32Array {
  const out = new Uint32Array(quantWords(format, rows, cols));
  const nb = quantBlocks(cols);
  const s0 = quantScaleOffset(format, rows, cols);
  const padded = new Float32Array(QBLOCK);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      const c0 = b * QBLOCK;
      let x = values;
      let x0 = r * cols + c0;
      if (c0 + QBLOCK > cols) {
        padded.fill(0);
        padded.set(values.subarray(x0, x0 + cols - c0));
        [x, x0] = [padded, 0];
      }
      const q = r * nb + b;
      out[s0 + q] = format === 'q8' ? quantizeQ8Block(out, q * 8, x, x0) : quantizeQ4Block(out, q * 4, x, x0);
    }
  }
  return out;
}

/** x[x0 .. x0 + 31] as one q8 block: its integers at out[w0 .. w0 + 7]; returns its scale word, the f32 bits of d. */
function quantizeQ8Block(out: Uint32Array, w0: number, x: Float32Array, x0: number): number {
  let amax = 0;
  for (let j = 0; j < QBLOCK; j++) amax = Math.max(amax, Math.abs(x[x0 + j]!));
  const d = Math.fround(amax / 127);
  const inv = d === 0 ? 0 : 1 / d;
  // value j is byte j & 3 of word j >> 2; `& 0xff` keeps a negative q's two's-complement byte
  for (let w = 0, j = x0; w < 8; w++, j += 4) {
    out[w0 + w] = (q8(x[j]! * inv) & 0xff) | ((q8(x[j + 1]! * inv) & 0xff) << 8) | ((q8(x[j + 2]! * inv) & 0xff) << 16) | (q8(x[j + 3]! * inv) << 24);
  }
  return f32Bits(d);
}

/** round(y) clamped to -127 .. 127 (NaN: NaN, which `&` and `<<` make 0). Clamped first: the same integer. */
function q8(y: number): number {
  return Math.round(y > 127 ? 127 : y < -127 ? -127 : y);
}

/** x[x0 .. x0 + 31] as one q4 block: its integers at out[w0 .. w0 + 3]; returns its scale word (f16 d | f16 m << 16). */
function quantizeQ4Block(out: Uint32Array, w0: number, x: Float32Array, x0: number): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (let j = 0; j < QBLOCK; j++) {
    lo = Math.min(lo, x[x0 + j]!);
    hi = Math.max(hi, x[x0 + j]!);
  }
  // d and m are stored as f16: quantize against the rounded values, so the integers fit what the kernels read
  const mBits = f32ToF16Bits(lo);
  const m = f16BitsToF32(mBits);
  const dBits = f32ToF16Bits((hi - m) / 15);
  const d = f16BitsToF32(dBits);
  const inv = d === 0 ? 0 : 1 / d;
  // value j is nibble j & 7 of word j >> 3
  for (let w = 0, j = x0; w < 4; w++, j += 8) {
    out[w0 + w] =
      q4((x[j]! - m) * inv) | (q4((x[j + 1]! - m) * inv) << 4) | (q4((x[j + 2]! - m) * inv) << 8) | (q4((x[j + 3]! - m) * inv) << 12) |
      (q4((x[j + 4]! - m) * inv) << 16) | (q4((x[j + 5]! - m) * inv) << 20) | (q4((x[j + 6]! - m) * inv) << 24) | (q4((x[j + 7]! - m) * inv) << 28);
  }
  return (dBits | (mBits << 16)) >>> 0;
}

/** round(y) clamped to 0 .. 15 (NaN: NaN, which `|` and `<<` make 0). Clamped first: the same integer. */
function q4(y: number): number {
  return Math.round(y > 15 ? 15 : y < 0 ? 0 : y);
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

/** The scales of a quantized [rows, cols] matrix, one per block ([rows, blocks] in f32): the step d, and q4's minimum m. */
export function quantScales(format: QuantFormat, packed: Uint32Array, rows: number, cols: number): { d: Float32Array; m?: Float32Array } {
  const s0 = quantScaleOffset(format, rows, cols);
  const words = packed.subarray(s0, s0 + rows * quantBlocks(cols));
  if (format === 'q8') return { d: Float32Array.from(words, bitsF32) };
  return { d: Float32Array.from(words, (s) => f16BitsToF32(s & 0xffff)), m: Float32Array.from(words, (s) => f16BitsToF32(s >>> 16)) };
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
