// The intervention labs of the tutorials, each one intervention compared BASE vs TWEAK (common.ts):
//   ablate-head L H            zero head H's output z in block L (TransformerLens's head ablation)
//   scale-head L H f           scale head H's output z, the same as scaling its slice of the output projection
//   nudge-neuron L N d         add d to neuron N of block L's MLP hidden layer
//   zero-embedding-slice a..b  zero dimensions a..b-1 of the token embeddings
//   residual-noise sigma       Gaussian noise into the residual stream entering every block
//   boost-positions f          scale the learned position embeddings (GPT-2) or every RoPE angle (Llama-style)
//   style-bias TOKEN=VALUE     add VALUE to one token's logit: an output bias
import type { Intervention } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { checkHead, checkLayer, compare, dims, singleToken, type CompareOptions, type LabContext, type LabResult } from './common.ts';

export function ablateHead(ctx: LabContext, layer: number, head: number, o: CompareOptions): Promise<LabResult> {
  checkLayer(ctx, layer);
  checkHead(ctx, head);
  return compare(ctx, 'ablate-head', [{ hook: `blocks.${layer}.attn.hook_z`, op: 'zero', head }], o, `head ${layer}.${head} zeroed`);
}

export function scaleHead(ctx: LabContext, layer: number, head: number, factor: number, o: CompareOptions): Promise<LabResult> {
  checkLayer(ctx, layer);
  checkHead(ctx, head);
  finite(factor, 'factor');
  // z . W_O is linear in z: scaling the head's z scales its slice of the output projection (the bias is shared)
  return compare(ctx, 'scale-head', [{ hook: `blocks.${layer}.attn.hook_z`, op: 'scale', head, factor }], o, `head ${layer}.${head} x ${factor}`);
}

export function nudgeNeuron(ctx: LabContext, layer: number, neuron: number, delta: number, o: CompareOptions): Promise<LabResult> {
  checkLayer(ctx, layer);
  const I = dims(ctx).I;
  if (!(Number.isInteger(neuron) && neuron >= 0 && neuron < I)) throw new UserError(`neuron ${neuron} does not exist: the MLP has neurons 0..${I - 1}`);
  finite(delta, 'delta');
  return compare(ctx, 'nudge-neuron', [{ hook: `blocks.${layer}.mlp.hook_post`, op: 'add', neuron, value: delta }], o, `neuron ${layer}.${neuron} + ${delta}`);
}

export function zeroEmbeddingSlice(ctx: LabContext, range: string, o: CompareOptions): Promise<LabResult> {
  const m = /^(\d+)\.\.(\d+)$/.exec(range);
  const C = dims(ctx).C;
  if (!m || Number(m[1]) >= Number(m[2]) || Number(m[2]) > C) throw new UserError(`the slice must be a..b with 0 <= a < b <= ${C}, got "${range}"`);
  return compare(ctx, 'zero-embedding-slice', [{ hook: 'hook_embed', op: 'zero', dims: [Number(m[1]), Number(m[2])] }], o, `embedding dims ${range} zeroed`);
}

export function residualNoise(ctx: LabContext, sigma: number, o: CompareOptions): Promise<LabResult> {
  finite(sigma, 'sigma');
  const ivs: Intervention[] = Array.from({ length: dims(ctx).nLayer }, (_, l) => ({ hook: `blocks.${l}.hook_resid_pre`, op: 'noise', sigma, seed: (o.seed ?? 0) + l }));
  return compare(ctx, 'residual-noise', ivs, o, `noise sigma ${sigma} into every block`);
}

export function boostPositions(ctx: LabContext, factor: number, o: CompareOptions): Promise<LabResult> {
  finite(factor, 'factor');
  if (dims(ctx).arch === 'gpt2') {
    return compare(ctx, 'boost-positions', [{ hook: 'hook_pos_embed', op: 'scale', factor }], o, `position embeddings x ${factor}`);
  }
  // RoPE has no position vector to scale: positions enter as rotations of q and k by position x frequency, so
  // the boost multiplies every angle, as if the tokens stood `factor` times further apart
  return compare(ctx, 'boost-positions', [], o, `RoPE angles x ${factor}`, { ropeAngleScale: factor });
}

export function styleBias(ctx: LabContext, spec: string, o: CompareOptions): Promise<LabResult> {
  const at = spec.lastIndexOf('=');
  if (at <= 0) throw new UserError(`style-bias takes TOKEN=VALUE, e.g. ,=3; got "${spec}"`);
  const id = singleToken(ctx, spec.slice(0, at));
  const value = Number(spec.slice(at + 1));
  finite(value, 'value');
  return compare(ctx, 'style-bias', [{ hook: 'logits', op: 'add', dims: [id, id + 1], value }], o, `logit of ${JSON.stringify(ctx.tokenizer.tokenString(id))} + ${value}`);
}

function finite(x: number, what: string): void {
  if (!Number.isFinite(x)) throw new UserError(`${what} must be a number, got ${x}`);
}
