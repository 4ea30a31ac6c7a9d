// Hook points on tiny random models: captured activations equal the float64 reference's, every intervention
// changes the logits as the reference with the same intervention does, patching with a run's own cache is exact,
// and the logit lens's last layer is the model's own logits; on WebGPU and on WebAssembly alike.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuHooks, hookedModel, hookNames, hookShape, logitLens, modelDims, runWithCache, runWithHooks, type Intervention } from '../../src/hooks/index.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2, type GPT2Params } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource, type LlamaParams } from '../../src/model/llama.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { gpt2ForwardReference } from '../../src/reference/gpt2.ts';
import { llamaForwardReference } from '../../src/reference/llama.ts';
import { Rng } from '../../src/random.ts';
import { device, DEVICE_KINDS, expectClose, type DeviceKind } from '../helpers.ts';

// Odd sizes: 3 heads of 10, MLP width 70, a vocabulary of 61
const gpt2Config: GPT2Config = {
  arch: 'gpt2', vocabSize: 61, nPositions: 24, nEmbd: 30, nLayer: 2, nHead: 3, nInner: 70,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 60, eosTokenId: 60,
};
// 4 query heads over 2 KV heads of 6, RoPE, SwiGLU
const llamaConfig: LlamaConfig = {
  arch: 'llama', variant: 'llama', maxPositionEmbeddings: 24, nLayer: 2, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
  slidingWindow: null, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
  vocabSize: 53, hiddenSize: 26, intermediateSize: 38, nHead: 4, nKVHead: 2, headDim: 6, rotaryDim: 6, tieWordEmbeddings: false,
};

// Activations and logits are O(1..10) through two f32 layers: f32 rounding over a few hundred accumulations stays
// far inside 1e-4 relative, with an absolute floor of 1e-4 for values that cancel to near zero.
const TOL = { rtol: 1e-4, atol: 1e-4 };
const T = 9;

interface Case {
  name: string;
  model: (kind: DeviceKind) => Promise<LanguageModel>;
  reference: (ids: number[], hooks: CpuHooks) => Float64Array;
  interventions: () => Intervention[];
}

let gpt2Params: GPT2Params;
let llamaParams: LlamaParams;

const cases: Case[] = [
  {
    name: 'GPT-2',
    model: async (kind) => new GPT2(await device(kind), gpt2Config, (gpt2Params = randomGPT2Params(gpt2Config, 3))),
    reference: (ids, hooks) => gpt2ForwardReference(gpt2Params, ids, hooks.hook),
    interventions: () => [
      { hook: 'blocks.0.attn.hook_z', op: 'zero', head: 1 },
      { hook: 'blocks.1.attn.hook_z', op: 'scale', head: 2, factor: 3.5 },
      { hook: 'blocks.0.mlp.hook_post', op: 'add', neuron: 17, value: 2.5 },
      { hook: 'hook_embed', op: 'zero', dims: [4, 11] },
      { hook: 'hook_pos_embed', op: 'scale', factor: 4 },
      { hook: 'blocks.1.hook_resid_pre', op: 'noise', sigma: 0.7, seed: 9 },
      { hook: 'blocks.0.attn.hook_attn_scores', op: 'scale', head: 0, position: [3, 7], factor: 0.25 },
      { hook: 'blocks.1.attn.hook_pattern', op: 'zero', head: 1, position: 5 },
      { hook: 'blocks.0.attn.hook_q', op: 'add', head: 2, dims: [1, 4], vector: [0.5, -1, 2] },
      { hook: 'blocks.1.attn.hook_v', op: 'noise', head: 0, sigma: 0.3, seed: 4 },
      { hook: 'logits', op: 'add', dims: [7, 8], value: 5 },
      { hook: 'ln_final.hook_normalized', op: 'scale', position: T - 1, factor: 1.5 },
    ],
  },
  {
    name: 'Llama',
    model: async (kind) => new Llama(await device(kind), llamaConfig, llamaParamSource((llamaParams = randomLlamaParams(llamaConfig, 5)))),
    reference: (ids, hooks) => llamaForwardReference(llamaParams, ids, hooks.hook),
    interventions: () => [
      { hook: 'blocks.0.attn.hook_z', op: 'zero', head: 3 },
      { hook: 'blocks.1.attn.hook_rot_k', op: 'scale', head: 1, factor: -2 },
      { hook: 'blocks.0.mlp.hook_pre', op: 'add', neuron: 5, value: 1.5 },
      { hook: 'blocks.1.mlp.hook_post', op: 'noise', sigma: 0.5, seed: 2, position: [2, 6] },
      { hook: 'hook_embed', op: 'zero', dims: [0, 9] },
      { hook: 'blocks.1.hook_resid_mid', op: 'scale', position: 4, factor: -1 },
      { hook: 'blocks.0.attn.hook_rot_q', op: 'add', head: 2, dims: [0, 2], vector: [1, -1] },
    ],
  },
];

