// The WebAssembly kernels, typed: one method per op, taking WasmTensors and the same option objects as the WGSL
// kernels in src/kernels/ (whose CPU references define what each computes). Each method checks its operands, then
// calls the kernel in assembly/; matvec and matmul are split over the thread pool.
//
//   const k = await WasmKernels.create({ threads: 2 });
//   const x = k.arena.upload('f32', [T, C], data, 'x');
//   k.layerNorm(out, x, gamma, beta, T, C, 1e-5);
//   k.arena.f32(out)  // the result, read in place
import type { AttentionShape, ScoresOptions } from '../../kernels/attention.ts';
import type { EmbedOptions } from '../../kernels/embedding.ts';
import type { Box, BoxView, InterveneOp } from '../../kernels/intervene.ts';
import type { KvAppendOptions } from '../../kernels/kvcache.ts';
import type { RopeOptions } from '../../kernels/rope.ts';
import type { WeightFormat } from '../../model/model.ts';
import { packF16 } from '../../half.ts';
import { isQuantFormat, quantBlocks, quantize, quantScaleOffset, type QuantFormat } from '../../quant.ts';
import { tensorBytes, WasmArena, type WasmDType, type WasmTensor } from './arena.ts';
import { canShareMemory, compileKernels, createMemory, enableRelaxedSimd, instantiate, type KernelExports } from './module.ts';
import { ThreadPool, type Epilogue, type RowKernel } from './pool.ts';

/**
 * A kernel of this backend: the op of src/kernels/registry.ts it computes, under the name of its export in
 * assembly/. The tests and the bench (bench/kernels.ts) run every entry against that op's float64 reference; a new
 * kernel (another weight format, another blocking) is its export, one entry here, and nothing else.
 */
export interface WasmVersion {
  /** The kernel of src/kernels/registry.ts it computes (matmul, layerNorm, ...). */
  kernel: string;
  /** Its export in assembly/index.ts, and its version name in the bench. */
  name: string;
  /** What it does, in one line. */
  changes: string;
  /** matmul: the weight format it reads, and whether it runs one row of a (a matvec) or any number. */
  weights?: WeightFormat;
  rows?: 'one' | 'any';
  /** Split by rows of w over the thread pool (the others run on the calling thread). */
  threaded?: boolean;
  /** matmul on q8/q4: the rows of a are rounded to int16 (q4: int8) blocks first, an error within activationRoundingBound. */
  roundsActivations?: boolean;
}

