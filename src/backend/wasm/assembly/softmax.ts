// Softmax over each row, in place (hook_pattern when the rows are attention scores):
//
//   x[r, c] = exp(x[r, c] - max_r) / sum_c' exp(x[r, c'] - max_r)      x: [rows, cols] f32
//
// Entries that are exactly -infinity (the causal mask) become exactly 0, and a row with no finite entry becomes
// all zeros, as in softmax.wgsl. Three passes over the row: max, exponentials (stored in place) and their sum,
// then the scale by 1 / sum.
import { exp1, exp4, max4, sum4 } from './simd';

export function softmax(x: usize, rows: i32, cols: i32): void {
  const cols4 = cols & ~3;
  const masked = f32x4.splat(-Infinity);
  const zero = f32x4.splat(0);
  for (let r = 0; r < rows; r++) {
    const row = x + ((<usize>r * <usize>cols) << 2);
    let maxV = masked;
    let c = 0;
    for (; c < cols4; c += 4) maxV = f32x4.max(maxV, v128.load(row + (<usize>c << 2)));
    let rowMax = max4(maxV);
    for (; c < cols; c++) rowMax = max(rowMax, load<f32>(row + (<usize>c << 2)));
    if (rowMax == -Infinity) {
      memory.fill(row, 0, <usize>cols << 2); // every entry masked
      continue;
    }

    const maxSplat = f32x4.splat(rowMax);
    let sumV = zero;
    for (c = 0; c < cols4; c += 4) {
      const at = row + (<usize>c << 2);
      const v = v128.load(at);
      const e = v128.bitselect(zero, exp4(f32x4.sub(v, maxSplat)), f32x4.eq(v, masked));
      v128.store(at, e);
      sumV = f32x4.add(sumV, e);
    }
    let total = sum4(sumV);
    for (; c < cols; c++) {
      const at = row + (<usize>c << 2);
      const v = load<f32>(at);
      const e: f32 = v == -Infinity ? 0 : exp1(v - rowMax);
      store<f32>(at, e);
      total += e;
    }

    const inv = <f32>1 / total;
    const invV = f32x4.splat(inv);
    for (c = 0; c < cols4; c += 4) {
      const at = row + (<usize>c << 2);
      v128.store(at, f32x4.mul(v128.load(at), invV));
    }
    for (; c < cols; c++) {
      const at = row + (<usize>c << 2);
      store<f32>(at, load<f32>(at) * inv);
    }
  }
}
