// The WebGPU backend: each primitive is one kernel of src/kernels (or a copy), recorded into one Recorder per step
// and submitted at once. Weights larger than one storage binding are cut into row chunks (src/model/split-weights.ts);
// activations live in one buffer per slot, allocated the first time a step asks for it and grown (to Tc rows)
// when a later step needs more rows than it holds.
import { createTensor, readF32, uploadTensor, writeTensor, type Tensor } from '../gpu/buffers.ts';
import type { Gpu } from '../gpu/device.ts';
import { Recorder, type DispatchTiming } from '../gpu/recorder.ts';
import { gpuHook, type HookFn, type HookView } from '../hooks/hooks.ts';
import { residualAdd } from '../kernels/add.ts';
import { attentionScores, attentionValues } from '../kernels/attention.ts';
import { attentionResult, sumHeads } from '../kernels/attention-result.ts';
import { chooseToken } from '../kernels/choose.ts';
import { embed } from '../kernels/embedding.ts';
import { attentionDecode, attentionDecodeBindings, attentionDecodeFits, lmHead, lmHeadFusedOn, matmulFused, matvecFused, type MatvecFusedOptions } from '../kernels/fused.ts';
import { gelu } from '../kernels/gelu.ts';
import { kvAppend } from '../kernels/kvcache.ts';
import { layerNorm } from '../kernels/layernorm.ts';
import { rmsNorm } from '../kernels/rmsnorm.ts';
import { rope } from '../kernels/rope.ts';
import { softmax } from '../kernels/softmax.ts';
import { swiglu } from '../kernels/swiglu.ts';
import { candidateFloats, packAdjustments, topK } from '../kernels/topk.ts';
import { ConfigError } from '../model/config.ts';
import type { WeightFormat } from '../model/model.ts';
import { createGatherBuffers, splitEmbed, splitMatmul, splitScratchWidth, splitTensors, uploadSplitMatrix, type GatherBuffers, type SplitMatrix } from '../model/split-weights.ts';
import { floatsOf, type Act, type Backend, type BackendStep, type FusedEpilogue, type FusedStep, type HeadSlice, type KVCache, type Matrix, type Norm, type SampleRequest, type StepOptions, type Vector } from './backend.ts';

interface GpuAct extends Act {
  tensor: Tensor;
}
interface GpuMatrix extends SplitMatrix {
  label: string;
}
interface GpuVector extends Vector {
  tensor: Tensor;
}
interface GpuNorm extends Norm {
  weight: GpuVector;
  bias?: GpuVector;
}
interface GpuCache extends KVCache {
  k: Tensor[]; // per layer [NKV, P, HS]
  v: Tensor[];
  nKVHead: number;
  headDim: number;
}

export interface WebGpuOptions {
  weights?: WeightFormat;
  /** The largest storage binding, in bytes (default: the device's limit). Tests lower it to force split weights. */
  maxBindingBytes?: number;
}

export class WebGpuBackend implements Backend {
  readonly weightFormat: WeightFormat;
  /** The largest buffer one binding may hold. */
  readonly maxBytes: number;
  /** Tc, once the model chose it: activation slots grow to Tc rows. */
  maxRows = 1;
  private matrices: GpuMatrix[] = [];
  private vectors: GpuVector[] = [];
  private caches: GpuCache[] = [];
  /** Activations by slot name, and the gather tables of split embedding tables. */
  readonly slots = new Map<string, Tensor>();
  readonly gathers = new Map<Matrix, GatherBuffers>();
  /** Rows of the largest chunk of a split weight (0: none is split): the width of the matmul scratch. */
  private scratchWidth = 0;

