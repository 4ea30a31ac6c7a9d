// Embeddings, the first step of the forward pass, as embedding.wgsl:
//
//   out[t, c] = wte[ids[t], c] + wpe[pos0 + t, c]
//
//   out [T, C] f32, ids [T] u32, wte [V, C] and wpe [P, C] each f32 or packed f16 (rows of ceil(C / 2) words);
//   wpe = 0 for models with rotary positions (Llama), which take the token part alone.
import { half1, rowBytes } from './simd';

@inline function tableAt(table: usize, f16: bool, row: u32, C: i32, c: i32): f32 {
  return f16
    ? half1(table + <usize>row * rowBytes<u16>(C) + (<usize>c << 1))
    : load<f32>(table + <usize>row * rowBytes<f32>(C) + (<usize>c << 2));
}

export function embed(out: usize, ids: usize, wte: usize, wteF16: bool, wpe: usize, wpeF16: bool, T: i32, C: i32, pos0: i32): void {
  for (let t = 0; t < T; t++) {
    const id = load<u32>(ids + (<usize>t << 2));
    const outr = out + ((<usize>t * <usize>C) << 2);
    for (let c = 0; c < C; c++) {
      let value = tableAt(wte, wteF16, id, C, c);
      if (wpe) value += tableAt(wpe, wpeF16, <u32>(pos0 + t), C, c);
      store<f32>(outr + (<usize>c << 2), value);
    }
  }
}
