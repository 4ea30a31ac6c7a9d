// What every architecture's forward pass offers the rest of wgpt (generation, the CLI, labs, the web demo).
import type { KVCache, SampleRequest } from '../backend/backend.ts';
import type { Device } from '../backend/device.ts';
import type { DispatchTiming } from '../gpu/recorder.ts';
import type { Hooks } from '../hooks/hooks.ts';
import type { Candidates } from '../kernels/topk.ts';

/**
 * How a backend stores weight matrices: f32; f16 packed two to a u32 (half the memory and bandwidth); or q8 / q4,
 * blocks of 32 integers with a scale (src/quant.ts: 0.28x and 0.16x of f32). Norms and biases stay f32.
 */
export type WeightFormat = 'f32' | 'f16' | 'q8' | 'q4';

/** Every weight format, in the order they are offered. */
export const WEIGHT_FORMATS: readonly WeightFormat[] = ['f32', 'f16', 'q8', 'q4'];

/**
 * The sizes a model's activations and hook shapes are written in: L blocks, width C, NH query heads and NKV
 * key/value heads (NKV = NH for GPT-2) of HS floats, the MLP's hidden width I, the vocabulary V.
 */
export interface ModelDims {
  arch: 'gpt2' | 'llama';
  nLayer: number;
  C: number;
  NH: number;
  NKV: number;
  HS: number;
  I: number;
  V: number;
}

export interface ForwardOptions {
  /** Return logits for every position of this step ([T, V] row-major) instead of only the last one. */
  allLogits?: boolean;
  /**
   * Write the last position's logits into this array (at least vocabSize floats) and return them as a view of it,
   * rather than in a new array each call: a decode loop that keeps one array saves an allocation a token (on
   * WebAssembly, GPT-2's 50257 floats in fresh memory cost about 0.5 ms a step on the machine measured). The next
   * call that is given the same array overwrites them. Not with allLogits; ignored with select.
   */
  logitsInto?: Float32Array;
  /** Time every dispatch with timestamp queries (when the adapter has them). */
  profile?: boolean;
  /** Activations to copy back and interventions to apply at hook points (src/hooks). */
  hooks?: Hooks;
  /**
   * RoPE models only: multiply every rotation angle (position x inverse frequency) by this factor for this call, as
   * if positions were `factor` times further apart (the boost-positions lab). Default 1. The KV cache keeps keys as
   * they were rotated, so every call of one sequence, from pos0 = 0 on, must pass the same factor.
   */
  ropeAngleScale?: number;
  /**
   * The KV cache of the sequence this call continues (one of `model.newCache()`); default the model's own. Beam
   * search keeps one per beam.
   */
  cache?: KVCache;
  /**
   * Run the step on the fused kernels (src/kernels/fused.ts): a decode step in four dispatches a block instead of
   * fourteen (GPT-2) or sixteen (Llama), a prefill step with its norms, activations and residual adds inside its
   * matmuls. Default true; false runs the textbook kernels one by one, for comparison and teaching. A block whose
   * hooks the run asks for runs unfused either way, so hooks see what they always saw.
   */
  fused?: boolean;
  /**
   * Sample on the GPU: instead of the last row's logits, read back only the sampler's candidates (src/kernels/topk.ts:
   * the K largest after the listed ids' bias and penalty and the temperature, and the row's log-sum-exp), with
   * `report` the largest raw logits too, and with `choose` the token chosen on the GPU (src/kernels/choose.ts),
   * left where the next step's embedding reads it (`tokenOnDevice`). The result then has `candidates` (`report`,
   * `chosen`) and empty `logits`. Not with allLogits. The step, and the copy of what it reads back, are queued
   * before forward() first waits: the next step may be submitted before this one's promise resolves.
   */
  select?: SampleRequest;
  /**
   * A one-token step whose token is the one the previous step chose on the device (`select.choose`); `ids` holds
   * one id, not read. Where `deviceSampling.tokenOnDevice`.
   */
  tokenOnDevice?: boolean;
}

export interface ForwardResult {
  /** [V] for the last position, or [T, V] with `allLogits`. */
  logits: Float32Array;
  /** Per-dispatch timings when profiling. */
  profile?: DispatchTiming[];
  /** Kernel dispatches this call recorded, over all its steps (where the backend counts them). */
  dispatches?: number;
  /** Bytes of results this call read back from the device (logits or candidates). */
  readbackBytes?: number;
  /** With `select`: the candidates, and the whole row read on demand (before the next forward) where they do not do. */
  candidates?: Candidates;
  /** With `select.report`: the largest raw logits and the raw row's log-sum-exp. */
  report?: Candidates;
  /** With `select.choose`: the token chosen on the device. */
  chosen?: number;
  readLogits?: () => Promise<Float32Array>;
}

export interface LanguageModel {
  /** The device it runs on: a WebGPU device, or the WebAssembly kernels on the CPU (`isWasmDevice`). */
  readonly gpu: Device;
  readonly arch: string;
  readonly vocabSize: number;
  /** Longest sequence the model (and its KV cache) holds. */
  readonly nCtx: number;
  readonly weightFormat: WeightFormat;
  readonly dims: ModelDims;
  /**
   * Where forward() honours `select` (sampling on the device), and whether the token chosen there can feed the next
   * step (`tokenOnDevice`). Undefined: the logits are read back and sampled on the CPU.
   */
  readonly deviceSampling?: { tokenOnDevice: boolean };
  /**
   * Run `ids` as positions pos0 .. pos0+T-1. The KV cache must already hold positions 0 .. pos0-1 from earlier
   * calls; this call appends the new ones. pos0 = 0 starts a new sequence.
   */
  forward(ids: number[], pos0: number, options?: ForwardOptions): Promise<ForwardResult>;
  /**
   * Several sequences at once (beam search): a new KV cache holding `positions` positions (default nCtx), to pass
   * as ForwardOptions.cache; `copyCache` copies positions 0 .. positions - 1 of one into another, and `freeCache`
   * releases one. A model without them runs one sequence at a time.
   */
  newCache?(positions?: number): KVCache;
  copyCache?(dst: KVCache, src: KVCache, positions: number): void;
  freeCache?(cache: KVCache): void;
  /** The final norm and the LM head applied to residual-stream rows [T, C] (the logit lens); [T, V]. */
  unembed?(resid: Float32Array): Promise<Float32Array>;
  /** Bytes of GPU buffers this model allocated (weights, activations, KV cache). */
  gpuBytes(): { weights: number; activations: number; kvCache: number };
  destroy(): void;
}
