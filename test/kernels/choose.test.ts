// chooseToken against its reference, the CPU sampler: on random rows (peaked and flat), topK's candidates, then the
// token chosen on the GPU with the uniform number the CPU draws, equal to Sampler.nextFromCandidates with that
// number wherever the candidates decide, for every option set the pipelined decode uses.
import { describe, expect, it } from 'vitest';
import { createTensor, poison, readTensor, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { chooseToken } from '../../src/kernels/choose.ts';
import { packAdjustments, readCandidates, topK } from '../../src/kernels/topk.ts';
import { Rng } from '../../src/random.ts';
import { candidateRequest, logitAdjustments } from '../../src/sampling/gpu.ts';
import { Sampler, type SamplingOptions } from '../../src/sampling/sampler.ts';
import { gpu } from '../helpers.ts';

const V = 2999;

function row(rng: Rng, kind: number): Float32Array {
  const x = new Float32Array(V);
  const spread = [0.5, 3, 3][kind % 3]!;
  const lead = [1, 3, 10][kind % 3]!;
  for (let i = 0; i < V; i++) x[i] = rng.range(-spread, spread);
  for (let j = 0; j < 5; j++) x[Math.floor(rng.range(0, V))] = spread + lead + rng.range(0, 4);
  return x;
}

const optionSets: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['greedy with a logit bias', { temperature: 0, logitBias: { 5: 30, 17: -Infinity } }],
  ['top-k 40', { temperature: 0.8, topK: 40 }],
  ['top-k 64 with top-p, min-p and typical-p', { temperature: 1.2, topK: 64, topP: 0.9, minP: 0.02, typicalP: 0.95 }],
  ['top-k 10 with typical-p', { temperature: 1, topK: 10, typicalP: 0.5 }],
  ['top-p 0.9 with a logit bias', { temperature: 0.7, topP: 0.9, logitBias: { 3: 2.5 } }],
  ['min-p 0.1', { temperature: 1, minP: 0.1 }],
];

describe('chooseToken', () => {
  it.each(optionSets)('%s: the CPU sampler\'s token from the same candidates and number', async (_, options) => {
    const g = await gpu();
    const rng = new Rng(7);
    const sampler = new Sampler({ ...options, seed: 11 });
    const { K, temperature } = candidateRequest(sampler.options);
    const list = logitAdjustments(sampler.options, [], V);
    const listTensor = uploadTensor(g.device, 'u32', [Math.max(1, list.length) * 4], new Uint32Array(packAdjustments(list)), 'list');
    const out = createTensor(g.device, 'f32', [3 + 2 * K], 'candidates');
    const token = createTensor(g.device, 'u32', [1], 'token');
    let decided = 0;
    for (let n = 0; n < 30; n++) {
      const u = sampler.greedy ? 0 : sampler.draw();
      poison(g.device, token); // NaN bits: no token id
      const rec = new Recorder(g);
      topK(rec, out, uploadTensor(g.device, 'f32', [V], row(rng, n), 'logits'), listTensor, { V, K, nList: list.length, temperature });
      const { topK: k, topP, minP, typicalP } = sampler.options;
      chooseToken(rec, token, out, listTensor, { K, nList: list.length, greedy: sampler.greedy, temperature, topK: k, topP, minP, typicalP, u });
      await rec.submit();
      const c = readCandidates(new Float32Array(await readTensor(g.device, out)), K);
      const chosen = new Uint32Array(await readTensor(g.device, token))[0];
      const expected = sampler.nextFromCandidates(c, [], V, u);
      if (expected === undefined) continue; // the CPU reads the whole row: the GPU's guess is not used
      decided++;
      expect(chosen, `row ${n}`).toBe(expected);
    }
    expect(decided).toBeGreaterThan(10);
  });
});
