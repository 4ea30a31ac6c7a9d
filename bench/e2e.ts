// Whole forward passes: where the time of one prefill and one decode step goes (timestamps around every dispatch),
// and what a user sees (wall clock, logits read back included): prefill tok/s by prompt length, time to first
// token, decode tok/s by context length with and without the KV cache, f32 against packed f16 weights, and the
// GPU memory the model holds.
import type { DispatchTiming } from '../src/gpu/recorder.ts';
import type { LanguageModel, WeightFormat } from '../src/model/model.ts';
import { profileByKernel, profileRows, type KernelTotal, type ProfileRow } from '../src/profile.ts';
import { Rng } from '../src/random.ts';
import { sampleOnDevice } from '../src/sampling/device.ts';
import { Sampler, type SamplingOptions } from '../src/sampling/sampler.ts';
import { CpuTokens, DeviceTokens, type TokenSource } from '../src/sampling/tokens.ts';
import { summarize, type Stats } from './timing.ts';

export interface StepProfile {
  phase: 'prefill' | 'decode';
  /** A step on the fused kernels (the other profiles run the textbook kernels, one per op). */
  fused?: boolean;
  /** Tokens in the step, and the position of the first. */
  T: number;
  pos0: number;
  /** Steps averaged: each dispatch's time is the mean over these runs of the same step. */
  runs: number;
  /** Sum of the dispatches' GPU time. */
  gpuMs: number;
  /** Wall clock of the step (median over the runs), logits read back included. */
  wallMs: number;
  rows: ProfileRow[];
  byKernel: KernelTotal[];
  /** True when every timestamp difference was a multiple of Dawn's 65.536 us quantum (see timing.ts). */
  quantized: boolean;
}

export interface Throughput extends Stats {
  /** Prompt tokens, or context tokens before the decoded one. */
  tokens: number;
  tokensPerS: number;
}

export interface FormatResult {
  weights: WeightFormat;
  gpuBytes: { weights: number; activations: number; kvCache: number; total: number };
  /** The first prefill after loading: it compiles every pipeline. */
  coldPrefillMs: number;
  /** Prefill of a prompt of `tokens` tokens; its median is the time to first token. */
  prefill: Throughput[];
  /** One decode step after `tokens` tokens of context, reading the KV cache. */
  decode: Throughput[];
  /** The same step recomputing the whole context (tokens + 1) without the cache, and its cost over the cached one. */
  noCache: (Throughput & { slowdown: number })[];
  /** One decode step (with its sampling) on each decode engine, side by side, after the same context. */
  engines: DecodeEngine[];
}

/** A way to run a decode step: the textbook kernels or the fused ones, the logits read back or sampled on the GPU. */
export interface DecodeEngine extends Throughput {
  engine: string;
  sampling: string;
  /** Where the backend records dispatches (WebGPU); a WebAssembly step has none and reads nothing back. */
  dispatchesPerToken?: number;
  readbackBytesPerToken?: number;
}

/** The engines measured, in order: the textbook path first, the one every speedup is taken against. */
const ENGINES = [
  { engine: 'unfused, logits read back', fused: false, device: false },
  { engine: 'fused, logits read back', fused: true, device: false },
  { engine: 'fused, sampling on the GPU', fused: true, device: true },
] as const;
const SAMPLINGS: [string, SamplingOptions][] = [
  ['greedy', { temperature: 0 }],
  ['top-k 40, T 0.8', { temperature: 0.8, topK: 40, seed: 1 }],
];
/**
 * Decodes of DECODE_TOKENS tokens in a row, as generate() runs them (src/sampling/tokens.ts): the whole row read
 * back and sampled on the CPU, the candidates read back step by step, and the steps pipelined (each submitted
 * before the one before it is read back, its token fed from a GPU buffer).
 */
