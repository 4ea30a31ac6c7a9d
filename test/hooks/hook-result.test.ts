// blocks.{i}.attn.hook_result, the attention output per head before the heads are summed: on tiny random GPT-2
// and Llama models (the Llama with an o_proj bias), its sum over heads plus the bias is hook_attn_out, it equals
// the float64 reference's, a change to it reaches the logits as in the reference, and zeroing or scaling a head
// there is the same as doing it to that head of hook_z (the projection is linear).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CpuHooks, runWithCache, runWithHooks, type Intervention } from '../../src/hooks/index.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource } from '../../src/model/llama.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { gpt2ForwardReference } from '../../src/reference/gpt2.ts';
import { llamaForwardReference } from '../../src/reference/llama.ts';
import { expectClose, gpu } from '../helpers.ts';

const gpt2Config: GPT2Config = {
  arch: 'gpt2', vocabSize: 61, nPositions: 24, nEmbd: 30, nLayer: 2, nHead: 3, nInner: 70,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 60, eosTokenId: 60,
};
const llamaConfig: LlamaConfig = {
  arch: 'llama', variant: 'llama', maxPositionEmbeddings: 24, nLayer: 2, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
  slidingWindow: null, qkvBias: true, oBias: true, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
  vocabSize: 53, hiddenSize: 26, intermediateSize: 38, nHead: 4, nKVHead: 2, headDim: 6, rotaryDim: 6, tieWordEmbeddings: false,
};
const TOL = { rtol: 1e-4, atol: 1e-4 };
const ids = [5, 22, 9, 40, 17, 3, 31, 12, 8];
const T = ids.length;

interface Case {
  name: string;
  load: () => Promise<{ model: LanguageModel; bias: (l: number) => Float32Array; reference: (hooks: CpuHooks) => Float64Array }>;
}

const cases: Case[] = [
  {
    name: 'GPT-2',
    load: async () => {
      const params = randomGPT2Params(gpt2Config, 3);
      return { model: new GPT2(await gpu(), gpt2Config, params), bias: (l) => params.h[l]!.attn.c_proj.bias, reference: (h) => gpt2ForwardReference(params, ids, h.hook) };
    },
  },
  {
    name: 'Llama',
    load: async () => {
      const params = randomLlamaParams(llamaConfig, 5);
      return {
        model: new Llama(await gpu(), llamaConfig, llamaParamSource(params)),
        bias: (l) => params.layers[l]!.self_attn.o_proj.bias!,
        reference: (h) => llamaForwardReference(params, ids, h.hook),
      };
    },
  },
];

describe.each(cases)('hook_result on a tiny $name', (c) => {
  let run: Awaited<ReturnType<Case['load']>>;
  beforeAll(async () => {
    run = await c.load();
  });
  afterAll(() => run?.model.destroy());

  it('sums over heads, plus the output bias, to hook_attn_out, and equals the float64 reference', async () => {
    const { model } = run;
    const { NH, C, nLayer } = model.dims;
    const names = Array.from({ length: nLayer }, (_, l) => [`blocks.${l}.attn.hook_result`, `blocks.${l}.hook_attn_out`]).flat();
    const { logits, cache } = await runWithCache(model, ids, names);
    const ref = new CpuHooks(new Set(names));
    expectClose(logits, run.reference(ref), TOL, 'logits');
    for (let l = 0; l < nLayer; l++) {
      const result = cache.get(`blocks.${l}.attn.hook_result`)!;
      expect(result.shape).toEqual([T, NH, C]);
      expectClose(result.data, ref.cache.get(`blocks.${l}.attn.hook_result`)!.data, TOL, `layer ${l} result`);
      const bias = run.bias(l);
      const summed = new Float64Array(T * C);
      for (let t = 0; t < T; t++) {
        for (let i = 0; i < C; i++) {
          let sum = bias[i]!;
          for (let h = 0; h < NH; h++) sum += result.data[(t * NH + h) * C + i]!;
          summed[t * C + i] = sum;
        }
      }
      expectClose(summed, cache.get(`blocks.${l}.hook_attn_out`)!.data, { rtol: 1e-5, atol: 1e-6 }, `layer ${l} heads + bias`);
      // every head contributes: no head's share is all zeros
      for (let h = 0; h < NH; h++) expect(result.data.some((x, i) => Math.floor(i / C) % NH === h && x !== 0), `head ${h}`).toBe(true);
    }
  });

  it('asked for, leaves the logits as they are without it (within f32 rounding)', async () => {
    const plain = (await runWithCache(run.model, ids, [])).logits;
    const { logits } = await runWithCache(run.model, ids, ['blocks.1.attn.hook_result']);
    expectClose(logits, plain, { rtol: 1e-5, atol: 1e-5 }, 'logits');
  });

  it('a change to it reaches the logits as in the reference, and matches the same change to hook_z', async () => {
    const { model } = run;
    const head = model.dims.NH - 1;
    for (const [op, factor] of [['zero', undefined], ['scale', -2.5]] as const) {
      const iv: Intervention = { hook: 'blocks.0.attn.hook_result', op, factor, head, position: [2, 7] };
      const { logits } = await runWithHooks(model, ids, [iv]);
      expectClose(logits, run.reference(new CpuHooks(new Set(), [iv])), TOL, `${op} hook_result`);
      const viaZ = await runWithHooks(model, ids, [{ ...iv, hook: 'blocks.0.attn.hook_z' }]);
      expectClose(logits, viaZ.logits, TOL, `${op} hook_result against hook_z`);
      const clean = (await runWithCache(model, ids, [])).logits;
      expect(logits.some((x, i) => Math.abs(x - clean[i]!) > 1e-3), `${op} changes the logits`).toBe(true);
    }
    // a change that is not a per-head scaling: adding to one column of one head
    const add: Intervention = { hook: 'blocks.1.attn.hook_result', op: 'add', head: 0, neuron: 4, value: 3 };
    expectClose((await runWithHooks(model, ids, [add])).logits, run.reference(new CpuHooks(new Set(), [add])), TOL, 'add to hook_result');
  });
});
