// Embeddings: each token id picks its row of wte, and (GPT-2) each position adds its row of wpe. The sum is the
// residual stream the blocks read and add into.
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { ceilDiv, grid1d } from './dispatch.ts';
import { defineKernel } from './versions.ts';

const EmbedParams = defineUniforms('EmbedParams', { T: 'u32', C: 'u32', pos0: 'u32' });
const WORKGROUP = 256;

export const embedKernel = defineKernel('embed', [
  { name: 'v1', uniforms: EmbedParams, defaultOn: ['hardware', 'software'], changes: 'one invocation per output element: a row of wte, plus one of wpe' },
]);

export interface EmbedOptions {
  /** Tokens embedded, and channels. */
  T: number;
  C: number;
  /** Position of the first token: 0 for a prompt, the tokens already in the KV cache for a decode step. */
  pos0: number;
  layer?: number;
  label?: string;
}

/**
 * out[T, C] = wte[ids[t], :] + wpe[pos0 + t, :] on the GPU. ids: u32 [T]; wte: [V, C] and wpe: [P, C], each f32,
 * f16x2, q8 or q4; wpe is undefined for models with rotary position embeddings.
 */
export function embed(rec: Recorder, out: Tensor, ids: Tensor, wte: Tensor, wpe: Tensor | undefined, o: EmbedOptions): void {
  const { T, C, pos0 } = o;
  if (ids.dtype !== 'u32') throw new Error(`embedding: token ids must be a u32 tensor, not ${ids.dtype}`);
  if (wpe && pos0 + T > wpe.shape[0]!) {
    throw new Error(
      `embedding: positions ${pos0}..${pos0 + T - 1} run past the ${wpe.shape[0]} positions this model was trained on; shorten the prompt or generate fewer tokens`,
    );
  }
  rec.dispatch({
    shader: embedKernel.version('v1').shader,
    constants: { WORKGROUP, ...tableConstants('WTE', wte, 'wte'), HAS_WPE: wpe !== undefined, ...tableConstants('WPE', wpe, 'wpe') },
    uniforms: EmbedParams.pack({ T, C, pos0 }),
    bindings: wpe ? [out, ids, wte, wpe] : [out, ids, wte],
    workgroups: grid1d(ceilDiv(T * C, WORKGROUP)),
    label: o.label ?? 'embedding',
    layer: o.layer,
    shape: `[${T}, ${C}]`,
  });
}

/**
 * The token part alone, out[T, C] = wte[ids[t], :] (TransformerLens's hook_embed): the same kernel without wpe.
 * The position part (hook_pos_embed) is rows pos0 .. pos0 + T - 1 of wpe itself.
 */
export function embedTokens(rec: Recorder, out: Tensor, ids: Tensor, wte: Tensor, o: Omit<EmbedOptions, 'pos0'>): void {
  embed(rec, out, ids, wte, undefined, { ...o, pos0: 0, label: o.label ?? 'embed_tokens' });
}

/** The shader's constants for a table's format (all false for f32, or for no table): WTE_F16, WTE_Q8, WTE_Q4, WTE_WORDS. */
function tableConstants(prefix: 'WTE' | 'WPE', table: Tensor | undefined, name: string): Record<string, boolean> {
  if (table?.dtype === 'u32') throw new Error(`embedding: ${name} must be f32, f16x2, q8 or q4, not u32`);
  const dtype = table?.dtype ?? 'f32';
  return { [`${prefix}_F16`]: dtype === 'f16x2', [`${prefix}_Q8`]: dtype === 'q8', [`${prefix}_Q4`]: dtype === 'q4', [`${prefix}_WORDS`]: dtype !== 'f32' };
}

/** CPU reference, in float64. wte [V, C] and wpe [P, C] hold plain values (f16 weights already unpacked). */
export function embedReference(
  out: Float64Array | Float32Array,
  ids: ArrayLike<number>,
  wte: ArrayLike<number>,
  wpe: ArrayLike<number> | undefined,
  o: { T: number; C: number; pos0: number },
): void {
  const { T, C, pos0 } = o;
  for (let t = 0; t < T; t++) {
    for (let c = 0; c < C; c++) {
      out[t * C + c] = wte[ids[t]! * C + c]! + (wpe ? wpe[(pos0 + t) * C + c]! : 0);
    }
  }
}
