// The bench harness: `npm run bench` and `wgpt bench` both call runBench().
//
//   1. ceilings   a large buffer copy (memory) and square matmuls (arithmetic), measured on this adapter now;
//                 a large copy on the CPU (memory), the ceiling of the WebAssembly kernels
//   2. kernels    every kernel and version on the shapes of a prefill and a decode step of each model shape,
//                 checked against the CPU reference, then timed (median and spread of many samples): the WGSL
//                 versions on the WebGPU adapter, and the WebAssembly kernels, the threaded ones on 1 thread and
//                 on every thread of the pool
//   3. profile    timestamps around every dispatch of one prefill and one decode step of a whole model
//   4. e2e        prefill and decode throughput, time to first token, KV cache on and off, f32 and f16 weights;
//                 and every weight format (f32, f16, q8, q4) side by side on WebAssembly: bytes, memory, decode
//                 tok/s of GPT-2 124M's shape and the embedded model (`--only formats` runs that part alone)
//   5. peers      greedy decode side by side: wgpt on WebAssembly and on WebGPU, PyTorch eager, onnxruntime-node
//
// The profile and end-to-end runs use --device (auto: a hardware adapter, else WebAssembly); the peers run wgpt
// on WebAssembly (1 thread and all of them) and on WebGPU.
//
// The report (JSON, Markdown, SVG charts) goes to bench/results/<date>-<adapter>/ or --out.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../src/errors.ts';
import { deviceKind, getDevice, getWasmDevice, type Device, type DeviceChoice } from '../src/backend/device.ts';
import { getGpu, type Gpu } from '../src/gpu/device.ts';
import { Recorder } from '../src/gpu/recorder.ts';
import { nodeModelFiles } from '../src/loading/files.ts';
import type { GPT2Config } from '../src/model/config.ts';
import { GPT2, type GPT2Params } from '../src/model/gpt2.ts';
import { loadModel, readModelConfig } from '../src/model/load.ts';
import type { LanguageModel, WeightFormat } from '../src/model/model.ts';
import { Llama, llamaParamSource, type LlamaParams } from '../src/model/llama.ts';
import { randomGPT2Params } from '../src/model/random.ts';
import { randomLlamaParams } from '../src/model/random-llama.ts';
import { defaultModelDir } from '../src/runtime.ts';
import { measureCopy, measureCpuCopy, measureKernelCopy, type CopyCeiling, type KernelCopyCeiling } from './ceilings.ts';
import { writeCharts } from './charts.ts';
import type { Validation } from '../src/kernels/check.ts';
import {
  engineSteps, lengthsUpTo, measureEngines, measureThroughput, measureWasmFormats, profileStep, randomIds, throughputSteps,
  type FormatResult, type StepProfile, type WasmFormats,
} from './e2e.ts';
import { ceilingCases, modelCases, type BackendKind, type KernelCase, type Phase } from './kernels.ts';
import type { WasmKernels } from '../src/backend/wasm/kernels.ts';
import { GPT2_124M, gpt2Config, llamaConfig, shapeOf, SMOLLM2_135M, TINY_GPT2, TINY_LLAMA, type ModelShape } from './models.ts';
import { measurePeers, peersSummary, type PeersReport } from './peers.ts';
import { engineCounters, toMarkdown } from './report.ts';
import { timeCalls, timeDispatches, type Timing } from './timing.ts';

export type BenchPart = 'kernels' | 'profile' | 'e2e' | 'engines' | 'formats' | 'peers';

export interface BenchOptions {
  /** Tiny shapes and few repetitions: well under a minute on a software adapter. */
  quick?: boolean;
  /** Folder for the report files; default bench/results/<date>-<adapter>/. */
  out?: string;
  /** The model of the profile and end-to-end runs: "embedded" (default), "gpt2-124m" or "tiny-gpt2" (random weights; the default with quick), or a folder. */
  model?: string;
  /** Prompt length of the prefill kernel cases and the profile (default 128; clipped to each model's context). */
  tokens?: number;
  /** Context length of the decode kernel cases and the profile (default 256). */
  context?: number;
  /** Run only the kernel cases whose id contains this text (ids look like gpt2-124m/decode/lm_head/matvec/f16). */
  filter?: string;
  /** The backends of the kernel cases (default both: the WGSL kernels on WebGPU, the WebAssembly kernels). */
  backends?: BackendKind[];
  /** Which parts to run (default all). */
  parts?: BenchPart[];
  adapter?: 'auto' | 'software';
  /** The device of the profile and end-to-end runs (default auto). */
  device?: DeviceChoice;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Render SVG charts (default true). */
  charts?: boolean;
}

