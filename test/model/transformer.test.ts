// What the shared Transformer gives every architecture, checked on GPT-2 (which had none of it before): prompts
// longer than one step, weights split across storage bindings, activations allocated at load, and model.dims.
import { describe, expect, it } from 'vitest';
import { CpuHooks, hookNames, runWithCache, runWithHooks, type Intervention } from '../../src/hooks/index.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource } from '../../src/model/llama.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { gpt2ForwardReference } from '../../src/reference/gpt2.ts';
import { device, DEVICE_KINDS, expectClose, gpu } from '../helpers.ts';

// Odd sizes: 3 heads of 16, a vocabulary of 101 and a context of 40
const config: GPT2Config = {
  arch: 'gpt2', vocabSize: 101, nPositions: 40, nEmbd: 48, nLayer: 2, nHead: 3, nInner: 192,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 100, eosTokenId: 100,
};
const V = config.vocabSize;
const TOL = { rtol: 1e-4, atol: 1e-4 };
const ids = Array.from({ length: 31 }, (_, i) => (i * 37 + 5) % 99);
const lastRow = (all: Float64Array, T: number) => all.subarray((T - 1) * V, T * V);

/** Every position's logits in one call, then a prefill of 20 and decode steps, against the float64 reference. */
async function expectMatchesReference(model: GPT2, reference: Float64Array): Promise<void> {
  expectClose((await model.forward(ids, 0, { allLogits: true })).logits, reference, TOL, 'all logits');
  expectClose((await model.forward(ids.slice(0, 20), 0)).logits, lastRow(reference, 20), TOL, 'prefill');
  for (let t = 20; t < ids.length; t++) {
    expectClose((await model.forward([ids[t]!], t)).logits, lastRow(reference, t + 1), TOL, `decode at ${t}`);
  }
}

describe.each(DEVICE_KINDS)('GPT-2 through the shared Transformer on %s', (kind) => {
  it('prefills a prompt in steps of maxStepTokens, each reading the cache the previous ones wrote', async () => {
    const params = randomGPT2Params(config, 7);
    const model = new GPT2(await device(kind), config, params, 'f32', { maxStepTokens: 4 });
    expect(model.maxStepTokens).toBe(4);
    await expectMatchesReference(model, gpt2ForwardReference(params, ids));
    model.destroy();
  });

  it('by default runs its whole context in one step', async () => {
    const model = new GPT2(await device(kind), config, randomGPT2Params(config, 7));
    expect(model.maxStepTokens).toBe(config.nPositions);
    model.destroy();
  });

  it('writes the logits into logitsInto, the same bits as a new array, and refuses what it cannot hold', async () => {
    const model = new GPT2(await device(kind), config, randomGPT2Params(config, 5));
    try {
      const into = new Float32Array(V + 3).fill(Number.NaN);
      const fresh = (await model.forward(ids.slice(0, 9), 0)).logits;
      const prefill = (await model.forward(ids.slice(0, 9), 0, { logitsInto: into })).logits;
      expect(prefill.buffer).toBe(into.buffer);
      expect(prefill.length).toBe(V);
      expect([...prefill]).toEqual([...fresh]);
      expect(Number.isNaN(into[V]!)).toBe(true); // nothing written past the row
      const step = (await model.forward([ids[9]!], 9)).logits;
      const stepInto = (await model.forward([ids[9]!], 9, { logitsInto: into })).logits;
      expect([...stepInto]).toEqual([...step]);
      await expect(model.forward([ids[9]!], 9, { logitsInto: new Float32Array(V - 1) })).rejects.toThrow(/fewer than the 101 logits/);
      await expect(model.forward(ids.slice(0, 3), 0, { logitsInto: into, allLogits: true })).rejects.toThrow(/not allLogits/);
    } finally {
      model.destroy();
    }
  });

  it('allocates every activation at load: a forward pass adds no buffers', async () => {
    const model = new GPT2(await device(kind), config, randomGPT2Params(config, 3));
    const before = model.gpuBytes();
    expect(before.activations).toBeGreaterThan(0);
    await model.forward(ids.slice(0, 9), 0);
    await model.forward([ids[9]!], 9);
    expect(model.gpuBytes()).toEqual(before);
    model.destroy();
  });
});

describe('GPT-2 through the shared Transformer on webgpu: storage bindings', () => {
  it('splits weights larger than one storage binding, the tied embedding / LM head table included', async () => {
    const params = randomGPT2Params(config, 9);
    // 8000 bytes: wte [101, 48] (19 KB) becomes 3 chunks, c_attn and c_fc 4-5; the KV cache of a layer just fits
    const model = new GPT2(await gpu(), config, params, 'f32', { maxBindingBytes: 8000 });
    expect(model.maxStepTokens).toBeLessThan(config.nPositions);
    await expectMatchesReference(model, gpt2ForwardReference(params, ids));

    // hooks see the same values, the token and position embeddings apart included
    const short = ids.slice(0, model.maxStepTokens);
    const names = hookNames(model.dims);
    const { logits, cache } = await runWithCache(model, short, names);
    const ref = new CpuHooks(new Set(names));
    expectClose(logits, gpt2ForwardReference(params, short, ref.hook), TOL, 'logits');
    for (const name of names) expectClose(cache.get(name)!.data, ref.cache.get(name)!.data, TOL, name);
    const iv: Intervention = { hook: 'hook_pos_embed', op: 'scale', factor: 3 };
    const changed = await runWithHooks(model, short, [iv]);
    expectClose(changed.logits, gpt2ForwardReference(params, short, new CpuHooks(new Set(), [iv]).hook), TOL, 'scaled positions');
    model.destroy();
  });

  it('refuses a context whose KV cache cannot fit one binding, in one line that says what to do', async () => {
    const g = await gpu();
    // one layer's cache [NH, P, HS] is 7680 bytes
    expect(() => new GPT2(g, config, randomGPT2Params(config, 1), 'f32', { maxBindingBytes: 7000 })).toThrow(/storage binding limit \(7000 bytes\)/);
    expect(() => new GPT2(g, config, randomGPT2Params(config, 1), 'f32', { maxStepTokens: 0 })).toThrow(/maxStepTokens must be a positive integer/);
  });
});

describe('model.dims', () => {
  it('gives the sizes hook shapes are written in, for each architecture', async () => {
    const g = await gpu();
    const gpt2 = new GPT2(g, config, randomGPT2Params(config, 1));
    expect(gpt2.dims).toEqual({ arch: 'gpt2', nLayer: 2, C: 48, NH: 3, NKV: 3, HS: 16, I: 192, V: 101 });
    gpt2.destroy();
    const llamaConfig: LlamaConfig = {
      arch: 'llama', variant: 'llama', maxPositionEmbeddings: 24, nLayer: 3, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
      slidingWindow: null, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
      vocabSize: 53, hiddenSize: 26, intermediateSize: 38, nHead: 4, nKVHead: 2, headDim: 6, rotaryDim: 6, tieWordEmbeddings: false,
    };
    const llama = new Llama(g, llamaConfig, llamaParamSource(randomLlamaParams(llamaConfig, 1)));
    expect(llama.dims).toEqual({ arch: 'llama', nLayer: 3, C: 26, NH: 4, NKV: 2, HS: 6, I: 38, V: 53 });
    llama.destroy();
  });
});
