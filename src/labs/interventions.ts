// The intervention labs of the tutorials, each one intervention compared BASE vs TWEAK (common.ts):
//   ablate-head L H            zero head H's output z in block L (TransformerLens's head ablation)
//   scale-head L H f           scale head H's output z, the same as scaling its slice of the output projection
//   nudge-neuron L N d         add d to neuron N of block L's MLP hidden layer
//   zero-embedding-slice a..b  zero dimensions a..b-1 of the token embeddings
//   residual-noise sigma       Gaussian noise into the residual stream entering every block
//   boost-positions f          scale the learned position embeddings (GPT-2) or every RoPE angle (Llama-style)
//   style-bias TOKEN=VALUE     add VALUE to one token's logit: an output bias
import { runWithCache, type Intervention } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { checkHead, checkLayer, compare, dims, encodePrompt, singleToken, tooSmall, type CompareOptions, type LabContext, type LabResult, type Sweep } from './common.ts';

/** Sweep values: the usual ones and the user's, sorted. */
const around = (usual: number[], own: number) => [...new Set([...usual, own])].sort((a, b) => a - b);

/** Labs on the grid of every layer x head: one forward pass per head, so only where that stays cheap. */
const MAX_GRID = 64;

const FLUENCY = 'it writes Shakespeare-shaped text that makes no sense, so a loss of fluency or a change of style is hard to see (the KL per step still measures the change)';

function teach(ctx: LabContext, r: LabResult, lesson: string[], lab: string, args: string): LabResult {
  return { ...r, lesson, tooSmall: tooSmall(ctx, FLUENCY, lab, args) };
}

export async function ablateHead(ctx: LabContext, layer: number, head: number, o: CompareOptions): Promise<LabResult> {
  checkLayer(ctx, layer);
  checkHead(ctx, head);
  const { nLayer: L, NH } = dims(ctx);
  const grid: Sweep | undefined = L * NH <= MAX_GRID
    ? {
        name: 'grid',
        title: 'Ablating each head in turn: mean KL over the continuation',
        xTitle: 'head',
        yTitle: 'layer',
        points: Array.from({ length: L * NH }, (_, i) => ({ x: `head ${i % NH}`, y: `layer ${Math.floor(i / NH)}`, interventions: [zeroHead(Math.floor(i / NH), i % NH)] })),
      }
    : undefined;
  const r = await compare(ctx, 'ablate-head', [zeroHead(layer, head)], o, `head ${layer}.${head} zeroed`, {}, grid);
  if (!grid) r.lines.push(`(no grid of every head: ${L * NH} heads is more than ${MAX_GRID} forward passes)`);
  return teach(ctx, r, [
    'Look at the first step where TWEAK parts from BASE, and at the KL per step: a head matters at the tokens that use it.',
    'The grid ablates every head in turn: a few heads move the distribution far more than the rest.',
  ], 'ablate-head', `${layer} ${head}`);
}

const zeroHead = (layer: number, head: number): Intervention => ({ hook: `blocks.${layer}.attn.hook_z`, op: 'zero', head });

export async function scaleHead(ctx: LabContext, layer: number, head: number, factor: number, o: CompareOptions): Promise<LabResult> {
  checkLayer(ctx, layer);
  checkHead(ctx, head);
  finite(factor, 'factor');
  // z . W_O is linear in z: scaling the head's z scales its slice of the output projection (the bias is shared)
  const iv = (f: number): Intervention => ({ hook: `blocks.${layer}.attn.hook_z`, op: 'scale', head, factor: f });
  const sweep: Sweep = { name: 'sweep', title: `Scaling head ${layer}.${head}: mean KL against the factor`, xTitle: 'factor (1 = unchanged)', points: around([0, 0.5, 1, 2, 4, 8], factor).map((f) => ({ x: f, interventions: [iv(f)] })) };
  const r = await compare(ctx, 'scale-head', [iv(factor)], o, `head ${layer}.${head} x ${factor}`, {}, sweep);
  return teach(ctx, r, [
    'Factor 1 changes nothing (KL 0); 0 is the ablation. Look at how fast KL grows as the head is turned up past 1:',
    'amplifying a head pushes the residual stream where the model never was, and the text degrades from the divergence on.',
  ], 'scale-head', `${layer} ${head} ${factor}`);
}