export interface KernelResult {
  id: string;
  backend: BackendKind;
  /** WebAssembly: the threads the kernel ran on (the threaded kernels run on 1 and on all of the pool's). */
  threads?: number;
  model: string;
  phase: Phase;
  kernel: string;
  version: string;
  /** The shader file that ran (WebAssembly: the kernel's export in src/backend/wasm/assembly). */
  shader: string;
  op: string;
  shape: string;
  weights?: WeightFormat;
  flops: number;
  bytes: number;
  validation: Validation;
  /** Absent when the case failed its check (an invalid kernel is not timed) or threw. */
  timing?: Timing;
  error?: string;
  gflopsPerS?: number;
  gbPerS?: number;
  /** Percent of this run's ceilings. */
  pctCompute?: number;
  pctBandwidth?: number;
}

export interface BenchReport {
  schema: 'wgpt-bench/1';
  date: string;
  quick: boolean;
  options: { tokens: number; context: number; filter?: string; parts: BenchPart[]; model: string };
  git: { commit: string; dirty: boolean | null };
  host: { platform: string; node: string; cpus: number; cpuModel: string; loadavg: number[] };
  adapter: Gpu['info'] & { timestamps: boolean };
  /** The device of the profile and end-to-end runs. */
  device?: { kind: 'webgpu' | 'wasm'; name: string; reason: string };
  models: ModelShape[];
  ceilings: {
    /** copyBufferToBuffer, and the same copy by a compute kernel. */
    copy?: CopyCeiling;
    kernelCopy?: KernelCopyCeiling;
    /** The memory ceiling the percentages use: the faster of the two copies. */
    bandwidthGbPerS?: number;
    bandwidthFrom?: string;
    computeGflopsPerS?: number;
    computeFrom?: string;
    /** The CPU's: a copy of a large Float32Array (the WebAssembly kernels' memory ceiling), and their best matmul. */
    cpuCopy?: KernelCopyCeiling;
    cpuComputeGflopsPerS?: number;
    cpuComputeFrom?: string;
  };
  kernels: KernelResult[];
  profile?: { model: string; weights: WeightFormat; prefill: StepProfile; prefillFused?: StepProfile; decode: StepProfile; decodeFused?: StepProfile };
  e2e?: { model: string; source: string; nCtx: number; formats: FormatResult[] };
  /** Every weight format side by side on the WebAssembly backend, per model. */
  wasmFormats?: WasmFormats[];
  peers?: PeersReport;
  targets: Targets;
  durationS: number;
}

export interface Targets {
  /** v1 (naive) time over v2 (tiled) time on the prefill matmuls; the goal is at least 3. */
  tiledOverNaive: { goal: number; cases: { model: string; op: string; weights: string; speedup: number }[]; min?: number; met?: boolean };
  /** Decode step without the KV cache over with it, at the context nearest 256; the goal is at least 5. */
  kvCacheSpeedup: { goal: number; context?: number; weights?: string; speedup?: number; met?: boolean };
  /** The decode matvec's GB/s as a fraction of the memory ceiling (the faster copy). */
  matvecBandwidth: { cases: { model: string; op: string; weights: string; gbPerS: number; fractionOfCopy: number }[]; best?: number };
  /**
   * The WebAssembly matvecs' GB/s as a fraction of the CPU copy, on all threads; the goal is at least 0.7. Weights
   * that fit the last-level cache are read warm and can pass the copy: `streamed` is the case with the most bytes
   * (an LM head), read from memory as a decode step reads it.
   */
  wasmMatvecBandwidth: {
    goal: number;
    cases: { model: string; op: string; version: string; weights: string; threads: number; bytes: number; gbPerS: number; fractionOfCopy: number }[];
    best?: number;
    streamed?: { model: string; op: string; version: string; weights: string; fractionOfCopy: number };
  };
  /** Time on 1 thread over time on all of them, for each threaded WebAssembly kernel case. */
  wasmThreadSpeedup: { threads?: number; cases: { id: string; speedup: number }[]; min?: number; max?: number };
}

interface Settings {
  models: ModelShape[];
  tokens: number;
  context: number;
  copyBytes: number;
  /** The CPU copy: far past the last-level cache on a full run. */
  cpuCopyBytes: number;
  copySampleMs: number;
  squareSize: number;
  timing: { sampleMs: number; maxBatch: number; minSamples: number; slowSampleMs: number; maxSamples: number; budgetMs: number };
  referenceBudget: number;
  profileRuns: { prefill: number; decode: number };
  e2e: { runs: number; budgetMs: number };
}

