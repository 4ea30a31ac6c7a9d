// Timing GPU work (and CPU calls, by the wall clock) for the bench: warm up, find how many repetitions make one measurable sample, take many
// samples, and summarise them by their median and spread.
//
// A sample is one compute pass that runs the recorded dispatches `batch` times back to back. It is timed by
// timestamp-query writes at the start and end of the pass when the adapter has them, and by the wall clock around
// queue.onSubmittedWorkDone otherwise. Batching matters on fast GPUs: Dawn rounds timestamps to multiples of
// 65.536 us (its timestamp_quantization toggle, a guard against timing attacks), longer than a decode-step matvec
// takes, so a sample must last much longer than that.
import type { Gpu } from '../src/gpu/device.ts';
import { pipelineCache, type Dispatch } from '../src/gpu/recorder.ts';

export interface Stats {
  /** Milliseconds per repetition. */
  median: number;
  p10: number;
  p90: number;
  min: number;
  max: number;
  mean: number;
  /** Samples summarised. */
  n: number;
}

export type TimingMethod = 'timestamp-query' | 'wall-clock';

export interface Timing extends Stats {
  /** Repetitions in each sample. */
  batch: number;
  method: TimingMethod;
}

export interface TimingOptions {
  /** A sample should last at least this long (its repetitions are increased until it does, up to maxBatch). */
  sampleMs: number;
  maxBatch: number;
  /**
   * Samples: at least minSamples (3 when one sample takes longer than slowSampleMs: a naive kernel on a software
   * adapter can take seconds), then more while the total stays under budgetMs, up to maxSamples.
   */
  minSamples: number;
  slowSampleMs: number;
  maxSamples: number;
  budgetMs: number;
  /** Called before each sample, e.g. to restore the input of a kernel that works in place. */
  reset?: () => void;
}

/** The value below which a fraction `q` of the sorted samples lie (linear interpolation). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function summarize(samples: readonly number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    median: quantile(sorted, 0.5),
    p10: quantile(sorted, 0.1),
    p90: quantile(sorted, 0.9),
    min: sorted[0] ?? Number.NaN,
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.reduce((a, b) => a + b, 0) / Math.max(sorted.length, 1),
    n: sorted.length,
  };
}

/**
 * Runs a fixed list of dispatches (those a Recorder collected) again and again in one compute pass. Bind groups
 * and uniforms are made once, so a sample measures the GPU work and nothing the CPU does per step.
 */
export class DispatchTimer {
  readonly method: TimingMethod;
  private uniforms?: GPUBuffer;
  private encoded: { pipeline: GPUComputePipeline; bindGroup: GPUBindGroup; workgroups: [number, number, number] }[] = [];
  private querySet?: GPUQuerySet;
  private resolved?: GPUBuffer;
  private readback?: GPUBuffer;

