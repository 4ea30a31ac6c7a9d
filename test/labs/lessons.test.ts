// Each lab's numbers checked for the property it teaches, on the embedded model: entropy rises with temperature
// on the same contexts; the patch metric is 1 for the clean run and 0 for the corrupt one, and the default corrupt
// run prefers the other answer; a self-intervention (scale 1, noise 0) gives KL 0 and identical continuations;
// an index out of range is a one-line user error.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultModelDir, openModel } from '../../src/runtime.ts';
import { isUserError } from '../../src/errors.ts';
import * as labs from '../../src/labs/index.ts';
import type { LabContext } from '../../src/labs/index.ts';

let ctx: LabContext;
beforeAll(async () => {
  const { model, tokenizer } = await openModel(undefined);
  ctx = { model, tokenizer, modelDir: defaultModelDir(), embedded: true };
}, 60_000);
afterAll(() => ctx?.model.destroy());

const short = { prompt: 'ROMEO:\nI love thee', maxNewTokens: 6 };

async function userError(p: Promise<unknown>): Promise<string> {
  const e = await p.then(() => undefined, (e: unknown) => e);
  expect(isUserError(e), String(e)).toBe(true);
  const message = (e as Error).message;
  expect(message.includes('\n'), message).toBe(false);
  return message;
}

