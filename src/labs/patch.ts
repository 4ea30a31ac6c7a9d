// patch: activation patching. Run a clean and a corrupted prompt of the same length; the metric is the logit
// difference of two answer tokens at the last position, logit(clean answer) - logit(corrupt answer). Patch the
// clean run's activation into the corrupted run, one place at a time, and see which places bring the metric back:
// the residual stream at every layer and position, and the output z of every head.
import { runWithCache, runWithHooks, type Intervention } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { dims, encodePrompt, singleToken, type LabContext, type LabResult } from './common.ts';
import { heatmap, showToken, tokenLabels } from './figures.ts';

export interface PatchOptions {
  clean: string;
  corrupt: string;
  /** The answer tokens the metric compares (each a single token). */
  answer: string;
  wrong: string;
}

/**
 * The default pair differs only in the first speaker's name (RICHARD III vs HENRY VI, the same number of tokens);
 * both end on "KING RICHARD", and the metric asks whether the model completes " III" rather than " VI". On the
 * embedded model the clean run prefers " III" by 9.6 logits and the corrupt one by 7.9, and the figure shows the
 * name's information sitting at its own position in the early blocks and reaching the last position by block 3.
 */
export const PATCH_DEFAULTS: PatchOptions = {
  clean: 'KING RICHARD III:\nWhat says the king?\n\nKING RICHARD',
  corrupt: 'KING HENRY VI:\nWhat says the king?\n\nKING RICHARD',
  answer: ' III',
  wrong: ' VI',
};

export async function patchLab(ctx: LabContext, o: PatchOptions): Promise<LabResult> {
  const clean = encodePrompt(ctx, o.clean);
  const corrupt = encodePrompt(ctx, o.corrupt);
  if (clean.length !== corrupt.length) {
    throw new UserError(`the clean prompt is ${clean.length} tokens and the corrupt one ${corrupt.length}: patching needs prompts of the same length`);
  }
  const a = singleToken(ctx, o.answer);
  const b = singleToken(ctx, o.wrong);
  const { nLayer: L, NH } = dims(ctx);
  const T = clean.length;
  const V = ctx.model.vocabSize;
  const metric = (logits: Float32Array) => logits[(T - 1) * V + a]! - logits[(T - 1) * V + b]!;

  const residNames = Array.from({ length: L }, (_, l) => `blocks.${l}.hook_resid_pre`);
  const zNames = Array.from({ length: L }, (_, l) => `blocks.${l}.attn.hook_z`);
  const cleanRun = await runWithCache(ctx.model, clean, [...residNames, ...zNames]);
  const cleanMetric = metric(cleanRun.logits);
  const corruptMetric = metric((await runWithHooks(ctx.model, corrupt, [])).logits);
  const patched = (ivs: Intervention[]) => runWithHooks(ctx.model, corrupt, ivs).then((r) => metric(r.logits));

  const labels = tokenLabels(corrupt.map((id, t) => `${ctx.tokenizer.tokenString(clean[t]!)}${clean[t] === id ? '' : `/${ctx.tokenizer.tokenString(id)}`}`));
  const resid: Record<string, unknown>[] = [];
  for (let l = 0; l < L; l++) {
    for (let t = 0; t < T; t++) {
      const value = await patched([{ hook: residNames[l]!, op: 'patch', position: t, source: cleanRun.cache.get(residNames[l]!)! }]);
      resid.push({ layer: `block ${l}`, position: labels[t], metric: value });
    }
  }
  const heads: Record<string, unknown>[] = [];
  for (let l = 0; l < L; l++) {
    for (let h = 0; h < NH; h++) {
      const value = await patched([{ hook: zNames[l]!, op: 'patch', head: h, source: cleanRun.cache.get(zNames[l]!)! }]);
      heads.push({ layer: `block ${l}`, head: `head ${h}`, metric: value });
    }
  }
  const metricName = `logit(${showToken(ctx.tokenizer.tokenString(a))}) - logit(${showToken(ctx.tokenizer.tokenString(b))})`;
  const layerOrder = Array.from({ length: L }, (_, l) => `block ${l}`);
  const best = [...heads].sort((x, y) => (y.metric as number) - (x.metric as number))[0]!;
  return {
    lab: 'patch',
    base: `clean:   ${JSON.stringify(o.clean)}  ${metricName} = ${cleanMetric.toFixed(3)}`,
    tweak: `corrupt: ${JSON.stringify(o.corrupt)}  ${metricName} = ${corruptMetric.toFixed(3)}`,
    lines: [`metric ${metricName}: clean ${cleanMetric.toFixed(3)}, corrupt ${corruptMetric.toFixed(3)}`, `the head whose clean output restores the most: ${best.layer} ${best.head} (${(best.metric as number).toFixed(3)})`],
    figures: [
      {
        name: 'patch-residual',
        title: 'Patching the residual stream',
        spec: heatmap({ title: `Patching clean resid_pre into the corrupt run: ${metricName}`, x: 'position', y: 'layer', xTitle: 'position (clean/corrupt token)', yTitle: 'residual stream entering', value: 'metric', valueTitle: 'logit diff', xOrder: labels, yOrder: layerOrder, diverging: true, cell: 40 }),
        data: resid,
      },
      {
        name: 'patch-heads',
        title: 'Patching each head',
        spec: heatmap({ title: `Patching each head's clean output z (all positions): ${metricName}`, x: 'head', y: 'layer', xTitle: 'head', yTitle: 'block', value: 'metric', valueTitle: 'logit diff', yOrder: layerOrder, diverging: true, cell: 40 }),
        data: heads,
      },
    ],
    numbers: { clean_tokens: clean, corrupt_tokens: corrupt, answer: a, wrong: b, clean_metric: cleanMetric, corrupt_metric: corruptMetric },
  };
}
