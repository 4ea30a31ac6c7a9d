// A Recorder collects the kernel dispatches of one step (a prefill or one decode step) and submits them in one
// command encoder. Dispatches are recorded as plain data first; at submit time the uniforms of every dispatch are
// written into one uniform buffer, bind groups are made, and the compute passes are encoded. With profiling on,
// each dispatch gets its own pass with timestamp writes, and submit() returns how long each one took.
import type { Gpu } from './device.ts';
import type { Tensor } from './buffers.ts';
import { assembleShader, type ShaderConstants } from './shaders.ts';

export interface Dispatch {
  /** Shader file in shaders/, e.g. "matmul.v2.wgsl". */
  shader: string;
  constants?: ShaderConstants;
  /** Uniform struct bytes for @binding(0), or undefined when the shader has none. */
  uniforms?: ArrayBuffer;
  /** Storage bindings in @binding order (1, 2, ... when there are uniforms, else 0, 1, ...). */
  bindings: Tensor[];
  workgroups: [number, number?, number?];
  /** For profiles: the kernel's name, the layer, and the shapes it ran on. */
  label: string;
  layer?: number;
  shape?: string;
}

/** A buffer-to-buffer copy between dispatches (offsets need only be multiples of 4, unlike bindings). */
export interface Copy {
  copy: { src: Tensor; srcByteOffset: number; dst: Tensor; dstByteOffset: number; byteLength: number };
  label: string;
}

export interface DispatchTiming {
  label: string;
  layer?: number;
  shape?: string;
  ms: number;
}

/** Compiled pipelines, one per (shader, constants), kept for the life of the device. */
export class PipelineCache {
  private pipelines = new Map<string, GPUComputePipeline>();
  constructor(private device: GPUDevice) {}

