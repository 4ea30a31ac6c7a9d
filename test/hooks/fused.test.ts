// Hooks keep their meaning on the fused path: a step (decode or prefill) whose run asks for a hook inside block l
// runs that block on the unfused kernels, so the hook sees what it sees on the unfused path and an intervention
// there has the same effect. Blocks before l ran fused, so their rounding differs: captures in block 0 (and the
// embedding) are compared bit for bit, later ones and the logits within f32 tolerance.
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generate.ts';
import { hookNames, type Intervention } from '../../src/hooks/index.ts';
import { lmHeadFusedOn } from '../../src/kernels/fused.ts';
import type { GPT2Config, LlamaConfig } from '../../src/model/config.ts';
import { GPT2 } from '../../src/model/gpt2.ts';
import { Llama, llamaParamSource } from '../../src/model/llama.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params } from '../../src/model/random.ts';
import { randomLlamaParams } from '../../src/model/random-llama.ts';
import { gpt2Tokenizer } from '../../src/tokenizer/gpt2.ts';
import { expectClose, gpu, hardwareGpu } from '../helpers.ts';
import { gpt2Config, llamaConfig, next, partialRotaryConfig, prompt, qkvBiasConfig, runHooked } from './fused-cases.ts';

const TOL = { rtol: 1e-4, atol: 1e-4 };

const llama = (config: LlamaConfig, adapter = gpu) => async () => new Llama(await adapter(), config, llamaParamSource(randomLlamaParams(config, 3)));
const models: [string, () => Promise<LanguageModel>][] = [
  ['gpt2', async () => new GPT2(await gpu(), gpt2Config, randomGPT2Params(gpt2Config, 3))],
  ['llama', llama(llamaConfig)],
  ['llama, partial rotary', llama(partialRotaryConfig)],
  ['llama, q|k|v bias', llama(qkvBiasConfig)],
  ['gpt2 (hardware versions)', async () => new GPT2(await hardwareGpu(), gpt2Config, randomGPT2Params(gpt2Config, 3))],
  ['llama (hardware versions)', llama(llamaConfig, hardwareGpu)],
];

/** Dispatches of a decode step outside the blocks: embed, then ln_f and lm_head, or the two as one (lmHead). */
const outsideBlocks = (model: LanguageModel) => (lmHeadFusedOn(model.gpu) ? 2 : 3);

describe.each(models)('%s on the fused path', (arch, make) => {
  it('records fewer dispatches a token, and decodes the same greedy tokens', async () => {
    const model = await make();
    const L = model.dims.nLayer;
    const counts = { fused: 0, unfused: 0 };
    const tokens: Record<string, number[]> = { fused: [], unfused: [] };
    for (const fused of [true, false]) {
      const key = fused ? 'fused' : 'unfused';
      let { logits } = await model.forward(prompt, 0, { fused });
      for (let t = 0; t < 10; t++) {
        const id = logits.indexOf(Math.max(...logits));
        tokens[key]!.push(id);
        const r = await model.forward([id], prompt.length + t, { fused });
        logits = r.logits;
        counts[key] = r.dispatches!;
      }
    }
    expect(tokens.fused).toEqual(tokens.unfused);
    // embed, ln_f, lm_head, and a block: GPT-2 14 unfused, Llama (RoPE) 16; both 4 fused (attention, its
    // projection and the add, the norm and MLP up, the MLP down and the add), and on a GPU ln_f + lm_head as one
    expect(counts.unfused).toBe(arch.startsWith('gpt2') ? 14 * L + 3 : 16 * L + 3);
    expect(counts.fused).toBe(4 * L + outsideBlocks(model));
    model.destroy();
  });

  it.each(['decode', 'prefill'] as const)('gives every hook the values it sees on the unfused path (%s)', async (phase) => {
    const model = await make();
    const names = hookNames(model.dims);
    for (const name of names) {
      const unfused = await runHooked(model, phase, false, [name]);
      const fused = await runHooked(model, phase, true, [name]);
      const first = !name.startsWith('blocks.') || name.startsWith('blocks.0.');
      if (first && name !== 'ln_final.hook_normalized' && name !== 'logits') expect([...fused.cache.get(name)!], name).toEqual([...unfused.cache.get(name)!]);
      else expectClose(fused.cache.get(name)!, unfused.cache.get(name)!, TOL, name);
      expectClose(fused.logits, unfused.logits, TOL, `logits with ${name}`);
      // the other blocks still ran fused
      if (name.startsWith('blocks.')) expect(fused.dispatches!, name).toBeLessThan(unfused.dispatches!);
    }
    model.destroy();
  });

  it.each(['decode', 'prefill'] as const)('gives every intervention the effect it has on the unfused path (%s)', async (phase) => {
    const model = await make();
    const clean = await runHooked(model, phase, true, []);
    const blockHooks = hookNames(model.dims).filter((n) => n.startsWith('blocks.1.'));
    for (const hook of blockHooks) {
      for (const iv of [{ hook, op: 'scale', factor: 0.5 }, { hook, op: 'zero' }, { hook, op: 'noise', sigma: 0.5, seed: 4 }] as Intervention[]) {
        const unfused = await runHooked(model, phase, false, [], [iv]);
        const fused = await runHooked(model, phase, true, [], [iv]);
        const what = `${iv.op} at ${hook}`;
        expectClose(fused.logits, unfused.logits, TOL, what);
        const moved = fused.logits.some((v, i) => Math.abs(v - clean.logits[i]!) > 1e-3);
        expect(moved, `${what} changes the logits`).toBe(true);
      }
    }
    model.destroy();
  });

  it('prefills in fewer dispatches, with the same logits', async () => {
    const model = await make();
    const L = model.dims.nLayer;
    const fused = await model.forward(prompt, 0);
    const unfused = await model.forward(prompt, 0, { fused: false });
    // the norms, GELU or SwiGLU and the residual adds go into the matmuls: 5 dispatches a block fewer
    expect(unfused.dispatches! - fused.dispatches!).toBe(5 * L);
    expectClose(fused.logits, unfused.logits, TOL, 'logits');
    model.destroy();
  });
});