export async function nudgeNeuron(ctx: LabContext, layer: number, neuron: number, delta: number, o: CompareOptions): Promise<LabResult> {
  checkLayer(ctx, layer);
  const I = dims(ctx).I;
  if (!(Number.isInteger(neuron) && neuron >= 0 && neuron < I)) throw new UserError(`neuron ${neuron} does not exist: the MLP has neurons 0..${I - 1}`);
  finite(delta, 'delta');
  const iv = (d: number): Intervention => ({ hook: `blocks.${layer}.mlp.hook_post`, op: 'add', neuron, value: d });
  const sweep: Sweep = { name: 'sweep', title: `Nudging neuron ${layer}.${neuron}: mean KL against delta`, xTitle: 'delta added to the neuron', points: around([-8, -4, -2, 0, 2, 4, 8], delta).map((d) => ({ x: d, interventions: [iv(d)] })) };
  const r = await compare(ctx, 'nudge-neuron', [iv(delta)], o, `neuron ${layer}.${neuron} + ${delta}`, {}, sweep);
  return teach(ctx, r, [
    "One neuron adds one direction (its row of the MLP's output matrix) to the residual stream, scaled by delta.",
    'Look at the tokens whose logprob moves most, and at the sweep: KL grows with |delta|, often unevenly in sign.',
  ], 'nudge-neuron', `${layer} ${neuron} ${delta}`);
}

export async function zeroEmbeddingSlice(ctx: LabContext, range: string, o: CompareOptions): Promise<LabResult> {
  const m = /^(\d+)\.\.(\d+)$/.exec(range);
  const C = dims(ctx).C;
  if (!m || Number(m[1]) >= Number(m[2]) || Number(m[2]) > C) throw new UserError(`the slice must be a..b with 0 <= a < b <= ${C}, got "${range}"`);
  const iv = (a: number, b: number): Intervention => ({ hook: 'hook_embed', op: 'zero', dims: [a, b] });
  const widths = [...new Set([C / 16, C / 8, C / 4, C / 2, C].map((w) => Math.max(1, Math.round(w))))];
  const sweep: Sweep = { name: 'sweep', title: 'Zeroing the first k embedding dimensions: mean KL against k', xTitle: `k (dimensions 0..k-1 zeroed, of ${C})`, points: widths.map((k) => ({ x: k, interventions: [iv(0, k)] })) };
  const r = await compare(ctx, 'zero-embedding-slice', [iv(Number(m[1]), Number(m[2]))], o, `embedding dims ${range} zeroed`, {}, sweep);
  return teach(ctx, r, [
    'A token is a direction in C dimensions spread over all of them: zeroing a slice blurs every token a little.',
    'Look at the sweep: KL grows with the width of the slice, and the continuation holds until enough is gone.',
  ], 'zero-embedding-slice', range);
}

