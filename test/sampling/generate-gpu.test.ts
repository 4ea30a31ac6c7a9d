// generate() with the sampling on the GPU (src/sampling/tokens.ts): for the same seed, the same tokens as the CPU
// sampler on the whole row, across option sets, with log-probabilities and top_logprobs equal within LOGPROB_TOL
// (the GPU sums the row's log-sum-exp in f32, the CPU in float64); the pipelined decode (each step submitted before
// the one before it is read back, its token fed from a GPU buffer) gives the same tokens as the step-by-step one,
// stop strings included, also where it must discard a step submitted ahead and run it again.
import { describe, expect, it } from 'vitest';
import { generate, type GenerateOptions, type GenerationResult } from '../../src/generate.ts';
import { createTensor, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { residualAdd } from '../../src/kernels/add.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource } from '../../src/model/llama.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { Sampler, type SamplingOptions } from '../../src/sampling/sampler.ts';
import { CpuTokens, DeviceTokens } from '../../src/sampling/tokens.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { gpu } from '../helpers.ts';

/** |GPU - CPU| allowed on a log-probability: the row's log-sum-exp in f32 against float64. */
const LOGPROB_TOL = 2e-4;

const config: GPT2Config = {
  arch: 'gpt2', vocabSize: 301, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 2, nInner: 64,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 300, eosTokenId: 300,
};
const prompt = [72, 101, 108, 108, 111]; // "Hello"
const tokenizer = gpt2Tokenizer();

async function model(scale = 0.5) {
  return new GPT2(await gpu(), config, randomGPT2Params(config, 8, scale));
}

const optionSets: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['greedy with a logit bias', { temperature: 0, logitBias: { 101: 2, 32: -Infinity } }],
  ['temperature 0.8, top-k 40', { temperature: 0.8, topK: 40 }],
  ['top-k 64 with top-p, min-p and typical-p', { temperature: 1.2, topK: 64, topP: 0.9, minP: 0.02, typicalP: 0.95 }],
  ['top-p 0.9', { temperature: 0.7, topP: 0.9 }],
  ['min-p 0.1', { temperature: 1, minP: 0.1 }],
  ['typical-p alone', { temperature: 1, typicalP: 0.9 }],
  ['repetition penalty and n-gram bans, top-k 5', { temperature: 0.9, topK: 5, repetitionPenalty: 1.3, noRepeatNgram: 2 }],
  ['plain sampling with a logit bias', { temperature: 1, logitBias: { 108: 3 } }],
];

function expectSameReport(gpuRun: GenerationResult, cpuRun: GenerationResult): void {
  expect(gpuRun.tokens).toEqual(cpuRun.tokens);
  gpuRun.steps.forEach((s, i) => {
    const c = cpuRun.steps[i]!;
    expect(Math.abs(s.logprob - c.logprob), `step ${i}: logprob`).toBeLessThanOrEqual(LOGPROB_TOL);
    expect(s.top_logprobs.map((t) => t.id), `step ${i}: top_logprobs`).toEqual(c.top_logprobs.map((t) => t.id));
    s.top_logprobs.forEach((t, j) => expect(Math.abs(t.logprob - c.top_logprobs[j]!.logprob), `step ${i}, top ${j}`).toBeLessThanOrEqual(LOGPROB_TOL));
  });
}

