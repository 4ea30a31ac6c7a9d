// Embeddings from quantized tables (src/quant.ts's q8 and q4 blocks), as embedding.ts from f32 and f16 ones:
//
//   out[t, c] = wte[ids[t], c] + wpe[pos0 + t, c]
//
//   out [T, C] f32, ids [T] u32; wte [V, C] and wpe [P, C] both q8 or both q4 (integers, then the scale words at
//   wteScales / wpeScales); wpe = 0 for models with rotary positions.
//
// Each value is dequantized exactly as src/quant.ts's dequantize does (d * q, or m + d * q: one f32 operation, d * q
// being exact for q4), so the rows equal the reference's rounded tables bit for bit.
import { blocks, half } from './matmul_q';

/** out[c] = (add ? out[c] : 0) + value c of row r of a [rows, C] table. */
@inline function addRow(out: usize, table: usize, scales: usize, q8: bool, r: u32, C: i32, add: bool): void {
  const nb = blocks(C);
  for (let c = 0; c < C; c++) {
    const b = <usize>r * <usize>nb + <usize>(c >> 5);
    const j = c & 31;
    const s = load<u32>(scales + (b << 2));
    let value: f32;
    if (q8) value = reinterpret<f32>(s) * <f32>load<i8>(table + (b << 5) + <usize>j);
    else value = half(s >> 16) + half(s) * <f32>((load<u8>(table + q4Byte(r, nb, c)) >> (<u8>(j & 1) << 2)) & 15);
    const at = out + (<usize>c << 2);
    store<f32>(at, add ? load<f32>(at) + value : value);
  }
}

/**
 * The byte of a q4 table holding value c of row r: whole groups of four blocks have their words interleaved
 * (word i of block j at 16 * i + 4 * j of the group's 64 bytes; see matmul_q.ts), the blocks past them not.
 */
@inline function q4Byte(r: u32, nb: i32, c: i32): usize {
  const b = c >> 5;
  const e = (c & 31) >> 1; // the byte within the block
  const row = <usize>r * <usize>nb << 4;
  if (b < (nb & ~3)) return row + (<usize>(b >> 2) << 6) + <usize>((e >> 2) << 4) + <usize>((b & 3) << 2) + <usize>(e & 3);
  return row + (<usize>b << 4) + <usize>e;
}

export function embedQ(out: usize, ids: usize, wte: usize, wteScales: usize, wpe: usize, wpeScales: usize, q8: bool, T: i32, C: i32, pos0: i32): void {
  for (let t = 0; t < T; t++) {
    const row = out + ((<usize>t * <usize>C) << 2);
    addRow(row, wte, wteScales, q8, load<u32>(ids + (<usize>t << 2)), C, false);
    if (wpe) addRow(row, wpe, wpeScales, q8, <u32>(pos0 + t), C, true);
  }
}
