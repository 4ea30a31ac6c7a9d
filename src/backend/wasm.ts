// The WebAssembly backend: each primitive is one kernel of src/backend/wasm/assembly (through WasmKernels), run on
// the CPU; matvec and matmul are split over the thread pool. Weights, activations and the KV cache live in the
// kernels' one WebAssembly memory (a bump arena): weights once, activations one tensor per slot sized for Tc rows,
// so a decode step allocates nothing. A step records its primitives as closures and runs them in order in run(),
// like the WebGPU backend's Recorder: the step the model records at load allocates every slot and computes nothing.
import type { DispatchTiming } from '../gpu/recorder.ts';
import { unpackF16 } from '../half.ts';
import { spanFloats, type Hooks, type HookView } from '../hooks/hooks.ts';
import { attentionResultReference, sumHeadsReference } from '../kernels/attention-result.ts';
import type { ScoresOptions } from '../kernels/attention.ts';
import { ConfigError } from '../model/config.ts';
import type { WeightFormat } from '../model/model.ts';
import { dequantize, isQuantFormat, quantize } from '../quant.ts';
import { floatsOf, type Act, type Backend, type BackendStep, type FusedEpilogue, type FusedStep, type HeadSlice, type KVCache, type Matrix, type Norm, type StepOptions, type Vector } from './backend.ts';
import type { WasmDType, WasmTensor } from './wasm/arena.ts';
import { quantOrder, type MatmulEpilogue, type WasmKernels } from './wasm/kernels.ts';
import { MAX_PAGES, PAGE_BYTES } from './wasm/module.ts';

interface WasmAct extends Act {
  t: WasmTensor;
}
interface WasmMatrix extends Matrix {
  weight: WasmTensor; // [rows, cols], f32, f16x2, q8 or q4
  bias?: WasmTensor; // [rows]
}
interface WasmVector extends Vector {
  t: WasmTensor;
}
interface WasmNorm extends Norm {
  weight: WasmTensor;
  bias?: WasmTensor;
}
interface WasmCache extends KVCache {
  k: WasmTensor[]; // per layer [NKV, P, HS]
  v: WasmTensor[];
  nKVHead: number;
  headDim: number;
  /** The arena marks before and after its tensors, to give the memory back when it is the last thing allocated. */
  start: number;
  end: number;
}

export interface WasmBackendOptions {
  weights?: WeightFormat;
}

export class WasmBackend implements Backend {
  readonly weightFormat: WeightFormat;
  /** Tc, once the model chose it: activation slots are made for Tc rows. */
  maxRows = 1;
  readonly slots = new Map<string, WasmTensor>();
  private weightBytes = 0;
  private cacheBytes = 0;
  /** The arena from where this model's tensors start, and where they end. */
  private readonly start: number;
  private end: number;
  /**
   * Bumped whenever the backend makes or frees a tensor (a slot made larger, a KV cache): a recorded step holds
   * the tensors of its epoch, and is replayed only in it (WasmStep.replay).
   */
  epoch = 0;

  constructor(
    readonly k: WasmKernels,
    o: WasmBackendOptions = {},
  ) {
    this.weightFormat = o.weights ?? 'f32';
    this.start = this.end = k.arena.mark();
  }

  private alloc(dtype: WasmDType, shape: number[], label: string, data?: Float32Array | Uint32Array): WasmTensor {
    const t = data ? this.k.arena.upload(dtype, shape, data, label) : this.k.arena.alloc(dtype, shape, label);
    this.end = this.k.arena.mark();
    this.epoch++;
    return t;
  }

  /** A weight matrix in the backend's format: f32 as it is, f16 packed, q8 / q4 quantized here (src/quant.ts). */
  matrix(weight: Float32Array, bias: Float32Array | undefined, rows: number, cols: number, label: string): Matrix {
    const w = this.k.uploadWeight(this.weightFormat, rows, cols, weight, label);
    this.end = this.k.arena.mark();
    const m: WasmMatrix = { rows, cols, label: moduleName(label), weight: w };
    if (bias) m.bias = this.alloc('f32', [rows], `${label}.bias`, bias);
    this.weightBytes += w.byteLength + (m.bias?.byteLength ?? 0);
    return m;
  }