describe('generate() with the sampling on the GPU', () => {
  it.each(optionSets)('%s: the CPU sampler\'s tokens and log-probabilities, step by step and pipelined', async (_, sampling) => {
    const m = await model();
    const options: GenerateOptions = { ...sampling, seed: 1234, maxNewTokens: 24, topLogprobs: 6, stopAtEos: false };
    const cpu = await generate(m, tokenizer, prompt, { ...options, sampleOn: 'cpu' });
    const stepByStep = await generate(m, tokenizer, prompt, { ...options, pipeline: false });
    const pipelined = await generate(m, tokenizer, prompt, options);
    expect(cpu.tokens).toHaveLength(24);
    expectSameReport(stepByStep, cpu);
    expectSameReport(pipelined, cpu);
    expect(cpu.timings.readback_bytes_per_token).toBe(4 * config.vocabSize);
    m.destroy();
  });

  it('gives a Llama-family model (RoPE, no learned positions) the CPU sampler\'s tokens, pipelined', async () => {
    const llama: LlamaConfig = {
      arch: 'llama', variant: 'llama', maxPositionEmbeddings: 40, nLayer: 2, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
      slidingWindow: null, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
      vocabSize: 131, hiddenSize: 26, intermediateSize: 38, nHead: 4, nKVHead: 2, headDim: 6, rotaryDim: 6, tieWordEmbeddings: false,
    };
    const m = new Llama(await gpu(), llama, llamaParamSource(randomLlamaParams(llama, 3)));
    expect(m.deviceSampling?.tokenOnDevice).toBe(true);
    for (const sampling of [{ temperature: 0 }, { temperature: 0.9, topK: 30, seed: 8 }] as SamplingOptions[]) {
      const options: GenerateOptions = { ...sampling, maxNewTokens: 16, stopAtEos: false };
      expectSameReport(await generate(m, tokenizer, prompt, options), await generate(m, tokenizer, prompt, { ...options, sampleOn: 'cpu' }));
    }
    m.destroy();
  });

  it('reports the top candidates after the prompt, and more top_logprobs than a selection holds, as the CPU does', async () => {
    const m = await model();
    const next = await generate(m, tokenizer, prompt, { maxNewTokens: 0, topLogprobs: 7 });
    const nextCpu = await generate(m, tokenizer, prompt, { maxNewTokens: 0, topLogprobs: 7, sampleOn: 'cpu' });
    expect(next.next!.map((t) => t.id)).toEqual(nextCpu.next!.map((t) => t.id));
    const many = { temperature: 0.8, topK: 40, seed: 5, maxNewTokens: 6, topLogprobs: 80, stopAtEos: false };
    const wide = await generate(m, tokenizer, prompt, many);
    expectSameReport(wide, await generate(m, tokenizer, prompt, { ...many, sampleOn: 'cpu' }));
    expect(wide.steps[0]!.top_logprobs).toHaveLength(80);
    m.destroy();
  });

  it('reads back one id and its top logprobs per greedy token: under 1 KiB instead of the row', async () => {
    const m = await model();
    const options: GenerateOptions = { temperature: 0, maxNewTokens: 10, stopAtEos: false };
    const cpu = await generate(m, tokenizer, prompt, { ...options, sampleOn: 'cpu' });
    const stepByStep = await generate(m, tokenizer, prompt, { ...options, pipeline: false });
    const pipelined = await generate(m, tokenizer, prompt, options);
    // 8 candidates (3 + 2 x 8 floats) serve the 5 top_logprobs too; pipelined, plus the id chosen on the GPU
    expect(stepByStep.timings.readback_bytes_per_token).toBe(4 * (3 + 2 * 8));
    expect(pipelined.timings.readback_bytes_per_token).toBeLessThanOrEqual(4 * (3 + 2 * 8) + 4);
    expect(pipelined.timings.readback_bytes_per_token).toBeLessThan(1024);
    // the candidate selection (and the choice on the GPU) over the row-reading step
    expect(stepByStep.timings.dispatches_per_token).toBe(cpu.timings.dispatches_per_token! + 1);
    expect(pipelined.timings.dispatches_per_token).toBeLessThanOrEqual(cpu.timings.dispatches_per_token! + 2);
    m.destroy();
  });

  it('reports the log-probabilities of temperature sampling from its one selection, which returns the raw log-sum-exp too', async () => {
    const m = await model();
    const options: GenerateOptions = { temperature: 0.7, topK: 40, seed: 11, maxNewTokens: 10, stopAtEos: false, topLogprobs: 5 };
    const cpu = await generate(m, tokenizer, prompt, { ...options, sampleOn: 'cpu' });
    const stepByStep = await generate(m, tokenizer, prompt, { ...options, pipeline: false });
    expectSameReport(stepByStep, cpu);
    // one topK pass, not a second one over the raw row for the report: 64 candidates and 2 floats more
    expect(stepByStep.timings.dispatches_per_token).toBe(cpu.timings.dispatches_per_token! + 1);
    expect(stepByStep.timings.readback_bytes_per_token).toBe(4 * (5 + 2 * 64));
    m.destroy();
  });
});