export const WASM_KERNELS: readonly WasmVersion[] = [
  { kernel: 'embed', name: 'embed', changes: 'wte[id] + wpe[pos] rows, f32 or f16 tables' },
  { kernel: 'layerNorm', name: 'layerNorm', changes: 'a row at a time: mean and variance in one pass of f32x4 sums' },
  { kernel: 'rmsNorm', name: 'rmsNorm', changes: 'a row at a time, f32x4 sums of squares' },
  { kernel: 'matmul', name: 'matvecF32', changes: 'one row of w at a time, four f32x4 accumulators', weights: 'f32', rows: 'one', threaded: true },
  { kernel: 'matmul', name: 'matvecF16', changes: 'f16 pairs unpacked to f32x4 even and odd lanes', weights: 'f16', rows: 'one', threaded: true },
  { kernel: 'matmul', name: 'matmulF32', changes: 'blocks of rows of a by rows of w sharing their loads', weights: 'f32', rows: 'any', threaded: true },
  { kernel: 'matmul', name: 'matmulF16', changes: 'the f32 blocking, w unpacked from f16 once per block', weights: 'f16', rows: 'any', threaded: true },
  { kernel: 'matmul', name: 'matvecQ8', roundsActivations: true, changes: 'q8 blocks . int16 activation blocks, i32x4.dot_i16x8_s, four scales at once', weights: 'q8', rows: 'one', threaded: true },
  { kernel: 'matmul', name: 'matvecQ8F32', changes: 'q8 blocks widened to f32 in registers, f32 activations (for comparison)', weights: 'q8', rows: 'one', threaded: true },
  { kernel: 'matmul', name: 'matvecQ4', roundsActivations: true, changes: 'q4 blocks . int8 activation blocks: relaxed_dot_i8x16_i7x16 (or 16-bit lanes of four nibbles, dot_i16x8)', weights: 'q4', rows: 'one', threaded: true },
  { kernel: 'matmul', name: 'matmulQ8', roundsActivations: true, changes: 'the q8 matvec for each row of a', weights: 'q8', rows: 'any', threaded: true },
  { kernel: 'matmul', name: 'matmulQ4', roundsActivations: true, changes: 'the q4 matvec for each row of a', weights: 'q4', rows: 'any', threaded: true },
  { kernel: 'rope', name: 'rope', changes: 'rotates the pairs of each head in place' },
  { kernel: 'kvAppend', name: 'kvAppend', changes: 'copies the heads of each row into the cache' },
  { kernel: 'attentionScores', name: 'attentionScores', changes: 'q . k over the cache, four positions at a time, heads split over the threads', threaded: true },
  { kernel: 'softmax', name: 'softmax', changes: 'a row at a time, in place' },
  { kernel: 'attentionValues', name: 'attentionValues', changes: 'pattern @ v, four rows of v at a time, heads split over the threads', threaded: true },
  { kernel: 'residualAdd', name: 'residualAdd', changes: 'x += y, f32x4' },
  { kernel: 'gelu', name: 'gelu', changes: 'tanh GELU in place' },
  { kernel: 'swiglu', name: 'swiglu', changes: 'silu(gate) * up' },
  { kernel: 'intervene', name: 'intervene', changes: 'scale, add and noise on a box of x' },
];

/** The matmul kernel for `weights` and M rows of a. */
export function matmulVersion(weights: WeightFormat, M: number): WasmVersion & { rows: 'one' | 'any'; weights: WeightFormat } {
  const rows = M === 1 ? 'one' : 'any';
  const found = WASM_KERNELS.find((v) => v.kernel === 'matmul' && v.weights === weights && v.rows === rows);
  if (!found) throw new Error(`no WebAssembly kernel multiplies by ${weights} weights; use f32 or f16 weights, or the WebGPU device`);
  return found as WasmVersion & { rows: 'one' | 'any'; weights: WeightFormat };
}

/** The weight format of a weight tensor, from its dtype. */
function weightFormat(w: WasmTensor, label: string): WeightFormat {
  if (w.dtype === 'f32') return 'f32';
  if (w.dtype === 'f16x2') return 'f16';
  if (w.dtype === 'q8' || w.dtype === 'q4') return w.dtype;
  throw new Error(`${label}: weights must be f32, f16x2, q8 or q4, got ${w.dtype}`);
}

export interface WasmKernelsOptions {
  /** Threads for matvec and matmul, the caller included; 1 where memory cannot be shared. Default 1. */
  threads?: number;
  /** Use a plain (unshared) memory even where SharedArrayBuffer exists: one thread. */
  noSharedMemory?: boolean;
  /** Multiply-adds below which a matvec or matmul runs on the calling thread alone (default MIN_SPLIT_WORK; tests: 0). */
  minSplitWork?: number;
  /**
   * Load the build with relaxed SIMD where the runtime has it (default true; see module.ts). Both builds give the
   * same bits; false keeps the one without it (the tests compare them).
   */
  relaxedSimd?: boolean;
}

export class WasmKernels {
  private constructor(
    readonly exports: KernelExports,
    readonly memory: WebAssembly.Memory,
    readonly arena: WasmArena,
    private readonly pool: ThreadPool,
    /** Whether this is the build with relaxed SIMD (q4's int8 dot products). */
    readonly relaxedSimd: boolean,
  ) {}

