// The backend a model runs on. WebGPU is the only one so far; a second (WebAssembly, on the CPU) is chosen here,
// and the models do not change.
import type { Gpu } from '../gpu/device.ts';
import type { WeightFormat } from '../model/model.ts';
import type { Backend } from './backend.ts';
import { WebGpuBackend } from './webgpu.ts';

export type { Act, Backend, BackendStep, HeadSlice, KVCache, Matrix, Norm, Vector } from './backend.ts';

export interface BackendOptions {
  weights?: WeightFormat;
  /** The largest storage binding, in bytes (default: the device's limit). Tests lower it to force split weights. */
  maxBindingBytes?: number;
}

export function createBackend(gpu: Gpu, options: BackendOptions = {}): Backend {
  return new WebGpuBackend(gpu, options);
}
