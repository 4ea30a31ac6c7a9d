// Beam search with one KV cache per beam (src/generate.ts, BeamCaches) against recomputing every beam from
// position 0 each step: the same hypotheses, in the same order, with the same scores, on the embedded model and
// on tiny random GPT-2 and Llama models, and under an intervention; the prompt is prefilled once and every later
// call runs one token.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BeamCaches, generate, recomputeEveryBeam } from '../../src/generate.ts';
import { hookedModel } from '../../src/hooks/index.ts';
import { nodeModelFiles } from '../../src/loading/files.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource } from '../../src/model/llama.ts';
import { loadModel } from '../../src/model/load.ts';
import type { ForwardOptions, LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { defaultModelDir } from '../../src/runtime.ts';
import { beamSearch, type BeamSearchResult, type BeamStep } from '../../src/sampling/beam.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { gpu } from '../helpers.ts';

const gpt2Config: GPT2Config = {
  arch: 'gpt2', vocabSize: 61, nPositions: 40, nEmbd: 30, nLayer: 2, nHead: 3, nInner: 70,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 60, eosTokenId: 60,
};
const llamaConfig: LlamaConfig = {
  arch: 'llama', variant: 'llama', maxPositionEmbeddings: 40, nLayer: 2, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
  slidingWindow: null, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
  vocabSize: 53, hiddenSize: 26, intermediateSize: 38, nHead: 4, nKVHead: 2, headDim: 6, rotaryDim: 6, tieWordEmbeddings: false,
};

interface Case {
  name: string;
  model: () => Promise<LanguageModel>;
  prompt: number[];
  eos?: number;
  /** Whether generate() runs on it too (it needs the GPT-2 tokenizer). */
  generate?: boolean;
}

const cases: Case[] = [
  { name: 'the embedded model', model: async () => loadModel(await gpu(), nodeModelFiles(defaultModelDir())), prompt: gpt2Tokenizer().encode('JULIET:'), eos: 50256, generate: true },
  { name: 'a tiny GPT-2', model: async () => new GPT2(await gpu(), gpt2Config, randomGPT2Params(gpt2Config, 3)), prompt: [5, 17, 42, 8], eos: 60 },
  { name: 'a tiny Llama', model: async () => new Llama(await gpu(), llamaConfig, llamaParamSource(randomLlamaParams(llamaConfig, 5))), prompt: [1, 9, 30] },
];

/** The model, with the tokens each forward() call ran recorded. */
function spied(model: LanguageModel): { model: LanguageModel; calls: { T: number; pos0: number; cache: boolean }[] } {
  const calls: { T: number; pos0: number; cache: boolean }[] = [];
  const forward = model.forward.bind(model);
  const spy = Object.create(model) as LanguageModel;
  spy.forward = (ids: number[], pos0: number, o?: ForwardOptions) => {
    calls.push({ T: ids.length, pos0, cache: o?.cache !== undefined });
    return forward(ids, pos0, o);
  };
  return { model: spy, calls };
}

describe.each(cases)('beam search with a KV cache per beam on $name', (c) => {
  let model: LanguageModel;
  beforeAll(async () => {
    model = await c.model();
  });
  afterAll(() => model?.destroy());

  for (const [numBeams, maxNewTokens] of [[4, 12], [6, 8]] as const) {
    it(`finds what recomputing every beam finds (${numBeams} beams, ${maxNewTokens} tokens)`, async () => {
      const options = { numBeams, maxNewTokens, prompt: c.prompt, eosTokenId: c.eos, numReturn: numBeams };
      const recomputed = await beamSearch((sequences) => recomputeEveryBeam(model, sequences), options);

      const { model: watched, calls } = spied(model);
      const caches = new BeamCaches(watched, c.prompt.length + maxNewTokens);
      let copies = 0;
      const step: BeamStep = (sequences, parents) => {
        if (parents && new Set(parents).size < parents.length) copies++;
        return caches.step(sequences, parents);
      };
      const before = model.gpuBytes().kvCache;
      let cached: BeamSearchResult;
      try {
        cached = await beamSearch(step, options);
        expect(model.gpuBytes().kvCache).toBeGreaterThan(before);
      } finally {
        caches.free();
      }
      expect(model.gpuBytes().kvCache, 'every beam cache freed').toBe(before);

      expect(cached.hypotheses.map((h) => [h.tokens, h.finishedByEos])).toEqual(recomputed.hypotheses.map((h) => [h.tokens, h.finishedByEos]));
      cached.hypotheses.forEach((h, i) => {
        expect(Math.abs(h.logprob - recomputed.hypotheses[i]!.logprob), `logprob of hypothesis ${i}`).toBeLessThan(1e-4 * (1 + Math.abs(h.logprob)));
        expect(Math.abs(h.score - recomputed.hypotheses[i]!.score), `score of hypothesis ${i}`).toBeLessThan(1e-4 * (1 + Math.abs(h.score)));
      });
      // the prompt ran once; every later call ran one token of one beam, from its own cache, at its position
      expect(calls[0]).toEqual({ T: c.prompt.length, pos0: 0, cache: true });
      expect(calls.length).toBeGreaterThan(1);
      for (const call of calls.slice(1)) expect([call.T, call.cache, call.pos0 >= c.prompt.length]).toEqual([1, true, true]);
      // some step gave one beam two children, so a cache was copied
      expect(copies).toBeGreaterThan(0);
    });
  }

  if (c.generate) it('generate() prints the same text with caches as when recomputing, and frees its caches', async () => {
    const before = model.gpuBytes().kvCache;
    const options = { beams: 4, maxNewTokens: 10, seed: 1 };
    const cached = await generate(model, gpt2Tokenizer(), 'ROMEO:', options);
    const recomputed = await generate(model, gpt2Tokenizer(), 'ROMEO:', { ...options, useCache: false });
    expect(cached.tokens.length).toBe(10);
    expect(cached.tokens).toEqual(recomputed.tokens);
    expect(cached.text).toBe(recomputed.text);
    expect(model.gpuBytes().kvCache).toBe(before);
  });
});

describe('beam search with a KV cache per beam under interventions', () => {
  it('finds what recomputing finds when a hook changes positions the beams generate', async () => {
    const model = new GPT2(await gpu(), gpt2Config, randomGPT2Params(gpt2Config, 8));
    try {
      const prompt = [7, 30, 2];
      const hooked = hookedModel(model, [{ hook: 'blocks.0.hook_resid_pre', op: 'scale', factor: -3, position: [4, 8] }]);
      const options = { numBeams: 4, maxNewTokens: 10, prompt, numReturn: 4 };
      const recomputed = await beamSearch((sequences) => recomputeEveryBeam(hooked, sequences), options);
      const plain = await beamSearch((sequences) => recomputeEveryBeam(model, sequences), options);
      expect(recomputed.hypotheses.map((h) => h.tokens), 'the intervention changes the search').not.toEqual(plain.hypotheses.map((h) => h.tokens));
      const caches = new BeamCaches(hooked, prompt.length + 10);
      const cached = await beamSearch((sequences, parents) => caches.step(sequences, parents), options).finally(() => caches.free());
      expect(cached.hypotheses.map((h) => h.tokens)).toEqual(recomputed.hypotheses.map((h) => h.tokens));
      cached.hypotheses.forEach((h, i) => expect(Math.abs(h.score - recomputed.hypotheses[i]!.score)).toBeLessThan(1e-4 * (1 + Math.abs(h.score))));
    } finally {
      model.destroy();
    }
  });
});
