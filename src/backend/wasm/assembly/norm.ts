// Layer normalisation (GPT-2) and RMS normalisation (Llama), one row of C channels at a time:
//
//   layerNorm: out[r, c] = (x[r, c] - mean_r) / sqrt(var_r + eps) * gamma[c] + beta[c]   (two passes: mean, then
//              the biased variance of x - mean, as the CPU reference)
//   rmsNorm:   out[r, c] = x[r, c] / sqrt(mean_r(x^2) + eps) * gamma[c]
//
//   out, x [rows, C] f32 (distinct), gamma, beta [C] f32.
import { sum4 } from './simd';

export function layerNorm(out: usize, x: usize, gamma: usize, beta: usize, rows: i32, C: i32, eps: f32): void {
  const C4 = C & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>C) << 2);
    const outr = out + ((<usize>r * <usize>C) << 2);
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) acc = f32x4.add(acc, v128.load(xr + (<usize>c << 2)));
    let total = sum4(acc);
    for (; c < C; c++) total += load<f32>(xr + (<usize>c << 2));
    const mean = total / <f32>C;

    const meanV = f32x4.splat(mean);
    acc = f32x4.splat(0);
    for (c = 0; c < C4; c += 4) {
      const d = f32x4.sub(v128.load(xr + (<usize>c << 2)), meanV);
      acc = f32x4.add(acc, f32x4.mul(d, d));
    }
    let squares = sum4(acc);
    for (; c < C; c++) {
      const d = load<f32>(xr + (<usize>c << 2)) - mean;
      squares += d * d;
    }
    const rstd = <f32>1 / Mathf.sqrt(squares / <f32>C + eps);

    const rstdV = f32x4.splat(rstd);
    for (c = 0; c < C4; c += 4) {
      const at = <usize>c << 2;
      const norm = f32x4.mul(f32x4.sub(v128.load(xr + at), meanV), rstdV);
      v128.store(outr + at, f32x4.add(f32x4.mul(norm, v128.load(gamma + at)), v128.load(beta + at)));
    }
    for (; c < C; c++) {
      const at = <usize>c << 2;
      store<f32>(outr + at, (load<f32>(xr + at) - mean) * rstd * load<f32>(gamma + at) + load<f32>(beta + at));
    }
  }
}

export function rmsNorm(out: usize, x: usize, gamma: usize, rows: i32, C: i32, eps: f32): void {
  const C4 = C & ~3;
  for (let r = 0; r < rows; r++) {
    const xr = x + ((<usize>r * <usize>C) << 2);
    const outr = out + ((<usize>r * <usize>C) << 2);
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c < C4; c += 4) {
      const v = v128.load(xr + (<usize>c << 2));
      acc = f32x4.add(acc, f32x4.mul(v, v));
    }
    let squares = sum4(acc);
    for (; c < C; c++) {
      const v = load<f32>(xr + (<usize>c << 2));
      squares += v * v;
    }
    const rstd = <f32>1 / Mathf.sqrt(squares / <f32>C + eps);

    const rstdV = f32x4.splat(rstd);
    for (c = 0; c < C4; c += 4) {
      const at = <usize>c << 2;
      v128.store(outr + at, f32x4.mul(f32x4.mul(v128.load(xr + at), rstdV), v128.load(gamma + at)));
    }
    for (; c < C; c++) {
      const at = <usize>c << 2;
      store<f32>(outr + at, load<f32>(xr + at) * rstd * load<f32>(gamma + at));
    }
  }
}