export async function residualNoise(ctx: LabContext, sigma: number, o: CompareOptions): Promise<LabResult> {
  finite(sigma, 'sigma');
  const L = dims(ctx).nLayer;
  const ivs = (s: number): Intervention[] => Array.from({ length: L }, (_, l) => ({ hook: `blocks.${l}.hook_resid_pre`, op: 'noise', sigma: s, seed: (o.seed ?? 0) + l }));
  const sweep: Sweep = { name: 'sweep', title: 'Noise into every block: mean KL against sigma', xTitle: 'sigma', points: around([0, 0.01, 0.03, 0.1, 0.3, 1, 3], sigma).map((s) => ({ x: s, interventions: ivs(s) })) };
  const r = await compare(ctx, 'residual-noise', ivs(sigma), o, `noise sigma ${sigma} into every block`, {}, sweep);
  // the scale the noise competes with: the root mean square of the stream entering the first and the last block
  const names = [`blocks.0.hook_resid_pre`, `blocks.${L - 1}.hook_resid_pre`];
  const { cache } = await runWithCache(ctx.model, encodePrompt(ctx, o.prompt), names);
  const rms = names.map((n) => Math.sqrt(cache.get(n)!.data.reduce((s, x) => s + x * x, 0) / cache.get(n)!.data.length));
  r.lines.push(`RMS of the residual stream entering block 0: ${rms[0]!.toFixed(3)}, entering block ${L - 1}: ${rms[1]!.toFixed(3)}`);
  return teach(ctx, r, [
    'Noise well below the scale of the residual stream is absorbed, and KL stays near 0. Look at the sweep for the sigma',
    'where KL takes off, and compare it with the RMS of the stream printed below: the first blocks are the most fragile.',
  ], 'residual-noise', String(sigma));
}

export async function boostPositions(ctx: LabContext, factor: number, o: CompareOptions): Promise<LabResult> {
  finite(factor, 'factor');
  const gpt2 = dims(ctx).arch === 'gpt2';
  // RoPE has no position vector to scale: positions enter as rotations of q and k by position x frequency, so
  // the boost multiplies every angle, as if the tokens stood `factor` times further apart
  const point = (f: number) => (gpt2 ? { interventions: [{ hook: 'hook_pos_embed', op: 'scale', factor: f } as Intervention] } : { interventions: [], fixed: { ropeAngleScale: f } });
  const sweep: Sweep = { name: 'sweep', title: `${gpt2 ? 'Scaling the position embeddings' : 'Scaling the RoPE angles'}: mean KL against the factor`, xTitle: 'factor (1 = unchanged)', points: around([0, 0.5, 1, 2, 4], factor).map((f) => ({ x: f, ...point(f) })) };
  const { interventions, fixed } = point(factor);
  const r = await compare(ctx, 'boost-positions', interventions, o, gpt2 ? `position embeddings x ${factor}` : `RoPE angles x ${factor}`, fixed, sweep);
  return teach(ctx, r, [
    'Word order reaches attention only through the positions: factor 0 leaves a bag of words, a large factor drowns the tokens.',
    'Look at the sweep around 1, and at whether TWEAK keeps the line structure (speaker names, line breaks) of BASE.',
  ], 'boost-positions', String(factor));
}

export async function styleBias(ctx: LabContext, spec: string, o: CompareOptions): Promise<LabResult> {
  const at = spec.lastIndexOf('=');
  if (at <= 0) throw new UserError(`style-bias takes TOKEN=VALUE, e.g. ,=3; got "${spec}"`);
  const id = singleToken(ctx, spec.slice(0, at));
  const value = Number(spec.slice(at + 1));
  finite(value, 'value');
  const iv = (v: number): Intervention => ({ hook: 'logits', op: 'add', dims: [id, id + 1], value: v });
  const name = JSON.stringify(ctx.tokenizer.tokenString(id));
  const sweep: Sweep = { name: 'sweep', title: `Bias on ${name}: mean KL against the bias`, xTitle: 'logit bias', points: around([-4, -2, 0, 2, 4, 8], value).map((v) => ({ x: v, interventions: [iv(v)] })) };
  const r = await compare(ctx, 'style-bias', [iv(value)], o, `logit of ${name} + ${value}`, {}, sweep);
  return teach(ctx, r, [
    `A bias on one logit multiplies that token's odds by e^${value} at every step; everything else keeps its ratios.`,
    `Look at how often ${name} appears in TWEAK, and at the change in logprob: it is the same shift at every step.`,
  ], 'style-bias', spec);
}

function finite(x: number, what: string): void {
  if (!Number.isFinite(x)) throw new UserError(`${what} must be a number, got ${x}`);
}