  constructor(
    readonly gpu: Gpu,
    o: WebGpuOptions = {},
  ) {
    this.weightFormat = o.weights ?? 'f32';
    const { limits } = gpu.device;
    this.maxBytes = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize, o.maxBindingBytes ?? Infinity);
  }

  matrix(weight: Float32Array, bias: Float32Array | undefined, rows: number, cols: number, label: string): Matrix {
    const m = uploadSplitMatrix(this.gpu.device, weight, bias, rows, cols, this.weightFormat, this.maxBytes, label);
    const handle: GpuMatrix = { ...m, label: moduleName(label) };
    this.matrices.push(handle);
    return handle;
  }

  norm(weight: Float32Array, bias: Float32Array | undefined, label: string): Norm {
    const norm: GpuNorm = { label: moduleName(label), weight: this.vector(weight, `${label}.weight`) as GpuVector };
    if (bias) norm.bias = this.vector(bias, `${label}.bias`) as GpuVector;
    return norm;
  }

  vector(values: Float32Array, label: string): Vector {
    const v: GpuVector = { length: values.length, tensor: uploadTensor(this.gpu.device, 'f32', [values.length], values, label) };
    this.vectors.push(v);
    return v;
  }

  writeVector(v: Vector, values: Float32Array): void {
    writeTensor(this.gpu.device, (v as GpuVector).tensor, values);
  }

  kvCache(layers: number, nKVHead: number, positions: number, headDim: number): KVCache {
    const make = (kind: string) => Array.from({ length: layers }, (_, i) => createTensor(this.gpu.device, 'f32', [nKVHead, positions, headDim], `layers.${i}.${kind}_cache`));
    const cache: GpuCache = { layers, positions, nKVHead, headDim, k: make('k'), v: make('v') };
    this.caches.push(cache);
    return cache;
  }

  copyKVCache(dst: KVCache, src: KVCache, positions: number): void {
    const [d, s] = [dst as GpuCache, src as GpuCache];
    if (positions > Math.min(d.positions, s.positions) || d.layers !== s.layers || d.nKVHead !== s.nKVHead || d.headDim !== s.headDim) {
      throw new Error(`copyKVCache: positions 0..${positions - 1} do not fit both caches, or their shapes differ`);
    }
    // each head's positions 0 .. positions - 1 are one run of floats in [nKVHead, P, HS]: one copy per head
    const row = 4 * s.headDim;
    const encoder = this.gpu.device.createCommandEncoder({ label: 'kv_copy' });
    for (const which of ['k', 'v'] as const) {
      for (let l = 0; l < s.layers; l++) {
        const [from, to] = [s[which][l]!, d[which][l]!];
        for (let j = 0; j < s.nKVHead; j++) {
          encoder.copyBufferToBuffer(from.buffer, from.offset + j * s.positions * row, to.buffer, to.offset + j * d.positions * row, positions * row);
        }
      }
    }
    this.gpu.device.queue.submit([encoder.finish()]);
  }

  freeKVCache(cache: KVCache): void {
    const c = cache as GpuCache;
    this.caches = this.caches.filter((x) => x !== c);
    for (const t of [...c.k, ...c.v]) t.buffer.destroy();
  }

  checkFits(widest: number, cacheFloats: number, positions: number): void {
    if (4 * widest > this.maxBytes || 4 * cacheFloats > this.maxBytes) {
      throw new ConfigError(`a context of ${positions} positions needs buffers larger than this adapter's storage binding limit (${this.maxBytes} bytes): lower the context length`);
    }
  }

  stepTokens(requested: number, widest: number): number {
    // a split weight's matmul writes a scratch [Tc, chunk rows] first; a chunk's rows fit one binding, so Tc >= 1
    this.scratchWidth = splitScratchWidth(this.matrices);
    return (this.maxRows = Math.min(requested, Math.floor(this.maxBytes / (4 * Math.max(widest, this.scratchWidth)))));
  }

  begin(T: number, pos0: number, o: StepOptions = {}): BackendStep {
    return new WebGpuStep(this, T, pos0, o);
  }

  deviceSampling(table: Matrix): { tokenOnDevice: boolean } {
    // a split table's gather is built on the CPU from the ids
    return { tokenOnDevice: (table as GpuMatrix).chunks.length === 1 };
  }

  /** The slot's buffer, holding at least rows x cols floats: made, or replaced by one of Tc rows, when too small. */
  slot(name: string, rows: number, cols: number, dtype: 'f32' | 'u32' = 'f32'): Tensor {
    let t = this.slots.get(name);
    if (!t || t.byteLength < rows * cols * 4) {
      t?.buffer.destroy();
      t = createTensor(this.gpu.device, dtype, [rows === 1 ? 1 : Math.max(rows, this.maxRows), cols], name);
      this.slots.set(name, t);
    }
    return t;
  }

  /** The attention scores [NH, Tc, P]: made once for the longest step and the whole cache. */
  scores(nHead: number, positions: number): Tensor {
    let t = this.slots.get('scores');
    if (!t) this.slots.set('scores', (t = createTensor(this.gpu.device, 'f32', [nHead, this.maxRows, positions], 'scores')));
    return t;
  }

  /** The split-weight scratch, when some weight is split; undefined otherwise. */
  scratch(): Tensor | undefined {
    return this.scratchWidth > 0 ? this.slot('split_scratch', this.maxRows, this.scratchWidth) : undefined;
  }

  gather(table: GpuMatrix): GatherBuffers | undefined {
    if (table.chunks.length === 1) return undefined;
    let g = this.gathers.get(table);
    if (!g) this.gathers.set(table, (g = createGatherBuffers(this.gpu.device, table, this.maxRows)));
    return g;
  }

  bytes() {
    const sum = (ts: Tensor[]) => ts.reduce((n, t) => n + t.byteLength, 0);
    const weights = [...this.matrices.flatMap(splitTensors), ...this.vectors.map((v) => v.tensor)];
    return { weights: sum(weights), activations: sum(this.activationTensors()), kvCache: sum(this.caches.flatMap((c) => [...c.k, ...c.v])) };
  }

  destroy(): void {
    const weights = [...this.matrices.flatMap(splitTensors), ...this.vectors.map((v) => v.tensor)];
    for (const t of [...weights, ...this.activationTensors(), ...this.caches.flatMap((c) => [...c.k, ...c.v])]) t.buffer.destroy();
  }

  private activationTensors(): Tensor[] {
    return [...this.slots.values(), ...[...this.gathers.values()].flatMap((g) => [g.rows, g.iota])];
  }
}