  norm(weight: Float32Array, bias: Float32Array | undefined, label: string): Norm {
    const n: WasmNorm = { label: moduleName(label), weight: (this.vector(weight, `${label}.weight`) as WasmVector).t };
    if (bias) n.bias = (this.vector(bias, `${label}.bias`) as WasmVector).t;
    return n;
  }

  vector(values: Float32Array, label: string): Vector {
    const t = this.alloc('f32', [values.length], label, values);
    this.weightBytes += t.byteLength;
    return { length: values.length, t } as WasmVector;
  }

  writeVector(v: Vector, values: Float32Array): void {
    this.k.arena.f32((v as WasmVector).t).set(values);
  }

  kvCache(layers: number, nKVHead: number, positions: number, headDim: number): KVCache {
    const start = this.k.arena.mark();
    const make = (kind: string) => Array.from({ length: layers }, (_, i) => this.alloc('f32', [nKVHead, positions, headDim], `layers.${i}.${kind}_cache`));
    const [k, v] = [make('k'), make('v')];
    const cache: WasmCache = { layers, positions, nKVHead, headDim, k, v, start, end: this.k.arena.mark() };
    this.cacheBytes += 2 * layers * nKVHead * positions * headDim * 4;
    return cache;
  }

  copyKVCache(dst: KVCache, src: KVCache, positions: number): void {
    const [d, s] = [dst as WasmCache, src as WasmCache];
    if (positions > Math.min(d.positions, s.positions) || d.layers !== s.layers || d.nKVHead !== s.nKVHead || d.headDim !== s.headDim) {
      throw new Error(`copyKVCache: positions 0..${positions - 1} do not fit both caches, or their shapes differ`);
    }
    // each head's positions 0 .. positions - 1 are one run of floats in [NKV, P, HS]
    const HS = s.headDim;
    for (const which of ['k', 'v'] as const) {
      for (let l = 0; l < s.layers; l++) {
        const [from, to] = [this.k.arena.f32(s[which][l]!), this.k.arena.f32(d[which][l]!)];
        for (let j = 0; j < s.nKVHead; j++) to.set(from.subarray(j * s.positions * HS, (j * s.positions + positions) * HS), j * d.positions * HS);
      }
    }
  }

  /** The bump arena frees only from its end: a cache allocated last (as beam search's are) gives its memory back. */
  freeKVCache(cache: KVCache): void {
    const c = cache as WasmCache;
    this.epoch++;
    this.cacheBytes -= 2 * c.layers * c.nKVHead * c.positions * c.headDim * 4;
    if (this.k.arena.mark() !== c.end) return;
    this.k.arena.release(c.start);
    if (this.end === c.end) this.end = c.start;
  }

  /** A weight matrix's values as f32 [rows, cols] (unpacking f16 pairs, dequantizing q8 / q4): for the rarely asked hook_result. */
  weightValues(m: WasmMatrix): Float32Array {
    const { dtype } = m.weight;
    if (dtype === 'f32') return this.k.arena.f32(m.weight).subarray(0, m.rows * m.cols);
    if (isQuantFormat(dtype)) return dequantize(dtype, quantOrder(dtype, this.k.arena.u32(m.weight), m.rows, m.cols), m.rows, m.cols);
    return unpackF16(this.k.arena.u32(m.weight), m.rows, m.cols);
  }

  checkFits(widest: number, cacheFloats: number, positions: number): void {
    const limit = MAX_PAGES * PAGE_BYTES;
    if (4 * (widest + cacheFloats) > limit) {
      throw new ConfigError(`a context of ${positions} positions needs more than the 4 GiB a WebAssembly memory holds for one token's activations and one layer's cache: lower the context length`);
    }
  }

  stepTokens(requested: number): number {
    return (this.maxRows = requested);
  }

  begin(T: number, pos0: number, o: StepOptions = {}): BackendStep {
    return new WasmStep(this, T, pos0, o);
  }

  /** The slot's tensor, holding at least rows x cols; made for Tc rows the first time (or when a step needs more). */
  slot(name: string, rows: number, cols: number, dtype: 'f32' | 'u32' = 'f32'): WasmTensor {
    let t = this.slots.get(name);
    if (!t || t.byteLength < rows * cols * 4) {
      t = this.alloc(dtype, [rows === 1 ? 1 : Math.max(rows, this.maxRows), cols], name);
      this.slots.set(name, t);
    }
    return t;
  }

