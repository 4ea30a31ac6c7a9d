// Rotary position embedding, in place, Hugging Face Llama convention (rotate_half), as rope.wgsl:
//
//   x[i]        = x[i] * cos - x[i + half] * sin
//   x[i + half] = x[i + half] * cos + x[i] * sin        angle (pos0 + t) * invFreq[i] in f32, i < half
//
//   x: T rows of `stride` floats, head j of row t at t * stride + offset + j * headDim; invFreq [half] f32.
// sin and cos as rope.wgsl computes them (Cody-Waite reduction to within pi / 4, Cephes' polynomials), so both
// backends rotate by the same f32 values. Each angle is computed once per (t, i) and used for every head.

const TWO_OVER_PI: f32 = 0.63661977236758134;
const HALF_PI_1: f32 = 1.5703125; // 8 significant bits, so k * HALF_PI_1 is exact for k < 65536
const HALF_PI_2: f32 = 4.837512969970703125e-4;
const HALF_PI_3: f32 = 7.54978995489188216e-8;

@inline function sinSmall(r: f32): f32 {
  const z = r * r;
  return r + r * z * ((<f32>-1.9515295891e-4 * z + <f32>8.3321608736e-3) * z - <f32>1.6666654611e-1);
}

@inline function cosSmall(r: f32): f32 {
  const z = r * r;
  return <f32>1 - <f32>0.5 * z + z * z * ((<f32>2.443315711809948e-5 * z - <f32>1.388731625493765e-3) * z + <f32>4.166664568298827e-2);
}

export function rope(x: usize, invFreq: usize, T: i32, pos0: i32, nHeads: i32, headDim: i32, half: i32, stride: i32, offset: i32): void {
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      const a = <f32>(pos0 + t) * load<f32>(invFreq + (<usize>i << 2));
      const k = nearest<f32>(a * TWO_OVER_PI);
      const r = ((a - k * HALF_PI_1) - k * HALF_PI_2) - k * HALF_PI_3;
      const sr = sinSmall(r);
      const cr = cosSmall(r);
      const quarter = (<i32>k) & 3;
      const s: f32 = quarter == 0 ? sr : quarter == 1 ? cr : quarter == 2 ? -sr : -cr;
      const c: f32 = quarter == 0 ? cr : quarter == 1 ? -sr : quarter == 2 ? -cr : sr;
      for (let j = 0; j < nHeads; j++) {
        const base = x + ((<usize>t * <usize>stride + <usize>offset + <usize>j * <usize>headDim + <usize>i) << 2);
        const far = base + (<usize>half << 2);
        const x1 = load<f32>(base);
        const x2 = load<f32>(far);
        store<f32>(base, x1 * c - x2 * s);
        store<f32>(far, x2 * c + x1 * s);
      }
    }
  }
}