const DECODES = [
  { engine: 'fused, CPU sampling, decode run', device: false, pipeline: false },
  { engine: 'fused, GPU sampling, decode run', device: true, pipeline: false },
  { engine: 'fused, GPU sampling pipelined, decode run', device: true, pipeline: true },
] as const;
const DECODE_TOKENS = 8;
/** The engines of `list` a model runs: all where its backend samples on the device, else (WebAssembly) those that read the logits back. */
function runnable<E extends { device: boolean }>(list: readonly E[], deviceSampling: boolean): E[] {
  return list.filter((e) => deviceSampling || !e.device);
}

/** Measurements measureEngines makes (for progress lines). */
export function engineSteps(deviceSampling: boolean): number {
  return (runnable(ENGINES, deviceSampling).length + runnable(DECODES, deviceSampling).length) * SAMPLINGS.length;
}

export interface E2EOptions {
  /** Prompt lengths and context lengths to measure. */
  lengths: number[];
  /** Samples per measurement (after one warm-up). */
  runs: number;
  /** Measure at most this long per length, beyond the first sample. */
  budgetMs: number;
  /** Called before each measurement with what it measures ("decode after 64 tokens, KV cache"). */
  onStep?: (what: string) => void;
}

/** The prompt lengths measureThroughput times on a context of nCtx, and the context lengths it decodes after. */
function throughputLengths(nCtx: number, lengths: number[]): { prefill: number[]; decode: number[] } {
  return {
    prefill: lengths.filter((n) => n <= nCtx),
    // decoding token number n + 1 needs n positions of context and one more free in the cache
    decode: lengths.map((n) => Math.min(n, nCtx - 1)).filter((n, i, all) => n >= 1 && all.indexOf(n) === i),
  };
}

/** How many measurements measureThroughput makes (for progress lines): each prefill, and each decode twice. */
export function throughputSteps(nCtx: number, lengths: number[], deviceSampling: boolean): number {
  const { prefill, decode } = throughputLengths(nCtx, lengths);
  return prefill.length + 2 * decode.length + (decode.length > 0 ? engineSteps(deviceSampling) : 0);
}

const QUANTUM_MS = 0.065536;

/** Random token ids: timing does not depend on them. */
export function randomIds(n: number, vocab: number, seed = 1): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(0, vocab - 1));
}

/** Profile one step `runs` times; each dispatch's time is its mean over the runs. */
export async function profileStep(model: LanguageModel, phase: 'prefill' | 'decode', tokens: number, runs: number, fused = false): Promise<StepProfile> {
  const ids = randomIds(tokens + 1, model.vocabSize);
  const T = phase === 'prefill' ? tokens : 1;
  const pos0 = phase === 'prefill' ? 0 : tokens;
  if (phase === 'decode') await model.forward(ids.slice(0, tokens), 0); // the context, into the KV cache
  const step = () => (phase === 'prefill' ? model.forward(ids.slice(0, tokens), 0, { profile: true, fused }) : model.forward([ids[tokens]!], tokens, { profile: true, fused }));
  await step(); // warm-up: compiles pipelines
  const all: DispatchTiming[][] = [];
  const wall: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const { profile } = await step();
    wall.push(performance.now() - t0);
    all.push(profile ?? []);
  }
  const mean: DispatchTiming[] = (all[0] ?? []).map((d, i) => ({ ...d, ms: all.reduce((sum, p) => sum + (p[i]?.ms ?? 0), 0) / all.length }));
  const quantized = all.flat().every((d) => Math.abs(d.ms / QUANTUM_MS - Math.round(d.ms / QUANTUM_MS)) < 1e-6);
  return {
    phase,
    fused,
    T,
    pos0,
    runs,
    gpuMs: mean.reduce((sum, d) => sum + d.ms, 0),
    wallMs: summarize(wall).median,
    rows: profileRows(mean),
    byKernel: profileByKernel(mean),
    quantized: quantized && mean.length > 0,
  };
}

