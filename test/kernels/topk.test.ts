// topK against its CPU reference: random rows with planted ties and -Infinity bans, adjusted ids, temperatures,
// output poisoned with NaN first.
import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { packAdjustments, readCandidates, topK, topKKernel, topKReference, type LogitAdjust } from '../../src/kernels/topk.ts';
import { Rng } from '../../src/random.ts';
import { gpu, randomArray } from '../helpers.ts';

describe.each(topKKernel.versions.map((v) => v.name))('topK %s', (version) => {
  const cases = [
    { V: 1000, K: 64, temperature: 0.7, adjust: 5 },
    { V: 5003, K: 8, temperature: 1, adjust: 0 },
    { V: 37, K: 64, temperature: 1.3, adjust: 3 }, // fewer ids than K
    { V: 777, K: 13, temperature: 1, adjust: 40 },
  ];
  it.each(cases)('V $V, K $K, temperature $temperature, $adjust adjusted ids', async ({ V, K, temperature, adjust }) => {
    const g = await gpu();
    const rng = new Rng(V * 13 + K);
    const logits = randomArray(rng, V, 8);
    logits[V - 1] = logits[3]!; // a tie: the lower id first
    logits[7] = -Infinity; // a banned id
    const list: LogitAdjust[] = Array.from({ length: adjust }, (_, j) => ({ id: (j * 97 + 11) % V, bias: j % 3 === 0 ? 2.5 : 0, penalty: j % 2 ? 1.3 : 1 }));
    if (adjust > 2) list[2]!.bias = -Infinity;
    const out = createTensor(g.device, 'f32', [3 + 2 * K], 'out');
    poison(g.device, out);
    const listTensor = uploadTensor(g.device, 'u32', [Math.max(1, list.length) * 4], new Uint32Array(packAdjustments(list)), 'list');
    const rec = new Recorder(g);
    const logitsTensor = uploadTensor(g.device, 'f32', [V], logits, 'logits');
    topK(rec, out, logitsTensor, listTensor, { V, K, nList: list.length, temperature, version });
    await rec.submit();
    const got = await readF32(g.device, out);
    expect(got.some(Number.isNaN), 'every output written').toBe(false);
    const c = readCandidates(got, K);
    // the row is as it was
    expect([...(await readF32(g.device, logitsTensor))]).toEqual([...logits]);
    const ref = topKReference(logits, list, K, temperature);
    expect(c.ids).toEqual(ref.ids);
    expect(c.raw).toEqual(ref.ids.map((id) => logits[id]!));
    expect(c.max + Math.log(c.sumExp)).toBeCloseTo(ref.lse, 4);
    // the floor bounds every id not returned, and is no looser than the K-th value
    const rest = topKReference(logits, list, K + 1, temperature).values[K] ?? -Infinity;
    if (rest === -Infinity) expect(c.floor).toBe(-Infinity);
    else {
      expect(c.floor).toBeGreaterThanOrEqual(rest - 1e-5 * Math.abs(rest));
      expect(c.floor).toBeLessThanOrEqual(ref.values[K - 1]! + 1e-5 * Math.abs(rest));
    }
  });
});