  constructor(
    private gpu: Gpu,
    dispatches: readonly Dispatch[],
  ) {
    const { device } = gpu;
    this.method = gpu.hasTimestamps ? 'timestamp-query' : 'wall-clock';
    const align = device.limits.minUniformBufferOffsetAlignment;
    const offsets: number[] = [];
    let size = 0;
    for (const d of dispatches) {
      offsets.push(size);
      size += Math.ceil((d.uniforms?.byteLength ?? 0) / align) * align;
    }
    if (size > 0) {
      this.uniforms = device.createBuffer({ label: 'bench uniforms', size, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      const staging = new Uint8Array(size);
      dispatches.forEach((d, i) => d.uniforms && staging.set(new Uint8Array(d.uniforms), offsets[i]));
      device.queue.writeBuffer(this.uniforms, 0, staging);
    }
    const pipelines = pipelineCache(device);
    this.encoded = dispatches.map((d, i) => {
      const pipeline = pipelines.get(d.shader, d.constants);
      const entries: GPUBindGroupEntry[] = [];
      if (d.uniforms) entries.push({ binding: 0, resource: { buffer: this.uniforms!, offset: offsets[i]!, size: d.uniforms.byteLength } });
      const first = d.uniforms ? 1 : 0;
      d.bindings.forEach((t, j) => entries.push({ binding: first + j, resource: { buffer: t.buffer, offset: t.offset, size: t.byteLength } }));
      const bindGroup = device.createBindGroup({ label: d.label, layout: pipeline.getBindGroupLayout(0), entries });
      return { pipeline, bindGroup, workgroups: [d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1] };
    });
    if (gpu.hasTimestamps) {
      this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 });
      this.resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      this.readback = device.createBuffer({ size: 16, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
    }
  }

  /** Milliseconds per repetition of the dispatches, from one pass that runs them `batch` times. */
  async sample(batch: number): Promise<number> {
    const { device } = this.gpu;
    device.pushErrorScope('validation');
    const encoder = device.createCommandEncoder({ label: 'bench sample' });
    const timestampWrites = this.querySet ? { querySet: this.querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } : undefined;
    const pass = encoder.beginComputePass({ label: 'bench sample', timestampWrites });
    for (let i = 0; i < batch; i++) {
      for (const e of this.encoded) {
        pass.setPipeline(e.pipeline);
        pass.setBindGroup(0, e.bindGroup);
        pass.dispatchWorkgroups(...e.workgroups);
      }
    }
    pass.end();
    if (this.querySet) {
      encoder.resolveQuerySet(this.querySet, 0, 2, this.resolved!, 0);
      encoder.copyBufferToBuffer(this.resolved!, 0, this.readback!, 0, 16);
    }
    const t0 = performance.now();
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new Error(`GPU validation error while timing: ${error.message}`);
    if (!this.readback) {
      await device.queue.onSubmittedWorkDone();
      return (performance.now() - t0) / batch;
    }
    await this.readback.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(this.readback.getMappedRange().slice(0));
    this.readback.unmap();
    return Number(stamps[1]! - stamps[0]!) / 1e6 / batch;
  }

  destroy(): void {
    this.uniforms?.destroy();
    this.querySet?.destroy();
    this.resolved?.destroy();
    this.readback?.destroy();
  }
}

/**
 * Time `dispatches`, which have run once already (their check compiled the pipelines): see timeSamples.
 * Returns ms per repetition.
 */
export async function timeDispatches(gpu: Gpu, dispatches: readonly Dispatch[], o: TimingOptions): Promise<Timing> {
  const timer = new DispatchTimer(gpu, dispatches);
  try {
    return await timeSamples((batch) => timer.sample(batch), timer.method, o);
  } finally {
    timer.destroy();
  }
}

/**
 * Time a call on the CPU (a WebAssembly kernel, a memory copy) by the wall clock, as timeDispatches times GPU work:
 * `fn` runs `batch` times back to back per sample. Returns ms per call.
 */
export function timeCalls(fn: () => void, o: TimingOptions): Promise<Timing> {
  return timeSamples((batch) => {
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) fn();
    return (performance.now() - t0) / batch;
  }, 'wall-clock', o);
}

/**
 * The sampling policy of both: a first run warms up, then the batch grows until a sample lasts `sampleMs`, then
 * samples are taken for the budget. A run slower than `slowSampleMs` needs no warm-up and is the first sample
 * itself. `sample(batch)` returns ms per repetition.
 */
async function timeSamples(sample: (batch: number) => number | Promise<number>, method: TimingMethod, o: TimingOptions): Promise<Timing> {
  o.reset?.();
  let perRun = await sample(1);
  let batch = 1;
  while (perRun < o.slowSampleMs) {
    o.reset?.();
    perRun = await sample(batch);
    if (perRun * batch >= o.sampleMs || batch >= o.maxBatch) break;
    // a quantized timestamp can read 0 for a short batch: then grow it 16-fold and look again
    const wanted = perRun > 0 ? Math.ceil((1.2 * o.sampleMs) / perRun) : batch * 16;
    batch = Math.min(o.maxBatch, Math.max(batch * 2, wanted));
  }
  const samples = [perRun]; // the batch that was long enough is the first sample
  const minSamples = perRun * batch > o.slowSampleMs ? Math.min(3, o.minSamples) : o.minSamples;
  const start = performance.now();
  while (samples.length < o.maxSamples && (samples.length < minSamples || performance.now() - start < o.budgetMs)) {
    o.reset?.();
    samples.push(await sample(batch));
  }
  return { ...summarize(samples), batch, method };
}
