// Whole tiny models on the WebAssembly backend with q8 and q4 weights, against the float64 CPU reference run on the
// same weights quantized and dequantized (roundGPT2Params / roundLlamaParams): a prompt's logits, decoding through
// the KV cache, the weight bytes the backend reports, and hook_result (which reads the dequantized weights).
import { describe, expect, it } from 'vitest';
import { roundActivations } from '../../src/backend/wasm/kernels.ts';
import type { HookFn, HookView } from '../../src/hooks/hooks.ts';
import { CpuHooks, runWithCache } from '../../src/hooks/index.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2, roundGPT2Params } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource, roundLlamaParams } from '../../src/model/llama.ts';
import type { LanguageModel, WeightFormat } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { quantWords } from '../../src/quant.ts';
import { Rng } from '../../src/random.ts';
import { gpt2ForwardReference } from '../../src/reference/gpt2.ts';
import { llamaForwardReference } from '../../src/reference/llama.ts';
import { device, expectClose } from '../helpers.ts';

// Odd sizes: C = 48 and 40 are one and a half and one and a quarter blocks of 32, the MLP widths not multiples of 32.
const gpt2Config: GPT2Config = {
  arch: 'gpt2', vocabSize: 101, nPositions: 40, nEmbd: 48, nLayer: 2, nHead: 3, nInner: 150,
  layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 100, eosTokenId: 100,
};
const llamaConfig: LlamaConfig = {
  arch: 'llama', variant: 'llama', maxPositionEmbeddings: 40, nLayer: 2, ropeTheta: 10000, ropeScaling: null, rmsNormEps: 1e-5,
  slidingWindow: null, qkvBias: true, oBias: false, mlpBias: false, bosTokenId: 1, eosTokenIds: [2],
  vocabSize: 97, hiddenSize: 40, intermediateSize: 70, nHead: 4, nKVHead: 2, headDim: 10, rotaryDim: 10, tieWordEmbeddings: false,
};

// The q kernels round each block of 32 activations before the integer dot products (assembly/matmul_q.ts): q8 to
// int16, by up to 1.5e-5 of the block's largest value, where f32 rounding is 6e-8. Measured on these models, that
// leaves the activations within 2e-5 to 2e-4 of their largest value layer by layer, and the logits within 3.5e-3 of
// the reference's (logits up to 11). So the allowance is 1e-3 plus 5e-4 of the largest reference logit, rather
// than f32 weights' 1e-4 (test/model): still far below what the quantized weights themselves change (checked below:
// over 0.05) and what a wrong scale or a misread block would give. q4 rounds to int8, 127 levels of the block's
// largest (up to 4e-3 of it), which on these random models moves logits by up to 0.3: its reference rounds the
// inputs of every q4 matmul the same way (roundsAsQ4), and the same allowance covers what is left, f32 rounding.
function quantTolerance(ref: ArrayLike<number>, format: 'q8' | 'q4' = 'q8') {
  let max = 0;
  for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ref[i]!));
  return { rtol: 0, atol: 1e-3 + (format === 'q4' ? Q4_FLIPS : 5e-4) * max };
}

// A q4 input within f32 rounding of a tie between two of its 127 levels can round one way in the kernel and the
// other in the float64 reference: a whole level, 1/127 of its block's largest. Measured on these models, the few
// such values in a 23-token run move logits by up to 1.5e-2 (q4 Llama, logits up to 11); 2e-3 of the largest logit.
const Q4_FLIPS = 2e-3;

/** The hook points whose values are the inputs of a model's q4 matmuls (attn.hook_z: the output projection's). */
const Q4_INPUTS = ['ln1.hook_normalized', 'attn.hook_z', 'ln2.hook_normalized', 'mlp.hook_post'];

/**
 * A reference hook that rounds the inputs of the q4 matmuls as the kernels do (roundActivations) and then calls
 * `next`. hook_result's projection
 * reads the dequantized weights in f32: where it is asked for, hook_z is left as it is.
 */
function roundsAsQ4(next: HookFn<Float64Array> | undefined): HookFn<Float64Array> {
  const rounds = (name: string) => name === 'ln_final.hook_normalized' || Q4_INPUTS.some((h) => name.endsWith(`.${h}`));
  return Object.assign(
    (name: string, x: Float64Array, view: HookView) => {
      const hidesZ = name.endsWith('.attn.hook_z') && next?.wants(name.replace('hook_z', 'hook_result'));
      if (rounds(name) && !hidesZ) roundActivations('q4', x, view.rows, view.cols, view.rowStride, view.offset);
      next?.(name, x, view);
    },
    { wants: (name: string) => next?.wants(name) ?? false },
  );
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}