/** The slot of a step's token ids, embedded into the slot `slot` (the residual stream: "x"). */
function idsSlot(slot: string): string {
  return `${slot}.ids`;
}

/** "h.3.attn.c_proj" -> "attn.c_proj": the module within its block, what slots and profiles call it. */
function moduleName(label: string): string {
  return label.replace(/^(h|layers)\.\d+\./, '');
}

class WebGpuStep implements BackendStep, FusedStep {
  private rec: Recorder;
  private hooks: HookFn<Tensor>;
  readonly hooked: boolean;
  private tokenOnDevice: boolean;

  constructor(
    private b: WebGpuBackend,
    readonly T: number,
    readonly pos0: number,
    o: StepOptions,
  ) {
    this.rec = new Recorder(b.gpu, { profile: o.profile, label: o.label ?? (T > 1 ? 'prefill' : 'decode') });
    this.tokenOnDevice = o.tokenOnDevice === true;
    this.hooks = gpuHook(this.rec, o.hooks, pos0);
    this.hooked = o.hooks !== undefined;
  }

  get fused(): FusedStep {
    return this;
  }

  get dispatches(): number {
    return this.rec.dispatches.length;
  }

  private act(slot: string, rows: number, cols: number): GpuAct {
    return { shape: [rows, cols], tensor: this.b.slot(slot, rows, cols) };
  }

  wants(hook: string): boolean {
    return this.hooks.wants(hook);
  }

  hook(hook: string, x: Act, view: HookView): void {
    this.hooks(hook, (x as GpuAct).tensor, view);
  }

  input(slot: string, values: Float32Array, cols: number): Act {
    const x = this.act(slot, values.length / cols, cols);
    writeTensor(this.b.gpu.device, x.tensor, values);
    return x;
  }

