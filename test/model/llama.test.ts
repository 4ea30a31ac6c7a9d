// Tiny random Llama, Mistral, Qwen2 and Phi-3 models, written to disk in Hugging Face format and loaded back,
// against the float64 CPU reference: every position's logits for several prompt lengths, prefill then decode
// through the KV cache, f16 weights, prompts longer than one step, and weights split across storage bindings.
import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTensor, readF32, uploadTensor } from '../../src/gpu/buffers.ts';
import { Recorder } from '../../src/gpu/recorder.ts';
import { openCheckpoint } from '../../src/loading/checkpoint.ts';
import { nodeModelFiles } from '../../src/loading/files.ts';
import { parseConfig, type LlamaConfig } from '../../src/model/config.ts';
import { Llama, llamaParamSource, readLlamaParams, roundLlamaParams, type LlamaParams } from '../../src/model/llama.ts';
import { loadModel } from '../../src/model/load.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { llamaConfigJson, randomLlamaParams, writeLlamaFolder } from '../../src/model/random-llama.ts';
import { splitEmbed, splitMatmul, uploadSplitMatrix, createGatherBuffers } from '../../src/model/split-weights.ts';
import { Rng } from '../../src/random.ts';
import { generate } from '../../src/generate.ts';
import { hookedModel } from '../../src/hooks/index.ts';
import { openModel } from '../../src/runtime.ts';
import { chatPrompt } from '../../src/tokenizer/chat.ts';
import { HfTokenizer } from '../../src/tokenizer/hf.ts';
import { llamaForwardReference, llamaGreedyReference } from '../../src/reference/llama.ts';
import { device, DEVICE_KINDS, expectClose, gpu, randomArray } from '../helpers.ts';
import { argmax } from '../../src/sampling/logprobs.ts';

const common = {
  arch: 'llama' as const,
  maxPositionEmbeddings: 40,
  nLayer: 2,
  ropeTheta: 10000,
  ropeScaling: null,
  rmsNormEps: 1e-5,
  slidingWindow: null as number | null,
  qkvBias: false,
  oBias: false,
  mlpBias: false,
  bosTokenId: 1,
  eosTokenIds: [2],
};

// Odd sizes on purpose: head counts of 3 and 5 over one KV head, vocabularies and widths that are not powers of two.
const CONFIGS: Record<string, LlamaConfig> = {
  // head_dim 12 with 3 heads over hidden_size 40 (head_dim is not C / NH), llama3 RoPE scaling, separate lm_head
  llama: {
    ...common,
    variant: 'llama',
    vocabSize: 97,
    hiddenSize: 40,
    intermediateSize: 56,
    nHead: 3,
    nKVHead: 1,
    headDim: 12,
    rotaryDim: 12,
    // wavelengths 2 pi / inv_freq of about 6, 29, 135, 628, 2918 and 13535 positions: one in the blended band
    // (4..16 positions), the rest slowed down by the factor
    ropeScaling: { type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
    tieWordEmbeddings: false,
  },
  // linear RoPE scaling, 4 heads over 2 KV heads
  mistral: {
    ...common,
    variant: 'mistral',
    vocabSize: 83,
    hiddenSize: 32,
    intermediateSize: 48,
    nHead: 4,
    nKVHead: 2,
    headDim: 8,
    rotaryDim: 8,
    ropeScaling: { type: 'linear', factor: 2 },
    tieWordEmbeddings: false,
  },
  // q/k/v biases, 6 heads over 2 KV heads, LM head tied to the embeddings
  qwen2: {
    ...common,
    variant: 'qwen2',
    vocabSize: 101,
    hiddenSize: 48,
    intermediateSize: 80,
    nHead: 6,
    nKVHead: 2,
    headDim: 8,
    rotaryDim: 8,
    ropeTheta: 1e6,
    rmsNormEps: 1e-6,
    qkvBias: true,
    tieWordEmbeddings: true,
  },
  // fused qkv_proj and gate_up_proj, 5 heads over 1 KV head, half of each head rotated (partial_rotary_factor 0.5)
  phi3: {
    ...common,
    variant: 'phi3',
    vocabSize: 89,
    hiddenSize: 60,
    intermediateSize: 64,
    nHead: 5,
    nKVHead: 1,
    headDim: 12,
    rotaryDim: 6,
    slidingWindow: 2047,
    tieWordEmbeddings: false,
  },
};

// Logits are O(10) after two layers of f32 arithmetic; the tolerance allows f32 rounding through the stack (about
// 1e-6 relative per op, over a few hundred accumulations) with room to spare, as in the GPT-2 test.
const F32_TOL = { rtol: 1e-4, atol: 1e-4 };

function randomIds(rng: Rng, n: number, V: number): number[] {
  return Array.from({ length: n }, () => rng.int(0, V - 1));
}

function lastRow(all: Float64Array, T: number, V: number): Float64Array {
  return all.subarray((T - 1) * V, T * V);
}

async function writeFolder(params: LlamaParams, name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `wgpt-${name}-`));
  await writeLlamaFolder(dir, params);
  return dir;
}