  static async create(options: WasmKernelsOptions = {}): Promise<WasmKernels> {
    const shared = !options.noSharedMemory && canShareMemory();
    const threads = shared ? (options.threads ?? 1) : 1;
    const relaxed = options.relaxedSimd !== false && (await enableRelaxedSimd());
    const module = await compileKernels(shared, relaxed);
    const memory = createMemory(shared);
    const exports = instantiate(module, memory);
    const pool = await ThreadPool.create(module, memory, exports, threads, options.minSplitWork);
    return new WasmKernels(exports, memory, new WasmArena(memory, exports.heapBase()), pool, relaxed);
  }

  /** Threads matvec and matmul run on. */
  get threads(): number {
    return this.pool.threads;
  }

  /** Run matvec and matmul on `n` of the pool's threads (1 .. maxThreads), e.g. to compare 1 thread with 2. */
  set threads(n: number) {
    this.pool.threads = n;
  }

  /** The threads the pool holds, the calling thread included. */
  get maxThreads(): number {
    return this.pool.size;
  }

  /** Whether the memory is shared (SharedArrayBuffer), which threads need. */
  get shared(): boolean {
    return typeof SharedArrayBuffer !== 'undefined' && this.memory.buffer instanceof SharedArrayBuffer;
  }

  destroy(): void {
    this.pool.destroy();
  }

  /**
   * out[M, N] = a[M, K] @ w[N, K]^T + bias[N]; w f32, f16x2, q8 or q4. M = 1 runs the matvec kernel, unless
   * `version` names another kernel of WASM_KERNELS for w's format (the bench and the tests run each one). On q8
   * and q4 weights the rows of a are first quantized to int16 blocks (assembly/matmul_q.ts), in memory taken from
   * the top of the arena for the call; the version matvecQ8F32 runs q8's matvec on f32 activations instead.
   * `then` is an epilogue each thread runs on the columns of out it just wrote (see MatmulEpilogue).
   */
  matmul(out: WasmTensor, a: WasmTensor, w: WasmTensor, bias: WasmTensor | undefined, M: number, N: number, K: number, label = 'matmul', version?: string, then?: MatmulEpilogue): void {
    for (const [name, size] of [['M', M], ['N', N], ['K', K]] as const) {
      if (!Number.isInteger(size) || size < 1) throw new Error(`${label}: ${name} must be a positive integer, got ${size}`);
    }
    const format = weightFormat(w, label);
    const kernel = version === undefined ? matmulVersion(format, M) : WASM_KERNELS.find((v) => v.kernel === 'matmul' && v.name === version);
    if (!kernel || kernel.weights !== format || (kernel.rows === 'one' && M !== 1)) {
      throw new Error(`${label}: ${version} is not a WebAssembly matmul kernel for ${format} weights and M = ${M}`);
    }
    need(label, 'out', out, 'f32', [M, N]);
    need(label, 'a', a, 'f32', [M, K]);
    need(label, 'w', w, w.dtype, [N, K]);
    if (bias) need(label, 'bias', bias, 'f32', [N]);
    if (then?.add) need(label, 'the residual', then.add, 'f32', [M, N]);
    const b = bias?.ptr ?? 0;
    const epilogue: Epilogue | undefined = then && (then.add ? { kernel: 'addRows', args: [then.add.ptr, out.ptr, M, N] } : { kernel: 'geluRows', args: [out.ptr, M, N] });
    if (isQuantFormat(format)) {
      this.matmulQ(format, kernel, out, a, w, b, M, N, K, epilogue);
      return;
    }
    this.pool.runRows(kernel.name as RowKernel, kernel.rows === 'one' ? [out.ptr, a.ptr, w.ptr, b, K] : [out.ptr, a.ptr, w.ptr, b, M, N, K], N, M * N * K, undefined, epilogue);
  }

