// What this adapter (and this CPU) can do at best, measured in the same run as the kernels so percentages compare
// like with like. The CPU's memory: a copy of a Float32Array far larger than its caches, for the WebAssembly kernels.
// Memory: a large buffer copy, made two ways: copyBufferToBuffer (the driver's own copy path, timed by the wall
// clock) and a copy kernel (kv_append over one flat row block, timed by timestamp queries); the faster one is the
// ceiling. Arithmetic: the best GFLOP/s any matmul version reaches (the square matmuls of kernels.ts's
// ceilingCases, and every model matmul besides).
import { createTensor } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import { Recorder } from '../src/gpu/recorder.ts';
import { kvAppend } from '../src/kernels/kvcache.ts';
import { summarize, timeCalls, timeDispatches, type Stats, type Timing, type TimingOptions } from './timing.ts';

export interface CopyCeiling extends Stats {
  /** Bytes of the buffer copied. */
  bytes: number;
  /** Copies per sample. */
  batch: number;
  /** Read plus written bytes per second, from the median: 2 * bytes / median. */
  gbPerS: number;
  method: string;
}

export interface CopyOptions {
  bytes: number;
  /** A sample should last at least this long. */
  sampleMs: number;
  samples: number;
}

/**
 * Bandwidth of copyBufferToBuffer. Copies are not compute passes, so timestamp writes cannot surround them: a
 * sample submits `batch` copies at once and takes the wall clock to onSubmittedWorkDone, minus the median time of
 * an empty submission (the fixed cost of submitting and hearing back).
 */
export async function measureCopy(gpu: Gpu, o: CopyOptions): Promise<CopyCeiling> {
  const { device } = gpu;
  const usage = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | GPUBufferUsage.STORAGE;
  const src = device.createBuffer({ label: 'copy src', size: o.bytes, usage });
  const dst = device.createBuffer({ label: 'copy dst', size: o.bytes, usage });
  try {
    const run = async (copies: number): Promise<number> => {
      const encoder = device.createCommandEncoder({ label: 'copy ceiling' });
      for (let i = 0; i < copies; i++) encoder.copyBufferToBuffer(src, 0, dst, 0, o.bytes);
      const t0 = performance.now();
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    const empty: number[] = [];
    for (let i = 0; i < 10; i++) empty.push(await run(0));
    const overhead = summarize(empty).median;

    await run(1); // warm-up: the first touch of fresh buffers may allocate pages
    let batch = 1;
    for (;;) {
      const ms = await run(batch);
      if (ms >= o.sampleMs || batch >= 4096) break;
      batch = Math.min(4096, Math.max(batch * 2, Math.ceil((1.2 * o.sampleMs * batch) / Math.max(ms, 1e-3))));
    }
    const samples: number[] = [];
    for (let i = 0; i < o.samples; i++) samples.push(Math.max((await run(batch)) - overhead, 1e-6) / batch);
    const stats = summarize(samples);
    return {
      ...stats,
      bytes: o.bytes,
      batch,
      gbPerS: (2 * o.bytes) / (stats.median * 1e6),
      method: `wall clock of ${batch} copies per submission, minus an empty submission (${overhead.toFixed(3)} ms)`,
    };
  } finally {
    src.destroy();
    dst.destroy();
  }
}

export interface KernelCopyCeiling extends Omit<Timing, 'method'> {
  bytes: number;
  gbPerS: number;
  method: string;
}

/**
 * Bandwidth of a copy done by a compute kernel: kv_append with one head of `WIDTH` floats and as many positions
 * as the buffer holds is a plain contiguous copy, src[i] -> dst[i], one float per invocation.
 */
export async function measureKernelCopy(gpu: Gpu, bytes: number, timing: TimingOptions): Promise<KernelCopyCeiling> {
  const WIDTH = 1024;
  const rows = Math.max(1, Math.floor(bytes / 4 / WIDTH));
  const src = createTensor(gpu.device, 'f32', [rows, WIDTH], 'copy src');
  const dst = createTensor(gpu.device, 'f32', [rows, WIDTH], 'copy dst');
  try {
    const rec = new Recorder(gpu, { label: 'kernel copy' });
    kvAppend(rec, dst, src, { T: rows, pos0: 0, nKVHead: 1, headDim: WIDTH, nCtx: rows, srcStride: WIDTH, srcOffset: 0 });
    const t = await timeDispatches(gpu, rec.dispatches, timing);
    const copied = rows * WIDTH * 4;
    return { ...t, bytes: copied, gbPerS: (2 * copied) / (t.median * 1e6), method: `kvAppend.wgsl as a flat copy, ${t.method}` };
  } finally {
    src.buffer.destroy();
    dst.buffer.destroy();
  }
}

/**
 * Read plus write bandwidth of the CPU's memory: one thread copying a Float32Array of `bytes` (the engine's
 * memcpy), far past the last-level cache. The ceiling of the WebAssembly matvec, which streams its weights once.
 */
export async function measureCpuCopy(bytes: number, timing: TimingOptions): Promise<KernelCopyCeiling> {
  const n = Math.floor(bytes / 4);
  const src = new Float32Array(n).fill(1);
  const dst = new Float32Array(n); // filled by the first copy, so no sample pays for fresh pages
  const t = await timeCalls(() => dst.set(src), timing);
  return { ...t, bytes: n * 4, gbPerS: (2 * n * 4) / (t.median * 1e6), method: `Float32Array.set of ${(n * 4) / (1 << 20)} MiB, ${t.method}` };
}