/** Repetition counts and sizes: quick mode for CI, full otherwise (bigger ceilings on hardware adapters). */
function settings(o: BenchOptions, gpu: Gpu, embedded: ModelShape | undefined): Settings {
  const hardware = gpu.info.kind !== 'software';
  const maxBuffer = gpu.device.limits.maxBufferSize;
  if (o.quick) {
    return {
      models: [TINY_GPT2, TINY_LLAMA],
      tokens: o.tokens ?? 12,
      context: o.context ?? 20,
      copyBytes: 4 << 20,
      cpuCopyBytes: 16 << 20,
      copySampleMs: 2,
      squareSize: 48,
      timing: { sampleMs: 1, maxBatch: 32, minSamples: 3, slowSampleMs: 1000, maxSamples: 3, budgetMs: 0 },
      referenceBudget: 1e6,
      profileRuns: { prefill: 1, decode: 2 },
      e2e: { runs: 2, budgetMs: 0 },
    };
  }
  return {
    models: [...(embedded ? [embedded] : []), GPT2_124M, SMOLLM2_135M],
    tokens: o.tokens ?? 128,
    context: o.context ?? 256,
    copyBytes: Math.min(hardware ? 256 << 20 : 64 << 20, maxBuffer),
    cpuCopyBytes: 256 << 20,
    copySampleMs: hardware ? 20 : 200,
    squareSize: hardware ? 2048 : 512,
    timing: { sampleMs: hardware ? 10 : 5, maxBatch: hardware ? 4096 : 256, minSamples: 5, slowSampleMs: 1000, maxSamples: 100, budgetMs: hardware ? 150 : 250 },
    referenceBudget: 2e7,
    profileRuns: { prefill: hardware ? 20 : 3, decode: hardware ? 50 : 10 },
    e2e: { runs: 10, budgetMs: hardware ? 500 : 1500 },
  };
}

/** Context before the decode steps of the weight-format comparison: the matvecs, not attention, dominate there. */
const WASM_FORMATS_CONTEXT = 64;

