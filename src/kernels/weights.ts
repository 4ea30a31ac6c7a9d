// The constants of shaders/lib/weights.wgsl: which format a kernel reads its weight matrix in. Every kernel that
// reads a weight (matmul, matvecFused, attentionDecode, attentionResult) compiles its shader with these.
import type { Tensor } from '../gpu/buffers.ts';

export type WeightConstants = { WEIGHT_F16: boolean; WEIGHT_Q8: boolean; WEIGHT_Q4: boolean };

/** The flags for w's dtype (all false: f32); a u32 tensor is not a weight, and says so in one line. */
export function weightConstants(w: Tensor, label: string): WeightConstants {
  if (w.dtype === 'u32') throw new Error(`${label}: weights must be f32, f16x2, q8 or q4, got u32`);
  return { WEIGHT_F16: w.dtype === 'f16x2', WEIGHT_Q8: w.dtype === 'q8', WEIGHT_Q4: w.dtype === 'q4' };
}

/** Whether w is quantized (q8 or q4), the formats with kernel versions of their own. */
export function isQuantized(w: Tensor): boolean {
  return w.dtype === 'q8' || w.dtype === 'q4';
}
