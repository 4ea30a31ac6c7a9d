// Whole models on WebGPU with q8 and q4 weights, against the float64 CPU reference run on the same dequantized
// parameters (roundGPT2Params / roundLlamaParams): every matrix, the embedding tables and the LM head included,
// is quantized on the GPU, and what the GPU computes from it must be what the reference computes from the
// dequantized values, up to f32 rounding. Widths are not multiples of 32, so rows end in part blocks.
import { describe, expect, it } from 'vitest';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2, roundGPT2Params } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource, roundLlamaParams } from '../../src/model/llama.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { Rng } from '../../src/random.ts';
import { gpt2ForwardReference } from '../../src/reference/gpt2.ts';
import { llamaForwardReference } from '../../src/reference/llama.ts';
import { argmax } from '../../src/sampling/logprobs.ts';
import { lmHeadFusedOn } from '../../src/kernels/fused.ts';
import type { Gpu } from '../../src/gpu/device.ts';
import { expectClose, gpu, hardwareGpu } from '../helpers.ts';

const gpt2Config: GPT2Config = {
  arch: 'gpt2', vocabSize: 101, nPositions: 40, nEmbd: 48, nLayer: 2, nHead: 3, nInner: 100,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 100, eosTokenId: 100,
};
const llamaConfig: LlamaConfig = {
  arch: 'llama', variant: 'llama', maxPositionEmbeddings: 40, nLayer: 2, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
  slidingWindow: null, qkvBias: false, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
  vocabSize: 83, hiddenSize: 44, intermediateSize: 70, nHead: 4, nKVHead: 2, headDim: 10, rotaryDim: 10, tieWordEmbeddings: false,
};

// As for f32 and f16 (test/model/gpt2.test.ts): f32 rounding through the stack, the weights being the same values.
const F32_TOL = { rtol: 1e-4, atol: 1e-4 };
const FORMATS = ['q8', 'q4'] as const;

interface Arch {
  V: number;
  make(format: 'q8' | 'q4', adapter?: () => Promise<Gpu>): Promise<{ model: LanguageModel; reference: (ids: number[]) => Float64Array }>;
}

const ARCHS: Record<string, Arch> = {
  gpt2: {
    V: gpt2Config.vocabSize,
    async make(format, adapter = gpu) {
      const params = randomGPT2Params(gpt2Config, 21);
      const rounded = roundGPT2Params(params, format);
      return { model: new GPT2(await adapter(), gpt2Config, params, format), reference: (ids) => gpt2ForwardReference(rounded, ids) };
    },
  },
  llama: {
    V: llamaConfig.vocabSize,
    async make(format, adapter = gpu) {
      const params = randomLlamaParams(llamaConfig, 21);
      const rounded = roundLlamaParams(params, format);
      return { model: new Llama(await adapter(), llamaConfig, llamaParamSource(params), { weights: format }), reference: (ids) => llamaForwardReference(rounded, ids) };
    },
  },
};

const cases = Object.keys(ARCHS).flatMap((arch) => FORMATS.map((format) => [arch, format] as const));