export async function runBench(o: BenchOptions = {}): Promise<{ report: BenchReport; dir: string; files: string[] }> {
  const log = o.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const started = performance.now();
  // peers start PyTorch and onnxruntime: asked for by name in quick mode (CI)
  const parts = o.parts ?? (o.quick ? ['kernels', 'profile', 'e2e'] : ['kernels', 'profile', 'e2e', 'peers']);
  const modelName = o.model ?? (o.quick ? 'tiny-gpt2' : 'embedded');
  const embedded = await embeddedShape();
  // fail before any timing when the end-to-end model cannot be had
  const e2eModel = parts.some((p) => p !== 'kernels') ? await resolveModel(modelName) : undefined;
  const device = parts.some((p) => p === 'profile' || p === 'e2e' || p === 'engines') ? await getDevice({ device: o.device, adapter: o.adapter }) : undefined;

  const gpu = await getGpu({ adapter: o.adapter });
  const s = settings(o, gpu, o.quick ? undefined : embedded);
  // the adapter's name often says its kind already ("SwiftShader driver 5.0.0 (software)")
  const adapter = gpu.info.name.toLowerCase().includes(gpu.info.kind) ? gpu.info.name : `${gpu.info.name} (${gpu.info.kind})`;
  log(`wgpt bench${o.quick ? ' --quick' : ''}: ${adapter}; timing by ${gpu.hasTimestamps ? 'timestamp-query' : 'wall clock'}`);
  if (device) log(`profile and end-to-end on ${deviceKind(device)}: ${device.info.name} (${device.info.reason})`);
  if (!o.quick && !embedded) log('  the embedded model (weights/config.json) is not there: its kernel shapes are skipped');

  const report: BenchReport = {
    schema: 'wgpt-bench/1',
    date: new Date().toISOString(),
    quick: !!o.quick,
    options: { tokens: s.tokens, context: s.context, filter: o.filter, parts, model: modelName },
    git: gitInfo(),
    host: { platform: `${process.platform} ${process.arch}`, node: process.versions.node, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? '', loadavg: loadavg() },
    adapter: { ...gpu.info, timestamps: gpu.hasTimestamps },
    ...(device ? { device: { kind: deviceKind(device), name: device.info.name, reason: device.info.reason } } : {}),
    models: s.models,
    ceilings: {},
    kernels: [],
    targets: emptyTargets(),
    durationS: 0,
  };

  if (parts.includes('kernels')) {
    const backends = o.backends ?? ['webgpu', 'wasm'];
    if (backends.includes('webgpu')) {
      log(`copy bandwidth: ${(s.copyBytes / (1 << 20)).toFixed(0)} MiB buffer`);
      const copy = await measureCopy(gpu, { bytes: s.copyBytes, sampleMs: s.copySampleMs, samples: o.quick ? 3 : 10 });
      const kernelCopy = await measureKernelCopy(gpu, s.copyBytes, s.timing);
      const best = kernelCopy.gbPerS > copy.gbPerS ? kernelCopy : copy;
      Object.assign(report.ceilings, { copy, kernelCopy, bandwidthGbPerS: best.gbPerS, bandwidthFrom: best === copy ? 'copyBufferToBuffer' : 'copy kernel' });
      log(`  copyBufferToBuffer ${copy.gbPerS.toFixed(2)} GB/s, copy kernel ${kernelCopy.gbPerS.toFixed(2)} GB/s (read + write)`);
    }

    const wasm = backends.includes('wasm') ? (await getWasmDevice()).kernels : undefined;
    if (wasm) {
      report.ceilings.cpuCopy = await measureCpuCopy(s.cpuCopyBytes, s.timing);
      log(`  CPU copy ${report.ceilings.cpuCopy.gbPerS.toFixed(2)} GB/s (read + write, ${(s.cpuCopyBytes / (1 << 20)).toFixed(0)} MiB Float32Array)`);
    }
    const caseOptions = { referenceBudget: s.referenceBudget };
    const cases = [
      ...(backends.includes('webgpu') ? [...ceilingCases(s.squareSize, caseOptions), ...s.models.flatMap((m) => modelCases(m, s.tokens, s.context, caseOptions))] : []),
      ...(wasm ? s.models.flatMap((m) => modelCases(m, s.tokens, s.context, caseOptions, 'wasm')) : []),
    ].filter((c) => !o.filter || c.id.includes(o.filter) || c.phase === 'ceiling');
    for (const [i, c] of cases.entries()) {
      const results = c.backend === 'wasm' ? await runWasmCase(wasm!, c, s) : [await runCase(gpu, c, s)];
      for (const r of results) {
        report.kernels.push(r);
        const timing = r.timing ? `${r.timing.median.toFixed(4)} ms (${r.timing.n} x ${r.timing.batch})` : 'not timed';
        const threads = r.threads ? ` on ${r.threads} thread${r.threads > 1 ? 's' : ''}` : '';
        log(`[${i + 1}/${cases.length}] ${c.id} ${r.shape}${threads}: ${r.validation.valid ? 'valid' : 'INVALID'}, ${timing}${r.error ? ` (${r.error})` : ''}`);
      }
    }
    applyCeilings(report);
  }

  if (e2eModel && device) {
    const formats: FormatResult[] = [];
    const weightFormats = ['f32', 'f16'] as const;
    let nCtx = 0;
    // progress: "[e2e 3 of 25] gpt2-124m, f32 weights: prefill of 64 tokens", counted once the context is known
    let step = 0;
    let steps = 0;
    for (const weights of weightFormats) {
      const progress = (what: string) => log(`  [${parts.includes('e2e') ? 'e2e' : parts.includes('engines') ? 'engines' : 'profile'} ${++step} of ${steps}] ${e2eModel.name}, ${weights} weights: ${what}`);
      log(`${e2eModel.name} with ${weights} weights: loading`);
      const model = await e2eModel.load(device, weights);
      try {
        nCtx = model.nCtx;
        const lengths = lengthsUpTo(nCtx);
        const profiling = parts.includes('profile') ? 2 : 0;
        const onDevice = model.deviceSampling !== undefined; // sampling on the device: the WebGPU backend's
        steps ||= weightFormats.length * (1 + (parts.includes('e2e') ? throughputSteps(nCtx, lengths, onDevice) : parts.includes('engines') ? engineSteps(onDevice) : 0)) + profiling;
        const prefillTokens = Math.min(s.tokens, nCtx);
        progress(`first prefill of ${prefillTokens} tokens (compiles the pipelines)`);
        const t0 = performance.now();
        await model.forward(randomIds(prefillTokens, model.vocabSize), 0);
        const coldPrefillMs = performance.now() - t0;
        if (parts.includes('profile') && weights === 'f32') {
          const runs = (n: number) => `${n} run${n === 1 ? '' : 's'}`;
          progress(`profile of a prefill of ${prefillTokens} tokens (${runs(s.profileRuns.prefill)})`);
          const prefill = await profileStep(model, 'prefill', prefillTokens, s.profileRuns.prefill);
          const prefillFused = await profileStep(model, 'prefill', prefillTokens, s.profileRuns.prefill, true);
          progress(`profile of a decode step after ${Math.min(s.context, nCtx - 1)} tokens (${runs(s.profileRuns.decode)})`);
          const decode = await profileStep(model, 'decode', Math.min(s.context, nCtx - 1), s.profileRuns.decode);
          const decodeFused = await profileStep(model, 'decode', Math.min(s.context, nCtx - 1), s.profileRuns.decode, true);
          report.profile = { model: e2eModel.name, weights, prefill, prefillFused, decode, decodeFused };
          log(`  profile: prefill ${prefill.gpuMs.toFixed(3)} ms of GPU time, decode ${decode.gpuMs.toFixed(3)} ms`);
        }
        if (parts.includes('e2e')) {
          const f = await measureThroughput(model, coldPrefillMs, { lengths, ...s.e2e, onStep: progress });
          formats.push(f);
          log(`  prefill ${f.prefill.map((p) => `${p.tokens}: ${p.tokensPerS.toFixed(0)}`).join(', ')} tok/s`);
          log(`  decode ${f.decode.map((p) => `${p.tokens}: ${p.tokensPerS.toFixed(1)}`).join(', ')} tok/s`);
        }
        if (parts.includes('engines') && !parts.includes('e2e')) {
          // the decode engines alone, after the decode context: what --only engines runs on a model too big for e2e
          const bytes = model.gpuBytes();
          const n = Math.min(s.context, nCtx - 1);
          const engines = await measureEngines(model, randomIds(n + 1, model.vocabSize, 2), n, { lengths: [], ...s.e2e, onStep: progress });
          formats.push({ weights, gpuBytes: { ...bytes, total: bytes.weights + bytes.activations + bytes.kvCache }, coldPrefillMs, prefill: [], decode: [], noCache: [], engines });
        }
        for (const f of formats.filter((f) => f.weights === weights)) {
          for (const e of f.engines) log(`  decode engine: ${e.engine}, ${e.sampling}: ${e.tokensPerS.toFixed(1)} tok/s${engineCounters(e)}`);
        }
      } finally {
        model.destroy();
      }
    }
    if (formats.length) report.e2e = { model: e2eModel.name, source: e2eModel.source, nCtx, formats };
  }

  if (e2eModel && (parts.includes('e2e') || parts.includes('formats'))) {
    const wasm = await getWasmDevice();
    // quick: the e2e model alone; otherwise GPT-2 124M's shape (random weights) and the embedded model
    const models = o.quick ? [e2eModel] : [await resolveModel('gpt2-124m'), ...(embedded ? [await resolveModel('embedded')] : [])];
    report.wasmFormats = [];
    for (const m of models) {
      log(`weight formats on WebAssembly (${wasm.kernels.threads} threads): ${m.name}`);
      const r = await measureWasmFormats(m.name, m.source, (weights) => m.load(wasm, weights), () => wasm.kernels.arena.used, wasm.kernels.threads, WASM_FORMATS_CONTEXT, {
        lengths: [], ...s.e2e, onStep: (what) => log(`  ${what}`),
      });
      report.wasmFormats.push(r);
      for (const f of r.formats) {
        log(`  ${f.weights}: weights ${(f.weightBytes / 2 ** 20).toFixed(1)} MiB (${f.weightRatio.toFixed(3)}x f32), WebAssembly memory ${(f.wasmBytes / 2 ** 20).toFixed(1)} MiB (${f.wasmRatio.toFixed(3)}x), decode ${f.decode.tokensPerS.toFixed(1)} tok/s (${f.speedup.toFixed(2)}x f32), CPU ${f.cpuMs.toFixed(1)} ms a token (${f.cpuSpeedup.toFixed(2)}x)`);
      }
    }
  }

  if (e2eModel && parts.includes('peers')) {
    if (!e2eModel.config) throw new UserError(`the peers part runs GPT-2 models, and ${e2eModel.name} is not one: give --model embedded or gpt2-124m`);
    const newTokens = Math.min(o.quick ? 8 : 32, e2eModel.config.nPositions - 16);
    // a prompt of 128 tokens (the prefill the issue compares), fewer where the context is short
    const promptTokens = Math.min(o.quick ? 16 : 128, e2eModel.config.nPositions - newTokens);
    // wgpt on WebAssembly, and on WebGPU unless --device wasm (SwiftShader takes minutes over GPT-2 124M)
    const devices: Device[] = [await getWasmDevice(), ...(o.device === 'wasm' ? [] : [gpu])];
    report.peers = await measurePeers(e2eModel.name, e2eModel.config, devices, (d) => e2eModel.load(d, 'f32'), {
      promptTokens, newTokens, runs: o.quick ? 1 : 3, threads: 2, log,
    });
    for (const line of peersSummary(report.peers)) log(line);
  }

  report.targets = targets(report);
  report.durationS = (performance.now() - started) / 1000;
  const dir = o.out ?? defaultOutDir(report);
  const files = await writeReport(report, dir, o.charts !== false);
  log(`wrote ${files.map((f) => join(dir, f)).join(', ')}`);
  return { report, dir, files };
}

