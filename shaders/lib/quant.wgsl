// Quantized weights, q8 and q4 (the block layout of src/quant.ts): a matrix [rows, cols] is one array of u32 words,
// the packed integers of every row first (row by row, ceil(cols / 32) blocks a row, 8 words a q8 block and 4 a q4
// block), then one scale word per block, row by row. The buffer is padded to whole vec4<u32>s.
//
//   q8  value j of a block = d * q,      q the int8 in byte j % 4 of word j / 4,     d the f32 scale word
//   q4  value j of a block = m + d * q,  q the uint4 in nibble j % 8 of word j / 8,  d | m the f16 pair of the scale
//
// A kernel finds where the scales start without being told the row count: the buffer holds rows * blocks * (W + 1)
// words (W integer words a block) plus at most 3 words of padding, and padding shorter than W + 1 leaves the integer
// division words / (W + 1) = rows * blocks. So the binding of a quantized matrix must be the whole tensor.

const QBLOCK = 32u;

// Blocks in a row of n values.
fn quantBlocks(n: u32) -> u32 {
  return (n + QBLOCK - 1u) / QBLOCK;
}

// The first scale word of a q8 or q4 matrix of `words` words (arrayLength of its binding, in u32 words).
fn q8ScaleStart(words: u32) -> u32 {
  return words / 9u * 8u;
}

fn q4ScaleStart(words: u32) -> u32 {
  return words / 5u * 4u;
}

// The four signed bytes of a q8 word, low byte first, as floats: shifted to the top and back, keeping the sign.
fn q8Ints(word: u32) -> vec4<f32> {
  let top = vec4<u32>(word << 24u, word << 16u, word << 8u, word);
  return vec4<f32>(bitcast<vec4<i32>>(top) >> vec4<u32>(24u));
}

// Nibbles first .. first + 3 of a q4 word (first = 0 or 4), low nibble first, as floats.
fn q4Ints(word: u32, first: u32) -> vec4<f32> {
  return vec4<f32>((vec4<u32>(word) >> (vec4<u32>(0u, 4u, 8u, 12u) + 4u * first)) & vec4<u32>(15u));
}

// Value k (any column) of a q8 row, from the word and the scale word that hold it.
fn q8Value(word: u32, scale: u32, k: u32) -> f32 {
  let q = bitcast<i32>(word << (24u - 8u * (k % 4u))) >> 24u;
  return bitcast<f32>(scale) * f32(q);
}

fn q4Value(word: u32, scale: u32, k: u32) -> f32 {
  let dm = unpack2x16float(scale);
  return dm.y + dm.x * f32((word >> (4u * (k % 8u))) & 15u);
}

// Values k .. k + 3 (k % 4 == 0) of a q8 or q4 row, likewise.
fn q8Values4(word: u32, scale: u32) -> vec4<f32> {
  return bitcast<f32>(scale) * q8Ints(word);
}

fn q4Values4(word: u32, scale: u32, k: u32) -> vec4<f32> {
  let dm = unpack2x16float(scale);
  return dm.y + dm.x * q4Ints(word, k % 8u);
}
