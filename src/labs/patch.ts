// patch: activation patching. Run a clean and a corrupt prompt of the same length that prefer different answers;
// the raw metric is the logit difference of the two answers at the last position, logit(clean answer) -
// logit(corrupt answer). Patch the clean run's activation into the corrupt run, one place at a time, and read
// the normalised metric (patched - corrupt) / (clean - corrupt): 0 is the corrupt run, 1 the clean run. Places:
// the residual stream entering each block, the attention output and the MLP output, by layer and position; and
// the output z of every head over all positions.
import { runWithCache, runWithHooks, type Intervention } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { dims, encodePrompt, singleToken, tooSmall, type LabContext, type LabResult } from './common.ts';
import { heatmap, showToken } from './figures.ts';

export interface PatchOptions {
  clean: string;
  corrupt: string;
  /** The answer tokens the metric compares (each a single token). */
  answer: string;
  wrong: string;
}

/**
 * The default pair repeats a word, and the metric asks whether the model repeats it again: the clean prompt
 * ("king") prefers " king" over " Juliet" by 2.97 logits on the embedded model, the corrupt one prefers " Juliet"
 * by 3.08. The word sits at positions 1 and 4, so the figure shows where that information travels to the last
 * position. (Found by trying pairs of single-token words in a few repetition templates on the embedded model.)
 */
export const PATCH_DEFAULTS: PatchOptions = {
  clean: 'Good king, good king, good',
  corrupt: 'Good Juliet, good Juliet, good',
  answer: ' king',
  wrong: ' Juliet',
};

/** The activations patched by layer and position, with the names the figure gives them. */
const SITES = [
  { hook: 'hook_resid_pre', label: 'resid_pre (residual stream entering the block)' },
  { hook: 'hook_attn_out', label: 'attn_out (attention output)' },
  { hook: 'hook_mlp_out', label: 'mlp_out (MLP output)' },
];