  /** A weight matrix [rows, cols] of f32 `values`, stored in `format` for the matmul kernels. */
  uploadWeight(format: WeightFormat, rows: number, cols: number, values: Float32Array, label: string): WasmTensor {
    if (format === 'f32') return this.arena.upload('f32', [rows, cols], values, label);
    if (format === 'f16') return this.arena.upload('f16x2', [rows, cols], packF16(values, cols), label);
    return this.arena.upload(format, [rows, cols], kernelOrder(format, quantize(format, values, rows, cols), rows, cols), label);
  }

  private matmulQ(format: QuantFormat, version: WasmVersion, out: WasmTensor, a: WasmTensor, w: WasmTensor, bias: number, M: number, N: number, K: number, then?: Epilogue): void {
    const kernel = version.name as RowKernel;
    const scales = w.ptr + 4 * quantScaleOffset(format, N, K);
    const work = M * N * K;
    if (!version.roundsActivations) {
      this.pool.runRows(kernel, [out.ptr, a.ptr, w.ptr, scales, bias, K], N, work, undefined, then);
      return;
    }
    // at most 32 int16 (16 words) a block, then its step and its sum; every word is written by quantizeActs
    const aq = this.arena.scratch(M * quantBlocks(K) * 18 * 4, 'quantized activations');
    // q4's matvec reads whole groups of four blocks, the matmul block by block (assembly/matmul_q.ts)
    this.exports.quantizeActs(aq, a.ptr, M, K, format === 'q4' ? 1 : 0, version.rows === 'one' ? 1 : 0);
    this.pool.runRows(kernel, version.rows === 'one' ? [out.ptr, aq, w.ptr, scales, bias, K] : [out.ptr, aq, w.ptr, scales, bias, M, N, K], N, work, undefined, then);
  }

  /** out[rows, C] = layernorm(x) * gamma + beta; out and x distinct. */
  layerNorm(out: WasmTensor, x: WasmTensor, gamma: WasmTensor, beta: WasmTensor, rows: number, C: number, eps: number): void {
    need('layernorm', 'out', out, 'f32', [rows, C]);
    need('layernorm', 'x', x, 'f32', [rows, C]);
    need('layernorm', 'gamma', gamma, 'f32', [C]);
    need('layernorm', 'beta', beta, 'f32', [C]);
    this.exports.layerNorm(out.ptr, x.ptr, gamma.ptr, beta.ptr, rows, C, eps);
  }

  /** out[rows, C] = x / rms(x) * gamma; out and x distinct. */
  rmsNorm(out: WasmTensor, x: WasmTensor, gamma: WasmTensor, rows: number, C: number, eps: number): void {
    need('rmsnorm', 'out', out, 'f32', [rows, C]);
    need('rmsnorm', 'x', x, 'f32', [rows, C]);
    need('rmsnorm', 'gamma', gamma, 'f32', [C]);
    this.exports.rmsNorm(out.ptr, x.ptr, gamma.ptr, rows, C, eps);
  }

  /** x[r, :] = softmax(x[r, :]) in place; -infinity entries become 0. */
  softmax(x: WasmTensor, rows: number, cols: number): void {
    need('softmax', 'x', x, 'f32', [rows, cols]);
    this.exports.softmax(x.ptr, rows, cols);
  }

  /** scores[nHead, T, S] = scale * q . k over the cache, -infinity past the causal mask. */
  attentionScores(scores: WasmTensor, q: WasmTensor, kCache: WasmTensor, o: ScoresOptions): void {
    const { T, pos0, nHead, nKVHead, headDim, nCtx, qStride, qOffset, scale } = o;
    checkAttention(o, 'attn_scores');
    need('attn_scores', 'scores', scores, 'f32', [nHead, T, pos0 + T]);
    need('attn_scores', 'kCache', kCache, 'f32', [nKVHead, nCtx, headDim]);
    needFloats('attn_scores', 'q', q, (T - 1) * qStride + qOffset + nHead * headDim);
    const args = [scores.ptr, q.ptr, kCache.ptr, T, pos0, nHead, nKVHead, headDim, nCtx, qStride, qOffset, f32Bits(scale)];
    this.pool.runRows('attentionScores', args, nHead, attentionWork(o), 1);
  }

