// What every architecture's forward pass offers the rest of wgpt (generation, the CLI, labs, the web demo).
import type { Device } from '../backend/device.ts';
import type { DispatchTiming } from '../gpu/recorder.ts';
import type { Hooks } from '../hooks/hooks.ts';

/** How weights are stored on the GPU: f32, or f16 packed two to a u32 (half the memory and bandwidth). */
export type WeightFormat = 'f32' | 'f16';

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
}

export interface ForwardResult {
  /** [V] for the last position, or [T, V] with `allLogits`. */
  logits: Float32Array;
  /** Per-dispatch timings when profiling. */
  profile?: DispatchTiming[];
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
   * Run `ids` as positions pos0 .. pos0+T-1. The KV cache must already hold positions 0 .. pos0-1 from earlier
   * calls; this call appends the new ones. pos0 = 0 starts a new sequence.
   */
  forward(ids: number[], pos0: number, options?: ForwardOptions): Promise<ForwardResult>;
  /** The final norm and the LM head applied to residual-stream rows [T, C] (the logit lens); [T, V]. */
  unembed?(resid: Float32Array): Promise<Float32Array>;
  /** Bytes of GPU buffers this model allocated (weights, activations, KV cache). */
  gpuBytes(): { weights: number; activations: number; kvCache: number };
  destroy(): void;
}
