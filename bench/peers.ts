// Prefill and decode side by side in one run, on a GPT-2 of one shape: wgpt on WebAssembly (on 1 thread and on
// every thread of its pool, the same model) and on WebGPU, PyTorch eager with its KV cache (when /usr/bin/python3
// has torch; bench/peers.py) and onnxruntime-node running the same PyTorch model exported to ONNX (when the package
// is installed: npm install onnxruntime-node --ignore-scripts --no-save). Each runtime: a prompt (its prefill
// timed), then greedy decoding, timed by the wall clock, the median of a few runs.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Device } from '../src/backend/device.ts';
import type { GPT2Config } from '../src/model/config.ts';
import type { LanguageModel } from '../src/model/model.ts';
import { argmax } from '../src/sampling/logprobs.ts';
import { randomIds } from './e2e.ts';
import { wasmRun } from './report.ts';
import { summarize } from './timing.ts';

export interface PeerRun {
  runtime: string;
  /** wgpt's device (webgpu, wasm) or the peer's. */
  device: string;
  threads?: number;
  prefillMs: number;
  decodeTokensPerS: number;
}

export interface PeersReport {
  model: string;
  promptTokens: number;
  newTokens: number;
  runs: PeerRun[];
  /** Runtimes that could not run here, and why. */
  skipped: { runtime: string; why: string }[];
}

export interface PeersOptions {
  promptTokens: number;
  newTokens: number;
  runs: number;
  /** PyTorch's and onnxruntime's threads (intra-op). */
  threads: number;
  log: (line: string) => void;
}

/** Greedy decoding of `newTokens` after the prompt, `runs` times after a warm-up: median prefill ms and decode tok/s. */
export async function timeGreedy(model: LanguageModel, o: PeersOptions): Promise<{ prefillMs: number; decodeTokensPerS: number }> {
  const prompt = randomIds(o.promptTokens, model.vocabSize, 5);
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r <= o.runs; r++) {
    const t0 = performance.now();
    let { logits } = await model.forward(prompt, 0);
    const t1 = performance.now();
    for (let i = 0; i < o.newTokens; i++) ({ logits } = await model.forward([argmax(logits)], o.promptTokens + i));
    const t2 = performance.now();
    if (r === 0) continue; // warm-up: compiles pipelines, fills caches
    prefill.push(t1 - t0);
    decode.push((1000 * o.newTokens) / (t2 - t1));
  }
  return { prefillMs: summarize(prefill).median, decodeTokensPerS: summarize(decode).median };
}

/**
 * wgpt on each device (WebAssembly on 1 thread, then on all of its pool's), then the peers; `load` makes the model
 * on a device (f32 weights).
 */