  /** The attention scores [NH, Tc, P]: made once for the longest step and the whole cache. */
  scores(nHead: number, positions: number): WasmTensor {
    let t = this.slots.get('scores');
    if (!t) this.slots.set('scores', (t = this.alloc('f32', [nHead, this.maxRows, positions], 'scores')));
    return t;
  }

  bytes() {
    const activations = [...this.slots.values()].reduce((n, t) => n + t.byteLength, 0);
    return { weights: this.weightBytes, activations, kvCache: this.cacheBytes };
  }

  /** Give the memory back to the arena, where nothing was allocated after this model (the usual case). */
  destroy(): void {
    if (this.k.arena.mark() === this.end) this.k.arena.release(this.start);
    this.slots.clear();
    this.epoch++;
  }
}

/** "h.3.attn.c_proj" -> "attn.c_proj": the module within its block, what slots and profiles call it. */
function moduleName(label: string): string {
  return label.replace(/^(h|layers)\.\d+\./, '');
}

interface Op {
  label: string;
  layer?: number;
  run: () => void;
}

/** A norm as the fused primitives name it. */
type FusedNorm = { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number };

/**
 * A step's primitives, and (FusedStep) the fused ones: on the CPU fusing saves the caller's own passes, not
 * dispatches. A matmul's GELU or residual add runs on the threads of the matmul, each on the columns it just
 * wrote; a one-token attention hands its heads to the threads once, each taking a head's scores, softmax and
 * values in turn. Each computes what the unfused primitives do, with the same kernels on the same values, so the
 * outputs are the same bits (tested); the step runs unfused where a hook looks inside (src/model/step.ts).
 */
class WasmStep implements BackendStep, FusedStep {
  private ops: Op[] = [];
  private hooks?: Hooks;
  readonly hooked: boolean;
  /** The token ids embed() reads when the step runs (replay() writes a new one). */
  private ids?: Uint32Array;
  /**
   * Whether replay() may run this step again at another position: one token, no hooks, not profiled, and only ops
   * that read the position when they run (embed, rope, kvAppend, the fused attention). An op whose shape depends
   * on the position (the unfused attention's scores) clears it; a step with no embedding (the logit lens's input
   * rows) has no token to replace, and replay() refuses it.
   */
  private replayable: boolean;
  /** The backend's epoch when the step was recorded: its tensors are those of that epoch. */
  private readonly epoch: number;

  constructor(
    private b: WasmBackend,
    readonly T: number,
    /** The step's first position: changed by replay(), and read by the ops when they run. */
    public pos0: number,
    private o: StepOptions,
  ) {
    this.hooks = o.hooks;
    this.hooked = o.hooks !== undefined;
    this.replayable = T === 1 && !this.hooked && !o.profile && !o.tokenOnDevice;
    this.epoch = b.epoch;
  }

  replay(pos0: number, id: number): boolean {
    if (!this.replayable || !this.ids || this.epoch !== this.b.epoch) return false;
    this.pos0 = pos0;
    this.ids[0] = id;
    return true;
  }

  private get k(): WasmKernels {
    return this.b.k;
  }

  get fused(): FusedStep {
    return this;
  }

  private act(slot: string, rows: number, cols: number): WasmAct {
    return { shape: [rows, cols], t: this.b.slot(slot, rows, cols) };
  }

  private op(label: string, layer: number | undefined, run: () => void): void {
    this.ops.push({ label, layer, run });
  }

  wants(hook: string): boolean {
    return this.hooks?.wants(hook) ?? false;
  }

