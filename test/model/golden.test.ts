// The embedded default model, on WebGPU and on WebAssembly, against PyTorch: golden logits and greedy continuations that
// weights/golden.py computed in float64 from the same shipped weights (see test/fixtures/README.md).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lmHeadFusedOn } from '../../src/kernels/fused.ts';
import { nodeModelFiles } from '../../src/loading/files.ts';
import { parseSafetensors } from '../../src/loading/safetensors.ts';
import { loadModel } from '../../src/model/load.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { defaultModelDir } from '../../src/runtime.ts';
import { argmax } from '../../src/sampling/logprobs.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { device, DEVICE_KINDS, type DeviceKind, hardwareGpu } from '../helpers.ts';

interface GoldenPrompt {
  name: string;
  text: string;
  ids: number[];
  greedy_ids: number[];
  min_top2_margin: number;
}
interface Golden {
  weights_sha256: string;
  logits_file: string;
  greedy_steps: number;
  prompts: GoldenPrompt[];
}

const fixtures = new URL('../fixtures/', import.meta.url);
const golden: Golden = JSON.parse(await readFile(new URL('golden.json', fixtures), 'utf8'));
const goldenLogits = parseSafetensors(new Uint8Array(await readFile(new URL(golden.logits_file, fixtures))), golden.logits_file);

/**
 * Relative error of a logit vector: the largest difference over the largest reference logit. Per-element
 * relative error is meaningless for logits near zero; against the scale of the vector it is what decides
 * probabilities. f32 arithmetic through 4 layers lands near 1e-6; the allowance is 1e-3.
 */
function relativeError(actual: ArrayLike<number>, reference: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < reference.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - reference[i]!));
    scale = Math.max(scale, Math.abs(reference[i]!));
  }
  return Number.isNaN(diff) ? Infinity : diff / scale;
}

// WebGPU runs the fused kernels by default (src/kernels/fused.ts) and the textbook ones when asked: both are checked.
const paths: [DeviceKind, string, boolean][] = DEVICE_KINDS.flatMap((kind): [DeviceKind, string, boolean][] =>
  kind === 'webgpu' ? [[kind, 'fused kernels', true], [kind, 'unfused kernels', false]] : [[kind, 'its kernels', true]],
);

describe.each(paths)('the embedded model matches PyTorch on %s (%s)', (kind, _, fused) => {
  let model: LanguageModel;
  beforeAll(async () => {
    model = await loadModel(await device(kind), nodeModelFiles(defaultModelDir()));
  });
  afterAll(() => model?.destroy());

  it('the fixtures were made from the weights that ship', async () => {
    const bytes = await readFile(new URL('model.safetensors', `file://${defaultModelDir()}`));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(golden.weights_sha256);
    expect(golden.prompts.length).toBeGreaterThanOrEqual(8);
  });

  it.each(golden.prompts.map((p) => [p.name, p] as const))('%s: same token ids, last-position logits within 1e-3', async (_, p) => {
    expect(gpt2Tokenizer().encode(p.text)).toEqual(p.ids);
    const { logits } = await model.forward(p.ids, 0, { fused });
    const reference = goldenLogits.getF32(p.name);
    expect(relativeError(logits, reference)).toBeLessThan(1e-3);
  });

  it.each(golden.prompts.map((p) => [p.name, p] as const))('%s: identical greedy continuation through the KV cache', async (_, p) => {
    const tokens: number[] = [];
    let { logits } = await model.forward(p.ids, 0, { fused });
    for (let i = 0; i < golden.greedy_steps; i++) {
      const best = argmax(logits);
      tokens.push(best);
      if (i < golden.greedy_steps - 1) ({ logits } = await model.forward([best], p.ids.length + i, { fused }));
    }
    expect(tokens).toEqual(p.greedy_ids);
  });
});

// A GPU runs other versions of the kernels, and the tail of a decode step fused (the final norm and the LM head as one
// lmHead dispatch): the greedy continuations through it, on this machine's adapter taken for a GPU.
describe('the embedded model matches PyTorch on the kernels a GPU runs (fused decode tail)', () => {
  let model: LanguageModel;
  beforeAll(async () => {
    model = await loadModel(await hardwareGpu(), nodeModelFiles(defaultModelDir()));
  });
  afterAll(() => model?.destroy());

  // one prompt: those kernels are slow on a CPU driver, and the continuation passes through every step of them
  it.each(golden.prompts.filter((p) => p.name === 'romeo').map((p) => [p.name, p] as const))('%s: identical greedy continuation through the KV cache', async (_, p) => {
    expect(lmHeadFusedOn(model.gpu)).toBe(true);
    const tokens: number[] = [];
    let { logits } = await model.forward(p.ids, 0);
    for (let i = 0; i < golden.greedy_steps; i++) {
      const best = argmax(logits);
      tokens.push(best);
      if (i < golden.greedy_steps - 1) ({ logits } = await model.forward([best], p.ids.length + i));
    }
    expect(tokens).toEqual(p.greedy_ids);
  });
});