describe.each(DEVICE_KINDS.flatMap((kind) => Object.keys(CONFIGS).map((variant) => [variant, kind] as const)))('%s forward pass against the CPU reference on %s', (variant, kind) => {
  const config = CONFIGS[variant]!;
  const V = config.vocabSize;
  let params: LlamaParams;
  let model: LanguageModel;
  let dir: string;

  beforeAll(async () => {
    params = randomLlamaParams(config, 7);
    dir = await writeFolder(params, variant);
    model = await loadModel(await device(kind), nodeModelFiles(dir));
  });
  afterAll(() => model?.destroy());

  it('its config.json reads back as the same config, and its checkpoint as the same parameters', async () => {
    expect(parseConfig(llamaConfigJson(config))).toEqual(config);
    expect(readLlamaParams(await openCheckpoint(nodeModelFiles(dir)), config)).toEqual(params);
  });

  it.each([1, 6, 17, 40])('logits of every position match for a %i-token prompt (40 = full context)', async (T) => {
    const ids = randomIds(new Rng(T), T, V);
    const { logits } = await model.forward(ids, 0, { allLogits: true });
    expectClose(logits, llamaForwardReference(params, ids), F32_TOL, `logits T=${T}`);
  });

  it('prefill then decode through the KV cache matches recomputing everything', async () => {
    const ids = randomIds(new Rng(99), 24, V);
    const reference = llamaForwardReference(params, ids);
    // a 9-token prefill, a 5-token chunk, then single tokens
    let out = await model.forward(ids.slice(0, 9), 0);
    expectClose(out.logits, lastRow(reference, 9, V), F32_TOL, 'after prefill');
    out = await model.forward(ids.slice(9, 14), 9);
    expectClose(out.logits, lastRow(reference, 14, V), F32_TOL, 'after a chunk');
    for (let t = 14; t < 24; t++) {
      out = await model.forward([ids[t]!], t);
      expectClose(out.logits, lastRow(reference, t + 1, V), F32_TOL, `decode at position ${t}`);
    }
  });
});

describe.each(DEVICE_KINDS)('Llama generation on %s', (kind) => {
  const config = CONFIGS.llama!;
  it('greedy decoding of 16 tokens is the same with the KV cache, without it, and on the CPU', async () => {
    const params = randomLlamaParams(config, 3);
    const model = new Llama(await device(kind), config, llamaParamSource(params));
    const prompt = [5, 17, 42, 8];
    const expected = llamaGreedyReference(params, prompt, 16);

    const cached: number[] = [];
    let { logits } = await model.forward(prompt, 0);
    for (let i = 0; i < 16; i++) {
      const id = argmax(logits);
      cached.push(id);
      if (i < 15) ({ logits } = await model.forward([id], prompt.length + i));
    }
    const uncached: number[] = [];
    const seq = [...prompt];
    for (let i = 0; i < 16; i++) {
      const id = argmax((await model.forward(seq, 0)).logits);
      uncached.push(id);
      seq.push(id);
    }
    expect(cached).toEqual(expected);
    expect(uncached).toEqual(expected);
    model.destroy();
  });

  it('rejects positions past the context and ids outside the vocabulary', async () => {
    const model = new Llama(await device(kind), config, llamaParamSource(randomLlamaParams(config, 4)));
    await expect(model.forward([1, 2], 39)).rejects.toThrow(/context of 40/);
    await expect(model.forward([97], 0)).rejects.toThrow(/vocabulary/);
    model.destroy();
  });
});

