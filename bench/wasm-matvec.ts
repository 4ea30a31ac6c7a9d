// Micro-benchmark of the WebAssembly matvec: the matrix-vector products of a GPT-2 124M decode step, f32, f16, q8
// and q4 weights (and q8 on f32 activations, the version the integer dot products are measured against), on 1 and
// 2 threads (q4 also without relaxed SIMD, where the runtime has it: the int16 reading of the same blocks), beside onnxruntime-node's MatMul on the same shapes (when it is installed) and a memory-bandwidth
// ceiling (a copy of a large Float32Array), all in the same run.
//
//   npx tsx bench/wasm-matvec.ts [--quick]      (npm run bench:wasm)
//
// Each configuration is checked against the float64 reference on the weights as stored (f16-rounded, dequantized)
// before it is timed; the q kernels that round the activations (q8 to int16, q4 to int8) are allowed that rounding on top
// (activationRoundingBound). GB/s counts the bytes read and written at least once: the weights as stored (q8 and
// q4: integers and scales), the f32 input and the output; the same weights are read on every repetition, as in
// the onnxruntime runs, so shapes whose weights fit the CPU's last-level cache can beat the copy ceiling.
import { activationRoundingBound, WasmKernels } from '../src/backend/wasm/kernels.ts';
import { tensorBytes } from '../src/backend/wasm/arena.ts';
import { matmulFlops, matmulReference } from '../src/kernels/matmul.ts';
import type { WeightFormat } from '../src/model/model.ts';
import { isQuantFormat, roundWeights } from '../src/quant.ts';
import { Rng } from '../src/random.ts';
import { measureCpuCopy } from './ceilings.ts';
import { summarize } from './timing.ts';

const SHAPES = [
  { name: 'c_attn', K: 768, N: 2304 },
  { name: 'attn c_proj', K: 768, N: 768 },
  { name: 'c_fc', K: 768, N: 3072 },
  { name: 'mlp c_proj', K: 3072, N: 768 },
  { name: 'lm_head', K: 768, N: 50257 },
];
const THREADS = [1, 2];
const quick = process.argv.includes('--quick');
const SAMPLE_MS = quick ? 20 : 60;
const SAMPLES = quick ? 5 : 15;

/** Median milliseconds of one call of `fn`: repetitions batched so that a sample lasts SAMPLE_MS. */
function time(fn: () => void): number {
  for (let i = 0; i < 3; i++) fn();
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    const ms = performance.now() - t0;
    if (ms >= SAMPLE_MS || batch >= 1 << 20) break;
    batch = Math.max(batch * 2, Math.ceil((1.2 * SAMPLE_MS * batch) / Math.max(ms, 1e-3)));
  }
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    samples.push((performance.now() - t0) / batch);
  }
  return summarize(samples).median;
}

/** Every output within atol + |ref| * rtol (rtol 1e-4, atol 1e-5, as the tests), plus `extra[i]` where given. */
function check(got: ArrayLike<number>, ref: Float64Array, what: string, extra?: Float64Array): void {
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= 1e-5 + Math.abs(ref[i]!) * 1e-4 + (extra?.[i] ?? 0))) throw new Error(`${what}: out[${i}] is ${got[i]}, the reference ${ref[i]}; not timed`);
  }
}

/**
 * The weight formats timed, and whether the activations stay f32 (q8's comparison version). The weights are stored
 * as a model loads them (WasmKernels.uploadWeight) and checked against the values that format stands for
 * (roundWeights), as the main bench does.
 */
const FORMATS: { name: string; weights: WeightFormat; floatActivations?: boolean; noRelaxedSimd?: boolean }[] = [
  { name: 'f32', weights: 'f32' },
  { name: 'f16', weights: 'f16' },
  { name: 'q8', weights: 'q8' },
  { name: 'q8, f32 act.', weights: 'q8', floatActivations: true },
  { name: 'q4', weights: 'q4' },
  { name: 'q4, no relaxed', weights: 'q4', noRelaxedSimd: true },
];

/** Read plus write bandwidth of copying a 256 MiB Float32Array, GB/s (the bench's CPU ceiling). */
async function copyCeiling(): Promise<number> {
  const timing = { sampleMs: SAMPLE_MS, maxBatch: 1 << 20, minSamples: SAMPLES, slowSampleMs: 1e9, maxSamples: SAMPLES, budgetMs: 0 };
  return (await measureCpuCopy(256 << 20, timing)).gbPerS;
}

