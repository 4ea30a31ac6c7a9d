// Which device runs a model: a WebGPU adapter (src/gpu/device.ts) or the WebAssembly kernels on the CPU
// (src/backend/wasm/). `auto`, the default, takes a hardware WebGPU adapter when there is one and WebAssembly
// otherwise: a software adapter (SwiftShader) runs on the same CPU, many times slower than the WebAssembly
// kernels, so it runs a model only when asked for by name (`--device webgpu`).
import { getGpu, mayHaveHardwareAdapter, NoAdapterError, type AcquireOptions, type Gpu, type GpuInfo } from '../gpu/device.ts';
import { WasmKernels } from './wasm/kernels.ts';
import { hasWasmSimd } from './wasm/module.ts';

export const DEVICES = ['auto', 'webgpu', 'wasm'] as const;
export type DeviceChoice = (typeof DEVICES)[number];

/** The WebAssembly kernels as a device: their memory, their threads, and a description in GpuInfo's terms. */
export interface WasmDevice {
  readonly kind: 'wasm';
  readonly kernels: WasmKernels;
  readonly info: GpuInfo;
  /** The CPU has no timestamp queries; profiles time each op with the clock. */
  readonly hasTimestamps: false;
}

/** What a model runs on. */
export type Device = Gpu | WasmDevice;

export function isWasmDevice(device: Device): device is WasmDevice {
  return (device as WasmDevice).kind === 'wasm';
}

/** 'webgpu' or 'wasm': which kind of device this is, as --device names it. */
export function deviceKind(device: Device): 'webgpu' | 'wasm' {
  return isWasmDevice(device) ? 'wasm' : 'webgpu';
}

export interface DeviceOptions {
  /** Default 'auto'. */
  device?: DeviceChoice;
  /** WebGPU only: 'software' goes straight to SwiftShader (Node). */
  adapter?: AcquireOptions['adapter'];
  /** WebAssembly only: threads for matvec and matmul (default: every core). */
  threads?: number;
}

export class DeviceError extends Error {
  override name = 'UserError';
}

/** The device asked for, or for 'auto' the best one here; it says which and why in `info.reason`. */
export async function getDevice(options: DeviceOptions = {}): Promise<Device> {
  const choice = options.device ?? 'auto';
  if (!(DEVICES as readonly string[]).includes(choice)) throw new DeviceError(`unknown device "${choice}": use ${DEVICES.join(', ')}`);
  if (choice === 'webgpu' || options.adapter === 'software') return getGpu({ adapter: options.adapter });
  if (choice === 'wasm') return getWasmDevice('asked for (device wasm)', options.threads);
  if (!mayHaveHardwareAdapter()) return getWasmDevice('auto: no GPU here (no WebGPU hardware adapter), so WebAssembly rather than SwiftShader; --device webgpu runs on SwiftShader', options.threads);
  let gpu: Gpu;
  try {
    gpu = await getGpu({ adapter: options.adapter });
  } catch (e) {
    if (!(e instanceof NoAdapterError)) throw e;
    return getWasmDevice(`auto: no WebGPU adapter (${e.message})`, options.threads);
  }
  if (gpu.info.kind !== 'software') return gpu;
  return getWasmDevice(`auto: the only WebGPU adapter is ${gpu.info.name}, slower on this CPU than WebAssembly; --device webgpu uses it`, options.threads);
}

let wasm: Promise<WasmKernels> | undefined;

/** The process-wide WebAssembly kernels (one memory, one thread pool), made on first use; `reason` says why. */
export async function getWasmDevice(reason = 'asked for', threads?: number): Promise<WasmDevice> {
  if (!hasWasmSimd()) {
    throw new DeviceError('this JavaScript runtime has no WebAssembly SIMD (Node 16.4+, Chrome 91+, Firefox 89+, Safari 16.4+ have it): run with --device webgpu');
  }
  wasm ??= WasmKernels.create({ threads: threads ?? cores() });
  wasm.catch(() => (wasm = undefined));
  const kernels = await wasm;
  const isNode = typeof process !== 'undefined' && !!process.versions?.node;
  const how = kernels.shared ? `${kernels.threads} thread${kernels.threads === 1 ? '' : 's'}` : '1 thread (no SharedArrayBuffer: the page is not cross-origin isolated)';
  const info: GpuInfo = {
    name: `WebAssembly SIMD128 (CPU, ${how})`,
    vendor: '',
    architecture: 'wasm32',
    description: 'hand-written WebAssembly SIMD128 kernels (src/backend/wasm/assembly)',
    kind: 'software',
    reason,
    runtime: isNode ? 'node' : 'browser',
    features: ['simd128', ...(kernels.relaxedSimd ? ['relaxed-simd'] : []), ...(kernels.shared ? ['threads'] : [])],
  };
  return { kind: 'wasm', kernels, info, hasTimestamps: false };
}

/** The cores this runtime offers (Node's availableParallelism, a browser's hardwareConcurrency). */
function cores(): number {
  const os = typeof process !== 'undefined' && process.getBuiltinModule ? (process.getBuiltinModule('os') as typeof import('os') | undefined) : undefined;
  const n = os?.availableParallelism?.() ?? (typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : 1);
  return Math.max(1, Math.min(16, n || 1));
}