  embed(slot: string, ids: readonly number[], table: Matrix, positions?: Matrix): Act {
    const { T, pos0, rec } = this;
    const wte = table as GpuMatrix;
    const wpe = positions as GpuMatrix | undefined;
    const C = wte.cols;
    const x = this.act(slot, T, C);
    const idsTensor = this.b.slot(idsSlot(slot), T, 1, 'u32');
    // a token chosen on the device is already in the residual stream's ids slot (sample() wrote it there)
    const onDevice = this.tokenOnDevice && slot === 'x';
    if (onDevice && (T !== 1 || wte.chunks.length !== 1)) throw new Error('embed: a token chosen on the device feeds a one-token step of an unsplit table only');
    if (!onDevice) writeTensor(this.b.gpu.device, idsTensor, Uint32Array.from(ids));
    if (wpe && wte.chunks.length === 1 && wpe.chunks.length === 1) {
      embed(rec, x.tensor, idsTensor, wte.chunks[0]!.weight, wpe.chunks[0]!.weight, { T, C, pos0 }); // one kernel: wte[ids] + wpe[pos0..]
      return x;
    }
    splitEmbed(rec, x.tensor, idsTensor, ids, wte, this.b.gather(wte), { label: wte.label });
    if (wpe) this.add(x, this.embed(`${slot}.positions`, Array.from(ids, (_, t) => pos0 + t), wpe));
    return x;
  }

  add(x: Act, y: Act, layer?: number): void {
    residualAdd(this.rec, (x as GpuAct).tensor, (y as GpuAct).tensor, this.T * x.shape[1]!, layer);
  }

  layerNorm(slot: string, x: Act, w: Norm, eps: number, layer?: number): Act {
    const [rows, C] = x.shape as [number, number];
    const out = this.act(slot, rows, C);
    const { weight, bias } = w as GpuNorm;
    layerNorm(this.rec, out.tensor, (x as GpuAct).tensor, weight.tensor, bias!.tensor, rows, C, eps, { layer, label: w.label });
    return out;
  }

  rmsNorm(slot: string, x: Act, w: Norm, eps: number, layer?: number): Act {
    const [rows, C] = x.shape as [number, number];
    const out = this.act(slot, rows, C);
    rmsNorm(this.rec, out.tensor, (x as GpuAct).tensor, (w as GpuNorm).weight.tensor, rows, C, eps, { layer, label: w.label });
    return out;
  }

  linear(x: Act, w: Matrix, layer?: number, slot = w.label): Act {
    const rows = x.shape[0]!;
    const out = this.act(slot, rows, w.rows);
    splitMatmul(this.rec, out.tensor, (x as GpuAct).tensor, w as GpuMatrix, rows, this.b.scratch(), { layer, label: slot });
    return out;
  }

  lastRow(slot: string, x: Act): Act {
    const C = x.shape[1]!;
    const out = this.act(slot, 1, C);
    this.rec.copy((x as GpuAct).tensor, (this.T - 1) * C * 4, out.tensor, 0, C * 4, 'last_row');
    return out;
  }

  rope(qkv: Act, part: HeadSlice, invFreq: Vector, headDim: number, rotaryDim: number, layer: number): void {
    const { T, pos0 } = this;
    rope(this.rec, (qkv as GpuAct).tensor, (invFreq as GpuVector).tensor, { T, pos0, nHeads: part.heads, headDim, rotaryDim, stride: qkv.shape[1]!, offset: part.offset, layer });
  }

  kvAppend(cache: KVCache, which: 'k' | 'v', qkv: Act, part: HeadSlice, layer: number): void {
    const c = cache as GpuCache;
    const { T, pos0 } = this;
    const o = { T, pos0, nKVHead: part.heads, headDim: c.headDim, nCtx: c.positions, srcStride: qkv.shape[1]!, srcOffset: part.offset, layer };
    kvAppend(this.rec, c[which][layer]!, (qkv as GpuAct).tensor, o);
  }

  attentionScores(cache: KVCache, qkv: Act, q: HeadSlice, headDim: number, layer: number): Act {
    const c = cache as GpuCache;
    const { T, pos0 } = this;
    const scores: GpuAct = { shape: [q.heads, T, pos0 + T], tensor: this.b.scores(q.heads, c.positions) };
    const heads = { T, pos0, nHead: q.heads, nKVHead: c.nKVHead, headDim, nCtx: c.positions, layer };
    attentionScores(this.rec, scores.tensor, (qkv as GpuAct).tensor, c.k[layer]!, { ...heads, qStride: qkv.shape[1]!, qOffset: q.offset, scale: 1 / Math.sqrt(headDim) });
    return scores;
  }