  /** Interventions run the intervene kernel (sources copied into the arena for the call); captures copy the span out. */
  hook(hook: string, x: Act, view: HookView): void {
    const hooks = this.hooks;
    if (!hooks?.wants(hook)) return;
    const { t } = x as WasmAct;
    for (const p of hooks.plan(hook, view, this.pos0)) {
      this.op(p.label, undefined, () => {
        const mark = this.k.arena.mark();
        const src = p.source && this.k.arena.upload('f32', [p.source.length], p.source, `intervene ${hook}`);
        try {
          this.k.intervene(t, src, p.view, p.box, { scale: p.scale, sigma: p.sigma, seed: p.seed, srcMode: p.srcMode });
        } finally {
          this.k.arena.release(mark);
        }
      });
    }
    if (!hooks.capture.has(hook)) return;
    let span = new Float32Array(0);
    hooks.keep(hook, view, async () => span);
    const from = view.offset ?? 0;
    const floats = spanFloats(view);
    this.op(`capture ${hook}`, undefined, () => (span = this.k.arena.copyF32(t, from, from + floats)));
  }

  input(slot: string, values: Float32Array, cols: number): Act {
    const x = this.act(slot, values.length / cols, cols);
    this.op('input', undefined, () => this.k.arena.f32(x.t).set(values));
    return x;
  }

  embed(slot: string, ids: readonly number[], table: Matrix, positions?: Matrix): Act {
    const { T } = this;
    const wte = table as WasmMatrix;
    const wpe = positions as WasmMatrix | undefined;
    const x = this.act(slot, T, wte.cols);
    const idsTensor = this.b.slot(`${slot}.ids`, T, 1, 'u32');
    const values = Uint32Array.from(ids);
    if (this.ids) this.replayable = false; // a second embedding (the positions apart): not one replay() rewrites
    this.ids = values;
    const o = { T, C: wte.cols, pos0: this.pos0 };
    this.op('embed', undefined, () => {
      this.k.arena.u32(idsTensor).set(values);
      o.pos0 = this.pos0;
      this.k.embed(x.t, idsTensor, wte.weight, wpe?.weight, o);
    });
    return x;
  }

  add(x: Act, y: Act, layer?: number): void {
    const n = this.T * x.shape[1]!;
    this.op('residual_add', layer, () => this.k.residualAdd((x as WasmAct).t, (y as WasmAct).t, n));
  }

  layerNorm(slot: string, x: Act, w: Norm, eps: number, layer?: number): Act {
    const [rows, C] = x.shape as [number, number];
    const out = this.act(slot, rows, C);
    const { weight, bias } = w as WasmNorm;
    this.op(w.label, layer, () => this.k.layerNorm(out.t, (x as WasmAct).t, weight, bias!, rows, C, eps));
    return out;
  }

  rmsNorm(slot: string, x: Act, w: Norm, eps: number, layer?: number): Act {
    const [rows, C] = x.shape as [number, number];
    const out = this.act(slot, rows, C);
    this.op(w.label, layer, () => this.k.rmsNorm(out.t, (x as WasmAct).t, (w as WasmNorm).weight, rows, C, eps));
    return out;
  }

  linear(x: Act, w: Matrix, layer?: number, slot = w.label): Act {
    return this.matmul(slot, slot, x, w, layer);
  }

  /** out = x @ w^T + bias in `slot`, with an epilogue on the matmul's threads (MatmulEpilogue). */
  private matmul(label: string, slot: string, x: Act, w: Matrix, layer: number | undefined, then?: MatmulEpilogue): WasmAct {
    const rows = x.shape[0]!;
    const m = w as WasmMatrix;
    const out = this.act(slot, rows, m.rows);
    this.op(label, layer, () => this.k.matmul(out.t, (x as WasmAct).t, m.weight, m.bias, rows, m.rows, m.cols, slot, undefined, then));
    return out;
  }

  private normalize(x: Act, norm: FusedNorm, layer: number | undefined): Act {
    return norm.kind === 'layernorm' ? this.layerNorm('ln', x, norm.w, norm.eps, layer) : this.rmsNorm('ln', x, norm.w, norm.eps, layer);
  }

  /** The norm, then the matmul with GELU on its threads. SwiGLU pairs rows a share may not hold: unfused. */
  normLinear(slot: string, x: Act, norm: FusedNorm | undefined, w: Matrix, epilogue?: FusedEpilogue, layer?: number): Act | undefined {
    if (epilogue === 'swiglu') return undefined;
    const h = norm ? this.normalize(x, norm, layer) : x;
    return this.matmul(epilogue ? `${slot}+gelu` : slot, slot, h, w, layer, epilogue && { gelu: true });
  }

