// What a decode token costs, as `wgpt generate` reports it: --json's timings.dispatches_per_token and
// readback_bytes_per_token, --json --profile's per-dispatch profile of the prefill and one decode step, and --stats'
// line per token; sampling on the GPU (the default on WebGPU) against --sample-on cpu, with the same tokens.
import { describe, expect, it } from 'vitest';
import { expectUsageError, json, wgpt } from './wgpt.ts';

const V = 50257; // the embedded model's vocabulary

function generate(...more: string[]) {
  return wgpt(['generate', 'ROMEO:', '--temperature', '0', '--max-new-tokens', '5', '--device', 'webgpu', ...more]);
}

describe('wgpt generate counters', () => {
  it('--json reports dispatches and bytes read back per token; the GPU reads back candidates, the CPU the row', async () => {
    const gpuRun = json(await generate('--json', '--profile'));
    const cpuRun = json(await generate('--json', '--sample-on', 'cpu'));
    expect(gpuRun.tokens).toEqual(cpuRun.tokens);
    expect(cpuRun.timings.readback_bytes_per_token).toBe(4 * V);
    expect(gpuRun.timings.readback_bytes_per_token).toBeGreaterThan(0);
    expect(gpuRun.timings.readback_bytes_per_token).toBeLessThan(1024);
    expect(gpuRun.timings.dispatches_per_token).toBeGreaterThan(cpuRun.timings.dispatches_per_token);
    expect(cpuRun.profile).toBeUndefined();
    // the profile: every dispatch of the prefill and of one decode step, with its kernel, layer and time
    const { prefill, decode } = gpuRun.profile;
    expect(prefill.length).toBeGreaterThan(decode.length);
    for (const d of [...prefill, ...decode]) {
      expect(typeof d.kernel).toBe('string');
      expect(d.layer === null || Number.isInteger(d.layer)).toBe(true);
      expect(typeof d.ms).toBe('number');
    }
    expect(decode.map((d: { kernel: string }) => d.kernel)).toEqual(expect.arrayContaining(['embedding', 'top_k', 'choose_token']));
    expect(decode.filter((d: { layer: number | null }) => d.layer === 3).length).toBeGreaterThan(0);
  }, 180_000);

  it('--stats prints dispatches and bytes read back per token; --sample-on takes gpu or cpu', async () => {
    const run = await generate('--stats', '--no-pipeline');
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^per token: +\d+(\.\d+)? dispatches, \d+(\.\d+)? bytes read back$/m);
    expectUsageError(await generate('--sample-on', 'tpu'), /--sample-on must be gpu or cpu, got "tpu"/);
  }, 180_000);

  it('WebAssembly neither dispatches nor reads back: no counters in --json, no line in --stats', async () => {
    const args = ['generate', 'ROMEO:', '--temperature', '0', '--max-new-tokens', '3', '--device', 'wasm'];
    const run = json(await wgpt([...args, '--json']));
    expect(run.tokens).toHaveLength(3);
    expect(run.timings.dispatches_per_token).toBeUndefined();
    expect(run.timings.readback_bytes_per_token).toBeUndefined();
    const stats = await wgpt([...args, '--stats']);
    expect(stats.code, stats.stderr).toBe(0);
    expect(stats.stderr).toMatch(/^decode: /m);
    expect(stats.stderr).not.toMatch(/^per token:/m);
  }, 60_000);
});
