// Micro-benchmark of the WebAssembly matvec: the matrix-vector products of a GPT-2 124M decode step, f32 and f16
// weights, on 1 and 2 threads, beside onnxruntime-node's MatMul on the same shapes (when it is installed) and a
// memory-bandwidth ceiling (a copy of a large Float32Array), all in the same run.
//
//   npx tsx bench/wasm-matvec.ts [--quick]
//
// Each configuration is checked against the float64 reference before it is timed. GB/s counts the least traffic
// (weights, input and output once, as matmulBytes); the same weights are read on every repetition, as in the
// onnxruntime runs, so shapes whose weights fit the CPU's last-level cache can beat the copy ceiling.
import { WasmKernels } from '../src/backend/wasm/kernels.ts';
import type { WasmTensor } from '../src/backend/wasm/arena.ts';
import { packF16, roundToF16 } from '../src/half.ts';
import { matmulBytes, matmulFlops, matmulReference } from '../src/kernels/matmul.ts';
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

/** The largest error relative to the allowance atol + |ref| * rtol (rtol 1e-4, atol 1e-5, as the tests). */
function check(got: ArrayLike<number>, ref: Float64Array, what: string): void {
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(got[i]! - ref[i]!);
    if (!(err <= 1e-5 + Math.abs(ref[i]!) * 1e-4)) throw new Error(`${what}: out[${i}] is ${got[i]}, the reference ${ref[i]}; not timed`);
  }
}

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
  for (const { name, K, N } of SHAPES) {
    const a = Float32Array.from({ length: K }, () => rng.range(-1, 1));
    const w = Float32Array.from({ length: N * K }, () => rng.range(-1, 1));
    for (const dtype of ['f32', 'f16x2'] as const) {
      const ref = new Float64Array(N);
      matmulReference(ref, a, dtype === 'f32' ? w : w.map(roundToF16), undefined, 1, N, K);
      const packed = dtype === 'f32' ? w : packF16(w, K);
      for (const k of instances) {
        const mark = k.arena.mark();
        const at = k.arena.upload('f32', [1, K], a, 'a');
        const wt: WasmTensor = k.arena.upload(dtype, [N, K], packed, 'w');
        const out = k.arena.alloc('f32', [1, N], 'out');
        k.matmul(out, at, wt, undefined, 1, N, K);
        check(k.arena.f32(out), ref, `${name} ${dtype} ${k.threads} threads`);
        const ms = time(() => k.matmul(out, at, wt, undefined, 1, N, K));
        rows.push(row(name, K, N, dtype, 'wasm', k.threads, ms));
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
        rows.push(row(name, K, N, 'f32', 'onnxruntime', threads, ms));
        await session.release();
      }
    }
  }
  for (const k of instances) k.destroy();
  print(rows, ceiling, ort !== undefined);
}

function row(shape: string, K: number, N: number, dtype: 'f32' | 'f16x2', runtime: string, threads: number, ms: number): Row {
  return {
    shape: `${shape} ${K}->${N}`,
    dtype: dtype === 'f32' ? 'f32' : 'f16',
    runtime,
    threads,
    us: ms * 1000,
    gflops: matmulFlops(1, N, K) / ms / 1e6,
    gbps: matmulBytes(1, N, K, dtype) / ms / 1e6,
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
  // decode-step total: 12 layers of the four block matvecs, plus the LM head
  console.log('');
  for (const runtime of ['wasm', 'onnxruntime']) {
    for (const dtype of ['f32', 'f16']) {
      for (const threads of THREADS) {
        const pick = rows.filter((r) => r.runtime === runtime && r.dtype === dtype && r.threads === threads);
        if (pick.length !== SHAPES.length) continue;
        const us = pick.reduce((sum, r) => sum + (r.shape.startsWith('lm_head') ? 1 : 12) * r.us, 0);
        console.log(`GPT-2 124M decode-step matvecs, ${runtime} ${dtype}, ${threads} thread${threads > 1 ? 's' : ''}: ${(us / 1000).toFixed(2)} ms (at most ${(1e6 / us).toFixed(1)} tok/s from matvecs alone)`);
      }
    }
  }
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
