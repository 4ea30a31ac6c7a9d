// Checkpoints quantized by other tools (GPTQ, AWQ, bitsandbytes, FP8) are refused in one line that says wgpt
// quantizes at load instead, before their names and shapes are matched to the model's.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getWasmDevice } from '../../src/backend/device.ts';
import { openCheckpoint } from '../../src/loading/checkpoint.ts';
import { nodeModelFiles } from '../../src/loading/files.ts';
import { DTYPE_BYTES, SafetensorsError, type Dtype } from '../../src/loading/safetensors.ts';
import { ConfigError, parseConfig } from '../../src/model/config.ts';
import { isUserError } from '../../src/errors.ts';
import { loadModel } from '../../src/model/load.ts';
import { openModel } from '../../src/runtime.ts';
import { gpt2ConfigJson, gpt2SafetensorsBytes, randomGPT2Params } from '../../src/model/random.ts';
import { expectUsageError, wgpt } from '../cli/wgpt.ts';

/**
 * A safetensors file of tensors in any dtype, as another tool writes it: the header, then each tensor's bytes
 * (a counting pattern; only the layout matters here). `dtype` may be a string the format does not know.
 */
function safetensors(tensors: Record<string, { dtype: string; shape: number[] }>): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const [name, { dtype, shape }] of Object.entries(tensors)) {
    const bytes = shape.reduce((a, d) => a * d, DTYPE_BYTES[dtype as Dtype] ?? 1);
    header[name] = { dtype, shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8, ' '));
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  for (let i = 8 + json.length; i < out.length; i++) out[i] = i & 0xff;
  return out;
}

const Q = 'model.layers.0.self_attn.q_proj';
const EMBED = { 'model.embed_tokens.weight': { dtype: 'F16', shape: [64, 32] } };

/** [what, tensors, what the message names] */
const CHECKPOINTS: [string, Record<string, { dtype: string; shape: number[] }>, string[]][] = [
  ['GPTQ', { ...EMBED, [`${Q}.qweight`]: { dtype: 'I32', shape: [4, 32] }, [`${Q}.qzeros`]: { dtype: 'I32', shape: [1, 4] }, [`${Q}.scales`]: { dtype: 'F16', shape: [1, 32] }, [`${Q}.g_idx`]: { dtype: 'I32', shape: [32] } }, ['GPTQ or AWQ', 'I32']],
  ['AWQ', { ...EMBED, [`${Q}.scales`]: { dtype: 'F16', shape: [1, 32] }, [`${Q}.qweight`]: { dtype: 'I32', shape: [32, 4] }, [`${Q}.qzeros`]: { dtype: 'I32', shape: [1, 4] } }, ['GPTQ or AWQ', `${Q}.scales`]],
  ['bitsandbytes 4-bit', { ...EMBED, [`${Q}.weight`]: { dtype: 'U8', shape: [512, 1] }, [`${Q}.weight.absmax`]: { dtype: 'F32', shape: [32] }, [`${Q}.weight.quant_map`]: { dtype: 'F32', shape: [16] }, [`${Q}.weight.quant_state.bitsandbytes__nf4`]: { dtype: 'U8', shape: [80] } }, ['bitsandbytes', '.absmax']],
  ['bitsandbytes 8-bit', { ...EMBED, [`${Q}.weight`]: { dtype: 'I8', shape: [32, 32] }, [`${Q}.SCB`]: { dtype: 'F32', shape: [32] } }, ['bitsandbytes', `${Q}.SCB`]],
  ['FP8', { ...EMBED, [`${Q}.weight`]: { dtype: 'F8_E4M3', shape: [32, 32] }, [`${Q}.weight_scale`]: { dtype: 'F32', shape: [1] } }, [`'${Q}.weight' is F8_E4M3`]],
  ['int8 weights of no known tool', { ...EMBED, [`${Q}.weight`]: { dtype: 'I8', shape: [32, 32] } }, [`'${Q}.weight' is I8`]],
];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wgpt-quantized-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

async function folder(name: string, files: Record<string, Uint8Array | object>): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) await writeFile(join(dir, file), content instanceof Uint8Array ? content : JSON.stringify(content));
  return dir;
}