describe.each(DEVICE_KINDS)('the RoPE angle scale (ForwardOptions.ropeAngleScale, the boost-positions lab) on %s', (kind) => {
  // the llama config: llama3-scaled frequencies, then every angle scaled on top
  const config = CONFIGS.llama!;
  const V = config.vocabSize;
  it('matches the CPU reference with the same scale, through the KV cache too; scale 1 is the plain run', async () => {
    const params = randomLlamaParams(config, 19);
    const model = new Llama(await device(kind), config, llamaParamSource(params));
    const ids = randomIds(new Rng(21), 14, V);
    const plain = (await model.forward(ids, 0, { allLogits: true })).logits;
    for (const scale of [2.5, -0.75]) {
      const reference = llamaForwardReference(params, ids, undefined, { ropeAngleScale: scale });
      const { logits } = await model.forward(ids, 0, { allLogits: true, ropeAngleScale: scale });
      expectClose(logits, reference, F32_TOL, `logits x${scale}`);
      expect(logits.some((x, i) => Math.abs(x - plain[i]!) > 1e-2), `scale ${scale} changes the logits`).toBe(true);
      // the cache holds keys rotated by the scaled angles: a hooked model passes the scale to the prefill and to
      // every decode step, as generation in the lab runs it
      const scaled = hookedModel(model, [], { ropeAngleScale: scale });
      expectClose((await scaled.forward(ids.slice(0, 9), 0)).logits, lastRow(reference, 9, V), F32_TOL, `prefill x${scale}`);
      for (let t = 9; t < 14; t++) {
        expectClose((await scaled.forward([ids[t]!], t)).logits, lastRow(reference, t + 1, V), F32_TOL, `decode at ${t} x${scale}`);
      }
    }
    // the model's own frequencies are untouched: scale 1, or no scale, after scaled runs is the plain run, bit for bit
    expect((await model.forward(ids, 0, { allLogits: true, ropeAngleScale: 1 })).logits).toEqual(plain);
    expect((await model.forward(ids, 0, { allLogits: true })).logits).toEqual(plain);
    expectClose(plain, llamaForwardReference(params, ids, undefined, { ropeAngleScale: 1 }), F32_TOL, 'scale 1');
    await expect(model.forward(ids, 0, { ropeAngleScale: NaN })).rejects.toThrow(/finite/);
    model.destroy();
  });
});

describe.each(DEVICE_KINDS)('Llama-style models with packed f16 weights on %s', (kind) => {
  it.each(['qwen2', 'phi3'])('%s matches the CPU reference run on the same f16-rounded weights', async (variant) => {
    const config = CONFIGS[variant]!;
    const params = randomLlamaParams(config, 11);
    const model = await loadModel(await device(kind), nodeModelFiles(await writeFolder(params, `${variant}-f16`)), { weights: 'f16' });
    const ids = randomIds(new Rng(3), 17, config.vocabSize);
    const { logits } = await model.forward(ids, 0, { allLogits: true });
    expectClose(logits, llamaForwardReference(roundLlamaParams(params, 'f16'), ids), F32_TOL, 'f16 logits');
    model.destroy();
  });
});

describe.each(DEVICE_KINDS)('prompts longer than one step on %s', (kind) => {
  it('are prefilled in steps of maxStepTokens, each reading the cache the previous ones wrote', async () => {
    const config = CONFIGS.phi3!;
    const params = randomLlamaParams(config, 5);
    const model = new Llama(await device(kind), config, llamaParamSource(params), { maxStepTokens: 4 });
    expect(model.maxStepTokens).toBe(4);
    const ids = randomIds(new Rng(8), 19, config.vocabSize);
    const reference = llamaForwardReference(params, ids);
    expectClose((await model.forward(ids, 0, { allLogits: true })).logits, reference, F32_TOL, 'all logits in steps of 4');
    // a 10-token prefill (steps of 4, 4, 2), then decode
    expectClose((await model.forward(ids.slice(0, 10), 0)).logits, lastRow(reference, 10, config.vocabSize), F32_TOL, 'prefill');
    for (let t = 10; t < 19; t++) {
      expectClose((await model.forward([ids[t]!], t)).logits, lastRow(reference, t + 1, config.vocabSize), F32_TOL, `decode at ${t}`);
    }
    model.destroy();
  });
});

