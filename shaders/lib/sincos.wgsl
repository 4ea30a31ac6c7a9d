// sin and cos of a RoPE angle, accurate to a few f32 ulps (shared by rope.wgsl and the fused attentionDecode):
//
//   sinCos(a)  vec2(sin a, cos a), for angles up to ~1e5
//
// The angle is the f32 product position * invFreq[i], as Hugging Face computes it. Its sine and cosine are
// computed here rather than with the built-in sin() and cos(): WGSL promises those only an absolute error of
// 2^-11, on [-pi, pi], and software and mobile GPUs do come close to that, which is an error of 1e-4 in every
// rotated query and key. Instead, sinCos() removes whole quarter turns from the angle (Cody and Waite's
// reduction: pi / 2 split in three parts, the first short enough that its multiples are exact in f32) and
// evaluates the small polynomials of Cephes' sinf and cosf on what is left, within pi / 4 of zero. Both steps
// are accurate to a few f32 ulps.

const TWO_OVER_PI = 0.63661977236758134;
const HALF_PI_1 = 1.5703125;  // 201 / 128: 8 significant bits, so k * HALF_PI_1 is exact for k < 65536
const HALF_PI_2 = 4.837512969970703125e-4;
const HALF_PI_3 = 7.54978995489188216e-8;  // HALF_PI_1 + HALF_PI_2 + HALF_PI_3 = pi / 2 to 1e-15

// sin and cos of r for |r| <= pi / 4 (Cephes' minimax polynomials).
fn sinSmall(r: f32) -> f32 {
  let z = r * r;
  return r + r * z * ((-1.9515295891e-4 * z + 8.3321608736e-3) * z - 1.6666654611e-1);
}

fn cosSmall(r: f32) -> f32 {
  let z = r * r;
  return 1.0 - 0.5 * z + z * z * ((2.443315711809948e-5 * z - 1.388731625493765e-3) * z + 4.166664568298827e-2);
}

// (sin a, cos a) for angles up to ~1e5: a = k * pi / 2 + r, and quarter turn k % 4 picks the signs.
fn sinCos(a: f32) -> vec2<f32> {
  let k = round(a * TWO_OVER_PI);
  let r = ((a - k * HALF_PI_1) - k * HALF_PI_2) - k * HALF_PI_3;
  let s = sinSmall(r);
  let c = cosSmall(r);
  switch (i32(k) & 3) {
    case 0: { return vec2<f32>(s, c); }
    case 1: { return vec2<f32>(c, -s); }
    case 2: { return vec2<f32>(-s, -c); }
    default: { return vec2<f32>(-c, s); }
  }
}
