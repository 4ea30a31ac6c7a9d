// Interventions on an activation, in place, as intervene.wgsl (see src/kernels/intervene.ts): on the box
// o0 .. o0+nO-1, r0 .. r0+nR-1, c0 .. c0+nC-1 of an [outer, rows, cols] view whose element (o, r, c) lives at
// offset + o * outerStride + r * rowStride + c,
//
//   x = scale * x  +  src (srcMode 1: one value per box column, 2: one per box element)  +  sigma * normal
//
// scale 0 writes 0 even over -infinity (masked scores). The normal value is the shader's hash of
// (seed, o, rowBase + r, c), so the same position gets the same noise on every backend and in every step.

// PCG hash (Jarzynski and Olano, "Hash Functions for GPU Rendering", 2020)
@inline function pcg(v: u32): u32 {
  const state = v * 747796405 + 2891336453;
  const word = ((state >> ((state >> 28) + 4)) ^ state) * 277803737;
  return (word >> 22) ^ word;
}

// The sum of 12 hashed uniforms in [0, 1), minus 6 (Irwin-Hall): mean 0, variance 1, in f32 as the shader.
function gaussian(seed: u32, o: u32, row: u32, c: u32): f32 {
  const key = pcg(seed ^ pcg(o ^ pcg(row ^ pcg(c))));
  let sum: f32 = 0;
  for (let k: u32 = 0; k < 12; k++) sum += <f32>(pcg(key * 12 + k) >> 8) / <f32>16777216;
  return sum - 6;
}

export function intervene(
  x: usize, src: usize,
  o0: i32, nO: i32, r0: i32, nR: i32, c0: i32, nC: i32,
  outerStride: i32, rowStride: i32, offset: i32, rowBase: i32,
  srcMode: i32, seed: u32, scale: f32, sigma: f32,
): void {
  let i = 0; // the element's index within the box, in (o, r, c) order
  for (let o = o0; o < o0 + nO; o++) {
    for (let r = r0; r < r0 + nR; r++) {
      for (let c = c0; c < c0 + nC; c++) {
        const at = x + ((<usize>offset + <usize>o * <usize>outerStride + <usize>r * <usize>rowStride + <usize>c) << 2);
        let value: f32 = scale == 0 ? 0 : scale * load<f32>(at);
        if (srcMode == 1) value += load<f32>(src + (<usize>(c - c0) << 2));
        else if (srcMode == 2) value += load<f32>(src + (<usize>i << 2));
        if (sigma != 0) value += sigma * gaussian(seed, <u32>o, <u32>(rowBase + r), <u32>c);
        store<f32>(at, value);
        i++;
      }
    }
  }
}