interface Case {
  name: string;
  load: (format: WeightFormat) => Promise<{ model: LanguageModel; reference: (ids: number[], hooks?: CpuHooks) => Float64Array; f32Bytes?: number; quantBytes?: (f: 'q8' | 'q4') => number }>;
}

const cases: Case[] = [
  {
    name: 'GPT-2',
    load: async (format) => {
      const params = randomGPT2Params(gpt2Config, 7);
      const rounded = roundGPT2Params(params, format);
      const { nEmbd: C, nInner: I, vocabSize: V, nPositions: P, nLayer: L } = gpt2Config;
      const matrices: [number, number][] = [[V, C], [P, C], ...Array.from({ length: L }, () => [[3 * C, C], [C, C], [I, C], [C, I]] as [number, number][]).flat()];
      const vectors = L * (3 * C + C + I + C + 4 * C) + 2 * C; // biases and norms
      return {
        model: new GPT2(await device('wasm'), gpt2Config, params, format),
        reference: (ids, hooks) => gpt2ForwardReference(rounded, ids, format === 'q4' ? roundsAsQ4(hooks?.hook) : hooks?.hook),
        f32Bytes: 4 * (matrices.reduce((n, [r, c]) => n + r * c, 0) + vectors),
        quantBytes: (f) => 4 * (matrices.reduce((n, [r, c]) => n + quantWords(f, r, c), 0) + vectors),
      };
    },
  },
  {
    name: 'Llama',
    load: async (format) => {
      const params = randomLlamaParams(llamaConfig, 5);
      const rounded = roundLlamaParams(params, format);
      return {
        model: new Llama(await device('wasm'), llamaConfig, llamaParamSource(params), { weights: format }),
        reference: (ids, hooks) => llamaForwardReference(rounded, ids, format === 'q4' ? roundsAsQ4(hooks?.hook) : hooks?.hook),
      };
    },
  },
];

const formats = ['q8', 'q4'] as const;

describe.each(cases.flatMap((c) => formats.map((format) => ({ ...c, format }))))('a tiny $name with $format weights on wasm', ({ load, format }) => {
  it('matches the CPU reference run on the same quantized weights, prefill and decode', async () => {
    const { model, reference } = await load(format);
    try {
      const V = model.vocabSize;
      const ids = Array.from({ length: 23 }, (_, i) => new Rng(i + 1).int(0, V - 2));
      const { logits } = await model.forward(ids.slice(0, 20), 0, { allLogits: true });
      const ref = reference(ids);
      const tol = quantTolerance(ref, format);
      expectClose(logits, ref.subarray(0, 20 * V), tol, `${format} logits of a 20-token prompt`);
      for (let t = 20; t < 23; t++) {
        const step = await model.forward([ids[t]!], t);
        expectClose(step.logits, ref.subarray(t * V, (t + 1) * V), tol, `${format} logits decoding position ${t}`);
      }
      // the tolerance is not wide enough to hide the format: the unquantized model's logits fall outside it
      const f32 = (await load('f32')).reference(ids);
      expect(maxDiff(f32, ref)).toBeGreaterThan(Math.max(0.05, 10 * tol.atol));
    } finally {
      model.destroy();
    }
  });

  it('gives hook_result from the dequantized weights, as the reference', async () => {
    const { model, reference } = await load(format);
    try {
      const ids = [5, 22, 9, 40, 17, 3, 31];
      const names = ['blocks.1.attn.hook_result'];
      const { logits, cache } = await runWithCache(model, ids, names);
      const ref = new CpuHooks(new Set(names));
      const refLogits = reference(ids, ref);
      expectClose(logits, refLogits, quantTolerance(refLogits, format), 'logits');
      // z comes from the q kernels (rounded activations), the projection of each head from the dequantized weights
      const result = ref.cache.get(names[0]!)!.data;
      expectClose(cache.get(names[0]!)!.data, result, quantTolerance(result, format), 'hook_result');
    } finally {
      model.destroy();
    }
  });
});

describe.each(formats)('the weight bytes of a tiny GPT-2 with %s weights on wasm', (format) => {
  it('reports the bytes its weights take: each matrix as src/quant.ts lays it out, norms and biases in f32', async () => {
    const { model, f32Bytes, quantBytes } = await cases[0]!.load(format);
    const f32 = await cases[0]!.load('f32');
    try {
      expect(f32.model.gpuBytes().weights).toBe(f32Bytes);
      expect(model.gpuBytes().weights).toBe(quantBytes!(format));
    } finally {
      model.destroy();
      f32.model.destroy();
    }
  });
});