describe('the pipelined decode', () => {
  it.each([
    ['greedy', { temperature: 0 }],
    ['seeded top-k 20', { temperature: 0.9, topK: 20, seed: 42 }],
  ] as [string, SamplingOptions][])('%s: a stop string found a step late ends with the same tokens and text', async (_, sampling) => {
    const m = await model();
    const base: GenerateOptions = { ...sampling, maxNewTokens: 30, stopAtEos: false };
    const full = await generate(m, tokenizer, prompt, { ...base, pipeline: false });
    for (const at of [3, 9, 17]) {
      const stop = full.text.slice(at, at + 2);
      const streamed: string[] = [];
      const stepByStep = await generate(m, tokenizer, prompt, { ...base, stop: [stop], pipeline: false });
      const pipelined = await generate(m, tokenizer, prompt, { ...base, stop: [stop] }, (t) => streamed.push(t));
      expect(stepByStep.finish_reason).toBe('stop');
      expect(pipelined.finish_reason).toBe('stop');
      expect(pipelined.tokens).toEqual(stepByStep.tokens);
      expect(pipelined.text).toBe(stepByStep.text);
      expect(streamed.join('')).toBe(pipelined.text);
      // the next run, after the step that was submitted ahead and dropped, starts from a consistent cache
      const again = await generate(m, tokenizer, prompt, { ...base, maxNewTokens: 8 });
      expect(again.tokens).toEqual(full.tokens.slice(0, 8));
    }
    m.destroy();
  });

  it('discards a step submitted ahead where the row must be read, runs it again, and keeps the CPU\'s tokens', async () => {
    const m = await model(0.2); // flat rows: a top-p line past the candidates needs the whole row
    const run = async (device: boolean) => {
      const sampler = new Sampler({ temperature: 1.5, topP: 0.99, seed: 3 });
      const context = [...prompt];
      const o = { last: 15, topLogprobs: 3, useCache: true, profile: false };
      const source = device ? new DeviceTokens(m, sampler, context, { ...o, pipeline: true }) : new CpuTokens(m, sampler, context, o);
      await source.prefill();
      for (let i = 0; i <= o.last; i++) context.push((await source.token(i)).id);
      await source.settle();
      return { tokens: context.slice(prompt.length), source };
    };
    const cpu = await run(false);
    const device = await run(true);
    expect(device.tokens).toEqual(cpu.tokens);
    const d = device.source as DeviceTokens;
    expect(d.pipelined).toBe(true);
    expect(d.discarded).toBeGreaterThan(0);
    m.destroy();
  });
});

describe('uniforms', () => {
  it('are written only where they changed since the step before', async () => {
    const g = await gpu();
    const x = uploadTensor(g.device, 'f32', [64], new Float32Array(64).fill(1), 'x');
    const y = createTensor(g.device, 'f32', [64], 'y');
    const record = (n: number) => {
      const rec = new Recorder(g);
      residualAdd(rec, x, y, 64);
      residualAdd(rec, x, y, n);
      return rec;
    };
    const first = record(64);
    await first.submit();
    const same = record(64);
    await same.submit();
    expect(same.uniformBytesWritten).toBe(0);
    const moved = record(32);
    await moved.submit();
    expect(moved.uniformBytesWritten).toBeGreaterThan(0);
    expect(moved.uniformBytesWritten).toBe(16); // the second dispatch's struct alone
  });
});