/** Check a case against its CPU reference, then time it. */
async function runCase(gpu: Gpu, c: KernelCase, s: Settings): Promise<KernelResult> {
  const { prepare, ...fields } = c;
  let prepared;
  try {
    prepared = prepare({ backend: 'webgpu', gpu });
    const rec = new Recorder(gpu, { label: c.id });
    prepared.record(rec);
    const shader = rec.dispatches.map((d) => d.shader).join(' + ');
    await rec.submit();
    const validation = await prepared.check();
    const result: KernelResult = { ...fields, shader, validation };
    if (!validation.valid) return result;
    const timing = await timeDispatches(gpu, rec.dispatches, { ...s.timing, reset: prepared.reset });
    const seconds = timing.median / 1000;
    return { ...result, timing, gflopsPerS: c.flops / seconds / 1e9, gbPerS: c.bytes / seconds / 1e9 };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const validation: Validation = { valid: false, maxAbsError: Number.NaN, maxRelError: Number.NaN, tolerance: { rtol: 0, atol: 0 }, checked: 0, scope: 'none', mismatches: [] };
    return { ...fields, shader: '', validation, error: message };
  } finally {
    prepared?.destroy();
  }
}

/**
 * A WebAssembly case: called once and checked against its CPU reference, then timed by the wall clock; a threaded
 * kernel so on 1 thread and on every thread of the pool, one result each.
 */