interface Row {
  shape: string;
  dtype: string;
  runtime: string;
  threads: number;
  us: number;
  gflops: number;
  gbps: number;
}

/** The part of onnxruntime-node used here. It is optional (about 290 MB), so it is not a dependency. */
interface OnnxRuntime {
  InferenceSession: {
    create(model: Uint8Array, options: object): Promise<{ run(feeds: object): Promise<Record<string, { data: unknown }>>; release(): Promise<void> }>;
  };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => object;
}

async function onnxRuntime(): Promise<OnnxRuntime | undefined> {
  const name = 'onnxruntime-node'; // a variable: type-checking does not look for the package
  try {
    return (await import(name)) as OnnxRuntime;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const ceiling = await copyCeiling();
  const ort = await onnxRuntime();
  const rng = new Rng(12345);
  // One instance per thread count, and every configuration of a shape timed one after another, so that a change
  // in the machine's load (it is shared) falls on all of them alike.
  const instances = await Promise.all(THREADS.map((threads) => WasmKernels.create({ threads })));
  for (const k of instances) if (k.threads !== THREADS[instances.indexOf(k)]) throw new Error('no SharedArrayBuffer here: worker threads cannot run');
  // the build without relaxed SIMD, where the default one has it (otherwise they are the same build)
  const relaxed = instances[0]!.relaxedSimd;
  const plain = relaxed ? await Promise.all(THREADS.map((threads) => WasmKernels.create({ threads, relaxedSimd: false }))) : [];
  if (!relaxed) console.log('this runtime has no relaxed SIMD: q4 runs its int16 reading alone');
  for (const { name, K, N } of SHAPES) {
    const a = Float32Array.from({ length: K }, () => rng.range(-1, 1));
    const w = Float32Array.from({ length: N * K }, () => rng.range(-1, 1));
    for (const f of FORMATS.filter((f) => relaxed || !f.noRelaxedSimd)) {
      const values = roundWeights(f.weights, w, K);
      const ref = new Float64Array(N);
      matmulReference(ref, a, values, undefined, 1, N, K);
      const bound = isQuantFormat(f.weights) && !f.floatActivations ? activationRoundingBound(f.weights, a, values, 1, N, K) : undefined;
      for (const k of f.noRelaxedSimd ? plain : instances) {
        const mark = k.arena.mark();
        const at = k.arena.upload('f32', [1, K], a, 'a');
        const wt = k.uploadWeight(f.weights, N, K, w, 'w');
        const out = k.arena.alloc('f32', [1, N], 'out');
        const run = () => k.matmul(out, at, wt, undefined, 1, N, K, name, f.floatActivations ? 'matvecQ8F32' : undefined);
        run();
        check(k.arena.f32(out), ref, `${name} ${f.name} ${k.threads} threads`, bound);
        const ms = time(run);
        rows.push(row(name, K, N, f.name, tensorBytes(wt.dtype, [N, K]), 'wasm', k.threads, ms));
        k.arena.release(mark);
      }
    }
    if (ort) {
      const ref = new Float64Array(N);
      matmulReference(ref, a, w, undefined, 1, N, K);
      const model = matmulModel(w, K, N);
      for (const threads of THREADS) {
        const session = await ort.InferenceSession.create(model, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential' });
        const feeds = { A: new ort.Tensor('float32', a, [1, K]) };
        check((await session.run(feeds)).Y!.data as Float32Array, ref, `${name} onnxruntime ${threads} threads`);
        // session.run is asynchronous: time it by awaiting each call, in batches as above
        const ms = await timeAsync(() => session.run(feeds));
        rows.push(row(name, K, N, 'f32', 4 * N * K, 'onnxruntime', threads, ms));
        await session.release();
      }
    }
  }
  for (const k of [...instances, ...plain]) k.destroy();
  print(rows, ceiling, ort !== undefined);
}

/** A timed configuration; GB/s counts the weights as stored (`weightBytes`), the f32 input and the output once. */
function row(shape: string, K: number, N: number, dtype: string, weightBytes: number, runtime: string, threads: number, ms: number): Row {
  return {
    shape: `${shape} ${K}->${N}`,
    dtype,
    runtime,
    threads,
    us: ms * 1000,
    gflops: matmulFlops(1, N, K) / ms / 1e6,
    gbps: (weightBytes + 4 * (K + N)) / ms / 1e6,
  };
}

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn();
  let batch = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    const ms = performance.now() - t0;
    if (ms >= SAMPLE_MS || batch >= 1 << 20) break;
    batch = Math.max(batch * 2, Math.ceil((1.2 * SAMPLE_MS * batch) / Math.max(ms, 1e-3)));
  }
  const samples: number[] = [];
  for (let s = 0; s < SAMPLES; s++) {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    samples.push((performance.now() - t0) / batch);
  }
  return summarize(samples).median;
}