  /** z[T, nHead * headDim] = pattern @ v over the cache. */
  attentionValues(z: WasmTensor, pattern: WasmTensor, vCache: WasmTensor, o: AttentionShape): void {
    const { T, pos0, nHead, nKVHead, headDim, nCtx } = o;
    checkAttention(o, 'attn_values');
    need('attn_values', 'z', z, 'f32', [T, nHead * headDim]);
    need('attn_values', 'pattern', pattern, 'f32', [nHead, T, pos0 + T]);
    need('attn_values', 'vCache', vCache, 'f32', [nKVHead, nCtx, headDim]);
    this.pool.runRows('attentionValues', [z.ptr, pattern.ptr, vCache.ptr, T, pos0, nHead, nKVHead, headDim, nCtx], nHead, attentionWork(o), 1);
  }

  /**
   * attentionScores, softmax and attentionValues in one job, the heads split over the threads: each thread takes
   * a head's scores, their softmax and its z in turn. The same values as the three calls (the same kernels); for a
   * step that hooks none of them. scores [nHead, T, pos0 + T] is written (the pattern) as by the three.
   */
  attention(z: WasmTensor, scores: WasmTensor, q: WasmTensor, kCache: WasmTensor, vCache: WasmTensor, o: ScoresOptions): void {
    const { T, pos0, nHead, nKVHead, headDim, nCtx, qStride, qOffset, scale } = o;
    checkAttention(o, 'attention');
    need('attention', 'z', z, 'f32', [T, nHead * headDim]);
    need('attention', 'scores', scores, 'f32', [nHead, T, pos0 + T]);
    need('attention', 'kCache', kCache, 'f32', [nKVHead, nCtx, headDim]);
    need('attention', 'vCache', vCache, 'f32', [nKVHead, nCtx, headDim]);
    needFloats('attention', 'q', q, (T - 1) * qStride + qOffset + nHead * headDim);
    const args = [z.ptr, scores.ptr, q.ptr, kCache.ptr, vCache.ptr, T, pos0, nHead, nKVHead, headDim, nCtx, qStride, qOffset, f32Bits(scale)];
    this.pool.runRows('attentionHeads', args, nHead, 2 * attentionWork(o), 1);
  }

  /** x[i] = gelu(x[i]) for i < n, in place (tanh approximation). */
  gelu(x: WasmTensor, n: number): void {
    needFloats('gelu', 'x', x, n);
    this.exports.gelu(x.ptr, n);
  }

  /** out[rows, I] = silu(gateUp[:, :I]) * gateUp[:, I:]. */
  swiglu(out: WasmTensor, gateUp: WasmTensor, rows: number, I: number): void {
    need('swiglu', 'out', out, 'f32', [rows, I]);
    need('swiglu', 'gateUp', gateUp, 'f32', [rows, 2 * I]);
    this.exports.swiglu(out.ptr, gateUp.ptr, rows, I);
  }

  /** x[i] += y[i] for i < n. */
  residualAdd(x: WasmTensor, y: WasmTensor, n: number): void {
    needFloats('residual_add', 'x', x, n);
    needFloats('residual_add', 'y', y, n);
    this.exports.residualAdd(x.ptr, y.ptr, n);
  }

  /** Rotary position embedding in place on the heads of each row of x (see src/kernels/rope.ts). */
  rope(x: WasmTensor, invFreq: WasmTensor, o: RopeOptions): void {
    const { T, pos0, nHeads, headDim, rotaryDim, stride, offset } = o;
    if (rotaryDim % 2 !== 0 || rotaryDim > headDim) throw new Error(`rope: rotaryDim ${rotaryDim} must be even and at most headDim ${headDim}`);
    needFloats('rope', 'invFreq', invFreq, rotaryDim / 2);
    needFloats('rope', 'x', x, (T - 1) * stride + offset + nHeads * headDim);
    this.exports.rope(x.ptr, invFreq.ptr, T, pos0, nHeads, headDim, rotaryDim / 2, stride, offset);
  }

