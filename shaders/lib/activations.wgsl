// The activations a fused linear layer applies in its epilogue, with the arithmetic of the unfused kernels:
//
//   gelu(v)         GPT-2's tanh GELU, as shaders/gelu.wgsl computes it (the same clamp, the same rounding)
//   swiglu(g, u)    silu(g) * u, as shaders/swiglu.wgsl computes it

const SQRT_2_OVER_PI = 0.7978845608028654;

fn gelu(v: f32) -> f32 {
  let c = clamp(v, -10.0, 10.0);
  let u = SQRT_2_OVER_PI * (c + 0.044715 * c * c * c);
  return v / (1.0 + exp(-2.0 * u));
}

fn swiglu(gate: f32, up: f32) -> f32 {
  return gate / (1.0 + exp(min(-gate, 80.0))) * up;
}