describe('weights larger than one storage binding', () => {
  it('split into row chunks: matmul writes each chunk into its columns, embedding gathers rows across chunks', async () => {
    const { device } = await gpu();
    const rng = new Rng(21);
    const N = 150; // rows (vocabulary)
    const K = 36;
    const M = 5;
    const w = randomArray(rng, N * K);
    const bias = randomArray(rng, N, 0.1);
    const a = randomArray(rng, M * K);
    // 2000 bytes hold 13 rows of 36 floats: 150 rows become 12 balanced chunks of at most 13
    const split = uploadSplitMatrix(device, w, bias, N, K, 'f32', 2000, 'w');
    expect(split.chunks.length).toBe(12);
    expect(split.chunks.map((c) => c.rows).reduce((x, y) => x + y)).toBe(N);

    const out = createTensor(device, 'f32', [M, N], 'out');
    const scratch = createTensor(device, 'f32', [M, 13], 'scratch');
    const aTensor = uploadTensor(device, 'f32', [M, K], a, 'a');
    const ids = [149, 0, 13, 77, 77, 12];
    const idsTensor = uploadTensor(device, 'u32', [ids.length], Uint32Array.from(ids), 'ids');
    const embedded = createTensor(device, 'f32', [ids.length, K], 'embedded');
    const rec = new Recorder(await gpu());
    splitMatmul(rec, out, aTensor, split, M, scratch, { label: 'split' });
    splitEmbed(rec, embedded, idsTensor, ids, split, createGatherBuffers(device, split, ids.length));
    await rec.submit();

    const expected = new Float64Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let sum = bias[n]!;
        for (let k = 0; k < K; k++) sum += a[m * K + k]! * w[n * K + k]!;
        expected[m * N + n] = sum;
      }
    }
    expectClose(await readF32(device, out), expected, F32_TOL, 'split matmul');
    const rows = ids.flatMap((id) => [...w.subarray(id * K, (id + 1) * K)]);
    expect([...(await readF32(device, embedded))]).toEqual(rows);
  });

  it.each([
    ['qwen2', 'the tied embedding / LM head table'],
    ['phi3', 'a separate LM head and the fused projections'],
  ])('%s: the model with %s split still matches the CPU reference', async (variant) => {
    const config = CONFIGS[variant]!;
    const params = randomLlamaParams(config, 13);
    // 8000 bytes: the [V, C] table (~20 KB) becomes 3 chunks and most projections 2-4; Tc drops to what fits too
    const model = new Llama(await gpu(), config, llamaParamSource(params), { maxBindingBytes: 8000 });
    expect(model.maxStepTokens).toBeLessThan(40);
    const ids = randomIds(new Rng(4), 23, config.vocabSize);
    const reference = llamaForwardReference(params, ids);
    expectClose((await model.forward(ids, 0, { allLogits: true })).logits, reference, F32_TOL, 'all logits');
    expectClose((await model.forward(ids.slice(0, 20), 0)).logits, lastRow(reference, 20, config.vocabSize), F32_TOL, 'prefill');
    for (let t = 20; t < 23; t++) {
      expectClose((await model.forward([ids[t]!], t)).logits, lastRow(reference, t + 1, config.vocabSize), F32_TOL, `decode at ${t}`);
    }
    model.destroy();
  });
});

