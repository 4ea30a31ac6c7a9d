// generate() with logprobs: false (what `wgpt generate` asks for when it prints text, not --json): the same tokens
// and text as with them, and steps that say they carry none.
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.ts';
import type { GPT2Config } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { device } from '../helpers.ts';

const config: GPT2Config = {
  arch: 'gpt2', vocabSize: 50257, nPositions: 48, nEmbd: 16, nLayer: 2, nHead: 2, nInner: 64,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 50256, eosTokenId: 50256,
};

describe('generate() without log-probabilities', () => {
  it.each([
    ['greedy', { temperature: 0 }],
    ['a temperature alone', { temperature: 0.8, seed: 3 }],
    ['top-k and top-p', { temperature: 0.9, topK: 40, topP: 0.9, seed: 4 }],
    ['a repetition penalty', { temperature: 0.7, repetitionPenalty: 1.3, seed: 5 }],
  ] as const)('%s: the same tokens and text, logprob NaN and no top_logprobs', async (_, sampling) => {
    const model = new GPT2(await device('wasm'), config, randomGPT2Params(config, 7, 0.5));
    const tokenizer = gpt2Tokenizer();
    const options = { ...sampling, maxNewTokens: 24, stopAtEos: false, sampleOn: 'cpu' as const };
    const full = await generate(model, tokenizer, 'ROMEO:', options);
    const streamed: string[] = [];
    const bare = await generate(model, tokenizer, 'ROMEO:', { ...options, logprobs: false }, (text) => streamed.push(text));
    expect(bare.tokens).toEqual(full.tokens);
    expect(bare.text).toBe(full.text);
    expect(streamed.join('')).toBe(full.text);
    expect(full.steps.every((s) => Number.isFinite(s.logprob) && s.top_logprobs.length === 5)).toBe(true);
    expect(bare.steps.map((s) => s.id)).toEqual(full.steps.map((s) => s.id));
    expect(bare.steps.map((s) => s.text)).toEqual(full.steps.map((s) => s.text));
    expect(bare.steps.every((s) => Number.isNaN(s.logprob) && s.top_logprobs.length === 0)).toBe(true);
    expect((await generate(model, tokenizer, 'ROMEO:', { ...options, maxNewTokens: 0, logprobs: false })).next).toEqual([]);
    model.destroy();
  });
});
