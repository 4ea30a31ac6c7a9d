// Sampling with the logits on the GPU picks the CPU sampler's tokens: for the same seed, on many random logit
// rows (peaked and flat), every option set chooses the same token as Sampler.next on the whole row. Where the
// candidates cannot decide (typical-p alone, plain sampling, a top-p line past the candidates) the path reads the
// whole row, as the CLI would; the test also counts how often the candidates decided alone.
import { describe, expect, it } from 'vitest';
import { createTensor, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { packAdjustments, readCandidates, topK } from '../../src/kernels/topk.ts';
import type { GPT2Config } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { Rng } from '../../src/random.ts';
import { sampleOnDevice } from '../../src/sampling/device.ts';
import { candidateRequest, logitAdjustments } from '../../src/sampling/gpu.ts';
import { Sampler, type SamplingOptions } from '../../src/sampling/sampler.ts';
import { gpu } from '../helpers.ts';

const V = 3001;

/** A row of logits: a few strong tokens over a flat background, a spread one, or far above it (as a trained LM). */
function row(rng: Rng, kind: number): Float32Array {
  const x = new Float32Array(V);
  const spread = [0.5, 3, 3][kind % 3]!;
  const lead = [1, 3, 10][kind % 3]!;
  for (let i = 0; i < V; i++) x[i] = rng.range(-spread, spread);
  for (let j = 0; j < 5; j++) x[Math.floor(rng.range(0, V))] = spread + lead + rng.range(0, 4);
  return x;
}

/** The GPU's candidates for one row, read back. */
async function candidates(g: Gpu, logits: Float32Array, sampler: Sampler, context: number[]) {
  const { K, temperature } = candidateRequest(sampler.options);
  const list = logitAdjustments(sampler.options, context, V);
  const out = createTensor(g.device, 'f32', [3 + 2 * K], 'out');
  const rec = new Recorder(g);
  topK(rec, out, uploadTensor(g.device, 'f32', [V], logits, 'logits'), uploadTensor(g.device, 'u32', [Math.max(1, list.length) * 4], new Uint32Array(packAdjustments(list)), 'list'), {
    V,
    K,
    nList: list.length,
    temperature,
  });
  await rec.submit();
  return readCandidates(await readF32(g.device, out), K);
}

const optionSets: [string, SamplingOptions, number][] = [
  // name, options, the least share of rows the candidates must decide alone
  ['greedy', { temperature: 0 }, 1],
  ['greedy with bias and repetition penalty', { temperature: 0, repetitionPenalty: 1.3, logitBias: { 5: 3, 17: -Infinity } }, 1],
  ['top-k 40', { temperature: 0.8, topK: 40 }, 1],
  // k = K: the 64th must beat a bound on the rest, which an invocation's used-up list can make loose on flat rows
  ['top-k 64 with top-p, min-p and typical-p', { temperature: 1.2, topK: 64, topP: 0.9, minP: 0.02, typicalP: 0.95 }, 0.9],
  ['top-k 5, penalties and n-gram bans', { temperature: 0.7, topK: 5, repetitionPenalty: 1.2, noRepeatNgram: 2, logitBias: { 3: 1.5 } }, 1],
  ['top-p 0.9', { temperature: 0.7, topP: 0.9 }, 0.25],
  ['top-p 0.99 (flat rows need the whole row)', { temperature: 1, topP: 0.99 }, 0],
  ['min-p 0.1', { temperature: 1, minP: 0.1 }, 0.25],
  ['typical-p alone (always the whole row)', { temperature: 1, typicalP: 0.9 }, 0],
  ['plain sampling (always the whole row)', { temperature: 1 }, 0],
];

describe('sampling on the GPU', () => {
  it.each(optionSets)('%s: the same tokens as the CPU sampler for the same seed', async (_, options, decidedShare) => {
    const g = await gpu();
    const rng = new Rng(99);
    const cpu = new Sampler({ ...options, seed: 1234 });
    const gpuSide = new Sampler({ ...options, seed: 1234 });
    const context = [5, 17, 3, 40, 5, 17];
    let decided = 0;
    const rows = 40;
    for (let n = 0; n < rows; n++) {
      const logits = row(rng, n);
      const expected = cpu.next(logits, context);
      const c = await candidates(g, logits, gpuSide, context);
      const chosen = gpuSide.nextFromCandidates(c, context, V);
      if (chosen !== undefined) decided++;
      expect(chosen ?? gpuSide.next(logits, context), `row ${n}`).toBe(expected);
      context.push(expected);
    }
    expect(decided / rows).toBeGreaterThanOrEqual(decidedShare);
    if (decidedShare === 0 && options.topP === undefined) expect(decided).toBe(0);
  });
});

describe('decoding with the logits on the device', () => {
  it.each([
    ['greedy', { temperature: 0, repetitionPenalty: 1.2 }],
    ['top-k 20, top-p 0.9', { temperature: 0.9, topK: 20, topP: 0.9 }],
    ['top-p 0.95 alone', { temperature: 0.8, topP: 0.95 }],
  ] as [string, SamplingOptions][])('%s: a random GPT-2 decodes the CPU sampler\'s tokens, reading back candidates only', async (_, options) => {
    const config: GPT2Config = {
      arch: 'gpt2', vocabSize: 301, nPositions: 40, nEmbd: 32, nLayer: 2, nHead: 2, nInner: 64,
      layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 300, eosTokenId: 300,
    };
    const model = new GPT2(await gpu(), config, randomGPT2Params(config, 8, 0.5));
    const prompt = [3, 14, 15, 92, 65];
    const decode = async (onDevice: boolean) => {
      const sampler = new Sampler({ ...options, seed: 77 });
      const context = [...prompt];
      const bytes: number[] = [];
      let ids = prompt;
      let pos0 = 0;
      for (let t = 0; t < 12; t++) {
        let id: number;
        if (onDevice) {
          const s = await sampleOnDevice(model, sampler, ids, pos0, context);
          id = s.id;
          if (ids.length === 1) bytes.push(s.readbackBytes);
        } else {
          id = sampler.next((await model.forward(ids, pos0)).logits, context);
        }
        pos0 += ids.length;
        ids = [id];
        context.push(id);
      }
      return { tokens: context.slice(prompt.length), bytes };
    };
    const cpu = await decode(false);
    const device = await decode(true);
    expect(device.tokens).toEqual(cpu.tokens);
    const K = options.temperature === 0 ? 8 : 64;
    // most tokens read the candidates only ((3 + 2K) floats); a few may need the whole row too
    const small = device.bytes.filter((b) => b === (3 + 2 * K) * 4).length;
    expect(small).toBeGreaterThan(device.bytes.length / 2);
    for (const b of device.bytes) expect([(3 + 2 * K) * 4, (3 + 2 * K) * 4 + 301 * 4]).toContain(b);
    model.destroy();
  });
});
