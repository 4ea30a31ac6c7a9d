import { describe, expect, it } from 'vitest';
import { f16BitsToF32 } from '../src/half.ts';
import { dequantize, QBLOCK, quantBlocks, quantize, quantScaleOffset, quantWords, roundWeights } from '../src/quant.ts';

function randomMatrix(rows: number, cols: number, seed: number): Float32Array {
  let s = seed;
  const next = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  return Float32Array.from({ length: rows * cols }, next);
}

describe('q8 and q4 block quantization', () => {
  const rows = 5;
  const cols = 77; // three blocks, the last 13 values long
  const x = randomMatrix(rows, cols, 7);

  it('sizes: blocks of 32, integers then one scale word per block', () => {
    expect(quantBlocks(cols)).toBe(3);
    expect(quantWords('q8', rows, cols)).toBe(rows * 3 * 9);
    expect(quantWords('q4', rows, cols)).toBe(rows * 3 * 5);
    expect(quantScaleOffset('q4', rows, cols)).toBe(rows * 3 * 4);
    expect(quantize('q8', x, rows, cols).length).toBe(rows * 3 * 9);
  });

  it('q8 keeps every value within half a step (max|x| / 254) of its block', () => {
    const y = dequantize('q8', quantize('q8', x, rows, cols), rows, cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const b0 = r * cols + c - (c % QBLOCK);
        const block = x.subarray(b0, Math.min(b0 + QBLOCK, r * cols + cols));
        const amax = Math.max(...Array.from(block, Math.abs));
        expect(Math.abs(y[r * cols + c]! - x[r * cols + c]!)).toBeLessThanOrEqual((amax / 127) * 0.5 * (1 + 1e-6));
      }
    }
  });

  it('q4 keeps every value within half a step ((max - min) / 30, with f16 rounding) of its block', () => {
    const y = dequantize('q4', quantize('q4', x, rows, cols), rows, cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const b0 = r * cols + c - (c % QBLOCK);
        const block = Array.from(x.subarray(b0, Math.min(b0 + QBLOCK, r * cols + cols)));
        if (block.length < QBLOCK) block.push(0); // the last block's zero padding counts in its range
        const step = (Math.max(...block) - Math.min(...block)) / 15;
        expect(Math.abs(y[r * cols + c]! - x[r * cols + c]!)).toBeLessThanOrEqual(step * 0.5 + 2e-3); // + f16 rounding of m and d
      }
    }
  });

  it('q4 stores f16 d in the low half and the block minimum in the high half of the scale word', () => {
    const one = Float32Array.from({ length: 32 }, (_, j) => j / 31 - 0.5);
    const packed = quantize('q4', one, 1, 32);
    const s = packed[quantScaleOffset('q4', 1, 32)]!;
    expect(f16BitsToF32(s >>> 16)).toBeCloseTo(-0.5, 3);
    expect(f16BitsToF32(s & 0xffff)).toBeCloseTo(1 / 15, 3);
    expect(packed[0]! & 0xf).toBe(0); // the minimum is q = 0
    expect(packed[3]! >>> 28).toBe(15); // the maximum, value 31, is q = 15
  });

  it('a constant or zero block comes back exactly', () => {
    const z = new Float32Array(64);
    z.fill(0.25, 32);
    for (const f of ['q8', 'q4'] as const) expect(Array.from(dequantize(f, quantize(f, z, 1, 64), 1, 64))).toEqual(Array.from(z));
  });

  it('roundWeights leaves f32 as it is and rounds f16 to halves', () => {
    expect(roundWeights('f32', x, cols)).toBe(x);
    expect(roundWeights('f16', Float32Array.of(1 / 3), 1)[0]).toBe(f16BitsToF32(0x3555));
    expect(roundWeights('q8', x, cols)).toEqual(dequantize('q8', quantize('q8', x, rows, cols), rows, cols));
  });
});