async function runWasmCase(k: WasmKernels, c: KernelCase, s: Settings): Promise<KernelResult[]> {
  const { prepare, threaded, ...fields } = c;
  const counts = threaded ? [...new Set([1, k.maxThreads])] : [1];
  const shader = fields.version === '-' ? fields.kernel : fields.version;
  const results: KernelResult[] = [];
  let prepared;
  const before = k.threads;
  try {
    prepared = prepare({ backend: 'wasm', k });
    const call = prepared.call;
    if (!call) throw new Error(`${c.kernel} has no WebAssembly kernel`);
    for (const threads of counts) {
      k.threads = threads;
      const id = threaded ? `${c.id}/${threads}t` : c.id;
      prepared.reset?.();
      call(k);
      const validation = await prepared.check();
      const result: KernelResult = { ...fields, id, threads, shader, validation };
      if (validation.valid) {
        const timing = await timeCalls(() => call(k), { ...s.timing, reset: prepared.reset });
        const seconds = timing.median / 1000;
        Object.assign(result, { timing, gflopsPerS: c.flops / seconds / 1e9, gbPerS: c.bytes / seconds / 1e9 });
      }
      results.push(result);
    }
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    const validation: Validation = { valid: false, maxAbsError: Number.NaN, maxRelError: Number.NaN, tolerance: { rtol: 0, atol: 0 }, checked: 0, scope: 'none', mismatches: [] };
    results.push({ ...fields, shader, validation, error: message });
  } finally {
    k.threads = before;
    prepared?.destroy();
  }
  return results;
}

/**
 * The arithmetic ceiling is the best matmul, per backend (the WGSL ones on this adapter, the WebAssembly ones on
 * this CPU); then every case gets its percentages of its backend's two ceilings.
 */
