// `wgpt doctor`: which WebGPU adapter wgpt uses, why, and what it can do; or what to install when there is none.
import { acquireGpu, INSTALL_HINT, NoAdapterError } from 'wgpt';
import type { Command, Run } from './command.ts';
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
    .option('--software', 'Skip hardware adapters and use SwiftShader')
    .option('--json', 'Print the report as JSON')
    .action(run(async (o: Record<string, any>) => {
      let gpu;
      const waiting = spinner(process.stderr, 'looking for a WebGPU adapter');
      try {
        gpu = await acquireGpu({ adapter: o.software ? 'software' : 'auto' });
        waiting.stop();
      } catch (e) {
        waiting.stop();
        if (!(e instanceof NoAdapterError)) throw e;
        process.stdout.write(`no WebGPU adapter\n  why: ${e.message}\n  fix: ${INSTALL_HINT}\n`);
        return 2;
      }
      const { info, device } = gpu;
      const limits = Object.fromEntries(LIMITS.map((name) => [name, device.limits[name]]));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ ...info, limits, timestamps: gpu.hasTimestamps, shaderF16: info.features.includes('shader-f16') })}\n`);
        device.destroy();
        return;
      }
      const out = [
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
      if (info.kind === 'software') out.push('note: a software adapter runs on the CPU: expect about 1 token/s for GPT-2 124M');
      process.stdout.write(`${out.join('\n')}\n`);
      device.destroy();
    }));
}

function formatLimit(n: number): string {
  if (n >= 1 << 20) return `${n} (${(n / (1 << 20)).toFixed(0)} MiB)`;
  return String(n);
}