/** The error a promise rejects with. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (e: Error) => e,
  );
}

describe('checkpoints quantized by other tools', () => {
  it.each(CHECKPOINTS)('%s: one line naming the tensor, and that wgpt quantizes at load', async (what, tensors, inMessage) => {
    const dir = await folder(what.replaceAll(' ', '-'), { 'model.safetensors': safetensors(tensors) });
    const error = await rejection(openCheckpoint(nodeModelFiles(dir)));
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).code).toBe('dtype');
    for (const part of [...inMessage, 'does not read', 'quantizes them as it loads', '--weights q8 or q4']) expect(error.message).toContain(part);
    expect(error.message).not.toContain('\n');
  });

  it('a shard of a sharded checkpoint is checked too', async () => {
    const dir = await folder('sharded', {
      'model-00001-of-00002.safetensors': safetensors(EMBED),
      'model-00002-of-00002.safetensors': safetensors({ [`${Q}.qweight`]: { dtype: 'I32', shape: [4, 32] } }),
      'model.safetensors.index.json': { weight_map: { 'model.embed_tokens.weight': 'model-00001-of-00002.safetensors', [`${Q}.qweight`]: 'model-00002-of-00002.safetensors' } },
    });
    expect((await rejection(openCheckpoint(nodeModelFiles(dir)))).message).toContain(`'${Q}.qweight', I32`);
  });

  it('a dtype the reader does not know (F4) says the same, and still suggests a fresh download for a corrupt file', async () => {
    const dir = await folder('f4', { 'model.safetensors': safetensors({ ...EMBED, [`${Q}.weight`]: { dtype: 'F4', shape: [32, 32] } }) });
    const error = await rejection(openCheckpoint(nodeModelFiles(dir)));
    expect(error.message).toMatch(/'model\.layers\.0\.self_attn\.q_proj\.weight' has dtype "F4", which wgpt does not read .*--weights q8 or q4; otherwise download it again/);
  });

  it('float weights beside integer tensors that are not weights (position ids) open as before', async () => {
    const dir = await folder('float', { 'model.safetensors': safetensors({ ...EMBED, 'model.position_ids': { dtype: 'I64', shape: [1, 8] } }) });
    expect((await openCheckpoint(nodeModelFiles(dir))).names()).toContain('model.position_ids');
  });

  it('a GPT-2 folder quantized by GPTQ is refused for its format, not for a missing c_attn.weight', async () => {
    const params = randomGPT2Params({ arch: 'gpt2', vocabSize: 50, nPositions: 8, nEmbd: 32, nLayer: 1, nHead: 2, nInner: 128, layerNormEpsilon: 1e-5, activation: 'gelu_new', tieWordEmbeddings: true, bosTokenId: 49, eosTokenId: 49 }, 1);
    const tensors = {
      'transformer.wte.weight': { dtype: 'F16', shape: [50, 32] },
      'transformer.h.0.attn.c_attn.qweight': { dtype: 'I32', shape: [4, 96] },
      'transformer.h.0.attn.c_attn.qzeros': { dtype: 'I32', shape: [1, 12] },
      'transformer.h.0.attn.c_attn.scales': { dtype: 'F16', shape: [1, 96] },
    };
    const dir = await folder('gpt2-gptq', { 'config.json': gpt2ConfigJson(params.config), 'model.safetensors': safetensors(tensors) });
    const error = await rejection(loadModel(await getWasmDevice(), nodeModelFiles(dir)));
    expect(error.message).toContain("holds weights quantized by GPTQ or AWQ (tensor 'transformer.h.0.attn.c_attn.qweight', I32)");

    const cli = await wgpt(['generate', 'ROMEO:', '--model', dir, '--device', 'wasm', '--max-new-tokens', '1']);
    expectUsageError(cli, /quantized by GPTQ or AWQ .* a format wgpt does not read: .*--weights q8 or q4$/);
    // the same checkpoint in floats loads
    await writeFile(join(dir, 'model.safetensors'), gpt2SafetensorsBytes(params));
    (await loadModel(await getWasmDevice(), nodeModelFiles(dir))).destroy();
  });

  it.each(['gpt2', 'llama'])("a %s config.json with a quantization_config names its quant_method", (arch) => {
    const config = arch === 'gpt2'
      ? { model_type: 'gpt2', vocab_size: 50, n_positions: 8, n_embd: 32, n_layer: 1, n_head: 2 }
      : { model_type: 'llama', vocab_size: 50, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, max_position_embeddings: 64 };
    expect(() => parseConfig({ ...config, quantization_config: { quant_method: 'awq', bits: 4 } }, 'config.json')).toThrow(ConfigError);
    expect(() => parseConfig({ ...config, quantization_config: { quant_method: 'awq', bits: 4 } }, 'config.json')).toThrow(
      /^config\.json: the weights are quantized by awq \(quantization_config\), a format wgpt does not read: .*--weights q8 or q4$/,
    );
  });
});

describe('the weights option', () => {
  it('an unknown format is one line naming the formats there are, from openModel and loadModel alike', async () => {
    for (const load of [() => openModel(undefined, { weights: 'q3' as never, device: 'wasm' }), async () => loadModel(await getWasmDevice(), nodeModelFiles(root), { weights: 'int4' as never })]) {
      const error = await rejection(load());
      expect(isUserError(error)).toBe(true);
      expect(error.message).toMatch(/^weights must be f32, f16, q8 or q4, got "(q3|int4)"$/);
    }
  });
});