export async function measurePeers(name: string, config: GPT2Config, devices: Device[], load: (device: Device) => Promise<LanguageModel>, o: PeersOptions): Promise<PeersReport> {
  const report: PeersReport = { model: name, promptTokens: o.promptTokens, newTokens: o.newTokens, runs: [], skipped: [] };
  for (const device of devices) {
    const kind = 'kernels' in device ? 'wasm' : 'webgpu';
    o.log(`  [peers] wgpt on ${kind} (${device.info.name}): ${o.newTokens} greedy tokens after ${o.promptTokens}`);
    const model = await load(device);
    const pool = 'kernels' in device ? device.kernels : undefined;
    const before = pool?.threads;
    try {
      for (const threads of pool ? [...new Set([1, pool.maxThreads])] : [undefined]) {
        if (pool && threads) pool.threads = threads;
        const t = await timeGreedy(model, o);
        report.runs.push({ runtime: 'wgpt', device: `${kind}: ${device.info.name}`, threads, ...t });
        o.log(`    ${threads ? `${threads} thread${threads > 1 ? 's' : ''}: ` : ''}decode ${t.decodeTokensPerS.toFixed(1)} tok/s, prefill ${t.prefillMs.toFixed(1)} ms`);
      }
    } finally {
      if (pool && before) pool.threads = before;
      model.destroy();
    }
  }
  const dir = mkdtempSync(join(tmpdir(), 'wgpt-peers-'));
  try {
    const onnxPath = join(dir, 'gpt2.onnx');
    const torch = pytorch(config, o, onnxPath, report);
    if (torch) {
      report.runs.push(torch);
      o.log(`    decode ${torch.decodeTokensPerS.toFixed(1)} tok/s, prefill ${torch.prefillMs.toFixed(1)} ms`);
    }
    const ort = await onnxRuntime();
    if (!ort) report.skipped.push({ runtime: 'onnxruntime-node', why: 'not installed (npm install onnxruntime-node --ignore-scripts --no-save)' });
    else if (!existsSync(onnxPath)) report.skipped.push({ runtime: 'onnxruntime-node', why: 'no ONNX model: PyTorch exports it, and did not run' });
    else {
      o.log(`  [peers] onnxruntime-node, ${o.threads} threads: the PyTorch model exported to ONNX`);
      const run = await onnxDecode(ort, readFileSync(onnxPath), config, o);
      report.runs.push(run);
      o.log(`    decode ${run.decodeTokensPerS.toFixed(1)} tok/s, prefill ${run.prefillMs.toFixed(1)} ms`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return report;
}

const PYTHON = '/usr/bin/python3';

function pytorch(config: GPT2Config, o: PeersOptions, onnxPath: string, report: PeersReport): PeerRun | undefined {
  if (!existsSync(PYTHON)) {
    report.skipped.push({ runtime: 'PyTorch', why: `no ${PYTHON}` });
    return undefined;
  }
  try {
    execFileSync(PYTHON, ['-c', 'import torch'], { stdio: 'ignore' });
  } catch {
    report.skipped.push({ runtime: 'PyTorch', why: `${PYTHON} has no torch (apt-get install python3-torch)` });
    return undefined;
  }
  o.log(`  [peers] PyTorch eager, KV cache, ${o.threads} threads (bench/peers.py)`);
  const script = join(dirname(fileURLToPath(import.meta.url)), 'peers.py');
  const args = [
    script, '--layers', String(config.nLayer), '--embd', String(config.nEmbd), '--heads', String(config.nHead), '--vocab', String(config.vocabSize),
    '--positions', String(config.nPositions), '--prompt', String(o.promptTokens), '--new', String(o.newTokens), '--runs', String(o.runs),
    '--threads', String(o.threads), '--onnx', onnxPath,
  ];
  let out;
  try {
    out = JSON.parse(execFileSync(PYTHON, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 16 << 20, env: { ...process.env, OPENBLAS_NUM_THREADS: String(o.threads) } }).trim().split('\n').pop()!);
  } catch (e) {
    const stderr = String((e as { stderr?: unknown }).stderr ?? (e as Error).message).trim().split('\n').pop();
    report.skipped.push({ runtime: 'PyTorch', why: `bench/peers.py failed: ${stderr}` });
    return undefined;
  }
  return { runtime: out.runtime, device: 'cpu', threads: out.threads, prefillMs: out.prefill_ms, decodeTokensPerS: out.decode_tok_s };
}

/** The part of onnxruntime-node used here. It is optional (about 290 MB), so it is not a dependency. */
interface OnnxTensor {
  data: unknown;
  dims: readonly number[];
}
interface OnnxRuntime {
  InferenceSession: {
    create(model: Uint8Array, options: object): Promise<{ run(feeds: object): Promise<Record<string, OnnxTensor>>; release(): Promise<void> }>;
  };
  Tensor: new (type: 'float32' | 'int64', data: Float32Array | BigInt64Array, dims: number[]) => OnnxTensor;
  env?: { versions?: { common?: string } };
}

async function onnxRuntime(): Promise<OnnxRuntime | undefined> {
  const name = 'onnxruntime-node'; // a variable: type-checking does not look for the package
  try {
    return (await import(name)) as OnnxRuntime;
  } catch {
    return undefined;
  }
}

async function onnxDecode(ort: OnnxRuntime, model: Uint8Array, config: GPT2Config, o: PeersOptions): Promise<PeerRun> {
  const session = await ort.InferenceSession.create(model, { intraOpNumThreads: o.threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const { nLayer: L, nHead: NH, nEmbd: C } = config;
  const ids = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), [1, values.length]);
  const emptyCache = () => new ort.Tensor('float32', new Float32Array(0), [L, 1, NH, 0, C / NH]);
  const prompt = randomIds(o.promptTokens, config.vocabSize, 5);
  const prefill: number[] = [];
  const decode: number[] = [];
  for (let r = 0; r <= o.runs; r++) {
    const t0 = performance.now();
    let out = await session.run({ ids: ids(prompt), pos: ids(prompt.map((_, i) => i)), past_k: emptyCache(), past_v: emptyCache() });
    const t1 = performance.now();
    for (let i = 0; i < o.newTokens; i++) {
      const next = argmax(out.logits!.data as Float32Array);
      out = await session.run({ ids: ids([next]), pos: ids([o.promptTokens + i]), past_k: out.present_k!, past_v: out.present_v! });
    }
    const t2 = performance.now();
    if (r === 0) continue;
    prefill.push(t1 - t0);
    decode.push((1000 * o.newTokens) / (t2 - t1));
  }
  await session.release();
  const version = ort.env?.versions?.common;
  return { runtime: `onnxruntime-node${version ? ` ${version}` : ''}`, device: 'cpu', threads: o.threads, prefillMs: summarize(prefill).median, decodeTokensPerS: summarize(decode).median };
}

/** The table printed at the end, wgpt's WebAssembly decode and prefill against each other runtime. */
export function peersSummary(r: PeersReport): string[] {
  const wasm = wasmRun(r);
  const lines = [`decode of ${r.model}, ${r.newTokens} greedy tokens after a prefill of ${r.promptTokens} (tok/s):`];
  for (const p of r.runs) {
    const ratio = wasm && p !== wasm ? ` (wgpt wasm: decode ${(wasm.decodeTokensPerS / p.decodeTokensPerS).toFixed(2)}x this, prefill ${(p.prefillMs / wasm.prefillMs).toFixed(2)}x)` : '';
    lines.push(`  ${`${p.runtime} ${p.device}${p.threads ? `, ${p.threads} thread${p.threads > 1 ? 's' : ''}` : ''}`.padEnd(70)} ${p.decodeTokensPerS.toFixed(1).padStart(8)}  prefill ${p.prefillMs.toFixed(1)} ms${ratio}`);
  }
  for (const s of r.skipped) lines.push(`  ${s.runtime}: skipped, ${s.why}`);
  return lines;
}
