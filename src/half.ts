// Half-precision numbers on the CPU: IEEE f16 and bfloat16 to f32 and back, and the packed layout the kernels
// read (two f16 to a u32, low half first, each row padded to whole u32s).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The f16 bit pattern nearest to `value` (round to nearest even), with overflow to infinity. */
export function f32ToF16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf or NaN
  let e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow
  if (e <= 0) {
    // subnormal half (or zero): shift the implicit 1 in, round to nearest even
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rest > mid || (rest === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++; // may carry into the exponent: still correct
  return sign | half;
}

/** The value of f16 bits `h`. A normal half is an f32 with the exponent rebiased (15 to 127), mantissa bits shifted in. */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  u32[0] = ((h & 0x8000) << 16) | ((exp + 127 - 15) << 23) | (mant << 13);
  return f32[0]!;
}

export function bf16BitsToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** The bf16 nearest to `value` (round to nearest even): the top 16 bits of the f32, rounded. */
export function f32ToBf16Bits(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7fffffff) > 0x7f800000) return (x >>> 16) | 0x40; // NaN stays a (quiet) NaN
  // below NaN the sum stays under 2^32, so no wrap; a carry out of the mantissa correctly bumps the exponent
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** `value` rounded to the nearest f16, as a number: what a packed-f16 weight holds. */
export function roundToF16(value: number): number {
  return f16BitsToF32(f32ToF16Bits(value));
}

/** Pack a row-major [rows, cols] matrix as f16 pairs; rows of odd length get a zero pad half. */
export function packF16(values: ArrayLike<number>, cols: number): Uint32Array {
  const rows = cols === 0 ? 0 : values.length / cols;
  const stride = Math.ceil(cols / 2);
  const out = new Uint32Array(rows * stride);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c += 2) {
      const lo = f32ToF16Bits(values[r * cols + c]!);
      const hi = c + 1 < cols ? f32ToF16Bits(values[r * cols + c + 1]!) : 0;
      out[r * stride + c / 2] = (lo | (hi << 16)) >>> 0;
    }
  }
  return out;
}

/** Undo `packF16`. */
export function unpackF16(packed: Uint32Array, rows: number, cols: number): Float32Array {
  const stride = Math.ceil(cols / 2);
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const word = packed[r * stride + (c >> 1)]!;
      out[r * cols + c] = f16BitsToF32(c & 1 ? word >>> 16 : word & 0xffff);
    }
  }
  return out;
}
