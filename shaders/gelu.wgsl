// GELU, in place over n elements, in GPT-2's tanh approximation (Hugging Face's "gelu_new"):
//   gelu(x) = 0.5 * x * (1 + tanh(u)),  u = sqrt(2 / pi) * (x + 0.044715 * x^3)
// computed through the identity 0.5 * (1 + tanh(u)) = 1 / (1 + exp(-2u)):
//   gelu(x) = x / (1 + exp(-2u))
// This needs no tanh (some implementations compute tanh as a ratio of exponentials and return NaN for large |u|,
// where those overflow), and it stays accurate for negative x, where 1 + tanh(u) would cancel.

struct GeluParams {
  n: u32,
}

@group(0) @binding(0) var<uniform> params: GeluParams;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

const SQRT_2_OVER_PI = 0.7978845608028654;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  // Dispatches wider than 65535 workgroups fold into y: the flat index spans both dimensions.
  let i = gid.x + gid.y * groups.x * ${WORKGROUP};
  if (i >= params.n) {
    return;
  }
  let v = x[i];
  // Past |x| = 10 the factor 1 / (1 + exp(-2u)) is 1 in f32, or below 2e-38, so clamping x there changes no result
  // by more than |x| * 2e-38; it keeps x^3 and exp(-2u) finite (2|u| <= 88), so no infinity ever appears.
  let c = clamp(v, -10.0, 10.0);
  let u = SQRT_2_OVER_PI * (c + 0.044715 * c * c * c);
  x[i] = v / (1.0 + exp(-2.0 * u));
}
