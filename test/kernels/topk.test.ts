// topK against its CPU reference: random rows with planted ties and -Infinity bans, adjusted ids, temperatures,
// output poisoned with NaN first.
import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { candidateFloats, packAdjustments, readCandidates, topK, topKKernel, topKReference, type LogitAdjust } from '../../src/kernels/topk.ts';
import { Rng } from '../../src/random.ts';
import { gpu, randomArray } from '../helpers.ts';

describe.each(topKKernel.versions.map((v) => v.name))('topK %s', (version) => {
  const cases = [
    { V: 1000, K: 64, temperature: 0.7, adjust: 5 },
    { V: 5003, K: 8, temperature: 1, adjust: 0 },
    { V: 37, K: 64, temperature: 1.3, adjust: 3 }, // fewer ids than K
    { V: 777, K: 13, temperature: 1, adjust: 40 },
  ];
  it.each(cases.flatMap((c) => [false, true].map((untempered) => ({ ...c, untempered }))))('V $V, K $K, temperature $temperature, $adjust adjusted ids, untempered $untempered', async ({ V, K, temperature, adjust, untempered }) => {
    const g = await gpu();
    const rng = new Rng(V * 13 + K);
    const logits = randomArray(rng, V, 8);
    logits[V - 1] = logits[3]!; // a tie: the lower id first
    logits[7] = -Infinity; // a banned id
    const list: LogitAdjust[] = Array.from({ length: adjust }, (_, j) => ({ id: (j * 97 + 11) % V, bias: j % 3 === 0 ? 2.5 : 0, penalty: j % 2 ? 1.3 : 1 }));
    if (adjust > 2) list[2]!.bias = -Infinity;
    const out = createTensor(g.device, 'f32', [candidateFloats(K, true)], 'out');
    poison(g.device, out);
    const listTensor = uploadTensor(g.device, 'u32', [Math.max(1, list.length) * 4], new Uint32Array(packAdjustments(list)), 'list');
    const rec = new Recorder(g);
    const logitsTensor = uploadTensor(g.device, 'f32', [V], logits, 'logits');
    topK(rec, out, logitsTensor, listTensor, { V, K, nList: list.length, temperature, untempered, version });
    await rec.submit();
    const all = await readF32(g.device, out);
    const got = all.subarray(0, candidateFloats(K, untempered));
    expect(got.some(Number.isNaN), 'every output written').toBe(false);
    expect(all.subarray(got.length).every(Number.isNaN), 'nothing written past the output').toBe(true);
    const c = readCandidates(got, K);
    // the row is as it was
    expect([...(await readF32(g.device, logitsTensor))]).toEqual([...logits]);
    const ref = topKReference(logits, list, K, temperature);
    expect(c.ids).toEqual(ref.ids);
    expect(c.raw).toEqual(ref.ids.map((id) => logits[id]!));
    expect(c.max + Math.log(c.sumExp)).toBeCloseTo(ref.lse, 4);
    // asked for, the log-sum-exp of the adjusted row at temperature 1, from the same pass
    if (untempered) expect(c.untempered!.max + Math.log(c.untempered!.sumExp)).toBeCloseTo(topKReference(logits, list, K, 1).lse, 4);
    else expect(c.untempered).toBeUndefined();
    // the floor bounds every id not returned, and is no looser than the K-th value
    const rest = topKReference(logits, list, K + 1, temperature).values[K] ?? -Infinity;
    if (rest === -Infinity) expect(c.floor).toBe(-Infinity);
    else {
      expect(c.floor).toBeGreaterThanOrEqual(rest - 1e-5 * Math.abs(rest));
      expect(c.floor).toBeLessThanOrEqual(ref.values[K - 1]! + 1e-5 * Math.abs(rest));
    }
  });
});