describe('labs teach what they say', () => {
  it('temperature: on the same contexts entropy rises and the top probability falls as T grows', async () => {
    const r = await labs.temperatureLab(ctx, short.prompt, { maxNewTokens: 6 });
    const rows = r.numbers!.temperatures as { temperature: number; mean_entropy: number; mean_top_probability: number }[];
    expect(rows.map((x) => x.temperature)).toEqual(labs.TEMPERATURES);
    for (let i = 1; i < rows.length; i++) {
      expect(rows[i]!.mean_entropy).toBeGreaterThan(rows[i - 1]!.mean_entropy);
      expect(rows[i]!.mean_top_probability).toBeLessThan(rows[i - 1]!.mean_top_probability);
    }
    // step by step too: the same context at a higher temperature never has lower entropy
    const perStep = r.numbers!.per_step as { step: string; temperature: string; entropy: number }[];
    const steps = [...new Set(perStep.map((x) => x.step))];
    expect(steps.length).toBe(6);
    for (const step of steps) {
      const h = labs.TEMPERATURES.map((t) => perStep.find((x) => x.step === step && x.temperature === `T=${t}`)!.entropy);
      for (let i = 1; i < h.length; i++) expect(h[i]!).toBeGreaterThan(h[i - 1]!);
    }
    // truncation only removes entropy, and top-k 3 keeps exactly 3 tokens
    const filters = r.numbers!.filters as { filter: string; mean_entropy: number; mean_tokens_kept: number }[];
    const none = filters.find((f) => f.filter === 'none')!;
    for (const f of filters) expect(f.mean_entropy).toBeLessThanOrEqual(none.mean_entropy + 1e-9);
    expect(filters.find((f) => f.filter === 'top-k 3')!.mean_tokens_kept).toBe(3);
  }, 120_000);

  it('patch: the default corrupt run prefers the other answer; clean is 1, corrupt 0, the whole clean stream 1', async () => {
    const r = await labs.patchLab(ctx, labs.PATCH_DEFAULTS);
    const n = r.numbers as Record<string, number>;
    expect(n.clean_metric).toBeGreaterThan(0);
    expect(n.corrupt_metric).toBeLessThan(0);
    expect(n.clean_normalised).toBe(1);
    expect(n.corrupt_normalised).toBe(0);
    expect(Math.abs(n.full_patch! - 1)).toBeLessThan(1e-3);
    const cells = r.figures.find((f) => f.name === 'patch-positions')!.data;
    const T = (n as unknown as { clean_tokens: number[] }).clean_tokens.length;
    expect(cells.length).toBe(3 * 4 * T); // resid_pre, attn_out, mlp_out x 4 blocks x T positions
    // patching a position where the prompts agree, at the first block, changes nothing
    const first = cells.find((c) => (c.activation as string).startsWith('resid_pre') && c.layer === 'block 0' && (c.position as string).startsWith('0:'))!;
    expect(Math.abs(first.restored as number)).toBeLessThan(1e-3);
    expect(r.figures.find((f) => f.name === 'patch-heads')!.data.length).toBe(16);
  }, 300_000);

  it('a self-intervention (scale 1, noise 0) gives KL 0 and identical continuations; a real one does not', async () => {
    for (const r of [await labs.scaleHead(ctx, 1, 2, 1, short), await labs.residualNoise(ctx, 0, short)]) {
      expect(r.tweak).toBe(r.base);
      expect(r.numbers!.first_divergence).toBeNull();
      expect(r.numbers!.mean_kl).toBe(0);
      for (const s of r.numbers!.steps as { kl: number; dlogp: number }[]) {
        expect(s.kl).toBe(0);
        expect(s.dlogp).toBe(0);
      }
      // the sweep passes through the identity too, and moves away from it
      const sweep = r.numbers!.sweep as { x: number; kl: number }[];
      expect(sweep.find((p) => p.x === (r.lab === 'scale-head' ? 1 : 0))!.kl).toBe(0);
      expect(Math.max(...sweep.map((p) => p.kl))).toBeGreaterThan(0.01);
    }
    const strong = await labs.residualNoise(ctx, 4, short);
    expect(strong.numbers!.mean_kl as number).toBeGreaterThan(0.01);
  }, 300_000);

  it('ablate-head draws the grid of every layer x head', async () => {
    const r = await labs.ablateHead(ctx, 0, 0, { ...short, maxNewTokens: 3 });
    const grid = r.numbers!.sweep as { x: string; y: string; kl: number }[];
    expect(grid.length).toBe(16);
    expect(grid.every((p) => p.kl >= 0)).toBe(true);
    expect(grid.find((p) => p.x === 'head 0' && p.y === 'layer 0')!.kl).toBeCloseTo(r.numbers!.mean_kl as number, 6);
  }, 300_000);

  it('every lab says what to look for, and on the embedded model names the real-model command where it is too small', async () => {
    const r = await labs.hiddenStatesLab(ctx, 'I love this movie', 'I hate this movie');
    expect(r.lesson.length).toBeGreaterThanOrEqual(2);
    expect(r.lesson.length).toBeLessThanOrEqual(3);
    expect(r.tooSmall).toMatch(/wgpt lab hidden-states --model openai-community\/gpt2$/);
    expect(r.numbers!.layer).toBe(3); // the last block by default
    const per = r.numbers!.per_position_cosine as number[];
    expect(per[0]).toBeCloseTo(1, 5); // "I" is the same token at the same position in both
    const e = await labs.embeddingsLab(ctx, ['man', 'woman', 'king', 'queen', 'love', 'like', 'hate'], 0, 'static');
    expect((e.numbers!.analogies as unknown[]).length).toBe(1);
    expect((e.numbers!.controls as unknown[]).length).toBe(1);
    expect(e.tooSmall ?? '').toMatch(/--model openai-community\/gpt2/);
    const off = await labs.hiddenStatesLab({ ...ctx, embedded: false }, 'I love this movie', 'I hate this movie', 0);
    expect(off.tooSmall).toBeUndefined();
  }, 120_000);

  it('an index out of range is one clear line', async () => {
    expect(await userError(labs.ablateHead(ctx, 4, 0, short))).toMatch(/layer 4 does not exist: the model has layers 0\.\.3/);
    expect(await userError(labs.scaleHead(ctx, 0, 4, 2, short))).toMatch(/head 4 does not exist/);
    expect(await userError(labs.nudgeNeuron(ctx, 0, 512, 1, short))).toMatch(/neuron 512 does not exist/);
    expect(await userError(labs.styleBias(ctx, '50257=1', short))).toMatch(/token id 50257 does not exist/);
    expect(await userError(labs.attentionLab(ctx, 'ROMEO:', 0, -1))).toMatch(/head -1 does not exist/);
    expect(await userError(labs.hiddenStatesLab(ctx, 'a', 'b', 9))).toMatch(/layer 9 does not exist/);
    expect(await userError(labs.embeddingsLab(ctx, ['a', 'b', 'c'], 0, 7))).toMatch(/layer 7 does not exist/);
    expect(await userError(labs.kvCacheLab(ctx, 'ROMEO:', [4, 999]))).toMatch(/999 is out of range/);
    const yaml = (iv: string) => labs.runExperiment(ctx, labs.parseExperiment(`prompt: "ROMEO:"\ninterventions:\n  - ${iv}\n`, 'e.yaml'));
    expect(await userError(yaml('{ hook: blocks.7.attn.hook_z, op: zero, head: 0 }'))).toMatch(/e\.yaml: interventions\[0\] \(blocks\.7\.attn\.hook_z\): layer 7 does not exist: the model has blocks 0\.\.3/);
    expect(await userError(yaml('{ hook: blocks.1.attn.hook_z, op: zero, head: 4 }'))).toMatch(/head 4 does not exist/);
    expect(await userError(yaml('{ hook: blocks.1.mlp.hook_post, op: add, neuron: 600, value: 1 }'))).toMatch(/neuron 600 does not exist/);
    expect(await userError(yaml('{ hook: hook_embed, op: zero, dims: [0, 129] }'))).toMatch(/dims \[0,129\] must be \[from, to\) with 0 <= from < to <= 128/);
    expect(await userError(yaml('{ hook: blocks.0.hook_resid_pre, op: zero, position: 300 }'))).toMatch(/position 300 is outside the run/);
    expect(await userError(yaml('{ hook: blocks.0.hook_resid_pre, op: scale }'))).toMatch(/scale needs a number "factor"/);
  }, 120_000);
});
