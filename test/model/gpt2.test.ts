// A tiny random GPT-2, written to disk in Hugging Face format and loaded back, against the float64 CPU reference.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeModelFiles } from '../../src/loading/files.ts';
import type { GPT2Config } from '../../src/model/config.ts';
import { roundGPT2Params, type GPT2Params } from '../../src/model/gpt2.ts';
import { loadModel } from '../../src/model/load.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params, writeGPT2Folder } from '../../src/model/random.ts';
import { Rng } from '../../src/random.ts';
import { gpt2ForwardReference, gpt2GreedyReference } from '../../src/reference/gpt2.ts';
import { device, DEVICE_KINDS, expectClose, gpu } from '../helpers.ts';
import { argmax } from '../../src/sampling/logprobs.ts';

// Odd sizes on purpose: 3 heads of 16, a vocabulary and context that are not powers of two.
const config: GPT2Config = {
  arch: 'gpt2',
  vocabSize: 101,
  nPositions: 40,
  nEmbd: 48,
  nLayer: 2,
  nHead: 3,
  nInner: 192,
  layerNormEpsilon: 1e-5,
  activation: 'gelu_new',
  tieWordEmbeddings: true,
  bosTokenId: 100,
  eosTokenId: 100,
};

// Logits are O(10) after two layers of f32 arithmetic; the tolerance allows f32 rounding through the stack
// (about 1e-6 relative per op, over a few hundred accumulations) with room to spare, and is far below the gaps
// between the top logits that greedy decoding depends on.
const F32_TOL = { rtol: 1e-4, atol: 1e-4 };

function randomIds(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.int(0, config.vocabSize - 2));
}

function lastRow(all: Float64Array, T: number): Float64Array {
  return all.subarray((T - 1) * config.vocabSize, T * config.vocabSize);
}

describe.each(DEVICE_KINDS)('GPT-2 forward pass against the CPU reference on %s', (kind) => {
  let params: GPT2Params;
  let model: LanguageModel;
  let dir: string;

  beforeAll(async () => {
    params = randomGPT2Params(config, 7);
    dir = await mkdtemp(join(tmpdir(), 'wgpt-gpt2-'));
    await writeGPT2Folder(dir, params);
    model = await loadModel(await device(kind), nodeModelFiles(dir));
  });
  afterAll(() => model?.destroy());

  it.each([1, 7, 23, 40])('logits of every position match for a %i-token prompt (40 = full context)', async (T) => {
    const ids = randomIds(new Rng(T), T);
    const { logits } = await model.forward(ids, 0, { allLogits: true });
    expectClose(logits, gpt2ForwardReference(params, ids), F32_TOL, `logits T=${T}`);
  });

  it('prefill then decode through the KV cache matches recomputing everything', async () => {
    const ids = randomIds(new Rng(99), 30);
    const reference = gpt2ForwardReference(params, ids);
    // a 9-token prefill, a 5-token chunk, then single tokens
    let out = await model.forward(ids.slice(0, 9), 0);
    expectClose(out.logits, lastRow(reference, 9), F32_TOL, 'after prefill');
    out = await model.forward(ids.slice(9, 14), 9);
    expectClose(out.logits, lastRow(reference, 14), F32_TOL, 'after a chunk');
    for (let t = 14; t < 30; t++) {
      out = await model.forward([ids[t]!], t);
      expectClose(out.logits, lastRow(reference, t + 1), F32_TOL, `decode at position ${t}`);
    }
  });

  it('greedy decoding of 32 tokens is the same with the KV cache, without it, and on the CPU', async () => {
    const prompt = [5, 17, 42, 8];
    const expected = gpt2GreedyReference(params, prompt, 32);

    const cached: number[] = [];
    let { logits } = await model.forward(prompt, 0);
    for (let i = 0; i < 32; i++) {
      const id = argmax(logits);
      cached.push(id);
      if (i < 31) ({ logits } = await model.forward([id], prompt.length + i));
    }

    const uncached: number[] = [];
    const seq = [...prompt];
    for (let i = 0; i < 32; i++) {
      const id = argmax((await model.forward(seq, 0)).logits);
      uncached.push(id);
      seq.push(id);
    }
    expect(cached).toEqual(expected);
    expect(uncached).toEqual(expected);
  });

  it('rejects positions past the context and ids outside the vocabulary', async () => {
    await expect(model.forward([1, 2], 39)).rejects.toThrow(/context of 40/);
    await expect(model.forward([101], 0)).rejects.toThrow(/vocabulary/);
  });
});

describe.each(DEVICE_KINDS)('GPT-2 with packed f16 weights on %s', (kind) => {
  it('matches the CPU reference run on the same f16-rounded weights', async () => {
    const params = randomGPT2Params(config, 11);
    const dir = await mkdtemp(join(tmpdir(), 'wgpt-gpt2-f16-'));
    await writeGPT2Folder(dir, params);
    const model = await loadModel(await device(kind), nodeModelFiles(dir), { weights: 'f16' });
    const ids = randomIds(new Rng(3), 17);
    const { logits } = await model.forward(ids, 0, { allLogits: true });
    expectClose(logits, gpt2ForwardReference(roundGPT2Params(params, 'f16'), ids), F32_TOL, 'f16 logits');
    model.destroy();
  });
});

describe('GPT-2 folders that do not match their config', () => {
  it('a checkpoint whose shapes disagree with config.json gives a clear ModelShapeError', async () => {
    const params = randomGPT2Params({ ...config, nEmbd: 24, nInner: 96 }, 5);
    const dir = await mkdtemp(join(tmpdir(), 'wgpt-gpt2-bad-'));
    await writeGPT2Folder(dir, params);
    // claim a wider model than the weights hold
    const { writeFile } = await import('node:fs/promises');
    const { gpt2ConfigJson } = await import('../../src/model/random.ts');
    await writeFile(join(dir, 'config.json'), JSON.stringify(gpt2ConfigJson(config)));
    await expect(loadModel(await gpu(), nodeModelFiles(dir))).rejects.toMatchObject({
      name: 'ModelShapeError',
      message: expect.stringMatching(/transformer\.wte\.weight has shape \[101,24\] but config\.json implies \[101,48\]/),
    });
  });
});
