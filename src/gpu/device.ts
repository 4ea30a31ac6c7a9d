// Getting a GPUDevice, in Node (Dawn, the `webgpu` package) and in a browser (navigator.gpu), by one path.
//
// In Node on a machine without a hardware adapter, Dawn's Vulkan backend finds nothing. Chromium ships
// SwiftShader, a Vulkan driver that runs on the CPU; pointing the Vulkan loader at its ICD file gives a full
// WebGPU adapter (slow, but complete: timestamp queries, subgroups). We try the hardware first and fall back
// to SwiftShader by ourselves, and say which one we chose and why.

export interface GpuInfo {
  /** A human-readable adapter name, e.g. "NVIDIA H100" or "SwiftShader (software)". */
  name: string;
  /** vendor / architecture / device / description as the adapter reports them (may be empty strings). */
  vendor: string;
  architecture: string;
  description: string;
  /** "hardware", "software" (a CPU implementation such as SwiftShader), or "unknown". */
  kind: 'hardware' | 'software' | 'unknown';
  /** Why this adapter: the path that found it, in one line. */
  reason: string;
  runtime: 'node' | 'browser';
  features: string[];
}

export interface Gpu {
  device: GPUDevice;
  adapter: GPUAdapter;
  info: GpuInfo;
  /** True when the device can write timestamps (profiling, benchmarks). */
  hasTimestamps: boolean;
}

export interface AcquireOptions {
  /** 'auto' tries hardware, then software; 'software' goes straight to SwiftShader (Node only). */
  adapter?: 'auto' | 'software';
  powerPreference?: GPUPowerPreference;
}

/** Raised when no WebGPU adapter can be found; its message says what to install. */
export class NoAdapterError extends Error {
  override name = 'NoAdapterError';
}

/** Where Debian/Ubuntu packages put SwiftShader's Vulkan ICD; the first that exists is used. */
export const SWIFTSHADER_ICDS = [
  '/usr/lib/chromium/vk_swiftshader_icd.json',
  '/usr/lib/chromium-browser/vk_swiftshader_icd.json',
  '/usr/lib64/chromium-browser/vk_swiftshader_icd.json',
  '/opt/google/chrome/vk_swiftshader_icd.json',
];

export const INSTALL_HINT =
  'install a GPU driver, or on Debian/Ubuntu run `apt-get install chromium libvulkan1` so wgpt can use SwiftShader (software WebGPU)';

/**
 * Dawn's GPU instances made in Node. They must outlive every device made from them: a collected instance tears
 * down the threads its devices still use, and the process aborts.
 */
const dawnInstances: GPU[] = [];

const isNode = typeof process !== 'undefined' && !!process.versions?.node && typeof window === 'undefined';

let cached: Promise<Gpu> | undefined;

/** The process-wide GPU, acquired once. */
export function getGpu(options: AcquireOptions = {}): Promise<Gpu> {
  cached ??= acquireGpu(options);
  return cached;
}

export async function acquireGpu(options: AcquireOptions = {}): Promise<Gpu> {
  const found = isNode ? await nodeAdapter(options) : await browserAdapter(options);
  const { adapter, reason, software } = found;
  const device = await requestDevice(adapter);
  const info = describe(adapter, reason, software);
  return { device, adapter, info, hasTimestamps: device.features.has('timestamp-query') };
}

interface FoundAdapter {
  adapter: GPUAdapter;
  reason: string;
  software: boolean;
}

