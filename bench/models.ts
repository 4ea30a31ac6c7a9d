// The model shapes the bench runs its kernels on. Built in, so the bench needs no downloaded config: GPT-2 124M
// (Hugging Face "gpt2") and a Llama-style model with grouped-query attention (SmolLM2-135M's dimensions); the
// embedded model's shape is read from weights/config.json when it is there. Quick mode uses two tiny shapes
// that are not multiples of any workgroup size.
import type { GPT2Config, LlamaConfig, ModelConfig } from '../src/model/config.ts';

export interface ModelShape {
  name: string;
  /** Which kernels a block runs: GPT-2 (layernorm, GELU, learned positions) or Llama (RMSNorm, SwiGLU, RoPE). */
  arch: 'gpt2' | 'llama';
  /** C: the residual stream width. */
  hidden: number;
  nHead: number;
  /** Key/value heads: nHead for GPT-2, fewer under grouped-query attention. */
  nKVHead: number;
  headDim: number;
  /** The MLP's hidden width (4C for GPT-2). */
  intermediate: number;
  vocab: number;
  layers: number;
  /** The longest context. */
  positions: number;
  /** RoPE base (Llama only). */
  ropeTheta?: number;
  /** Where the numbers come from. */
  source: string;
}

export const GPT2_124M: ModelShape = {
  name: 'gpt2-124m',
  arch: 'gpt2',
  hidden: 768,
  nHead: 12,
  nKVHead: 12,
  headDim: 64,
  intermediate: 3072,
  vocab: 50257,
  layers: 12,
  positions: 1024,
  source: 'GPT-2 124M (Hugging Face gpt2), random weights',
};

export const SMOLLM2_135M: ModelShape = {
  name: 'smollm2-135m',
  arch: 'llama',
  hidden: 576,
  nHead: 9,
  nKVHead: 3,
  headDim: 64,
  intermediate: 1536,
  vocab: 49152,
  layers: 30,
  positions: 8192,
  ropeTheta: 100000,
  source: 'Llama-style, SmolLM2-135M dimensions, random weights',
};

/** Quick mode: small, odd sizes (C = 3 heads of 13, vocabulary 301) so every kernel's edge handling runs too. */
export const TINY_GPT2: ModelShape = {
  name: 'tiny-gpt2',
  arch: 'gpt2',
  hidden: 39,
  nHead: 3,
  nKVHead: 3,
  headDim: 13,
  intermediate: 156,
  vocab: 301,
  layers: 2,
  positions: 32,
  source: 'tiny GPT-2 shape for --quick, random weights',
};

export const TINY_LLAMA: ModelShape = {
  name: 'tiny-llama',
  arch: 'llama',
  hidden: 40,
  nHead: 4,
  nKVHead: 2,
  headDim: 10,
  intermediate: 70,
  vocab: 301,
  layers: 2,
  positions: 32,
  ropeTheta: 10000,
  source: 'tiny Llama shape for --quick, random weights',
};

/** A model config (GPT-2 or Llama-style) as a kernel shape. */
export function shapeOf(name: string, config: ModelConfig, source: string): ModelShape {
  if (config.arch === 'llama') {
    return {
      name,
      arch: 'llama',
      hidden: config.hiddenSize,
      nHead: config.nHead,
      nKVHead: config.nKVHead,
      headDim: config.headDim,
      intermediate: config.intermediateSize,
      vocab: config.vocabSize,
      layers: config.nLayer,
      positions: config.maxPositionEmbeddings,
      ropeTheta: config.ropeTheta,
      source,
    };
  }
  return {
    name,
    arch: 'gpt2',
    hidden: config.nEmbd,
    nHead: config.nHead,
    nKVHead: config.nHead,
    headDim: config.nEmbd / config.nHead,
    intermediate: config.nInner,
    vocab: config.vocabSize,
    layers: config.nLayer,
    positions: config.nPositions,
    source,
  };
}

/** The GPT2Config of a GPT-2 shape, to build a whole model with random weights for the end-to-end runs. */
export function gpt2Config(shape: ModelShape): GPT2Config {
  if (shape.arch !== 'gpt2') throw new Error(`${shape.name} is not a GPT-2 shape`);
  return {
    arch: 'gpt2',
    vocabSize: shape.vocab,
    nPositions: shape.positions,
    nEmbd: shape.hidden,
    nLayer: shape.layers,
    nHead: shape.nHead,
    nInner: shape.intermediate,
    layerNormEpsilon: 1e-5,
    activation: 'gelu_new',
    tieWordEmbeddings: true,
    bosTokenId: null,
    eosTokenId: null,
  };
}

/** The Llama config of a Llama shape: a plain Llama (no biases, RoPE on the whole head), untied LM head. */
export function llamaConfig(shape: ModelShape): LlamaConfig {
  if (shape.arch !== 'llama') throw new Error(`${shape.name} is not a Llama shape`);
  return {
    arch: 'llama',
    variant: 'llama',
    vocabSize: shape.vocab,
    maxPositionEmbeddings: shape.positions,
    hiddenSize: shape.hidden,
    intermediateSize: shape.intermediate,
    nLayer: shape.layers,
    nHead: shape.nHead,
    nKVHead: shape.nKVHead,
    headDim: shape.headDim,
    rotaryDim: shape.headDim,
    ropeTheta: shape.ropeTheta ?? 10000,
    ropeScaling: null,
    rmsNormEps: 1e-5,
    slidingWindow: null,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    tieWordEmbeddings: false,
    bosTokenId: null,
    eosTokenIds: [],
  };
}