  /** x += h @ w^T + bias: the add on the matmul's threads. */
  linearAdd(x: Act, h: Act, w: Matrix, layer: number): boolean {
    this.matmul(`${w.label}+add`, w.label, h, w, layer, { add: (x as WasmAct).t });
    return true;
  }

  /** The tail stays unfused: the final norm is one row, which the caller normalises in a few microseconds. */
  head(): Act | undefined {
    return undefined;
  }

  /** One token: the norm, q | k | v, RoPE, the KV append, then the attention of every head in one job. */
  attention(
    cache: KVCache,
    x: Act,
    norm: FusedNorm,
    qkvProj: Matrix,
    heads: { NH: number; NKV: number; HS: number },
    rope: { invFreq: Vector; rotaryDim: number } | undefined,
    layer: number,
  ): Act | undefined {
    if (this.T !== 1) return undefined;
    const c = cache as WasmCache;
    const { NH, NKV, HS } = heads;
    const qkv = this.linear(this.normalize(x, norm, layer), qkvProj, layer);
    const q: HeadSlice = { offset: 0, heads: NH };
    const k: HeadSlice = { offset: NH * HS, heads: NKV };
    if (rope) {
      this.rope(qkv, q, rope.invFreq, HS, rope.rotaryDim, layer);
      this.rope(qkv, k, rope.invFreq, HS, rope.rotaryDim, layer);
    }
    this.kvAppend(cache, 'k', qkv, k, layer);
    this.kvAppend(cache, 'v', qkv, { offset: (NH + NKV) * HS, heads: NKV }, layer);
    const z = this.act('z', 1, NH * HS);
    const scores = this.b.scores(NH, c.positions);
    const o = this.scoresOptions(c, qkv, q, HS);
    this.op('attention', layer, () => {
      o.pos0 = this.pos0;
      this.k.attention(z.t, scores, (qkv as WasmAct).t, c.k[layer]!, c.v[layer]!, o);
    });
    return z;
  }

  lastRow(slot: string, x: Act): Act {
    const C = x.shape[1]!;
    const out = this.act(slot, 1, C);
    const from = (x as WasmAct).t.ptr + (this.T - 1) * C * 4;
    this.op('last_row', undefined, () => new Uint8Array(this.k.memory.buffer).copyWithin(out.t.ptr, from, from + C * 4));
    return out;
  }

  rope(qkv: Act, part: HeadSlice, invFreq: Vector, headDim: number, rotaryDim: number, layer: number): void {
    const { T, pos0 } = this;
    const o = { T, pos0, nHeads: part.heads, headDim, rotaryDim, stride: qkv.shape[1]!, offset: part.offset };
    this.op('rope', layer, () => {
      o.pos0 = this.pos0;
      this.k.rope((qkv as WasmAct).t, (invFreq as WasmVector).t, o);
    });
  }

  kvAppend(cache: KVCache, which: 'k' | 'v', qkv: Act, part: HeadSlice, layer: number): void {
    const c = cache as WasmCache;
    const { T, pos0 } = this;
    const o = { T, pos0, nKVHead: part.heads, headDim: c.headDim, nCtx: c.positions, srcStride: qkv.shape[1]!, srcOffset: part.offset };
    this.op('kv_append', layer, () => {
      o.pos0 = this.pos0;
      this.k.kvAppend(c[which][layer]!, (qkv as WasmAct).t, o);
    });
  }

  attentionScores(cache: KVCache, qkv: Act, q: HeadSlice, headDim: number, layer: number): Act {
    const c = cache as WasmCache;
    const { T, pos0 } = this;
    const scores: WasmAct = { shape: [q.heads, T, pos0 + T], t: this.b.scores(q.heads, c.positions) };
    this.replayable = false; // the scores' shape is the position's
    const o = this.scoresOptions(c, qkv, q, headDim);
    this.op('attn_scores', layer, () => this.k.attentionScores(scores.t, (qkv as WasmAct).t, c.k[layer]!, o));
    return scores;
  }

  /** This step's query heads q of the q | k | v rows against the cache: what the attention kernels are given. */
  private scoresOptions(c: WasmCache, qkv: Act, q: HeadSlice, headDim: number): ScoresOptions {
    const { T, pos0 } = this;
    return { T, pos0, nHead: q.heads, nKVHead: c.nKVHead, headDim, nCtx: c.positions, qStride: qkv.shape[1]!, qOffset: q.offset, scale: 1 / Math.sqrt(headDim) };
  }