  /** out[T, C] = wte[ids[t]] + wpe[pos0 + t] (no wpe: the token part alone). Tables f32 or f16x2, or both q8 or q4. */
  embed(out: WasmTensor, ids: WasmTensor, wte: WasmTensor, wpe: WasmTensor | undefined, o: EmbedOptions): void {
    const { T, C, pos0 } = o;
    if (ids.dtype !== 'u32') throw new Error(`embedding: token ids must be a u32 tensor, not ${ids.dtype}`);
    if (wpe && pos0 + T > wpe.shape[0]!) {
      throw new Error(`embedding: positions ${pos0}..${pos0 + T - 1} run past the ${wpe.shape[0]} positions this model was trained on; shorten the prompt or generate fewer tokens`);
    }
    need('embedding', 'out', out, 'f32', [T, C]);
    need('embedding', 'ids', ids, 'u32', [T]);
    for (const [name, table] of [['wte', wte], ['wpe', wpe]] as const) {
      if (table && table.dtype === 'u32') throw new Error(`embedding: ${name} must be f32, f16x2, q8 or q4, not u32`);
    }
    const V = wte.shape[0]!;
    need('embedding', 'wte', wte, wte.dtype, [V, C]);
    if (wpe) need('embedding', 'wpe', wpe, wpe.dtype, [wpe.shape[0]!, C]);
    const idView = new Uint32Array(this.memory.buffer, ids.ptr, T);
    for (let t = 0; t < T; t++) {
      if (idView[t]! >= V) throw new Error(`embedding: token id ${idView[t]} is past the vocabulary of ${V}`);
    }
    if (isQuantFormat(wte.dtype) || (wpe && isQuantFormat(wpe.dtype))) {
      const format = wte.dtype;
      if (!isQuantFormat(format) || (wpe && wpe.dtype !== format)) throw new Error(`embedding: a quantized wte and wpe must share one format, got ${wte.dtype} and ${wpe?.dtype}`);
      const scales = (t: WasmTensor) => t.ptr + 4 * quantScaleOffset(format, t.shape[0]!, C);
      this.exports.embedQ(out.ptr, ids.ptr, wte.ptr, scales(wte), wpe?.ptr ?? 0, wpe ? scales(wpe) : 0, format === 'q8' ? 1 : 0, T, C, pos0);
      return;
    }
    this.exports.embed(out.ptr, ids.ptr, wte.ptr, wte.dtype === 'f16x2' ? 1 : 0, wpe?.ptr ?? 0, wpe?.dtype === 'f16x2' ? 1 : 0, T, C, pos0);
  }

  /** cache[j, pos0 + t, :] = the keys (or values) of head j of row t of src. */
  kvAppend(cache: WasmTensor, src: WasmTensor, o: KvAppendOptions): void {
    const { T, pos0, nKVHead, headDim, nCtx, srcStride, srcOffset } = o;
    if (pos0 + T > nCtx) {
      throw new Error(`the context is full: positions ${pos0}..${pos0 + T - 1} do not fit a cache of ${nCtx}; shorten the prompt or raise the context length`);
    }
    need('kv_append', 'cache', cache, 'f32', [nKVHead, nCtx, headDim]);
    needFloats('kv_append', 'src', src, (T - 1) * srcStride + srcOffset + nKVHead * headDim);
    this.exports.kvAppend(cache.ptr, src.ptr, T, pos0, nKVHead, headDim, nCtx, srcStride, srcOffset);
  }

