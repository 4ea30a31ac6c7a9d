// The hook points: every activation a lab can read or change, named as TransformerLens names them, each declared
// once here with its shape. The ops of the forward pass (src/model/step.ts) and the CPU references call
// `hook(name, ...)` at each point; nothing happens there unless a run asked for that name.
//
// Dimension letters: T tokens of the step, S = pos0 + T keys, C width, NH query heads, NKV key/value heads
// (NH for GPT-2), HS head size, I the MLP's hidden width, V vocabulary.
import type { ModelDims } from '../model/model.ts';

export type { ModelDims };

export type Dim = 'T' | 'S' | 'C' | 'NH' | 'NKV' | 'HS' | 'I' | 'V';

export interface HookPoint {
  /** The name, with {i} for the block index. */
  pattern: string;
  shape: Dim[];
  /** Architectures that have it. */
  archs: ('gpt2' | 'llama')[];
  what: string;
}

const both: HookPoint['archs'] = ['gpt2', 'llama'];

export const HOOK_POINTS: HookPoint[] = [
  { pattern: 'hook_embed', shape: ['T', 'C'], archs: both, what: 'token embeddings wte[ids]' },
  { pattern: 'hook_pos_embed', shape: ['T', 'C'], archs: ['gpt2'], what: 'learned position embeddings wpe[pos0..]' },
  { pattern: 'blocks.{i}.hook_resid_pre', shape: ['T', 'C'], archs: both, what: 'residual stream entering block i' },
  { pattern: 'blocks.{i}.ln1.hook_normalized', shape: ['T', 'C'], archs: both, what: 'ln_1 / input_layernorm output' },
  { pattern: 'blocks.{i}.attn.hook_q', shape: ['T', 'NH', 'HS'], archs: both, what: 'queries' },
  { pattern: 'blocks.{i}.attn.hook_k', shape: ['T', 'NKV', 'HS'], archs: both, what: 'keys of this step' },
  { pattern: 'blocks.{i}.attn.hook_v', shape: ['T', 'NKV', 'HS'], archs: both, what: 'values of this step' },
  { pattern: 'blocks.{i}.attn.hook_rot_q', shape: ['T', 'NH', 'HS'], archs: ['llama'], what: 'queries after RoPE' },
  { pattern: 'blocks.{i}.attn.hook_rot_k', shape: ['T', 'NKV', 'HS'], archs: ['llama'], what: 'keys after RoPE' },
  { pattern: 'blocks.{i}.attn.hook_attn_scores', shape: ['NH', 'T', 'S'], archs: both, what: 'q.k/sqrt(HS), -inf past the causal mask' },
  { pattern: 'blocks.{i}.attn.hook_pattern', shape: ['NH', 'T', 'S'], archs: both, what: 'softmax of the scores' },
  { pattern: 'blocks.{i}.attn.hook_z', shape: ['T', 'NH', 'HS'], archs: both, what: 'pattern-weighted values, per head' },
  {
    pattern: 'blocks.{i}.attn.hook_result',
    shape: ['T', 'NH', 'C'],
    archs: both,
    what: "each head's share of the attention output, z_h times its columns of the output projection (heads + bias = hook_attn_out); computed only when asked",
  },
  { pattern: 'blocks.{i}.hook_attn_out', shape: ['T', 'C'], archs: both, what: 'attention output after the output projection' },
  { pattern: 'blocks.{i}.hook_resid_mid', shape: ['T', 'C'], archs: both, what: 'residual stream after attention' },
  { pattern: 'blocks.{i}.ln2.hook_normalized', shape: ['T', 'C'], archs: both, what: 'ln_2 / post_attention_layernorm output' },
  { pattern: 'blocks.{i}.mlp.hook_pre', shape: ['T', 'I'], archs: both, what: 'MLP pre-activation (GPT-2: c_fc out; Llama: gate)' },
  { pattern: 'blocks.{i}.mlp.hook_post', shape: ['T', 'I'], archs: both, what: 'MLP hidden layer after the activation' },
  { pattern: 'blocks.{i}.hook_mlp_out', shape: ['T', 'C'], archs: both, what: 'MLP output' },
  { pattern: 'blocks.{i}.hook_resid_post', shape: ['T', 'C'], archs: both, what: 'residual stream leaving block i' },
  { pattern: 'ln_final.hook_normalized', shape: ['T', 'C'], archs: both, what: 'final norm output' },
  { pattern: 'logits', shape: ['T', 'V'], archs: both, what: 'unembedding output' },
];


/** The hook point a concrete name belongs to, and its block index; undefined when no such hook exists. */
export function findHookPoint(name: string): { point: HookPoint; layer?: number } | undefined {
  const m = /^blocks\.(\d+)\.(.*)$/.exec(name);
  const pattern = m ? `blocks.{i}.${m[2]}` : name;
  const point = HOOK_POINTS.find((p) => p.pattern === pattern);
  return point && { point, layer: m ? Number(m[1]) : undefined };
}

/** Every concrete hook name of a model, in forward order. */
export function hookNames(dims: ModelDims): string[] {
  const names: string[] = [];
  for (const p of HOOK_POINTS.filter((p) => p.archs.includes(dims.arch))) {
    if (p.pattern.startsWith('blocks.')) for (let i = 0; i < dims.nLayer; i++) names.push(p.pattern.replace('{i}', String(i)));
    else names.push(p.pattern);
  }
  // forward order: embeddings, then each block's hooks, then the final norm and logits
  const block = (n: string) => Number(/^blocks\.(\d+)\./.exec(n)?.[1] ?? -1);
  return names.sort((a, b) => order(a, block(a)) - order(b, block(b)));

  function order(name: string, layer: number): number {
    if (layer < 0) return name.startsWith('hook_') ? -1 : 1e9 + (name === 'logits' ? 1 : 0);
    const point = findHookPoint(name)!.point;
    return layer * 100 + HOOK_POINTS.indexOf(point);
  }
}

/** The shape of a hook for a run of T tokens starting at pos0. */
export function hookShape(name: string, dims: ModelDims, T: number, pos0 = 0): number[] {
  const found = findHookPoint(name);
  if (!found || !found.point.archs.includes(dims.arch)) throw new HookError(`${dims.arch} models have no hook "${name}": see HOOK_POINTS in src/hooks/points.ts for the names`);
  if (found.layer !== undefined && found.layer >= dims.nLayer) throw new HookError(`hook "${name}": the model has blocks 0..${dims.nLayer - 1}`);
  const size: Record<Dim, number> = { T, S: pos0 + T, C: dims.C, NH: dims.NH, NKV: dims.NKV, HS: dims.HS, I: dims.I, V: dims.V };
  return found.point.shape.map((d) => size[d]);
}

export class HookError extends Error {
  override name = 'UserError';
}
