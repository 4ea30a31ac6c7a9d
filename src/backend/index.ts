// The backend a model runs on: WebGPU (webgpu.ts) on a WebGPU device, WebAssembly (wasm.ts) on the WebAssembly
// kernels. The device is chosen in device.ts; the models do not change.
import type { WeightFormat } from '../model/model.ts';
import type { Backend } from './backend.ts';
import { isWasmDevice, type Device } from './device.ts';
import { WasmBackend } from './wasm.ts';
import { WebGpuBackend } from './webgpu.ts';

export type { Act, Backend, BackendStep, HeadSlice, KVCache, Matrix, Norm, Vector } from './backend.ts';
export { deviceKind, DEVICES, getDevice, getWasmDevice, isWasmDevice, type Device, type DeviceChoice, type DeviceOptions, type WasmDevice } from './device.ts';

export interface BackendOptions {
  weights?: WeightFormat;
  /** WebGPU: the largest storage binding, in bytes (default: the device's limit). Tests lower it to force split weights. */
  maxBindingBytes?: number;
}

export function createBackend(device: Device, options: BackendOptions = {}): Backend {
  return isWasmDevice(device) ? new WasmBackend(device.kernels, options) : new WebGpuBackend(device, options);
}