describe.each(cases)('%s with %s weights on WebGPU', (arch, format) => {
  const { V, make } = ARCHS[arch]!;
  const ids = Array.from({ length: 23 }, (_, i) => new Rng(i + 1).int(0, V - 2));
  const lastRow = (all: Float64Array, T: number) => all.subarray((T - 1) * V, T * V);

  it('matches the CPU reference on the dequantized weights: a prefill, then decode steps through the KV cache', async () => {
    const { model, reference } = await make(format);
    const expected = reference(ids);
    expectClose((await model.forward(ids, 0, { allLogits: true })).logits, expected, F32_TOL, 'all logits');
    expectClose((await model.forward(ids.slice(0, 17), 0)).logits, lastRow(expected, 17), F32_TOL, 'prefill');
    for (let t = 17; t < 23; t++) {
      for (const fused of [true, false]) {
        const { logits } = await model.forward([ids[t]!], t, { fused });
        expectClose(logits, lastRow(expected, t + 1), F32_TOL, `decode at ${t}, fused ${fused}`);
      }
    }
    model.destroy();
  });

  it('decodes as the reference on the kernels a GPU runs, the final norm and the LM head as one (lmHead)', async () => {
    const { model, reference } = await make(format, hardwareGpu);
    expect(lmHeadFusedOn(model.gpu)).toBe(true);
    const expected = reference(ids);
    await model.forward(ids.slice(0, 17), 0);
    for (let t = 17; t < 23; t++) {
      const { logits, dispatches } = await model.forward([ids[t]!], t);
      expectClose(logits, lastRow(expected, t + 1), F32_TOL, `decode at ${t}`);
      expect(dispatches, 'embed, 4 a block, lmHead').toBe(4 * model.dims.nLayer + 2);
    }
    model.destroy();
  });

  it('decodes the same greedy tokens on the fused and the unfused path', async () => {
    const { model } = await make(format);
    const prompt = [5, 17, 42, 8];
    const tokens: number[][] = [];
    for (const fused of [true, false]) {
      const out: number[] = [];
      let { logits } = await model.forward(prompt, 0, { fused });
      for (let i = 0; i < 12; i++) {
        out.push(argmax(logits));
        ({ logits } = await model.forward([out.at(-1)!], prompt.length + i, { fused }));
      }
      tokens.push(out);
    }
    expect(tokens[0]).toEqual(tokens[1]);
    model.destroy();
  });
});

describe.each(FORMATS)('llama with %s weights split across storage bindings', (format) => {
  it('still matches with every matrix in quantized row chunks, the embedding gathered across them', async () => {
    // 1500 bytes (a context of 16 keeps the KV cache within it): the [V, C] tables become 3-5 chunks of whole
    // quantized rows, each with its own scales region, and gate_up 4-7
    const params = randomLlamaParams(llamaConfig, 22);
    const model = new Llama(await gpu(), llamaConfig, llamaParamSource(params), { weights: format, maxBindingBytes: 1500, contextLength: 16 });
    const V = llamaConfig.vocabSize;
    const ids = Array.from({ length: 14 }, (_, i) => new Rng(i + 50).int(0, V - 1));
    const expected = llamaForwardReference(roundLlamaParams(params, format), ids);
    expectClose((await model.forward(ids, 0, { allLogits: true })).logits, expected, F32_TOL, 'all logits');
    await model.forward(ids.slice(0, 13), 0);
    expectClose((await model.forward([ids[13]!], 13)).logits, expected.subarray(13 * V), F32_TOL, 'decode');
    model.destroy();
  });
});

describe('quantized weight bytes on WebGPU', () => {
  it('are the bytes of the blocks and scales, about 0.28x (q8) and 0.16x (q4) of f32 for the matrices', async () => {
    const params = randomGPT2Params(gpt2Config, 3);
    const bytes: Record<string, number> = {};
    for (const format of ['f32', 'q8', 'q4'] as const) {
      const model = new GPT2(await gpu(), gpt2Config, params, format);
      bytes[format] = model.gpuBytes().weights;
      model.destroy();
    }
    // norms and biases stay f32; the matrices are [V, C], [P, C] and per block [3C, C], [C, C], [I, C], [C, I]
    const { vocabSize: V, nPositions: P, nEmbd: C, nInner: I, nLayer: L } = gpt2Config;
    const matrices: [number, number][] = [[V, C], [P, C], ...Array.from({ length: L }, () => [[3 * C, C], [C, C], [I, C], [C, I]] as [number, number][]).flat()];
    const f32Matrices = matrices.reduce((n, [r, c]) => n + 4 * r * c, 0);
    const others = bytes.f32! - f32Matrices;
    // a row of c values: ceil(c / 32) blocks of 36 (q8) or 20 (q4) bytes, each matrix padded to 16 bytes
    const quantBytes = (perBlock: number) => matrices.reduce((n, [r, c]) => n + Math.ceil((r * Math.ceil(c / 32) * perBlock) / 16) * 16, 0);
    expect(bytes.q8).toBe(others + quantBytes(36));
    expect(bytes.q4).toBe(others + quantBytes(20));
  });
});
