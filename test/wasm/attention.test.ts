import { describe, expect, it } from 'vitest';
import { ATTENTION_CASES, attentionInputs, expectAttention, expectRope, ROPE_CASES, ropeInputs } from '../kernels/cases.ts';
import { expectClose } from '../helpers.ts';
import { kernels, place, read, untouched } from './setup.ts';

type Case = (typeof ATTENTION_CASES)[number] & { threads: number };
const CASES: Case[] = ATTENTION_CASES.flatMap((c) => [1, 2].map((threads) => ({ ...c, threads })));

/** The case's q | k | v rows and caches placed in the kernels' memory, this step's keys and values appended. */
async function appended(c: Case) {
  const { T, nHead, nKVHead, headDim, nCtx } = c;
  const k = await kernels(c.threads);
  const inputs = attentionInputs(c);
  const { S, C, stride, qkv, kCache, vCache, kAppend, vAppend } = inputs;
  const qkvT = place(k, 'f32', [T, stride], qkv, 'qkv');
  const kT = place(k, 'f32', [nKVHead, nCtx, headDim], kCache, 'kCache');
  const vT = place(k, 'f32', [nKVHead, nCtx, headDim], vCache, 'vCache');
  k.kvAppend(kT, qkvT, kAppend);
  k.kvAppend(vT, qkvT, vAppend);
  const outputs = () => [place(k, 'f32', [nHead, T, S], undefined, 'scores'), place(k, 'f32', [T, C], undefined, 'z')] as const;
  return { k, inputs, qkvT, kT, vT, outputs };
}

describe('wasm attention (kv append, scores, softmax, values) over a KV cache', () => {
  // on 2 threads the heads are split between them (every job is split in these tests, see setup.ts)
  it.each(CASES)('matches the CPU reference: $name, $threads thread(s)', async (c) => {
    const { k, inputs, qkvT, kT, vT, outputs } = await appended(c);
    const { o } = inputs;
    const [scoresT, zT] = outputs();
    const kGot = read(k, kT);
    k.attentionScores(scoresT, qkvT, kT, o);
    const scores = read(k, scoresT);
    k.softmax(scoresT, c.nHead * c.T, inputs.S);
    const pattern = read(k, scoresT);
    k.attentionValues(zT, scoresT, vT, o);
    const z = read(k, zT);

    // the appended cache, bit for bit (NaN where no position has been written yet)
    expect([...kGot]).toEqual([...inputs.ref.kCache]);
    for (const t of [kT, vT, scoresT, zT]) expect(untouched(k, t), `wrote past ${t.label}`).toBe(true);
    expectAttention(c, inputs, { scores, pattern, z });
  });

  // the fused step's attention: the three kernels in one job, each thread taking a head's scores, softmax and z
  it.each(CASES)('in one job (attention) gives the bits of the three kernels: $name, $threads thread(s)', async (c) => {
    const { k, inputs, qkvT, kT, vT, outputs } = await appended(c);
    const { o } = inputs;
    const [scores3, z3] = outputs();
    k.attentionScores(scores3, qkvT, kT, o);
    k.softmax(scores3, c.nHead * c.T, inputs.S);
    k.attentionValues(z3, scores3, vT, o);
    const [scores1, z1] = outputs();
    k.attention(z1, scores1, qkvT, kT, vT, o);
    expect([...read(k, z1)]).toEqual([...read(k, z3)]);
    expect([...read(k, scores1)], 'the pattern').toEqual([...read(k, scores3)]);
    for (const t of [scores1, z1]) expect(untouched(k, t), `wrote past ${t.label}`).toBe(true);
    expectClose(read(k, z1), inputs.ref.z, { rtol: 1e-4, atol: 1e-6 }, 'z against the float64 reference');
  });

  it('refuses a context that is full and heads that do not group evenly', async () => {
    const k = await kernels();
    const t = k.arena.alloc('f32', [4096], 't');
    expect(() => k.kvAppend(t, t, { T: 3, pos0: 10, nKVHead: 1, headDim: 4, nCtx: 12, srcStride: 4, srcOffset: 0 })).toThrow(/the context is full/);
    const o = { T: 1, pos0: 0, nHead: 5, nKVHead: 2, headDim: 2, nCtx: 4, qStride: 10, qOffset: 0, scale: 1 };
    expect(() => k.attentionScores(t, t, t, o)).toThrow(/cannot share/);
  });
});

describe('wasm rope', () => {
  it.each(ROPE_CASES)('matches the CPU reference: $name', async (c) => {
    const k = await kernels();
    const inputs = ropeInputs(c);
    const { o, x, invFreq } = inputs;
    const xt = place(k, 'f32', [o.T, o.stride], x, 'x');
    k.rope(xt, place(k, 'f32', [c.rotaryDim / 2], invFreq, 'invFreq'), o);
    expectRope(inputs, read(k, xt));
    expect(untouched(k, xt)).toBe(true);
  });
});
