// The causal mask: attention scores a query may not see are -infinity, and the softmax turns them into exact
// zeros. They are recognised by their bits and kept out of all arithmetic, because GPU compilers may assume
// floats are finite.
const NEG_INF_BITS = 0xff800000u;
// Where a max over the unmasked entries of a row starts: the most negative finite f32.
const LOWEST_F32 = -3.4028234663852886e38;

fn isMasked(v: f32) -> bool {
  return bitcast<u32>(v) == NEG_INF_BITS;
}

// -infinity. WGSL has no infinity literal, and a constant expression may not be infinite, so the bits go through a
// `let` and are converted at run time.
fn negativeInfinity() -> f32 {
  let bits = NEG_INF_BITS;
  return bitcast<f32>(bits);
}