describe('Llama-style folders that do not match their config', () => {
  it('an untied model without lm_head.weight, or with wrong shapes, gives a clear ModelShapeError', async () => {
    const config = CONFIGS.llama!;
    const params = randomLlamaParams(config, 2);
    const noHead = await writeFolder({ ...params, lm_head: null }, 'llama-nohead');
    await expect(loadModel(await gpu(), nodeModelFiles(noHead))).rejects.toMatchObject({
      name: 'ModelShapeError',
      message: expect.stringMatching(/no lm_head\.weight and config\.json says tie_word_embeddings is false/),
    });
    const dir = await writeFolder(params, 'llama-wide');
    await writeFile(join(dir, 'config.json'), JSON.stringify(llamaConfigJson({ ...config, intermediateSize: 64 })));
    await expect(loadModel(await gpu(), nodeModelFiles(dir))).rejects.toMatchObject({
      name: 'ModelShapeError',
      message: expect.stringMatching(/model\.layers\.0\.mlp\.gate_proj\.weight has shape \[56,40\] but config\.json implies \[64,40\]/),
    });
  });

  it('a context longer than max_position_embeddings or the sliding window is refused', async () => {
    const g = await gpu();
    const llama = llamaParamSource(randomLlamaParams(CONFIGS.llama!, 1));
    expect(() => new Llama(g, CONFIGS.llama!, llama, { contextLength: 41 })).toThrow(/longer than the model's max_position_embeddings \(40\)/);
    const phi3 = { ...CONFIGS.phi3!, slidingWindow: 16 };
    expect(() => new Llama(g, phi3, llamaParamSource(randomLlamaParams(phi3, 1)), { contextLength: 20 })).toThrow(/sliding_window \(16\)/);
    // the scores of one token [NH, 1, P] = 3 x 40 floats do not fit a 400-byte binding
    expect(() => new Llama(g, CONFIGS.llama!, llama, { maxBindingBytes: 400 })).toThrow(/storage binding limit \(400 bytes\): lower the context length/);
    const capped = new Llama(g, phi3, llamaParamSource(randomLlamaParams(phi3, 1)));
    expect(capped.nCtx).toBe(16);
    capped.destroy();
  });
});

describe('a Llama-style model folder end to end', () => {
  // GPT-2's real tokenizer.json plus ChatML's two special tokens, beside a tiny Qwen2 with that vocabulary
  const GPT2_DIR = '/work/shared/data/gpt2-tokenizer';
  const CHATML =
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}" +
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  const config: LlamaConfig = { ...CONFIGS.qwen2!, vocabSize: 50259, hiddenSize: 16, intermediateSize: 24, nLayer: 1, nHead: 4, nKVHead: 2, headDim: 4, rotaryDim: 4 };

  async function folder(withTokenizer: boolean): Promise<{ dir: string; params: LlamaParams }> {
    const params = randomLlamaParams(config, 17);
    const dir = await writeFolder(params, 'qwen2-chat');
    if (withTokenizer) {
      const tokenizer = JSON.parse(readFileSync(join(GPT2_DIR, 'tokenizer.json'), 'utf8')) as { added_tokens: object[] };
      const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
      tokenizer.added_tokens.push(special(50257, '<|im_start|>'), special(50258, '<|im_end|>'));
      await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
      await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ eos_token: '<|im_end|>', chat_template: CHATML }));
    }
    return { dir, params };
  }

  it('openModel reads tokenizer.json, and a chat reply is the CPU reference\'s greedy continuation', async () => {
    const { dir, params } = await folder(true);
    const { model, tokenizer } = await openModel(dir);
    expect(tokenizer).toBeInstanceOf(HfTokenizer);
    const { ids, stop } = chatPrompt(tokenizer, 'Hello!');
    expect(ids.slice(0, 4)).toEqual([50257, 7220, 198, 15496]); // <|im_start|> user \n Hello
    const result = await generate(model, tokenizer, ids, { maxNewTokens: 5, temperature: 0, stop, stopAtEos: false });
    expect(result.tokens).toEqual(llamaGreedyReference(params, ids, 5));
    expect(result.text).toBe(tokenizer.decode(result.tokens));
    model.destroy();
  });

  it('a folder without tokenizer.json is refused before the weights are loaded', async () => {
    const { dir } = await folder(false);
    await expect(openModel(dir)).rejects.toMatchObject({ name: 'UserError', message: expect.stringMatching(/has no tokenizer\.json/) });
  });
});
