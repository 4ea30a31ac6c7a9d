import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/model/config.ts';

/** GPT-2 small's config.json as Hugging Face ships it. */
const gpt2Small = JSON.parse(readFileSync('/work/shared/data/gpt2-tokenizer/config.json', 'utf8')) as Record<string, unknown>;

function expectConfigError(json: unknown, ...inMessage: string[]): void {
  let caught: unknown;
  try {
    parseConfig(json, 'gpt2/config.json');
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  const { message } = caught as ConfigError;
  expect(message).toContain('gpt2/config.json');
  expect(message).not.toContain('\n');
  for (const part of inMessage) expect(message).toContain(part);
}

describe('parseConfig', () => {
  it("reads GPT-2 small's real config", () => {
    expect(parseConfig(gpt2Small)).toEqual({
      arch: 'gpt2',
      vocabSize: 50257,
      nPositions: 1024,
      nEmbd: 768,
      nLayer: 12,
      nHead: 12,
      nInner: 3072,
      layerNormEpsilon: 1e-5,
      activation: 'gelu_new',
      tieWordEmbeddings: true,
      bosTokenId: 50256,
      eosTokenId: 50256,
    });
  });

  it('fills in what old or minimal configs leave out, as GPT2Config does', () => {
    const minimal = { architectures: ['GPT2LMHeadModel'], vocab_size: 100, n_ctx: 32, n_embd: 12, n_layer: 2, n_head: 3 };
    expect(parseConfig(minimal)).toEqual({
      arch: 'gpt2',
      vocabSize: 100,
      nPositions: 32,
      nEmbd: 12,
      nLayer: 2,
      nHead: 3,
      nInner: 48,
      layerNormEpsilon: 1e-5,
      activation: 'gelu_new',
      tieWordEmbeddings: true,
      bosTokenId: null,
      eosTokenId: null,
    });
    expect(parseConfig({ ...minimal, n_inner: 20, tie_word_embeddings: false, activation_function: 'relu' })).toMatchObject({
      nInner: 20,
      tieWordEmbeddings: false,
      activation: 'relu',
    });
  });

  it('names what is supported when the model is not', () => {
    const mamba = { architectures: ['MambaForCausalLM'], model_type: 'mamba', vocab_size: 50280 };
    expectConfigError(mamba, 'model_type "mamba"', 'MambaForCausalLM', "GPT2LMHeadModel (model_type 'gpt2')", "LlamaForCausalLM (model_type 'llama')");
    expectConfigError({ architectures: ['BertModel'] }, 'no model_type', 'BertModel', 'GPT2LMHeadModel');
    expectConfigError({}, 'no model_type and no architectures');
    expectConfigError([1, 2], 'not a JSON object');
    expectConfigError(null, 'not a JSON object');
  });

  it.each([
    ['vocab_size', undefined, 'vocab_size is missing'],
    ['vocab_size', 0, 'vocab_size is 0'],
    ['n_embd', 768.5, 'n_embd is 768.5'],
    ['n_head', -12, 'n_head is -12'],
    ['n_layer', '12', 'n_layer is "12"'],
    ['n_head', 10, 'n_embd 768 is not divisible by n_head 10'],
    ['n_inner', 0, 'n_inner is 0'],
    ['layer_norm_epsilon', 0, 'layer_norm_epsilon is 0'],
    ['layer_norm_epsilon', 'small', 'layer_norm_epsilon is "small"'],
    ['activation_function', 'swish', 'activation_function is "swish"'],
    ['tie_word_embeddings', 'yes', 'tie_word_embeddings is "yes"'],
    ['eos_token_id', 50257, 'eos_token_id is 50257'],
    ['bos_token_id', -1, 'bos_token_id is -1'],
    ['scale_attn_by_inverse_layer_idx', true, 'scale_attn_by_inverse_layer_idx'],
    ['scale_attn_weights', false, 'scale_attn_weights'],
    ['add_cross_attention', true, 'add_cross_attention'],
  ])('refuses %s = %j', (key, value, message) => {
    expectConfigError({ ...gpt2Small, [key]: value }, message);
  });

  it('needs a context length from n_positions or n_ctx', () => {
    const { n_positions: _, n_ctx: __, ...rest } = gpt2Small;
    expectConfigError(rest, 'n_positions (or n_ctx) is missing');
  });
});