describe('generate() on the fused path', () => {
  it('reports the dispatches and bytes read back of a decode step in its timings', async () => {
    const model = new GPT2(await gpu(), gpt2Config, randomGPT2Params(gpt2Config, 3));
    const result = await generate(model, gpt2Tokenizer(), prompt, { maxNewTokens: 4, temperature: 0, stopAtEos: false, sampleOn: 'cpu' });
    expect(result.timings.dispatches_per_token).toBe(4 * gpt2Config.nLayer + 3);
    expect(result.timings.readback_bytes_per_token).toBe(4 * gpt2Config.vocabSize);
    model.destroy();
  });
});

describe('GPT-2 124M layout', () => {
  it('decodes a token in at most 52 dispatches (171 unfused): 12 blocks, a vocabulary of 50257', async () => {
    // GPT-2 124M's layer count and vocabulary at a small width: the count of dispatches depends on those only
    const config: GPT2Config = { ...gpt2Config, vocabSize: 50257, nPositions: 16, nEmbd: 16, nHead: 2, nInner: 64, nLayer: 12, bosTokenId: 50256, eosTokenId: 50256 };
    const model = new GPT2(await gpu(), config, randomGPT2Params(config, 5));
    await model.forward(prompt, 0);
    const fused = await model.forward([next], prompt.length);
    await model.forward(prompt, 0, { fused: false });
    const unfused = await model.forward([next], prompt.length, { fused: false });
    expect(unfused.dispatches).toBe(171);
    expect(fused.dispatches).toBe(51); // 52 with the sampler's candidate selection
    expectClose(fused.logits, unfused.logits, TOL, 'logits');
    model.destroy();
  });

  it('decodes a token in 50 dispatches on a GPU, where the final norm and the LM head are one (lmHead)', async () => {
    const config: GPT2Config = { ...gpt2Config, vocabSize: 50257, nPositions: 16, nEmbd: 16, nHead: 2, nInner: 64, nLayer: 12, bosTokenId: 50256, eosTokenId: 50256 };
    const model = new GPT2(await hardwareGpu(), config, randomGPT2Params(config, 5));
    await model.forward(prompt, 0);
    const fused = await model.forward([next], prompt.length);
    await model.forward(prompt, 0, { fused: false });
    const unfused = await model.forward([next], prompt.length, { fused: false });
    expect(unfused.dispatches).toBe(171);
    expect(fused.dispatches).toBe(50); // 51 with the sampler's candidate selection
    expectClose(fused.logits, unfused.logits, TOL, 'logits');
    model.destroy();
  });
});

describe('SmolLM2-135M layout', () => {
  it('decodes a token in 4 dispatches a block (16 unfused): 30 blocks, 9 heads over 3 KV heads, a vocabulary of 49152', async () => {
    // SmolLM2-135M's layer count, heads and vocabulary at a small width: the count of dispatches depends on those only
    const config: LlamaConfig = { ...llamaConfig, vocabSize: 49152, nLayer: 30, nHead: 9, nKVHead: 3, headDim: 4, rotaryDim: 4, hiddenSize: 36, intermediateSize: 40 };
    const model = new Llama(await gpu(), config, llamaParamSource(randomLlamaParams(config, 5)));
    await model.forward(prompt, 0);
    const fused = await model.forward([next], prompt.length);
    await model.forward(prompt, 0, { fused: false });
    const unfused = await model.forward([next], prompt.length, { fused: false });
    expect(unfused.dispatches).toBe(483);
    expect(fused.dispatches).toBe(123); // 124 with the sampler's candidate selection
    expectClose(fused.logits, unfused.logits, TOL, 'logits');
    model.destroy();
  });
});