  attentionResult(z: Act, w: Matrix, heads: number, headDim: number, layer: number): Act {
    const m = w as WasmMatrix;
    const T = z.shape[0]!;
    const out = this.act('attn_result', T, heads * m.rows);
    this.replayable = false;
    this.op('attn_result', layer, () => {
      const zs = this.k.arena.f32((z as WasmAct).t).subarray(0, T * heads * headDim);
      this.k.arena.f32(out.t).set(attentionResultReference(zs, this.b.weightValues(m), { T, NH: heads, HS: headDim, C: m.rows }));
    });
    return out;
  }

  sumHeads(result: Act, w: Matrix, heads: number, layer: number): Act {
    const m = w as WasmMatrix;
    const T = result.shape[0]!;
    const out = this.act(m.label, T, m.rows);
    this.replayable = false;
    this.op('sum_heads', layer, () => {
      const bias = m.bias && this.k.arena.f32(m.bias);
      sumHeadsReference(this.k.arena.f32(out.t), this.k.arena.f32((result as WasmAct).t), bias, { T, NH: heads, C: m.rows });
    });
    return out;
  }

  softmax(x: Act, label: string, layer: number): void {
    const [NH, T, S] = x.shape as [number, number, number];
    this.replayable = false;
    this.op(label, layer, () => this.k.softmax((x as WasmAct).t, NH * T, S));
  }

  attentionValues(cache: KVCache, pattern: Act, headDim: number, layer: number): Act {
    const c = cache as WasmCache;
    const { T, pos0 } = this;
    const NH = pattern.shape[0]!;
    const z = this.act('z', T, NH * headDim);
    this.replayable = false;
    const o = { T, pos0, nHead: NH, nKVHead: c.nKVHead, headDim, nCtx: c.positions };
    this.op('attn_values', layer, () => this.k.attentionValues(z.t, (pattern as WasmAct).t, c.v[layer]!, o));
    return z;
  }

  gelu(x: Act, layer: number): void {
    const n = x.shape[0]! * x.shape[1]!;
    this.op('gelu', layer, () => this.k.gelu((x as WasmAct).t, n));
  }

  swiglu(slot: string, gateUp: Act, layer: number): Act {
    const [rows, twoI] = gateUp.shape as [number, number];
    const out = this.act(slot, rows, twoI / 2);
    this.op('swiglu', layer, () => this.k.swiglu(out.t, (gateUp as WasmAct).t, rows, twoI / 2));
    return out;
  }

  /**
   * Run every op in order; with profiling, each timed by the clock (the CPU has no timestamp queries). The ops run
   * on this thread, so a generation loop would never let a signal (Ctrl-C), a click or a repaint through: a step
   * first lets the event loop turn once where TURN_MS have passed since the last turn. Not every step: a turn
   * costs a decode step about 0.15 ms (the event loop, and the engine's own tasks that run in it), 3% of GPT-2
   * 124M's q4 token and more of a small model's, while 10 ms between turns is less than a frame.
   */
  async run(): Promise<DispatchTiming[]> {
    if (performance.now() - lastTurn >= TURN_MS) {
      await turnEventLoop();
      lastTurn = performance.now();
    }
    const timings: DispatchTiming[] = [];
    if (!this.o.profile) {
      for (const op of this.ops) op.run();
      return timings;
    }
    for (const op of this.ops) {
      const t0 = performance.now();
      op.run();
      timings.push({ label: op.label, layer: op.layer, ms: performance.now() - t0 });
    }
    return timings;
  }

  async read(x: Act, rows: number, into?: Float32Array): Promise<Float32Array> {
    const n = rows * x.shape[1]!;
    return this.k.arena.copyF32((x as WasmAct).t, 0, n, into && floatsOf(into, n));
  }
}

/** At most this long between two turns of the event loop from WasmStep.run (a step may run longer itself). */
const TURN_MS = 10;
let lastTurn = -Infinity;

/** A macrotask boundary without a timer's clamp: setImmediate in Node, a MessageChannel message in a browser. */
function turnEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((resolve) => setImmediate(resolve));
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}