function applyCeilings(report: BenchReport): void {
  const bestMatmul = (backend: BackendKind) =>
    report.kernels
      .filter((k) => k.backend === backend && k.kernel === 'matmul' && k.gflopsPerS !== undefined)
      .reduce<KernelResult | undefined>((a, k) => (!a || k.gflopsPerS! > a.gflopsPerS! ? k : a), undefined);
  const gpuBest = bestMatmul('webgpu');
  if (gpuBest) {
    report.ceilings.computeGflopsPerS = gpuBest.gflopsPerS;
    report.ceilings.computeFrom = `${gpuBest.id} ${gpuBest.shape}`;
  }
  const cpuBest = bestMatmul('wasm');
  if (cpuBest) {
    report.ceilings.cpuComputeGflopsPerS = cpuBest.gflopsPerS;
    report.ceilings.cpuComputeFrom = `${cpuBest.id} ${cpuBest.shape}`;
  }
  for (const k of report.kernels) {
    const [best, copy] = k.backend === 'wasm' ? [cpuBest, report.ceilings.cpuCopy?.gbPerS] : [gpuBest, report.ceilings.bandwidthGbPerS];
    if (k.gflopsPerS !== undefined && best && k.flops > 0) k.pctCompute = (100 * k.gflopsPerS) / best.gflopsPerS!;
    if (k.gbPerS !== undefined && copy) k.pctBandwidth = (100 * k.gbPerS) / copy;
  }
}

function emptyTargets(): Targets {
  return {
    tiledOverNaive: { goal: 3, cases: [] },
    kvCacheSpeedup: { goal: 5 },
    matvecBandwidth: { cases: [] },
    wasmMatvecBandwidth: { goal: 0.7, cases: [] },
    wasmThreadSpeedup: { cases: [] },
  };
}

function targets(r: BenchReport): Targets {
  const t = emptyTargets();
  const median = (id: string) => r.kernels.find((k) => k.id === id)?.timing?.median;
  for (const k of r.kernels) {
    if (k.backend !== 'webgpu' || k.kernel !== 'matmul' || k.phase !== 'prefill' || k.version !== 'v2') continue;
    const naive = median(k.id.replace('/v2/', '/v1/'));
    if (naive !== undefined && k.timing) t.tiledOverNaive.cases.push({ model: k.model, op: k.op, weights: k.weights ?? '-', speedup: naive / k.timing.median });
  }
  if (t.tiledOverNaive.cases.length) {
    t.tiledOverNaive.min = Math.min(...t.tiledOverNaive.cases.map((c) => c.speedup));
    t.tiledOverNaive.met = t.tiledOverNaive.min >= t.tiledOverNaive.goal;
  }
  const f32 = r.e2e?.formats.find((f) => f.weights === 'f32');
  if (f32 && f32.noCache.length) {
    const nearest = f32.noCache.reduce((a, b) => (Math.abs(b.tokens - 256) < Math.abs(a.tokens - 256) ? b : a));
    Object.assign(t.kvCacheSpeedup, { context: nearest.tokens, weights: 'f32', speedup: nearest.slowdown, met: nearest.slowdown >= 5 });
  }
  const copy = r.ceilings.bandwidthGbPerS;
  for (const k of r.kernels) {
    if (k.backend !== 'webgpu' || !k.version.startsWith('matvec') || k.gbPerS === undefined || !copy) continue;
    t.matvecBandwidth.cases.push({ model: k.model, op: k.op, weights: k.weights ?? '-', gbPerS: k.gbPerS, fractionOfCopy: k.gbPerS / copy });
  }
  if (t.matvecBandwidth.cases.length) t.matvecBandwidth.best = Math.max(...t.matvecBandwidth.cases.map((c) => c.fractionOfCopy));

  const wasm = r.kernels.filter((k) => k.backend === 'wasm' && k.timing);
  const maxThreads = Math.max(0, ...wasm.map((k) => k.threads ?? 1));
  const cpuCopy = r.ceilings.cpuCopy?.gbPerS;
  for (const k of wasm) {
    if (k.kernel !== 'matmul' || k.phase !== 'decode' || !k.version.startsWith('matvec') || k.threads !== maxThreads || !cpuCopy) continue;
    const { model, op, version, weights = '-', threads, bytes } = k;
    t.wasmMatvecBandwidth.cases.push({ model, op, version, weights, threads, bytes, gbPerS: k.gbPerS!, fractionOfCopy: k.gbPerS! / cpuCopy });
  }
  const matvecs = t.wasmMatvecBandwidth.cases;
  if (matvecs.length) {
    t.wasmMatvecBandwidth.best = Math.max(...matvecs.map((c) => c.fractionOfCopy));
    const { model, op, version, weights, fractionOfCopy } = matvecs.reduce((a, c) => (c.bytes > a.bytes ? c : a));
    t.wasmMatvecBandwidth.streamed = { model, op, version, weights, fractionOfCopy };
  }
  if (maxThreads > 1) {
    t.wasmThreadSpeedup.threads = maxThreads;
    for (const k of wasm.filter((x) => x.threads === maxThreads)) {
      const one = r.kernels.find((x) => x.id === k.id.replace(/\/\d+t$/, '/1t'))?.timing?.median;
      if (one !== undefined) t.wasmThreadSpeedup.cases.push({ id: k.id.replace(/\/\d+t$/, ''), speedup: one / k.timing!.median });
    }
    const speedups = t.wasmThreadSpeedup.cases.map((c) => c.speedup);
    if (speedups.length) Object.assign(t.wasmThreadSpeedup, { min: Math.min(...speedups), max: Math.max(...speedups) });
  }
  return t;
}

