// --device on the commands that run a model: the same greedy tokens on WebAssembly and on WebGPU, --json and
// --stats say which device ran and why, and a device name wgpt does not know is one line.
import { describe, expect, it } from 'vitest';
import { wgpt, type Run } from './wgpt.ts';

function generate(device: string, ...more: string[]): Promise<Run> {
  return wgpt(['generate', 'ROMEO:', '--json', '--temperature', '0', '--max-new-tokens', '8', '--device', device, ...more]);
}

describe('wgpt generate --device', () => {
  it('gives the same greedy tokens on wasm and on webgpu, and --json names the device and why', async () => {
    const wasm = JSON.parse((await generate('wasm')).stdout);
    const webgpu = JSON.parse((await generate('webgpu')).stdout);
    expect(wasm.device).toBe('wasm');
    expect(wasm.adapter).toMatch(/^WebAssembly SIMD128 \(CPU, \d+ threads?\)$/);
    expect(wasm.device_reason).toMatch(/asked for/);
    expect(webgpu.device).toBe('webgpu');
    expect(webgpu.adapter).not.toMatch(/WebAssembly/);
    expect(wasm.tokens).toHaveLength(8);
    expect(wasm.tokens).toEqual(webgpu.tokens);
    // auto: a hardware adapter when there is one, WebAssembly rather than a software one
    const auto = JSON.parse((await generate('auto')).stdout);
    expect(auto.tokens).toEqual(wasm.tokens);
    expect(auto.device_reason).toMatch(/^auto/);
  }, 180_000);

  it('--stats says which device ran and why; --profile times every op on WebAssembly', async () => {
    const run = await wgpt(['generate', 'ROMEO:', '--temperature', '0', '--max-new-tokens', '3', '--device', 'wasm', '--stats', '--profile']);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^device: +wasm \(asked for/m);
    expect(run.stderr).toMatch(/^adapter: +WebAssembly SIMD128/m);
    expect(run.stderr).toMatch(/first decode step/);
    expect(run.stderr).toMatch(/c_attn/);
  }, 120_000);

  it('a device wgpt does not know is one line, exit code 2', async () => {
    const run = await wgpt(['generate', 'hi', '--device', 'gpu']);
    expect(run.code).toBe(2);
    const lines = run.stderr.trim().split('\n').filter((l) => l.startsWith('wgpt:'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--device must be webgpu, wasm or auto, got "gpu"/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