export async function patchLab(ctx: LabContext, o: PatchOptions): Promise<LabResult> {
  const clean = encodePrompt(ctx, o.clean);
  const corrupt = encodePrompt(ctx, o.corrupt);
  if (clean.length !== corrupt.length) {
    throw new UserError(`the clean prompt is ${clean.length} tokens and the corrupt one ${corrupt.length}: patching needs prompts of the same length`);
  }
  const a = singleToken(ctx, o.answer);
  const b = singleToken(ctx, o.wrong);
  if (a === b) throw new UserError('--answer and --wrong are the same token: give the answers of the clean and the corrupt prompt');
  const { nLayer: L, NH } = dims(ctx);
  const T = clean.length;
  const V = ctx.model.vocabSize;
  const raw = (logits: Float32Array) => logits[(T - 1) * V + a]! - logits[(T - 1) * V + b]!;

  const names = Array.from({ length: L }, (_, l) => [...SITES.map((s) => `blocks.${l}.${s.hook}`), `blocks.${l}.attn.hook_z`]).flat();
  const cleanRun = await runWithCache(ctx.model, clean, names);
  const cleanMetric = raw(cleanRun.logits);
  const corruptMetric = raw((await runWithHooks(ctx.model, corrupt, [])).logits);
  if (Math.abs(cleanMetric - corruptMetric) < 1e-3) {
    throw new UserError(`the clean and corrupt prompts give the same logit difference (${cleanMetric.toFixed(3)}): choose prompts whose answers differ`);
  }
  const normalised = (x: number) => (x - corruptMetric) / (cleanMetric - corruptMetric);
  const patched = async (ivs: Intervention[]) => normalised(raw((await runWithHooks(ctx.model, corrupt, ivs)).logits));
  const source = (name: string) => cleanRun.cache.get(name)!;

  // position labels: the clean token, and the corrupt one after a slash where they differ
  const tok = (id: number) => showToken(ctx.tokenizer.tokenString(id));
  const labels = clean.map((id, t) => `${t}: ${tok(id)}${corrupt[t] === id ? '' : ` / ${tok(corrupt[t]!)}`}`);
  const layerOrder = Array.from({ length: L }, (_, l) => `block ${l}`);
  const cells: Record<string, unknown>[] = [];
  for (const site of SITES) {
    for (let l = 0; l < L; l++) {
      const name = `blocks.${l}.${site.hook}`;
      for (let t = 0; t < T; t++) {
        const value = await patched([{ hook: name, op: 'patch', position: t, source: source(name) }]);
        cells.push({ activation: site.label, layer: `block ${l}`, position: labels[t], restored: value, label: value.toFixed(2) });
      }
    }
  }
  const heads: Record<string, unknown>[] = [];
  for (let l = 0; l < L; l++) {
    const name = `blocks.${l}.attn.hook_z`;
    for (let h = 0; h < NH; h++) {
      const value = await patched([{ hook: name, op: 'patch', head: h, source: source(name) }]);
      heads.push({ layer: `block ${l}`, head: `head ${h}`, restored: value, label: value.toFixed(2) });
    }
  }
  // the whole residual stream entering block 0 at every position is the clean run itself: restores exactly 1
  const fullPatch = await patched([{ hook: 'blocks.0.hook_resid_pre', op: 'patch', source: source('blocks.0.hook_resid_pre') }]);

  const metricName = `logit(${tok(a)}) - logit(${tok(b)})`;
  const best = [...heads].sort((x, y) => (y.restored as number) - (x.restored as number))[0]!;
  const flipped = cleanMetric > 0 && corruptMetric < 0;
  const lines = [
    `clean   ${JSON.stringify(o.clean)}: ${metricName} = ${cleanMetric.toFixed(3)}  (normalised 1)`,
    `corrupt ${JSON.stringify(o.corrupt)}: ${metricName} = ${corruptMetric.toFixed(3)}  (normalised 0)`,
    flipped
      ? `the clean run prefers ${tok(a)}, the corrupt run ${tok(b)}: patching shows which clean activations bring ${tok(a)} back`
      : `warning: the two runs prefer the same answer (${cleanMetric > 0 ? tok(a) : tok(b)}), so there is little to restore: choose a corrupt prompt that flips the answer`,
    `restored = (patched - corrupt) / (clean - corrupt); patching all of blocks.0.hook_resid_pre restores ${fullPatch.toFixed(3)}`,
    `the head whose clean output restores the most: ${best.layer} ${best.head} (${(best.restored as number).toFixed(3)})`,
  ];
  const siteOrder = SITES.map((s) => s.label);
  return {
    lab: 'patch',
    lesson: [
      'Each cell copies one clean activation into the corrupt run: 1 (red) brings the clean answer back, 0 (white) does nothing.',
      'Look at resid_pre: early blocks need the changed word at its own position, later blocks need the last position;',
      'the block where the red moves across is where attention carries the word forward (attn_out and the heads say which).',
    ],
    tooSmall: tooSmall(ctx, 'it only copies a repeated word, weakly; the indirect-object circuit of the tutorials needs GPT-2', 'patch',
      '--clean "When John and Mary went to the store, John gave a drink to" --corrupt "When John and Mary went to the store, Mary gave a drink to" --answer " Mary" --wrong " John"'),
    lines,
    figures: [
      {
        name: 'patch-positions',
        title: 'Patching by layer and position',
        spec: heatmap({
          title: `Clean activations patched into the corrupt run, one block and position at a time: restored ${metricName}`,
          x: 'position', y: 'layer', xTitle: 'position: clean token / corrupt token', yTitle: 'block',
          value: 'restored', valueTitle: 'restored (0 corrupt, 1 clean)', xOrder: labels, yOrder: layerOrder,
          text: 'label', diverging: true, domain: [-1, 1], cell: 44, facet: { field: 'activation', title: 'activation patched', columns: 3, order: siteOrder },
        }),
        data: cells,
      },
      {
        name: 'patch-heads',
        title: 'Patching each head',
        spec: heatmap({
          title: `Each head's clean output z (all positions) patched into the corrupt run: restored ${metricName}`,
          x: 'head', y: 'layer', xTitle: 'head', yTitle: 'block', value: 'restored', valueTitle: 'restored (0 corrupt, 1 clean)',
          yOrder: layerOrder, text: 'label', diverging: true, domain: [-1, 1], cell: 44,
        }),
        data: heads,
      },
    ],
    numbers: {
      clean_tokens: clean,
      corrupt_tokens: corrupt,
      answer: a,
      wrong: b,
      clean_metric: cleanMetric,
      corrupt_metric: corruptMetric,
      clean_normalised: normalised(cleanMetric),
      corrupt_normalised: normalised(corruptMetric),
      full_patch: fullPatch,
    },
  };
}
