// The bench harness in quick mode, as CI runs it: every part runs, the report is well-formed JSON, and every kernel
// case matched its CPU reference before it was timed.
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runBench, type BenchReport } from '../../bench/harness.ts';
import { KERNEL_VERSIONS, kernelVersions } from '../../bench/kernels.ts';
import { WASM_KERNELS } from '../../src/backend/wasm/kernels.ts';
import { compareReports } from '../../bench/report.ts';

describe('wgpt bench --quick', () => {
  it('writes a well-formed report whose kernel cases all match their CPU reference', async () => {
    const out = mkdtempSync(join(tmpdir(), 'wgpt-bench-'));
    const { files } = await runBench({ quick: true, out, log: () => {}, device: 'webgpu' }); // the WGSL path, fused engines included
    expect(files).toEqual(['bench.json', 'bench.md', 'roofline.svg', 'profile.svg', 'prefill.svg', 'decode.svg']);

    const report = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8')) as BenchReport;
    expect(report.schema).toBe('wgpt-bench/1');
    expect(report.quick).toBe(true);
    expect(report.adapter.name).not.toBe('');
    expect(report.git.commit).toMatch(/^([0-9a-f]{40}|unknown)$/);

    // every kernel of src/kernels and every version of it, on both model architectures
    const ran = new Set(report.kernels.map((k) => `${k.kernel} ${k.version}`));
    for (const [kernel, versions] of Object.entries(KERNEL_VERSIONS)) {
      for (const v of versions) expect(ran, `${kernel} ${v}`).toContain(`${kernel} ${v}`);
    }
    for (const k of report.kernels) {
      expect(k.validation.valid, `${k.id}: ${k.error ?? k.validation.mismatches.join('; ')}`).toBe(true);
      expect(k.validation.checked, k.id).toBeGreaterThan(0);
      expect(k.timing!.median, k.id).toBeGreaterThanOrEqual(0);
      expect(k.timing!.p10, k.id).toBeLessThanOrEqual(k.timing!.p90);
      expect(Number.isFinite(k.gbPerS), k.id).toBe(true);
    }
    expect(report.ceilings.copy!.gbPerS).toBeGreaterThan(0);
    expect(report.ceilings.kernelCopy!.gbPerS).toBeGreaterThan(0);
    expect(report.ceilings.bandwidthGbPerS).toBe(Math.max(report.ceilings.copy!.gbPerS, report.ceilings.kernelCopy!.gbPerS));
    expect(report.ceilings.computeGflopsPerS).toBeGreaterThan(0);

    // one prefill and one decode step, every dispatch with its share
    for (const step of [report.profile!.prefill, report.profile!.decode]) {
      expect(step.rows.length).toBeGreaterThan(10);
      expect(step.rows.reduce((sum, r) => sum + r.share, 0)).toBeCloseTo(1, 6);
    }
    // end to end in both weight formats, with and without the KV cache
    expect(report.e2e!.formats.map((f) => f.weights)).toEqual(['f32', 'f16']);
    for (const f of report.e2e!.formats) {
      expect(f.prefill.map((p) => p.tokens)).toEqual([16, 32]);
      expect(f.decode.length).toBeGreaterThan(0);
      expect(f.noCache.length).toBe(f.decode.length);
      for (const p of [...f.prefill, ...f.decode]) expect(p.tokensPerS).toBeGreaterThan(0);
      expect(f.gpuBytes.total).toBe(f.gpuBytes.weights + f.gpuBytes.activations + f.gpuBytes.kvCache);
      // decode engines side by side: fewer dispatches fused, fewer bytes read back sampling on the GPU
      const engine = (name: string, sampling: string) => f.engines.find((e) => e.engine === name && e.sampling === sampling)!;
      for (const sampling of ['greedy', 'top-k 40, T 0.8']) {
        const [unfused, fused, device] = ['unfused, logits read back', 'fused, logits read back', 'fused, sampling on the GPU'].map((n) => engine(n, sampling));
        expect(fused!.dispatchesPerToken!).toBeLessThan(unfused!.dispatchesPerToken!);
        expect(device!.readbackBytesPerToken!).toBeLessThan(fused!.readbackBytesPerToken!);
        for (const e of [unfused!, fused!, device!]) expect(e.tokensPerS).toBeGreaterThan(0);
        // decode runs as generate() decodes: candidates read back instead of the row, pipelined or not
        const [cpuRun, gpuRun, pipelined] = ['fused, CPU sampling, decode run', 'fused, GPU sampling, decode run', 'fused, GPU sampling pipelined, decode run'].map((n) => engine(n, sampling));
        expect(gpuRun!.readbackBytesPerToken!).toBeLessThan(cpuRun!.readbackBytesPerToken!);
        expect(pipelined!.readbackBytesPerToken!).toBeLessThan(cpuRun!.readbackBytesPerToken!);
        for (const e of [cpuRun!, gpuRun!, pipelined!]) expect(e.tokensPerS).toBeGreaterThan(0);
      }
    }
    expect(report.targets.tiledOverNaive.cases.length).toBeGreaterThan(0);
    expect(report.targets.kvCacheSpeedup.speedup).toBeGreaterThan(0);

    expect(readFileSync(join(out, 'bench.md'), 'utf8')).toContain('## Kernels');
    for (const svg of files.filter((f) => f.endsWith('.svg'))) expect(readFileSync(join(out, svg), 'utf8').startsWith('<svg')).toBe(true);
    // a report compared with itself: every kernel case at 1.00x
    const comparison = compareReports(report, report);
    expect(comparison.split('\n').filter((l) => l.includes(' | ') && l.endsWith('1.00x |')).length).toBeGreaterThanOrEqual(report.kernels.length);
    expect(existsSync(join(out, 'bench.md'))).toBe(true);
  }, 300_000);

  it('times the unfused and fused decode steps on WebAssembly, with no dispatch counters (it has none)', async () => {
    const out = mkdtempSync(join(tmpdir(), 'wgpt-bench-engines-'));
    const { report } = await runBench({ quick: true, out, log: () => {}, parts: ['engines'], device: 'wasm', charts: false });
    expect(report.device!.kind).toBe('wasm');
    for (const f of report.e2e!.formats) {
      expect(f.engines.map((e) => `${e.engine}, ${e.sampling}`)).toEqual(['greedy', 'top-k 40, T 0.8'].flatMap((s) => ['unfused, logits read back', 'fused, logits read back', 'fused, CPU sampling, decode run'].map((e) => `${e}, ${s}`)));
      for (const e of f.engines) {
        expect(e.tokensPerS, e.engine).toBeGreaterThan(0);
        expect(e.dispatchesPerToken, e.engine).toBeUndefined();
      }
    }
    expect(readFileSync(join(out, 'bench.md'), 'utf8')).toContain('| fused, logits read back | greedy | - | - |');
  }, 300_000);

  it('validates, then times, every WebAssembly kernel of WASM_KERNELS, the threaded ones on 1 and 2 threads', async () => {
    const out = mkdtempSync(join(tmpdir(), 'wgpt-bench-wasm-'));
    const { report } = await runBench({ quick: true, out, log: () => {}, parts: ['kernels'], backends: ['wasm'], charts: false });
    expect(report.kernels.every((k) => k.backend === 'wasm')).toBe(true);
    // every registered kernel (those a model's forward pass runs: not intervene) in every version it has
    const versions = kernelVersions('wasm');
    expect(Object.keys(versions).sort()).toEqual([...new Set(WASM_KERNELS.map((v) => v.kernel))].filter((k) => k !== 'intervene').sort());
    for (const v of WASM_KERNELS.filter((x) => x.kernel !== 'intervene')) {
      const name = versions[v.kernel]!.length === 1 ? '-' : v.name;
      const ran = report.kernels.filter((k) => k.kernel === v.kernel && k.version === name);
      expect(ran.length, `${v.kernel} ${v.name}`).toBeGreaterThan(0);
      // the threaded kernels on 1 thread and on the pool's 2 (this process's pool has as many as the machine's cores)
      if (v.threaded) expect(new Set(ran.map((k) => k.threads)), v.name).toEqual(new Set([1, report.targets.wasmThreadSpeedup.threads ?? 1]));
    }
    for (const k of report.kernels) {
      expect(k.validation.valid, `${k.id}: ${k.error ?? k.validation.mismatches.join('; ')}`).toBe(true);
      expect(k.validation.checked, k.id).toBeGreaterThan(0);
      expect(k.timing!.median, k.id).toBeGreaterThan(0);
      expect(k.pctBandwidth, k.id).toBeGreaterThan(0);
    }
    expect(report.ceilings.cpuCopy!.gbPerS).toBeGreaterThan(0);
    expect(report.ceilings.bandwidthGbPerS).toBeUndefined(); // no WebGPU case ran
    expect(report.targets.wasmMatvecBandwidth.cases.length).toBeGreaterThan(0);
    expect(readFileSync(join(out, 'bench.md'), 'utf8')).toContain('| wasm 1t |');
  }, 300_000);
});