  get(shader: string, constants: ShaderConstants = {}): GPUComputePipeline {
    const key = `${shader}|${JSON.stringify(constants, Object.keys(constants).sort())}`;
    let pipeline = this.pipelines.get(key);
    if (!pipeline) {
      const code = assembleShader(shader, constants);
      const module = this.device.createShaderModule({ label: shader, code });
      pipeline = this.device.createComputePipeline({ label: shader, layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(key, pipeline);
    }
    return pipeline;
  }

  get size(): number {
    return this.pipelines.size;
  }

  /**
   * The bind group of `pipeline` over `entries`, made once and reused. A decode step records the same dispatches
   * over the same buffers (and, dispatch by dispatch, the same uniform offsets) as the step before, so after the
   * first step every bind group is found here: creating ~170 of them per token was most of a step's CPU time.
   */
  bindGroup(pipeline: GPUComputePipeline, entries: GPUBindGroupEntry[], label: string): GPUBindGroup {
    let key = String(this.idOf(pipeline));
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${e.binding}:${this.idOf(r.buffer)}:${r.offset}:${r.size}`;
    }
    let group = this.bindGroups.get(key);
    if (!group) {
      // bound the cache: buffers come and go (readbacks, a grown uniform buffer), and keys of dead ones never match
      if (this.bindGroups.size >= 20_000) this.bindGroups.clear();
      let layout = this.layouts.get(pipeline);
      if (!layout) this.layouts.set(pipeline, (layout = pipeline.getBindGroupLayout(0)));
      group = this.device.createBindGroup({ label, layout, entries });
      this.bindGroups.set(key, group);
    }
    return group;
  }

  private bindGroups = new Map<string, GPUBindGroup>();
  private layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private ids = new WeakMap<object, number>();
  private nextId = 1;

  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }
}

const pipelineCaches = new WeakMap<GPUDevice, PipelineCache>();
export function pipelineCache(device: GPUDevice): PipelineCache {
  let cache = pipelineCaches.get(device);
  if (!cache) pipelineCaches.set(device, (cache = new PipelineCache(device)));
  return cache;
}

/** A uniform buffer per device, grown when a step needs more; queue order makes reuse across steps safe. */
const uniformBuffers = new WeakMap<GPUDevice, GPUBuffer>();
/** What each uniform buffer holds once the writes queued so far land: a step writes only the uniforms that differ. */
const uniformContents = new WeakMap<GPUBuffer, Uint8Array>();

/**
 * Queue writes of the dispatches' uniforms (`staging`, dispatch i at offsets[i], lengths[i] bytes) that differ from
 * what the buffer will hold; neighbours are written together. A decode step after the first writes only what moved
 * with the position (and the sampler's number), not the ~100 structs that stay as they were. Returns bytes written.
 */
function writeChangedUniforms(device: GPUDevice, buffer: GPUBuffer, staging: Uint8Array<ArrayBuffer>, offsets: number[], lengths: number[]): number {
  const held = uniformContents.get(buffer);
  const same = (i: number) => {
    if (!held || offsets[i]! + lengths[i]! > held.length) return false;
    for (let b = offsets[i]!; b < offsets[i]! + lengths[i]!; b++) if (held[b] !== staging[b]) return false;
    return true;
  };
  let written = 0;
  for (let i = 0; i < offsets.length; i++) {
    if (lengths[i] === 0 || same(i)) continue;
    let j = i; // write i .. j in one go, while the next one changed too
    while (j + 1 < offsets.length && lengths[j + 1]! > 0 && !same(j + 1)) j++;
    const [from, to] = [offsets[i]!, offsets[j]! + lengths[j]!];
    device.queue.writeBuffer(buffer, from, staging, from, to - from);
    written += to - from;
    i = j;
  }
  const contents = held && held.length > staging.length ? held : new Uint8Array(staging.length);
  if (contents !== held && held) contents.set(held);
  contents.set(staging);
  uniformContents.set(buffer, contents);
  return written;
}
function uniformBuffer(device: GPUDevice, size: number): GPUBuffer {
  let buffer = uniformBuffers.get(device);
  if (!buffer || buffer.size < size) {
    buffer?.destroy();
    buffer = device.createBuffer({ label: 'uniforms', size: Math.max(size, 64 * 1024), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    uniformBuffers.set(device, buffer);
  }
  return buffer;
}

export class Recorder {
  readonly dispatches: Dispatch[] = [];
  /** Bytes of uniforms the last submit() wrote: the ones that changed since the step before. */
  uniformBytesWritten = 0;
  /** Copies to run before the dispatch at each index (index === dispatches.length: after the last one). */
  private copies = new Map<number, Copy[]>();
  readonly device: GPUDevice;
  private pipelines: PipelineCache;

  constructor(
    readonly gpu: Gpu,
    readonly options: { profile?: boolean; label?: string } = {},
  ) {
    this.device = gpu.device;
    this.pipelines = pipelineCache(gpu.device);
  }

  dispatch(d: Dispatch): void {
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    const [x, y = 1, z = 1] = d.workgroups;
    if (x > max || y > max || z > max) throw new Error(`${d.label}: ${x}x${y}x${z} workgroups exceeds the limit of ${max} per dimension`);
    if (x === 0 || y === 0 || z === 0) return; // nothing to do (an empty range)
    this.dispatches.push(d);
  }

  /** Record a copy of `byteLength` bytes, ordered after the dispatches recorded so far. */
  copy(src: Tensor, srcByteOffset: number, dst: Tensor, dstByteOffset: number, byteLength: number, label = 'copy'): void {
    const at = this.dispatches.length;
    const list = this.copies.get(at) ?? [];
    list.push({ copy: { src, srcByteOffset, dst, dstByteOffset, byteLength }, label });
    this.copies.set(at, list);
  }

  private encodeCopies(encoder: GPUCommandEncoder, at: number): boolean {
    const list = this.copies.get(at);
    if (!list) return false;
    for (const { copy: c } of list) {
      encoder.copyBufferToBuffer(c.src.buffer, c.src.offset + c.srcByteOffset, c.dst.buffer, c.dst.offset + c.dstByteOffset, c.byteLength);
    }
    return true;
  }

  /** Encode and submit every recorded dispatch; resolves when the GPU accepted them (timings when profiling). */
  async submit(): Promise<DispatchTiming[]> {
    const { device } = this;
    const align = device.limits.minUniformBufferOffsetAlignment;
    const offsets: number[] = [];
    let total = 0;
    for (const d of this.dispatches) {
      offsets.push(total);
      total += Math.ceil((d.uniforms?.byteLength ?? 0) / align) * align;
    }
    device.pushErrorScope('validation');
    const uniforms = uniformBuffer(device, Math.max(total, 16));
    if (total > 0) {
      const staging = new Uint8Array(total);
      this.dispatches.forEach((d, i) => d.uniforms && staging.set(new Uint8Array(d.uniforms), offsets[i]));
      const lengths = this.dispatches.map((d) => d.uniforms?.byteLength ?? 0);
      this.uniformBytesWritten = writeChangedUniforms(device, uniforms, staging, offsets, lengths);
    }

    const profile = this.options.profile && this.gpu.hasTimestamps && this.dispatches.length > 0;
    if (this.dispatches.length === 0 && this.copies.size === 0) {
      await device.popErrorScope();
      return [];
    }
    const count = this.dispatches.length;
    const querySet = profile ? device.createQuerySet({ type: 'timestamp', count: 2 * count }) : undefined;
    const encoder = device.createCommandEncoder({ label: this.options.label });
    let pass: GPUComputePassEncoder | undefined;
    this.dispatches.forEach((d, i) => {
      const pipeline = this.pipelines.get(d.shader, d.constants);
      const entries: GPUBindGroupEntry[] = [];
      if (d.uniforms) entries.push({ binding: 0, resource: { buffer: uniforms, offset: offsets[i]!, size: d.uniforms.byteLength } });
      const first = d.uniforms ? 1 : 0;
      d.bindings.forEach((t, j) => entries.push({ binding: first + j, resource: { buffer: t.buffer, offset: t.offset, size: t.byteLength } }));
      const bindGroup = this.pipelines.bindGroup(pipeline, entries, d.label);
      if (this.copies.has(i)) {
        // copies cannot happen inside a compute pass: close it, copy, and open a new one below
        pass?.end();
        pass = undefined;
        this.encodeCopies(encoder, i);
      }
      if (querySet) {
        pass = encoder.beginComputePass({ label: d.label, timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      } else {
        pass ??= encoder.beginComputePass({ label: this.options.label });
      }
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(d.workgroups[0], d.workgroups[1] ?? 1, d.workgroups[2] ?? 1);
      if (querySet) {
        pass.end();
        pass = undefined;
      }
    });
    if (pass && !querySet) pass.end();
    this.encodeCopies(encoder, count);

    let resolved: GPUBuffer | undefined;
    let readback: GPUBuffer | undefined;
    if (querySet) {
      resolved = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
      readback = device.createBuffer({ size: 16 * count, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ });
      encoder.resolveQuerySet(querySet, 0, 2 * count, resolved, 0);
      encoder.copyBufferToBuffer(resolved, 0, readback, 0, 16 * count);
    }
    device.queue.submit([encoder.finish()]);
    const error = await device.popErrorScope();
    if (error) throw new Error(`GPU validation error in ${this.options.label ?? 'a step'}: ${error.message}`);
    if (!readback) return [];

    await readback.mapAsync(GPUMapMode.READ);
    const stamps = new BigUint64Array(readback.getMappedRange().slice(0));
    readback.unmap();
    readback.destroy();
    resolved!.destroy();
    querySet!.destroy();
    return this.dispatches.map((d, i) => ({
      label: d.label,
      layer: d.layer,
      shape: d.shape,
      ms: Number(stamps[2 * i + 1]! - stamps[2 * i]!) / 1e6,
    }));
  }
}