function print(rows: Row[], ceiling: number, withOrt: boolean): void {
  console.log(`memory-bandwidth ceiling (copy of a 256 MiB Float32Array, read + write): ${ceiling.toFixed(1)} GB/s`);
  if (!withOrt) console.log('onnxruntime-node is not installed (npm install onnxruntime-node --ignore-scripts): WebAssembly alone');
  console.log('');
  const header = ['shape', 'weights', 'runtime', 'threads', 'us', 'GFLOP/s', 'GB/s', '% of copy'];
  const table = rows.map((r) => [r.shape, r.dtype, r.runtime, String(r.threads), r.us.toFixed(1), r.gflops.toFixed(2), r.gbps.toFixed(2), `${((100 * r.gbps) / ceiling).toFixed(0)}%`]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(line(header));
  for (const t of table) console.log(line(t));
  console.log('');
  for (const runtime of ['wasm', 'onnxruntime']) {
    for (const dtype of FORMATS.map((f) => f.name)) {
      for (const threads of THREADS) {
        const us = stepUs(rows, runtime, dtype, threads);
        const f32 = stepUs(rows, runtime, 'f32', threads);
        if (us === undefined) continue;
        const speedup = f32 !== undefined && dtype !== 'f32' ? `, ${(f32 / us).toFixed(2)}x f32's speed` : '';
        console.log(`GPT-2 124M decode-step matvecs, ${runtime} ${dtype}, ${threads} thread${threads > 1 ? 's' : ''}: ${(us / 1000).toFixed(2)} ms (at most ${(1e6 / us).toFixed(1)} tok/s from matvecs alone${speedup})`);
      }
    }
  }
}

/** Microseconds of a decode step's matvecs: 12 layers of the four block matvecs, plus the LM head. */
function stepUs(rows: Row[], runtime: string, dtype: string, threads: number): number | undefined {
  const pick = rows.filter((r) => r.runtime === runtime && r.dtype === dtype && r.threads === threads);
  if (pick.length !== SHAPES.length) return undefined;
  return pick.reduce((sum, r) => sum + (r.shape.startsWith('lm_head') ? 1 : 12) * r.us, 0);
}

// A minimal ONNX model, Y[1, N] = A[1, K] @ W[K, N] with W an initializer, written as protobuf by hand (no onnx
// package needed). Field numbers from onnx.proto: ModelProto, GraphProto, NodeProto, TensorProto, ValueInfoProto.
function matmulModel(w: Float32Array, K: number, N: number): Uint8Array {
  const wt = new Float32Array(K * N); // onnx MatMul's B is [K, N]: our w [N, K] transposed
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) wt[k * N + n] = w[n * K + k]!;
  const node = cat(str(1, 'A'), str(1, 'W'), str(2, 'Y'), str(4, 'MatMul'));
  const initializer = cat(varintField(1, K), varintField(1, N), varintField(2, 1), str(8, 'W'), bytes(9, new Uint8Array(wt.buffer)));
  const valueInfo = (name: string, dims: number[]) => {
    const shape = cat(...dims.map((d) => bytes(1, varintField(1, d))));
    const tensorType = cat(varintField(1, 1), bytes(2, shape));
    return cat(str(1, name), bytes(2, bytes(1, tensorType)));
  };
  const graph = cat(bytes(1, node), str(2, 'matvec'), bytes(5, initializer), bytes(11, valueInfo('A', [1, K])), bytes(12, valueInfo('Y', [1, N])));
  return cat(varintField(1, 8), bytes(7, graph), bytes(8, varintField(2, 17)));
}

function varint(v: number): number[] {
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function varintField(field: number, v: number): Uint8Array {
  return Uint8Array.from([...varint(field << 3), ...varint(v)]);
}

function bytes(field: number, data: Uint8Array): Uint8Array {
  return cat(Uint8Array.from([...varint((field << 3) | 2), ...varint(data.length)]), data);
}

function str(field: number, s: string): Uint8Array {
  return bytes(field, new TextEncoder().encode(s));
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

await main();