  softmax(x: Act, label: string, layer: number): void {
    const [NH, T, S] = x.shape as [number, number, number];
    softmax(this.rec, (x as GpuAct).tensor, NH * T, S, { layer, label });
  }

  attentionValues(cache: KVCache, pattern: Act, headDim: number, layer: number): Act {
    const c = cache as GpuCache;
    const { T, pos0 } = this;
    const NH = pattern.shape[0]!;
    const z = this.act('z', T, NH * headDim);
    attentionValues(this.rec, z.tensor, (pattern as GpuAct).tensor, c.v[layer]!, { T, pos0, nHead: NH, nKVHead: c.nKVHead, headDim, nCtx: c.positions, layer });
    return z;
  }

  attentionResult(z: Act, w: Matrix, heads: number, headDim: number, layer: number): Act {
    const m = w as GpuMatrix;
    const T = z.shape[0]!;
    const out = this.act('attn_result', T, heads * m.rows);
    for (const { weight, row0, rows } of m.chunks) {
      attentionResult(this.rec, out.tensor, (z as GpuAct).tensor, weight, { T, NH: heads, HS: headDim, C: m.rows, row0, rows, layer });
    }
    return out;
  }

  sumHeads(result: Act, w: Matrix, heads: number, layer: number): Act {
    const m = w as GpuMatrix;
    const T = result.shape[0]!;
    const out = this.act(m.label, T, m.rows);
    for (const { bias, row0, rows } of m.chunks) sumHeads(this.rec, out.tensor, (result as GpuAct).tensor, bias, { T, NH: heads, C: m.rows, row0, rows, layer });
    return out;
  }

  gelu(x: Act, layer: number): void {
    gelu(this.rec, (x as GpuAct).tensor, x.shape[0]! * x.shape[1]!, { layer });
  }

  swiglu(slot: string, gateUp: Act, layer: number): Act {
    const [rows, twoI] = gateUp.shape as [number, number];
    const out = this.act(slot, rows, twoI / 2);
    swiglu(this.rec, out.tensor, (gateUp as GpuAct).tensor, rows, twoI / 2, { layer });
    return out;
  }

  sample(logits: Act, r: SampleRequest): Act {
    const V = logits.shape[1]!;
    const { K, temperature, list } = r;
    const row = (logits as GpuAct).tensor;
    const packed = new Uint32Array(packAdjustments(list));
    const listTensor = this.b.slot('sample.list', 1, packed.length, 'u32');
    writeTensor(this.b.gpu.device, listTensor, packed);
    const floats = candidateFloats(K, r.untempered);
    const candidates = this.b.slot('sample.candidates', 1, floats);
    topK(this.rec, candidates, row, listTensor, { V, K, nList: list.length, temperature, untempered: r.untempered });
    const parts: [Tensor, number][] = [[candidates, floats]];
    if (r.report) {
      const report = this.b.slot('sample.report', 1, candidateFloats(r.report));
      topK(this.rec, report, row, listTensor, { V, K: r.report, nList: 0, temperature: 1, label: 'top_logprobs' });
      parts.push([report, candidateFloats(r.report)]);
    }
    if (r.choose) {
      // where the next step's embedding reads its token (StepOptions.tokenOnDevice)
      const token = this.b.slot(idsSlot('x'), 1, 1, 'u32');
      chooseToken(this.rec, token, candidates, listTensor, { ...r.choose, K, nList: list.length });
      parts.push([token, 1]);
    }
    // one row to read back: the parts side by side (copies, not dispatches)
    const out = this.act('sample.readback', 1, parts.reduce((n, [, floats]) => n + floats, 0));
    let at = 0;
    for (const [t, floats] of parts) {
      this.rec.copy(t, 0, out.tensor, 4 * at, 4 * floats, 'sample_readback');
      at += floats;
    }
    return out;
  }

