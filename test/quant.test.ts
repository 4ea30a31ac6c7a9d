import { describe, expect, it } from 'vitest';
import { f16BitsToF32, f32ToF16Bits } from '../src/half.ts';
import { dequantize, QBLOCK, quantBlocks, quantize, quantScaleOffset, quantWords, QWORDS, roundWeights, type QuantFormat } from '../src/quant.ts';

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

/**
 * quantize() as first written: a block copied into a zero-padded Float32Array, then each value rounded and OR-ed
 * into its word in place. The fast quantize() must give exactly these words.
 */
function referenceQuantize(format: QuantFormat, values: Float32Array, rows: number, cols: number): Uint32Array {
  const nb = quantBlocks(cols);
  const W = QWORDS[format];
  const out = new Uint32Array(quantWords(format, rows, cols));
  const s0 = quantScaleOffset(format, rows, cols);
  const block = new Float32Array(QBLOCK);
  const bits = new Uint32Array(Float32Array.of(0).buffer);
  const f32 = new Float32Array(bits.buffer);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < nb; b++) {
      block.fill(0);
      const c0 = b * QBLOCK;
      for (let j = 0; j < Math.min(QBLOCK, cols - c0); j++) block[j] = values[r * cols + c0 + j]!;
      const w0 = (r * nb + b) * W;
      if (format === 'q8') {
        let amax = 0;
        for (const v of block) amax = Math.max(amax, Math.abs(v));
        const d = Math.fround(amax / 127);
        const inv = d === 0 ? 0 : 1 / d;
        for (let j = 0; j < QBLOCK; j++) {
          const q = Math.max(-127, Math.min(127, Math.round(block[j]! * inv)));
          out[w0 + (j >> 2)] = (out[w0 + (j >> 2)]! | ((q & 0xff) << (8 * (j & 3)))) >>> 0;
        }
        f32[0] = d;
        out[s0 + r * nb + b] = bits[0]!;
      } else {
        let lo = Infinity;
        let hi = -Infinity;
        for (const v of block) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
        const mBits = f32ToF16Bits(lo);
        const m = f16BitsToF32(mBits);
        const dBits = f32ToF16Bits((hi - m) / 15);
        const d = f16BitsToF32(dBits);
        const inv = d === 0 ? 0 : 1 / d;
        for (let j = 0; j < QBLOCK; j++) {
          const q = Math.max(0, Math.min(15, Math.round((block[j]! - m) * inv)));
          out[w0 + (j >> 3)] = (out[w0 + (j >> 3)]! | (q << (4 * (j & 7)))) >>> 0;
        }
        out[s0 + r * nb + b] = (dBits | (mBits << 16)) >>> 0;
      }
    }
  }
  return out;
}

/** Blocks whose values sit half a step between two integers, for a step d that is not a round number. */
function midpoints(): Float32Array {
  const d = Math.fround(0.3 / 127);
  return Float32Array.from({ length: 4 * 64 }, (_, i) => Math.fround((i % 32 === 0 ? 127 : (i % 254) - 126.5) * d * (i & 64 ? -1 : 1)));
}

describe('quantize() gives the reference words exactly', () => {
  // values a block can hold: signed zeros, NaN, infinities, f16 overflow and underflow, exact halves of a step
  const special = [0, -0, Number.NaN, Infinity, -Infinity, 1e-8, -3.4e38, 65504, 1e5, 0.5, -0.5, 127 / 254, -1.5 / 127];
  const matrices: [string, Float32Array, number, number][] = [
    ['random, whole blocks', randomMatrix(9, 96, 1), 9, 96],
    ['random, a part block in every row', randomMatrix(5, 77, 2), 5, 77],
    ['rows shorter than a block', randomMatrix(7, 5, 3), 7, 5],
    ['one column', randomMatrix(33, 1, 4), 33, 1],
    ['all positive (q4 minimum above 0)', randomMatrix(4, 70, 5).map((v) => v + 3), 4, 70],
    ['integers on the q8 grid (halves after scaling)', Float32Array.from({ length: 3 * 64 }, (_, i) => ((i % 255) - 127) / 2), 3, 64],
    ['special values among random ones', randomMatrix(6, 75, 6).map((v, i) => (i % 4 === 0 ? special[(i >> 2) % special.length]! : v)), 6, 75],
    ['negative zeros only', new Float32Array(2 * 40).fill(-0), 2, 40],
    ['midpoints between steps of an f32 scale', midpoints(), 4, 64],
    ['random, large', randomMatrix(128, 999, 7), 128, 999],
  ];
  it.each(matrices)('%s', (_, x, rows, cols) => {
    for (const format of ['q8', 'q4'] as const) {
      const got = quantize(format, x, rows, cols);
      const want = referenceQuantize(format, x, rows, cols);
      expect(got.length).toBe(want.length);
      const first = got.findIndex((w, i) => w !== want[i]);
      expect(first, `${format}: word ${first} is ${got[first]?.toString(16)}, the reference ${want[first]?.toString(16)}`).toBe(-1);
    }
  });
});

describe('the f16 scales', () => {
  it('f16BitsToF32 gives every one of the 65536 halves its value by the definition', () => {
    for (let h = 0; h < 0x10000; h++) {
      const [sign, exp, mant] = [h & 0x8000 ? -1 : 1, (h >>> 10) & 0x1f, h & 0x3ff];
      const want = exp === 0 ? sign * mant * 2 ** -24 : exp === 0x1f ? (mant ? Number.NaN : sign * Infinity) : sign * (1 + mant / 1024) * 2 ** (exp - 15);
      if (!Object.is(f16BitsToF32(h), want)) expect.fail(`half 0x${h.toString(16)}: ${f16BitsToF32(h)}, by definition ${want}`);
    }
  });
});