// ---------------------------------------------------------------------------------------------------------------
// Models

interface E2EModel {
  name: string;
  source: string;
  load(device: Device, weights: WeightFormat): Promise<LanguageModel>;
  /** GPT-2 models: the config (the peers run the same shape). */
  config?: GPT2Config;
}

/** The embedded model's shape, when weights/config.json is there. */
async function embeddedShape(): Promise<ModelShape | undefined> {
  const dir = defaultModelDir();
  if (!existsSync(join(dir, 'config.json'))) return undefined;
  const config = await readModelConfig(nodeModelFiles(dir));
  return shapeOf('embedded', config, `the embedded model (${dir}config.json)`);
}

/** The model of the profile and end-to-end runs, by name or folder. */
async function resolveModel(name: string): Promise<E2EModel> {
  const random = (shape: ModelShape): E2EModel => {
    const config: GPT2Config = gpt2Config(shape);
    let params: GPT2Params | undefined;
    return {
      name: shape.name,
      source: shape.source,
      config,
      async load(gpu, weights) {
        params ??= randomGPT2Params(config, 1, 0.02); // GPT-2's initialisation scale
        return new GPT2(gpu, config, params, weights);
      },
    };
  };
  const randomLlama = (shape: ModelShape): E2EModel => {
    const config = llamaConfig(shape);
    let params: LlamaParams | undefined;
    return {
      name: shape.name,
      source: shape.source,
      async load(gpu, weights) {
        params ??= randomLlamaParams(config, 1, 0.02);
        // a cache of 1024 positions, as GPT-2's: the step's work, not the model's longest context, is what is timed
        return new Llama(gpu, config, llamaParamSource(params), { weights, contextLength: 1024 });
      },
    };
  };
  if (name === 'tiny-gpt2') return random(TINY_GPT2);
  if (name === 'gpt2-124m') return random(GPT2_124M);
  if (name === 'tiny-llama') return randomLlama(TINY_LLAMA);
  if (name === 'smollm2-135m') return randomLlama(SMOLLM2_135M);
  const dir = name === 'embedded' ? defaultModelDir() : name;
  const hasWeights = existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json'));
  if (!existsSync(join(dir, 'config.json')) || !hasWeights) {
    const what = name === 'embedded' ? `the embedded model is not in ${dir} yet` : `${dir} holds no config.json and model.safetensors`;
    throw new UserError(`${what}: give --model gpt2-124m or smollm2-135m (random weights) or a model folder, or --only kernels`);
  }
  const files = nodeModelFiles(dir);
  const config = await readModelConfig(files); // a config wgpt cannot run fails here, before any timing
  return {
    name: name === 'embedded' ? 'embedded' : dir,
    source: `${dir} (trained weights)`,
    config: config.arch === 'gpt2' ? config : undefined,
    load: (gpu, weights) => loadModel(gpu, files, { weights }),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Output

function gitInfo(): BenchReport['git'] {
  const cwd = new URL('..', import.meta.url).pathname;
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const status = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    return { commit, dirty: status.trim().length > 0 };
  } catch {
    // a copy of the tree without .git (a CI artifact, a remote machine): the commit may be given by the caller
    return { commit: process.env.WGPT_GIT_COMMIT ?? 'unknown', dirty: null };
  }
}

function defaultOutDir(r: BenchReport): string {
  const stamp = r.date.replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  const adapter = r.adapter.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return new URL(`./results/${stamp}-${adapter}${r.quick ? '-quick' : ''}`, import.meta.url).pathname;
}

/** bench.json, bench.md and the charts; returns the file names written. */
export async function writeReport(report: BenchReport, dir: string, charts = true): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'bench.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(join(dir, 'bench.md'), toMarkdown(report));
  const files = ['bench.json', 'bench.md'];
  if (charts) files.push(...(await writeCharts(report, dir)));
  return files;
}
