// Packed f16, for adapters without shader-f16: two halves to a u32 word, the even-numbered one in the low 16 bits,
// each row of a matrix padded to whole words (see packF16 in src/half.ts).

// Words in a packed row of n halves.
fn halfRowWords(n: u32) -> u32 {
  return (n + 1u) / 2u;
}

// Half k of a packed row, given the word that holds it (halves k and k + 1 share a word when k is even).
fn unpackHalf(word: u32, k: u32) -> f32 {
  let pair = unpack2x16float(word);
  return select(pair.x, pair.y, (k & 1u) == 1u);
}

// Four consecutive halves, from the two words that hold them.
fn unpackHalf4(words: vec2<u32>) -> vec4<f32> {
  return vec4<f32>(unpack2x16float(words.x), unpack2x16float(words.y));
}