  /** x = scale * x + source + sigma * noise on a box of x (see src/kernels/intervene.ts); `src` holds the source. */
  intervene(x: WasmTensor, src: WasmTensor | undefined, view: BoxView, box: Box, op: Omit<InterveneOp, 'source'> & { srcMode: 0 | 1 | 2 }): void {
    const last = view.offset + (box.o0 + box.nO - 1) * view.outerStride + (box.r0 + box.nR - 1) * view.rowStride + box.c0 + box.nC;
    needFloats('intervene', 'x', x, last);
    if (op.srcMode !== 0) needFloats('intervene', 'src', src, op.srcMode === 1 ? box.nC : box.nO * box.nR * box.nC);
    const { o0, nO, r0, nR, c0, nC } = box;
    const { outerStride, rowStride, offset, rowBase } = view;
    this.exports.intervene(x.ptr, src?.ptr ?? 0, o0, nO, r0, nR, c0, nC, outerStride, rowStride, offset, rowBase, op.srcMode, op.seed >>> 0, op.scale, op.sigma);
  }
}

/**
 * What a matmul's threads do to the columns of out they just wrote: GELU in place, or with `add` the residual add
 * add[m, n] += out[m, n] (add [M, N]). The same values as the gelu or residualAdd call after the matmul.
 */
export interface MatmulEpilogue {
  gelu?: boolean;
  add?: WasmTensor;
}

/**
 * The work the pool weighs an attention kernel by (see MIN_SPLIT_WORK): its multiply-adds, nHead * T * S * headDim,
 * times 4. It reads the KV cache, which in a decode step comes from memory: the layer's weights have streamed
 * through the CPU's caches since the last step read it. A layer of GPT-2 124M at 64 positions (50K multiply-adds)
 * takes about 22 us on one core, 0.4 ns each, where MIN_SPLIT_WORK counts about 0.08 (10 us for 2^17): 4 is on the
 * safe side of that. With GPT-2's 12 heads of 64, a one-token step's attention then goes to the threads from about
 * 21 cached positions on in the fused step's one job (attention: scores and values), 43 in the unfused passes, where
 * the heads' two streams from memory beat one (before the factor: 171).
 */
function attentionWork(o: AttentionShape): number {
  return 4 * o.nHead * o.T * (o.pos0 + o.T) * o.headDim;
}

/**
 * How far the q8 / q4 kernels' rounding of the activations can move each output of out[M, N] = a[M, K] @ x[N, K]^T
 * (x: the dequantized weights): every a[m, k] moves by at most half a step of its block of 32, max|a| / 65534 for
 * q8 (int16) and max|a| / 254 for q4 (int8), so out[m, n] by at most the sum over k of |x[n, k]| times that (1%
 * over, for the rounding of the step itself). Tests and the bench allow it on top of f32 rounding.
 */
export function activationRoundingBound(format: QuantFormat, a: ArrayLike<number>, x: ArrayLike<number>, M: number, N: number, K: number): Float64Array {
  const levels = activationLevels(format);
  const bound = new Float64Array(M * N);
  const half = new Float64Array(K);
  for (let m = 0; m < M; m++) {
    for (let b = 0; b < K; b += 32) {
      let amax = 0;
      for (let k = b; k < Math.min(K, b + 32); k++) amax = Math.max(amax, Math.abs(a[m * K + k]!));
      half.fill((1.01 * amax) / (2 * levels), b, Math.min(K, b + 32));
    }
    for (let n = 0; n < N; n++) {
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.abs(x[n * K + k]!) * half[k]!;
      bound[m * N + n] = sum;
    }
  }
  return bound;
}

/**
 * Round rows of activations in place as the q8 / q4 kernels do before their integer dot products (each row's
 * blocks of 32 to the nearest of L levels of their largest magnitude, ties to even; L = 32767 for q8, 127 for q4).
 * The kernels compute exactly the dequantized weights times these values, so a float64 reference run on them
 * leaves only f32 rounding to allow for. Rows of `cols` values, `rowStride` apart, from `offset`.
 */
