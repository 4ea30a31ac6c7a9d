// A running log-sum-exp over a stream of values, in one pass: m the largest value so far, s the sum of exp(x - m)
// over the values so far, rescaled whenever m moves. log(sum_i exp(x_i)) = m + log(s).
#include "lib/masked.wgsl"

struct Lse {
  m: f32,
  s: f32,
}

// Before any value: no largest yet, an empty sum.
fn lseStart() -> Lse {
  return Lse(LOWEST_F32, 0.0);
}

fn lseAdd(r: Lse, x: f32) -> Lse {
  if (x > r.m) {
    return Lse(x, r.s * exp(r.m - x) + 1.0);
  }
  return Lse(r.m, r.s + exp(x - r.m));
}
