// `wgpt doctor`: which device wgpt runs models on (a WebGPU adapter or WebAssembly on the CPU), why, and what it
// can do; or what to install when there is none.
import { acquireGpu, getDevice, INSTALL_HINT, isWasmDevice, NoAdapterError, type Gpu, type WasmDevice } from 'wgpt';
import type { Command, Run } from './command.ts';
import { DEVICE_OPTION, toDevice } from './options.ts';
import { spinner } from './spinner.ts';

const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'minStorageBufferOffsetAlignment',
] as const;

export function registerDoctor(command: Command, run: Run): void {
  command
    .option(...DEVICE_OPTION)
    .option('--software', 'Skip hardware adapters and use SwiftShader (the webgpu device)')
    .option('--json', 'Print the report as JSON')
    .action(run(async (o: Record<string, any>) => {
      const choice = toDevice(o.device);
      const waiting = spinner(process.stderr, 'looking for a device');
      let device;
      try {
        device = await getDevice({ device: choice, adapter: o.software ? 'software' : undefined });
        waiting.stop();
      } catch (e) {
        waiting.stop();
        if (!(e instanceof NoAdapterError)) throw e;
        process.stdout.write(`no WebGPU adapter\n  why: ${e.message}\n  fix: ${INSTALL_HINT}, or run on WebAssembly: --device wasm\n`);
        return 2;
      }
      if (isWasmDevice(device)) return wasmReport(device, !!o.json);
      gpuReport(device, !!o.json);
    }));
}

function gpuReport(gpu: Gpu, json: boolean): void {
  const { info, device } = gpu;
  const limits = Object.fromEntries(LIMITS.map((name) => [name, device.limits[name]]));
  if (json) {
    process.stdout.write(`${JSON.stringify({ device: 'webgpu', ...info, limits, timestamps: gpu.hasTimestamps, shaderF16: info.features.includes('shader-f16') })}\n`);
    device.destroy();
    return;
  }
  const out = [
    'device:    webgpu',
    `adapter:   ${info.name}`,
    `kind:      ${info.kind}`,
    `why:       ${info.reason}`,
    `vendor:    ${info.vendor || '-'}   architecture: ${info.architecture || '-'}`,
    `runtime:   ${info.runtime} (${process.platform}, Node ${process.versions.node})`,
    `timestamps (profiling): ${gpu.hasTimestamps ? 'yes' : 'no'}`,
    `shader-f16: ${info.features.includes('shader-f16') ? 'yes' : 'no (f16 weights are unpacked from u32 pairs, which works everywhere)'}`,
    `features:  ${info.features.join(', ')}`,
    'limits (as granted to wgpt):',
    ...LIMITS.map((name) => `  ${name.padEnd(36)} ${formatLimit(device.limits[name])}`),
  ];
  if (info.kind === 'software') out.push('note: a software adapter runs on the CPU, slower than WebAssembly there: --device wasm (or auto) is faster');
  process.stdout.write(`${out.join('\n')}\n`);
  device.destroy();
}

/** The WebAssembly device, and the WebGPU adapter it was preferred to (when there is one). */
async function wasmReport(wasm: WasmDevice, json: boolean): Promise<void> {
  const { info, kernels } = wasm;
  let webgpu: { name: string; kind: string; reason: string } | { error: string };
  try {
    const gpu = await acquireGpu();
    webgpu = { name: gpu.info.name, kind: gpu.info.kind, reason: gpu.info.reason };
    gpu.device.destroy();
  } catch (e) {
    webgpu = { error: (e as Error).message };
  }
  const memory = { limitBytes: 2 ** 32, threads: kernels.threads, sharedMemory: kernels.shared, relaxedSimd: kernels.relaxedSimd };
  if (json) {
    process.stdout.write(`${JSON.stringify({ device: 'wasm', ...info, wasm: memory, webgpu })}\n`);
    return;
  }
  const out = [
    'device:    wasm',
    `adapter:   ${info.name}`,
    `why:       ${info.reason}`,
    `runtime:   ${info.runtime} (${process.platform}, Node ${process.versions.node})`,
    `threads:   ${kernels.threads} for matvec and matmul (shared memory: ${kernels.shared ? 'yes' : 'no'})`,
    'memory:    up to 4 GiB (wasm32): weights, activations and the KV cache together',
    `features:  ${info.features.join(', ')}`,
    `q4:        ${kernels.relaxedSimd ? 'int8 dot products (relaxed SIMD)' : 'int16 dot products (no relaxed SIMD here; the same results, slower)'}`,
    `webgpu:    ${'error' in webgpu ? `none (${webgpu.error})` : `${webgpu.name}, ${webgpu.kind} (--device webgpu runs on it)`}`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}

function formatLimit(n: number): string {
  if (n >= 1 << 20) return `${n} (${(n / (1 << 20)).toFixed(0)} MiB)`;
  return String(n);
}