async function browserAdapter(options: AcquireOptions): Promise<FoundAdapter> {
  if (typeof navigator === 'undefined' || !navigator.gpu) {
    throw new NoAdapterError(
      'this browser has no WebGPU: use a recent Chrome or Edge, Firefox 141+ or Safari 26+, or enable WebGPU in the browser flags',
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new NoAdapterError('the browser exposes WebGPU but found no adapter: check that hardware acceleration is on');
  return { adapter, reason: 'navigator.gpu in the browser', software: !!adapter.info?.isFallbackAdapter };
}

async function nodeAdapter(options: AcquireOptions): Promise<FoundAdapter> {
  // Imported lazily, by a name bundlers leave alone, so the browser build never sees the native module.
  const moduleName = 'webgpu';
  const dawn = (await import(/* @vite-ignore */ moduleName)) as typeof import('webgpu');
  Object.assign(globalThis, dawn.globals);

  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  const icd = SWIFTSHADER_ICDS.find((path) => fs.existsSync(path));
  const userIcd = process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES;

  if (options.adapter !== 'software' && (userIcd || hasGpuDeviceNode(fs) || process.platform !== 'linux')) {
    const adapter = await dawnInstance(dawn).requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
    if (adapter) {
      const software = isSoftwareName(adapter.info?.description ?? '') || isSoftwareName(adapter.info?.vendor ?? '');
      const reason = userIcd ? `Dawn with the Vulkan driver named by VK_ICD_FILENAMES (${userIcd})` : 'Dawn found a hardware adapter';
      return { adapter, reason, software };
    }
  }

  if (!icd) {
    throw new NoAdapterError(`no WebGPU adapter found: ${INSTALL_HINT}`);
  }
  // The Vulkan loader reads this variable when Dawn creates its instance, so set it before `create`.
  process.env.VK_ICD_FILENAMES = icd;
  // SwiftShader's window-system probe complains on stderr when there is no runtime dir (headless servers).
  process.env.XDG_RUNTIME_DIR ??= (process.getBuiltinModule('os') as typeof import('os')).tmpdir();
  const adapter = await dawnInstance(dawn).requestAdapter();
  if (!adapter) throw new NoAdapterError(`SwiftShader at ${icd} gave no adapter: ${INSTALL_HINT}`);
  const reason =
    options.adapter === 'software'
      ? `software adapter requested; SwiftShader's Vulkan driver at ${icd}`
      : `no hardware adapter found; fell back to SwiftShader's Vulkan driver at ${icd}`;
  return { adapter, reason, software: true };
}

function isSoftwareName(name: string): boolean {
  return /swiftshader|llvmpipe|lavapipe|software|warp|basic render/i.test(name);
}

/** Raise the limits big models need up to what the adapter allows, and ask for timestamps when offered. */
async function requestDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const limits = adapter.limits;
  const requiredLimits: Record<string, number> = {
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxBufferSize: limits.maxBufferSize,
    maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
    maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
  };
  const requiredFeatures: GPUFeatureName[] = [];
  if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  device.lost.then((info) => {
    if (info.reason !== 'destroyed') console.error(`wgpt: the GPU device was lost (${info.message || info.reason})`);
  });
  return device;
}

function describe(adapter: GPUAdapter, reason: string, software: boolean): GpuInfo {
  const ai = adapter.info;
  const vendor = ai?.vendor ?? '';
  const architecture = ai?.architecture ?? '';
  const description = ai?.description ?? '';
  const swiftshader = /swiftshader/i.test(`${vendor} ${description} ${architecture}`) || reason.includes('SwiftShader');
  // Some drivers describe themselves by version ("NVIDIA: 580.159.04 ..."); the device name ("nvidia-h200") says more.
  const device = (ai as GPUAdapterInfo & { device?: string })?.device ?? '';
  const versionOnly = /^[\w ]+: [\d.]+/.test(description);
  let name = (versionOnly && device ? `${device} (driver ${description.replace(/^[\w ]+: /, '')})` : description) || [vendor, architecture].filter(Boolean).join(' ') || 'unknown adapter';
  if (swiftshader && !/swiftshader/i.test(name)) name = `SwiftShader (${name})`;
  if (software && !/software/i.test(name)) name += ' (software)';
  return {
    name,
    vendor,
    architecture,
    description,
    kind: software ? 'software' : description || vendor ? 'hardware' : 'unknown',
    reason,
    runtime: isNode ? 'node' : 'browser',
    features: [...adapter.features].sort(),
  };
}

function dawnInstance(dawn: typeof import('webgpu')): GPU {
  const instance = dawn.create(dawnFlags());
  dawnInstances.push(instance);
  return instance;
}

/**
 * On Linux only Vulkan gives a full WebGPU; skipping the GL probe also keeps EGL's warnings off stderr. Dawn rounds
 * timestamps to 65.536 µs by default (a browser's fingerprinting defence); a profiler wants them exact.
 */
function dawnFlags(): string[] {
  const flags = ['disable-dawn-features=timestamp_quantization'];
  return process.platform === 'linux' ? ['backend=vulkan', ...flags] : flags;
}

/**
 * Whether a hardware adapter may be found here without creating one: in a browser, whenever it has WebGPU; in Node,
 * unless this is Linux without a GPU device node (or a Vulkan driver named by VK_ICD_FILENAMES), where only
 * SwiftShader would answer.
 */
export function mayHaveHardwareAdapter(): boolean {
  if (!isNode) return typeof navigator !== 'undefined' && !!navigator.gpu;
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  return !!(process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES) || hasGpuDeviceNode(fs) || process.platform !== 'linux';
}

/**
 * Whether this machine shows a GPU to user space at all: a DRM render node or an NVIDIA device node.
 * Without one, Mesa's installed-but-useless drivers (and a too-old lavapipe) are not worth probing.
 */
function hasGpuDeviceNode(fs: typeof import('fs')): boolean {
  const dri = fs.existsSync('/dev/dri') ? fs.readdirSync('/dev/dri') : [];
  return dri.some((name) => name.startsWith('renderD')) || fs.existsSync('/dev/nvidia0');
}
