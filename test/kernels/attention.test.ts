import { describe, expect, it } from 'vitest';
import { createTensor, poison, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import {
  attentionScores,
  attentionValues,
  attentionValuesKernel,
  defaultValuesVersion,
} from '../../src/kernels/attention.ts';
import { kvAppend } from '../../src/kernels/kvcache.ts';
import { softmax } from '../../src/kernels/softmax.ts';
import { gpu } from '../helpers.ts';
import { ATTENTION_CASES, attentionInputs, expectAttention } from './cases.ts';

/**
 * softmax and attentionValues both come in v1 (a workgroup per row, reduced behind barriers, for hardware adapters)
 * and v2 (one invocation per row or per output chunk, for software ones); each version runs the whole chain.
 */
const VERSIONS = attentionValuesKernel.versions.map((v) => v.name);

describe.each(VERSIONS)('attention (scores, softmax, values) over a KV cache, softmax and attentionValues %s', (version) => {
  it.each(ATTENTION_CASES)('matches the CPU reference: $name', async (c) => {
    const { T, nHead, nKVHead, headDim, nCtx } = c;
    const g = await gpu();
    const inputs = attentionInputs(c);
    const { S, C, stride, qkv, kCache, vCache, o, kAppend, vAppend } = inputs;

    // Append this step's keys and values, then the three attention kernels, reading back each hooked
    // intermediate. Outputs get one extra float that must stay NaN (nothing written past the end).
    const qkvT = uploadTensor(g.device, 'f32', [T, stride], qkv, 'qkv');
    const kT = uploadTensor(g.device, 'f32', [nKVHead, nCtx, headDim], kCache, 'kCache');
    const vT = uploadTensor(g.device, 'f32', [nKVHead, nCtx, headDim], vCache, 'vCache');
    const scoresT = createTensor(g.device, 'f32', [nHead * T * S + 1], 'scores');
    const zT = createTensor(g.device, 'f32', [T * C + 1], 'z');
    poison(g.device, scoresT);
    poison(g.device, zT);

    let rec = new Recorder(g);
    kvAppend(rec, kT, qkvT, kAppend);
    kvAppend(rec, vT, qkvT, vAppend);
    attentionScores(rec, scoresT, qkvT, kT, o);
    await rec.submit();
    const scores = await readF32(g.device, scoresT);

    rec = new Recorder(g);
    softmax(rec, scoresT, nHead * T, S, { version });
    await rec.submit();
    const pattern = await readF32(g.device, scoresT);

    rec = new Recorder(g);
    attentionValues(rec, zT, scoresT, vT, { ...o, version });
    await rec.submit();
    const z = await readF32(g.device, zT);

    expect(Number.isNaN(scores[nHead * T * S])).toBe(true);
    expect(Number.isNaN(z[T * C])).toBe(true);
    expect([...(await readF32(g.device, kT))]).toEqual([...inputs.ref.kCache]);
    expectAttention(c, inputs, { scores: scores.subarray(0, nHead * T * S), pattern: pattern.subarray(0, nHead * T * S), z: z.subarray(0, T * C) });
  });
});

describe('attention', () => {
  it('picks attentionValues v2 (one invocation per output chunk) on a software adapter and v1 on a hardware one', async () => {
    const g = await gpu();
    const rec = new Recorder(g);
    const t = createTensor(g.device, 'f32', [64], 't');
    attentionValues(rec, t, t, t, { T: 1, pos0: 0, nHead: 2, nKVHead: 2, headDim: 4, nCtx: 4 });
    expect(rec.dispatches[0]!.shader).toBe(g.info.kind === 'software' ? 'attentionValues.v2.wgsl' : 'attentionValues.v1.wgsl');
    const soft = new Recorder({ ...g, info: { ...g.info, kind: 'software' } });
    const hard = new Recorder({ ...g, info: { ...g.info, kind: 'hardware' } });
    expect([defaultValuesVersion(soft), defaultValuesVersion(hard)]).toEqual(['v2', 'v1']);
  });

  it('refuses head counts that do not group evenly', async () => {
    const g = await gpu();
    const t = createTensor(g.device, 'f32', [64], 't');
    const o = { T: 1, pos0: 0, nHead: 5, nKVHead: 2, headDim: 2, nCtx: 4, qStride: 10, qOffset: 0, scale: 1 };
    expect(() => attentionScores(new Recorder(g), t, t, t, o)).toThrow(/cannot share/);
  });
});