/** Wall-clock samples of `fn` (after one warm-up): at least 3, up to `runs`, while within the budget. */
async function sampleWall(fn: () => Promise<unknown>, o: E2EOptions): Promise<Stats> {
  await fn();
  const samples: number[] = [];
  const start = performance.now();
  while (samples.length < Math.min(3, o.runs) || (samples.length < o.runs && performance.now() - start < o.budgetMs)) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** Prefill and decode timings of one model in one weight format. `coldPrefillMs` must be taken by the caller first. */
export async function measureThroughput(model: LanguageModel, coldPrefillMs: number, o: E2EOptions): Promise<FormatResult> {
  const ids = randomIds(model.nCtx, model.vocabSize, 2);
  const bytes = model.gpuBytes();
  const result: FormatResult = {
    weights: model.weightFormat,
    gpuBytes: { ...bytes, total: bytes.weights + bytes.activations + bytes.kvCache },
    coldPrefillMs,
    prefill: [],
    decode: [],
    noCache: [],
    engines: [],
  };
  const { prefill, decode } = throughputLengths(model.nCtx, o.lengths);
  for (const n of prefill) {
    o.onStep?.(`prefill of ${n} tokens`);
    const stats = await sampleWall(() => model.forward(ids.slice(0, n), 0), o);
    result.prefill.push({ ...stats, tokens: n, tokensPerS: (1000 * n) / stats.median });
  }
  const logitsInto = new Float32Array(model.vocabSize); // the logits of every step into one array, as `wgpt generate` decodes
  for (const n of decode) {
    o.onStep?.(`decode after ${n} tokens, KV cache`);
    await model.forward(ids.slice(0, n), 0);
    const cached = await sampleWall(() => model.forward([ids[n]!], n, { logitsInto }), o); // rewrites position n each time
    result.decode.push({ ...cached, tokens: n, tokensPerS: 1000 / cached.median });
    o.onStep?.(`decode after ${n} tokens, no cache (recomputing ${n + 1})`);
    const full = await sampleWall(() => model.forward(ids.slice(0, n + 1), 0, { logitsInto }), o);
    result.noCache.push({ ...full, tokens: n, tokensPerS: 1000 / full.median, slowdown: full.median / cached.median });
  }
  const n = decode[0];
  if (n !== undefined) result.engines = await measureEngines(model, ids, n, o);
  return result;
}

/**
 * A decode step after n tokens, with its sampling, on each engine: tok/s, dispatches and bytes read back. Each
 * sample rewrites position n, so every engine runs the same step. Sampling on the device is the WebGPU backend's;
 * on WebAssembly the unfused and fused steps are measured.
 */
export async function measureEngines(model: LanguageModel, ids: number[], n: number, o: E2EOptions): Promise<DecodeEngine[]> {
  const out: DecodeEngine[] = [];
  const context = ids.slice(0, n + 1);
  const onDevice = model.deviceSampling !== undefined;
  for (const [sampling, options] of SAMPLINGS) {
    for (const e of runnable(ENGINES, onDevice)) {
      o.onStep?.(`decode after ${n} tokens: ${e.engine}, ${sampling}`);
      await model.forward(ids.slice(0, n), 0, { fused: e.fused });
      const sampler = new Sampler(options);
      let dispatches: number | undefined;
      let bytes: number | undefined;
      const step = async () => {
        if (e.device) {
          const s = await sampleOnDevice(model, sampler, [ids[n]!], n, context, { fused: e.fused });
          [dispatches, bytes] = [s.dispatches, s.readbackBytes];
        } else {
          const r = await model.forward([ids[n]!], n, { fused: e.fused });
          sampler.next(r.logits, context);
          [dispatches, bytes] = [r.dispatches, r.dispatches === undefined ? undefined : (r.readbackBytes ?? 0)];
        }
      };
      const stats = await sampleWall(step, o);
      out.push({ ...stats, engine: e.engine, sampling, tokens: n, tokensPerS: 1000 / stats.median, dispatchesPerToken: dispatches, readbackBytesPerToken: bytes });
    }
    // a run's tokens need room in the context after the prompt
    out.push(...(await measureDecodes(model, ids.slice(0, Math.min(n, model.nCtx - DECODE_TOKENS)), sampling, options, o, onDevice)));
  }
  return out;
}

/**
 * DECODE_TOKENS tokens after the context `prompt`, on each way of DECODES: per-token stats of the decode (the
 * prefill untimed). Each way must give the tokens of the first (checked before timing).
 */
async function measureDecodes(model: LanguageModel, prompt: number[], sampling: string, options: SamplingOptions, o: E2EOptions, onDevice: boolean): Promise<DecodeEngine[]> {
  const out: DecodeEngine[] = [];
  let reference: number[] | undefined;
  for (const d of runnable(DECODES, onDevice)) {
    o.onStep?.(`decode of ${DECODE_TOKENS} tokens after ${prompt.length}: ${d.engine}, ${sampling}`);
    const run = async () => {
      const context = [...prompt];
      const sampler = new Sampler({ ...options, seed: 1 });
      const so = { last: DECODE_TOKENS - 1, topLogprobs: 5, useCache: true, profile: false };
      const source: TokenSource = d.device ? new DeviceTokens(model, sampler, context, { ...so, pipeline: d.pipeline }) : new CpuTokens(model, sampler, context, so);
      await source.prefill();
      const t0 = performance.now();
      for (let i = 0; i < DECODE_TOKENS; i++) context.push((await source.token(i)).id);
      await source.settle();
      return { ms: performance.now() - t0, tokens: context.slice(prompt.length), perToken: source.perToken() };
    };
    const first = await run(); // warm-up, and the check
    reference ??= first.tokens;
    if (first.tokens.join() !== reference.join()) throw new Error(`bench: ${d.engine} decoded other tokens than ${DECODES[0].engine} (${sampling})`);
    const samples: number[] = [];
    const start = performance.now();
    while (samples.length < Math.min(3, o.runs) || (samples.length < o.runs && performance.now() - start < o.budgetMs)) samples.push((await run()).ms / DECODE_TOKENS);
    const stats = summarize(samples);
    const { dispatches, readbackBytes } = first.perToken;
    out.push({ ...stats, engine: d.engine, sampling, tokens: prompt.length, tokensPerS: 1000 / stats.median, dispatchesPerToken: dispatches, readbackBytesPerToken: dispatches === undefined ? undefined : (readbackBytes ?? 0) });
  }
  return out;
}

/** Prompt and context lengths: powers of two from 16 up to the context, and the context itself. */
export function lengthsUpTo(nCtx: number, from = 16): number[] {
  const out: number[] = [];
  for (let n = from; n < nCtx; n *= 2) out.push(n);
  out.push(nCtx);
  return out;
}

/** One weight format of one model on the WebAssembly backend: what it holds, and how fast it decodes. */
export interface WasmFormatResult {
  weights: WeightFormat;
  /** Bytes of weights (matrices in their format, norms and biases in f32), and their ratio to the f32 model's. */
  weightBytes: number;
  weightRatio: number;
  /** WebAssembly memory the loaded model takes: weights, activation slots and the KV cache (the arena's growth). */
  wasmBytes: number;
  wasmRatio: number;
  /** One decode step (logits read back) after `context` tokens, and its speed over f32's. */
  decode: Throughput;
  speedup: number;
  /**
   * The process's CPU time of that step (every thread, median), and f32's over it: the work itself, which a busy
   * machine changes less than the wall clock (a descheduled thread costs wall time, not CPU time).
   */
  cpuMs: number;
  cpuSpeedup: number;
}

export interface WasmFormats {
  model: string;
  source: string;
  threads: number;
  context: number;
  /** Decode steps each format ran in a row, the first of them untimed (TURN_STEPS). */
  turnSteps: number;
  formats: WasmFormatResult[];
}

/**
 * Decode steps a format runs in a row in measureWasmFormats; the first follows another model's step, with its own
 * small data (the KV cache, the activations) pushed out of the CPU's caches by that model's weights, which a
 * decode loop never sees: it is run, not timed.
 */
const TURN_STEPS = 5;

/**
 * Every weight format of one model side by side on the WebAssembly backend. The models are loaded together, one
 * per format, and take turns (f32, f16, q8, q4, f32, ...) of TURN_STEPS decode steps each, as a decode loop runs
 * them, so that a change in the load of a shared machine falls on every format alike and the ratios hold even
 * where the absolute figures drift.
 */
export async function measureWasmFormats(
  name: string,
  source: string,
  load: (weights: WeightFormat) => Promise<LanguageModel>,
  arenaUsed: () => number,
  threads: number,
  context: number,
  o: E2EOptions,
): Promise<WasmFormats> {
  const formats = ['f32', 'f16', 'q8', 'q4'] as const;
  const loaded: { weights: WeightFormat; model: LanguageModel; wasmBytes: number }[] = [];
  try {
    for (const weights of formats) {
      o.onStep?.(`${name}, ${weights} weights: loading`);
      const before = arenaUsed();
      const model = await load(weights);
      loaded.push({ weights, model, wasmBytes: arenaUsed() - before });
    }
    const n = Math.min(context, loaded[0]!.model.nCtx - 1);
    const ids = randomIds(n + 1, loaded[0]!.model.vocabSize, 3);
    // rewrites position n each time; the logits into one array per model, as `wgpt generate` decodes
    const steps = loaded.map(({ model }) => {
      const logitsInto = new Float32Array(model.vocabSize);
      return () => model.forward([ids[n]!], n, { logitsInto });
    });
    for (const [i, { model, weights }] of loaded.entries()) {
      o.onStep?.(`${name}, ${weights} weights: prefill of ${n} tokens, then a warm-up step`);
      await model.forward(ids.slice(0, n), 0);
      await steps[i]!();
    }
    o.onStep?.(`${name}: decode steps after ${n} tokens, the formats taking turns of ${TURN_STEPS}`);
    const samples: number[][] = loaded.map(() => []);
    const cpu: number[][] = loaded.map(() => []);
    const start = performance.now();
    while (samples[0]!.length < Math.min(3, o.runs) || (samples[0]!.length < o.runs && performance.now() - start < o.budgetMs * formats.length)) {
      for (const [i, step] of steps.entries()) {
        await step(); // the turn's first step (see TURN_STEPS)
        for (let s = 1; s < TURN_STEPS; s++) {
          const [t0, c0] = [performance.now(), process.cpuUsage()];
          await step();
          const c = process.cpuUsage(c0);
          samples[i]!.push(performance.now() - t0);
          cpu[i]!.push((c.user + c.system) / 1000);
        }
      }
    }
    const f32 = loaded[0]!;
    const f32Stats = summarize(samples[0]!);
    const f32Cpu = summarize(cpu[0]!).median;
    return {
      model: name,
      source,
      threads,
      context: n,
      turnSteps: TURN_STEPS,
      formats: loaded.map(({ weights, model, wasmBytes }, i) => {
        const stats = summarize(samples[i]!);
        const weightBytes = model.gpuBytes().weights;
        return {
          weights,
          weightBytes,
          weightRatio: weightBytes / f32.model.gpuBytes().weights,
          wasmBytes,
          wasmRatio: wasmBytes / f32.wasmBytes,
          decode: { ...stats, tokens: n, tokensPerS: 1000 / stats.median },
          speedup: f32Stats.median / stats.median,
          cpuMs: summarize(cpu[i]!).median,
          cpuSpeedup: f32Cpu / summarize(cpu[i]!).median,
        };
      }),
    };
  } finally {
    // the arena frees from its end: last loaded, first freed
    for (const { model } of loaded.reverse()) model.destroy();
  }
}