export function roundActivations(format: QuantFormat, x: Float64Array | Float32Array, rows: number, cols: number, rowStride = cols, offset = 0): void {
  const levels = activationLevels(format);
  const f32 = Math.fround;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < cols; b += 32) {
      const at = offset + r * rowStride + b;
      const n = Math.min(32, cols - b);
      let amax = 0;
      for (let j = 0; j < n; j++) amax = Math.max(amax, Math.abs(f32(x[at + j]!)));
      if (amax === 0) continue;
      // in f32, as the kernel: the reciprocal, the product, and the step da the integers are scaled by
      const inv = f32(levels / amax);
      const step = f32(amax / levels);
      for (let j = 0; j < n; j++) x[at + j] = roundHalfEven(f32(f32(x[at + j]!) * inv)) * step;
    }
  }
}

/** The levels the q kernels round a block of activations to, max|a| becoming the last: q8 int16, q4 int8. */
function activationLevels(format: QuantFormat): number {
  return format === 'q4' ? 127 : 32767;
}

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The mistakes a caller can make with a tensor, each said in one line before any kernel runs. */
/** The bits of x as an f32: how a float argument travels to the worker threads (their arguments are int32). */
const bitsView = new DataView(new ArrayBuffer(4));
function f32Bits(x: number): number {
  bitsView.setFloat32(0, x, true);
  return bitsView.getInt32(0, true);
}

function need(kernel: string, name: string, t: WasmTensor, dtype: WasmDType, shape: number[]): void {
  if (t.dtype !== dtype) throw new Error(`${kernel}: ${name} must be ${dtype}, got ${t.dtype}`);
  const bytes = tensorBytes(dtype, shape);
  if (t.byteLength < bytes) throw new Error(`${kernel}: ${name} needs ${bytes} bytes for ${dtype}[${shape}], its tensor has ${t.byteLength}`);
}

function needFloats(kernel: string, name: string, t: WasmTensor | undefined, n: number): void {
  if (!t) throw new Error(`${kernel}: ${name} is missing`);
  if (t.byteLength < n * 4) throw new Error(`${kernel}: ${name} needs ${n} floats, its tensor holds ${t.byteLength / 4}`);
}

/** Query heads per KV head, and the cache holding every position; checked as the WGSL kernels check them. */
function checkAttention(o: AttentionShape, kernel: string): void {
  if (o.nKVHead < 1 || o.nHead % o.nKVHead !== 0) throw new Error(`${kernel}: ${o.nHead} query heads cannot share ${o.nKVHead} KV heads evenly`);
  if (o.pos0 + o.T > o.nCtx) throw new Error(`${kernel}: positions up to ${o.pos0 + o.T - 1} run past the cache of ${o.nCtx}`);
}

/**
 * src/quant.ts's words of a [rows, cols] matrix as the kernels read them: q4's whole groups of four blocks with
 * their words interleaved (word i of block j of a group at word 4 * i + j; assembly/matmul_q.ts), the rest as
 * they are. In place; returns `words`.
 */
export function kernelOrder(format: WeightFormat, words: Uint32Array, rows: number, cols: number): Uint32Array {
  if (format === 'q4') transposeQ4Groups(words, rows, cols);
  return words;
}

/** The inverse of kernelOrder: a copy of `words` in src/quant.ts's order. */
export function quantOrder(format: WeightFormat, words: Uint32Array, rows: number, cols: number): Uint32Array {
  const copy = words.slice();
  if (format === 'q4') transposeQ4Groups(copy, rows, cols);
  return copy;
}

/** Each whole group of four q4 blocks, 4 x 4 words, transposed in place: kernelOrder, and its own inverse. */
function transposeQ4Groups(words: Uint32Array, rows: number, cols: number): void {
  const nb = quantBlocks(cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < nb >> 2; g++) {
      const at = (r * nb + 4 * g) * 4;
      for (let i = 0; i < 4; i++) {
        for (let j = i + 1; j < 4; j++) {
          const t = words[at + 4 * i + j]!;
          words[at + 4 * i + j] = words[at + 4 * j + i]!;
          words[at + 4 * j + i] = t;
        }
      }
    }
  }
}