  normLinear(slot: string, x: Act, norm: { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number } | undefined, w: Matrix, epilogue?: FusedEpilogue, layer?: number): Act | undefined {
    const m = w as GpuMatrix;
    if (m.chunks.length !== 1) return undefined;
    const rows = x.shape[0]!;
    const N = epilogue === 'swiglu' ? m.rows / 2 : m.rows;
    const out = this.act(slot, rows, N);
    const n = norm && (norm.w as GpuNorm);
    const fusedNorm = n && { kind: norm.kind, gamma: n.weight.tensor, beta: n.bias?.tensor, eps: norm.eps };
    this.fusedLinear(out.tensor, (x as GpuAct).tensor, m, rows, N, { norm: fusedNorm, epilogue, layer, label: slot });
    return out;
  }

  linearAdd(x: Act, h: Act, w: Matrix, layer: number): boolean {
    const m = w as GpuMatrix;
    if (m.chunks.length !== 1) return false;
    this.fusedLinear((x as GpuAct).tensor, (h as GpuAct).tensor, m, x.shape[0]!, m.rows, { epilogue: 'residual', layer, label: `${w.label}+add` });
    return true;
  }

  head(slot: string, x: Act, norm: { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number }, w: Matrix): Act | undefined {
    const m = w as GpuMatrix;
    if (x.shape[0] !== 1 || m.chunks.length !== 1 || !lmHeadFusedOn(this.b.gpu)) return undefined;
    const out = this.act(slot, 1, m.rows);
    const n = norm.w as GpuNorm;
    const { weight, bias } = m.chunks[0]!;
    lmHead(this.rec, out.tensor, (x as GpuAct).tensor, weight, bias, { kind: norm.kind, gamma: n.weight.tensor, beta: n.bias?.tensor, eps: norm.eps }, m.rows, m.cols, { label: `ln_final+${slot}` });
    return out;
  }

  /** One row on matvecFused, several (prefill) on matmulFused. */
  private fusedLinear(out: Tensor, a: Tensor, m: GpuMatrix, rows: number, N: number, o: MatvecFusedOptions): void {
    const { weight, bias } = m.chunks[0]!;
    if (rows === 1) matvecFused(this.rec, out, a, weight, bias, N, m.cols, o);
    else matmulFused(this.rec, out, a, weight, bias, rows, N, m.cols, o);
  }

  attention(
    cache: KVCache,
    x: Act,
    norm: { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number },
    qkv: Matrix,
    heads: { NH: number; NKV: number; HS: number },
    rope: { invFreq: Vector; rotaryDim: number } | undefined,
    layer: number,
  ): Act | undefined {
    const c = cache as GpuCache;
    const m = qkv as GpuMatrix;
    const n = norm.w as GpuNorm;
    const { NH, NKV, HS } = heads;
    const C = m.cols;
    const { weight, bias } = m.chunks[0]!;
    const layernorm = norm.kind === 'layernorm';
    const buffers = attentionDecodeBindings(layernorm, bias !== undefined, rope !== undefined);
    const fits = attentionDecodeFits(C, HS) && this.b.gpu.device.limits.maxStorageBuffersPerShaderStage >= buffers;
    if (m.chunks.length !== 1 || (layernorm && !n.bias) || x.shape[0] !== 1 || !fits) return undefined;
    const z = this.act('z', 1, NH * HS);
    const shape = { C, nHead: NH, nKVHead: NKV, headDim: HS, nCtx: c.positions, pos0: this.pos0, eps: norm.eps, layer };
    const fusedNorm = { kind: norm.kind, gamma: n.weight.tensor, beta: n.bias?.tensor };
    const fusedRope = rope && { invFreq: (rope.invFreq as GpuVector).tensor, rotaryDim: rope.rotaryDim };
    attentionDecode(this.rec, z.tensor, (x as GpuAct).tensor, fusedNorm, weight, bias, c.k[layer]!, c.v[layer]!, this.b.scores(NH, c.positions), { ...shape, rope: fusedRope });
    return z;
  }

  run(): Promise<DispatchTiming[]> {
    return this.rec.submit();
  }

  async read(x: Act, rows: number, into?: Float32Array): Promise<Float32Array> {
    const out = await readF32(this.b.gpu.device, (x as GpuAct).tensor, rows * x.shape[1]!);
    if (!into) return out;
    const view = floatsOf(into, out.length);
    view.set(out);
    return view;
  }
}