describe.each(DEVICE_KINDS.flatMap((kind) => cases.map((c) => ({ ...c, kind }))))('hooks on a tiny $name on $kind', (c) => {
  let model: LanguageModel;
  const ids = Array.from({ length: T }, () => new Rng(1).int(0, 50)).map((_, i) => (i * 17 + 3) % 50);
  beforeAll(async () => {
    model = await c.model(c.kind);
  });
  afterAll(() => model?.destroy());

  it('captures every hook point equal to the float64 reference, with its declared shape', async () => {
    const names = hookNames(modelDims(model));
    const { logits, cache } = await runWithCache(model, ids, names);
    const ref = new CpuHooks(new Set(names));
    const refLogits = c.reference(ids, ref);
    expectClose(logits, refLogits, TOL, 'logits');
    for (const name of names) {
      const got = cache.get(name)!;
      expect(got.shape, name).toEqual(hookShape(name, modelDims(model), T));
      expectClose(got.data, ref.cache.get(name)!.data, TOL, name);
    }
  });

  it('each intervention changes the logits as the reference with the same intervention', async () => {
    const clean = (await runWithCache(model, ids, [])).logits;
    for (const iv of c.interventions()) {
      const { logits } = await runWithHooks(model, ids, [iv]);
      const ref = c.reference(ids, new CpuHooks(new Set(), [iv]));
      expectClose(logits, ref, TOL, `${iv.op} ${iv.hook}`);
      expect(logits.some((x, i) => Math.abs(x - clean[i]!) > 1e-3), `${iv.op} ${iv.hook} changes something`).toBe(true);
    }
  });

  it('patching every hook with the run own clean cache reproduces the clean logits exactly', async () => {
    const names = hookNames(modelDims(model)).filter((n) => n !== 'logits');
    const clean = await runWithCache(model, ids, names);
    const patches: Intervention[] = names.map((hook) => ({ hook, op: 'patch', source: clean.cache.get(hook)! }));
    const { logits } = await runWithHooks(model, ids, patches);
    expect(logits).toEqual(clean.logits);
  });

  it('the logit lens last layer equals the model own logits', async () => {
    const lens = await logitLens(model, ids);
    expect(lens.layers).toHaveLength(2);
    expectClose(lens.layers[1]!, lens.logits, { rtol: 1e-6, atol: 1e-6 }, 'last layer');
  });

  it('interventions at a position reach it in decode steps of generation as in one prefill', async () => {
    const iv: Intervention = { hook: 'blocks.1.hook_resid_pre', op: 'noise', sigma: 0.5, seed: 3, position: [T - 2, T] };
    const whole = (await runWithHooks(model, ids, [iv])).logits;
    const hooked = hookedModel(model, [iv]);
    await hooked.forward(ids.slice(0, T - 2), 0);
    await hooked.forward(ids.slice(T - 2, T - 1), T - 2);
    const { logits } = await hooked.forward(ids.slice(T - 1), T - 1);
    expectClose(logits, whole.subarray((T - 1) * model.vocabSize), TOL, 'last position');
  });
});

describe('hooks on WebAssembly and on WebGPU', () => {
  it('runWithCache gives the same activations on both backends, within the tolerance', async () => {
    const params = randomLlamaParams(llamaConfig, 8);
    const [wasm, webgpu] = await Promise.all([device('wasm'), device('webgpu')]).then((ds) => ds.map((d) => new Llama(d, llamaConfig, llamaParamSource(params))));
    const ids = [3, 14, 15, 9, 26, 5, 35];
    const names = hookNames(modelDims(wasm!));
    const a = await runWithCache(wasm!, ids, names);
    const b = await runWithCache(webgpu!, ids, names);
    expectClose(a.logits, b.logits, TOL, 'logits');
    for (const name of names) expectClose(a.cache.get(name)!.data, b.cache.get(name)!.data, TOL, name);
    wasm!.destroy();
    webgpu!.destroy();
  });
});
