// Helpers shared by the kernels: horizontal sums, exp on four lanes at once, and f16 -> f32 for packed weights.

/** The sum of the four lanes of v. */
@inline export function sum4(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/** The largest of the four lanes of v. */
@inline export function max4(v: v128): f32 {
  return max(max(f32x4.extract_lane(v, 0), f32x4.extract_lane(v, 1)), max(f32x4.extract_lane(v, 2), f32x4.extract_lane(v, 3)));
}

// exp(x) on four lanes, after Cephes' expf: x = n * ln 2 + r with |r| <= ln 2 / 2, exp(r) by a degree-6
// polynomial, times 2^n built in the exponent bits. Accurate to a couple of f32 ulps. WebAssembly has no exp.
// Inputs are clamped to [-87.3, 88.3], where 2^n stays a normal f32: below, the result is ~1e-38 instead of
// smaller (callers that need an exact 0, such as the softmax mask, select it themselves); above, it stays finite.
const EXP_LO: f32 = -87.33654;
const EXP_HI: f32 = 88.37626;
const LOG2E: f32 = 1.44269504088896341;
const LN2_HI: f32 = 0.693359375; // 8 significant bits: n * LN2_HI is exact
const LN2_LO: f32 = -2.12194440e-4;

@inline export function exp4(x: v128): v128 {
  x = f32x4.min(f32x4.max(x, f32x4.splat(EXP_LO)), f32x4.splat(EXP_HI));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(LOG2E)));
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(n, f32x4.splat(LN2_HI))), f32x4.mul(n, f32x4.splat(LN2_LO)));
  let p = f32x4.splat(1.9875691500e-4);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.3981999507e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(8.3334519073e-3));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(4.1665795894e-2));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.6666665459e-1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(5.0000001201e-1));
  const y = f32x4.add(f32x4.add(f32x4.mul(p, f32x4.mul(r, r)), r), f32x4.splat(1));
  // 2^n: n + 127 in the exponent field (n is in [-126, 127] after the clamp)
  const scale = i32x4.shl(i32x4.add(i32x4.trunc_sat_f32x4_s(n), i32x4.splat(127)), 23);
  return f32x4.mul(y, scale);
}

/** exp of one value, through the four-lane version (so scalar tails round exactly as the vector body). */
@inline export function exp1(x: f32): f32 {
  return f32x4.extract_lane(exp4(f32x4.splat(x)), 0);
}

// f16 -> f32 by moving bits: exponent and mantissa shift up by 13 into an f32 that is 2^-112 too small (f16
// subnormals land on f32 subnormals, which WebAssembly keeps), a multiply by 2^112 corrects it exactly, and (in
// half1) an all-ones f16 exponent (infinity, NaN) becomes an all-ones f32 one, as WGSL's unpack2x16float.
const TWO_POW_112: f32 = reinterpret<f32>(0x77800000);

/** The half at ptr as an f32. */
@inline export function half1(ptr: usize): f32 {
  const h = <u32>load<u16>(ptr);
  let bits = reinterpret<u32>(reinterpret<f32>((h & 0x7fff) << 13) * TWO_POW_112);
  if ((h & 0x7c00) == 0x7c00) bits |= 0x7f800000;
  return reinterpret<f32>(bits | ((h & 0x8000) << 16));
}

// The fast path for the weights of matvec and matmul: 8 halves from one 16-byte load, in two sets of four, the
// halves in the low 16 bits of each 32-bit lane (weights k, k+2, k+4, k+6) and those in the high bits (k+1, k+3,
// k+5, k+7). An arithmetic shift right by 3 moves a high half's exponent and mantissa to the f32 positions and
// copies its sign over bits 31..28; the mask keeps bit 31 and the 15 bits of exponent and mantissa; the multiply
// by 2^112 rescales, as above. Three instructions for four weights (four for the low set, shifted up first).
// f16 infinities and NaNs are not told apart here (they become 65536 * (1 + m)): weights never hold them.
const HALF_BITS_MASK = 0x8fffe000;

/** f32 of the high halves of the four lanes: weights k+1, k+3, k+5, k+7 of a load at weight k. */
@inline export function oddHalves(v: v128): v128 {
  return f32x4.mul(v128.and(i32x4.shr_s(v, 3), i32x4.splat(HALF_BITS_MASK)), f32x4.splat(TWO_POW_112));
}

/** f32 of the low halves of the four lanes: weights k, k+2, k+4, k+6 of a load at weight k. */
@inline export function evenHalves(v: v128): v128 {
  return oddHalves(i32x4.shl(v, 16));
}

/** Bytes of one row of `cols` weights: f32, or f16 packed two to a u32 word with odd rows padded by a half. */
@inline export function rowBytes<W>(cols: i32): usize {
  return isInteger<W>() ? (<usize>(cols + 1) >> 1) << 2 : <usize>cols << 2;
}

/** Weight k of a row: f32 (W = f32) or packed f16 (W = u16). */
@inline export function load1<W>(row: usize, k: i32): f32 {
  return isInteger<W>() ? half1(row + (<usize>k << 1)) : load<f32>(row + (<usize>k << 2));
}
