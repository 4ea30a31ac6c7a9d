// Rotary position embedding (RoPE), in place on queries or keys, Hugging Face Llama convention: dim i of a head
// is rotated together with dim i + rotaryDim / 2 ("rotate_half"), by the angle position * invFreq[i]. Dims from
// rotaryDim to headDim are left alone (partial rotary, as in GPT-NeoX and Phi).
//
//   x:       T rows of `stride` floats; head j of row t starts at t * stride + offset + j * headDim
//            (queries of a fused qkv buffer [T, 3C]: stride 3C, offset 0; keys: offset C)
//   invFreq: [rotaryDim / 2] f32, from ropeInvFreq
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

export interface RopeOptions {
  /** Rows, at positions pos0 .. pos0 + T - 1. */
  T: number;
  pos0: number;
  /** Heads to rotate in each row (nHead for queries, nKVHead for keys). */
  nHeads: number;
  headDim: number;
  /** Even, at most headDim. */
  rotaryDim: number;
  stride: number;
  offset: number;
  layer?: number;
}

/** `rope_scaling` of a Hugging Face config, for the types supported here. */
export type RopeScaling =
  | { type: 'linear'; factor: number }
  | { type: 'llama3'; factor: number; low_freq_factor: number; high_freq_factor: number; original_max_position_embeddings: number };

const RopeParams = defineUniforms('RopeParams', {
  T: 'u32',
  pos0: 'u32',
  nHeads: 'u32',
  headDim: 'u32',
  half: 'u32',
  stride: 'u32',
  offset: 'u32',
  n: 'u32',
});
const WORKGROUP = 256;

export const ropeKernel = defineKernel('rope', [
  { name: 'v1', uniforms: RopeParams, defaultOn: ['hardware', 'software'], changes: 'in place, one invocation per rotated pair' },
]);

/** Rotate each (i, i + rotaryDim / 2) pair of every head of every row by (pos0 + t) * invFreq[i], on the GPU. */
export function rope(rec: Recorder, x: Tensor, invFreq: Tensor, o: RopeOptions): void {
  const { T, pos0, nHeads, headDim, rotaryDim, stride, offset } = o;
  if (rotaryDim % 2 !== 0 || rotaryDim > headDim) throw new Error(`rope: rotaryDim ${rotaryDim} must be even and at most headDim ${headDim}`);
  const half = rotaryDim / 2;
  if (invFreq.byteLength < half * 4) throw new Error(`rope: invFreq needs ${half} floats`);
  if (T > 0 && x.byteLength < ((T - 1) * stride + offset + nHeads * headDim) * 4) throw new Error('rope: x is too small for T rows of its stride');
  const n = T * nHeads * half;
  rec.dispatch({
    shader: ropeKernel.version('v1').shader,
    constants: { WORKGROUP },
    uniforms: RopeParams.pack({ T, pos0, nHeads, headDim, half, stride, offset, n }),
    bindings: [x, invFreq],
    workgroups: grid1d(ceilDiv(n, WORKGROUP)),
    label: 'rope',
    layer: o.layer,
    shape: `[${T}, ${nHeads}, ${rotaryDim}/${headDim}]`,
  });
}

/**
 * CPU reference, in place. The angle is rounded to f32 before its cosine is taken, as Hugging Face computes it
 * (`inv_freq @ position_ids` in float32); the rotation itself is in float64.
 */
export function ropeReference(x: Float64Array | Float32Array, invFreq: ArrayLike<number>, o: RopeOptions): void {
  const { T, pos0, nHeads, headDim, rotaryDim, stride, offset } = o;
  const half = rotaryDim / 2;
  for (let t = 0; t < T; t++) {
    for (let j = 0; j < nHeads; j++) {
      const base = t * stride + offset + j * headDim;
      for (let i = 0; i < half; i++) {
        const angle = Math.fround((pos0 + t) * invFreq[i]!);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        const x1 = x[base + i]!;
        const x2 = x[base + i + half]!;
        x[base + i] = x1 * c - x2 * s;
        x[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

/**
 * The rotation frequency of each of the dim / 2 pairs, as Hugging Face transformers computes `inv_freq`
 * (modeling_rope_utils.py), each step rounded to f32 as torch does:
 *   default: 1 / theta^(2i / dim)
 *   linear:  default / factor (the same as dividing positions by factor)
 *   llama3:  low frequencies (wavelength 2 pi / f above original_max_position_embeddings / low_freq_factor) divided
 *            by factor, high frequencies (wavelength below original / high_freq_factor) kept, and the band between
 *            blended smoothly from one to the other.
 * `dim` is the rotary dimension (headDim unless only part of each head is rotated).
 */
export function ropeInvFreq(dim: number, theta: number, scaling?: RopeScaling): Float32Array {
  const f32 = Math.fround;
  const invFreq = new Float32Array(dim / 2);
  for (let i = 0; i < dim / 2; i++) {
    const exponent = f32(f32(2 * i) / dim); // torch.arange(0, dim, 2).float() / dim
    invFreq[i] = f32(1 / f32(theta ** exponent));
  }
  if (!scaling) return invFreq;
  switch (scaling.type) {
    case 'linear':
      for (let i = 0; i < invFreq.length; i++) invFreq[i] = invFreq[i]! / scaling.factor;
      return invFreq;
    case 'llama3': {
      const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: oldContext } = scaling;
      const lowFreqWavelen = oldContext / low;
      const highFreqWavelen = oldContext / high;
      for (let i = 0; i < invFreq.length; i++) {
        const f = invFreq[i]!;
        const wavelen = f32((2 * Math.PI) / f);
        if (wavelen > lowFreqWavelen) {
          invFreq[i] = f / factor;
        } else if (wavelen >= highFreqWavelen) {
          const smooth = (oldContext / wavelen - low) / (high - low);
          invFreq[i] = ((1 - smooth) * f) / factor + smooth * f;
        }
      }
      return invFreq;
    }
  }
}
