// The kernel microbenchmark cases: every kernel of src/kernels, every version of it, on the shapes one prefill and
// one decode step of a model run, on either backend: the WGSL versions of src/kernels/registry.ts on WebGPU, and
// the WebAssembly kernels of WASM_KERNELS (src/backend/wasm/kernels.ts). Each case uploads random operands,
// records the dispatch (WebGPU) or calls the kernel (WebAssembly), and knows how to check the result against the
// kernel's float64 CPU reference; the harness checks first, then times.
//
// Geometry of a step (the letters of ARCHITECTURE.md): T tokens at positions pos0 .. pos0 + T - 1, S = pos0 + T keys.
//   prefill: T = the prompt, pos0 = 0, S = T          decode: T = 1, pos0 = S - 1 (the context so far, plus one)
//
// flops and bytes are what the operation needs at least, the numbers GFLOP/s and GB/s are computed from: a
// multiply-add counts 2 flops; bytes count every input read once and every output written once. For the
// elementwise kernels, flops are a convention stated at each case (exp and tanh count 1); their GB/s is what matters.
import type { WasmTensor } from '../src/backend/wasm/arena.ts';
import { activationRoundingBound, WASM_KERNELS, type WasmKernels } from '../src/backend/wasm/kernels.ts';
import { createTensor, poison, readF32, uploadQuantized, uploadTensor, type Tensor } from '../src/gpu/buffers.ts';
import type { Gpu } from '../src/gpu/device.ts';
import type { Recorder } from '../src/gpu/recorder.ts';
import { packF16, unpackF16 } from '../src/half.ts';
import { residualAdd, residualAddReference } from '../src/kernels/add.ts';
import {
  attentionScores,
  attentionScoresReference,
  attentionValues,
  attentionValuesKernel,
  attentionValuesReference,
  type ScoresOptions,
  type ValuesVersion,
} from '../src/kernels/attention.ts';
import { Checker, type Validation } from '../src/kernels/check.ts';
import { embed, embedReference } from '../src/kernels/embedding.ts';
import { attentionDecode, attentionDecodeFits, attentionDecodeKernel, type AttentionDecodeVersion, attentionDecodeReference, lmHead, lmHeadReference, matmulFused, matmulFusedReference, matvecFused } from '../src/kernels/fused.ts';
import { gelu, geluReference } from '../src/kernels/gelu.ts';
import { kvAppend, kvAppendReference, type KvAppendOptions } from '../src/kernels/kvcache.ts';
import { layerNorm, layerNormKernel, layerNormReference, type LayerNormVersion } from '../src/kernels/layernorm.ts';
import { matmul, matmulBytes, matmulFlops, matmulKernel, matmulReference, type MatmulVersion } from '../src/kernels/matmul.ts';
import { KERNELS } from '../src/kernels/registry.ts';
import { rmsNorm, rmsNormKernel, rmsNormReference, type RmsNormVersion } from '../src/kernels/rmsnorm.ts';
import { rope, ropeInvFreq, ropeReference, type RopeOptions } from '../src/kernels/rope.ts';
import { softmax, softmaxKernel, softmaxReference, type SoftmaxVersion } from '../src/kernels/softmax.ts';
import { swiglu, swigluReference } from '../src/kernels/swiglu.ts';
import { packAdjustments, readCandidates, topK, topKKernel, topKReference, type TopKVersion } from '../src/kernels/topk.ts';
import type { Kernel } from '../src/kernels/versions.ts';
import type { WeightFormat } from '../src/model/model.ts';
import { roundWeights, type QuantFormat } from '../src/quant.ts';
import { Rng } from '../src/random.ts';
import { describeRows, rowsToCheck } from './check.ts';
import type { ModelShape } from './models.ts';

export type Phase = 'prefill' | 'decode' | 'ceiling';
export type { WeightFormat };

/** The two backends a kernel case runs on. */
export type BackendKind = 'webgpu' | 'wasm';

/** Where a case runs: the WebGPU adapter, or the WebAssembly kernels (one memory, a pool of threads). */
export type Target = { backend: 'webgpu'; gpu: Gpu } | { backend: 'wasm'; k: WasmKernels };

export interface KernelCase {
  /**
   * Unique within a run and stable across runs, so --compare can pair cases: model/phase/op/version/weights, after
   * "wasm/" for the WebAssembly backend.
   */
  id: string;
  backend: BackendKind;
  /** WebAssembly: the kernel is split over the thread pool, so the bench times it on each number of threads. */
  threaded?: boolean;
  model: string;
  phase: Phase;
  /** The kernel function of src/kernels. */
  kernel: string;
  /**
   * The kernel's version (matmul's v1, v2, matvec, ...; layerNorm's v1, v2; WebAssembly: matvecF32, matmulF16, ...);
   * "-" for kernels with one version.
   */
  version: string;
  /** The layer of the model this shape is ("c_fc", "attn_scores", ...). */
  op: string;
  shape: string;
  weights?: WeightFormat;
  flops: number;
  bytes: number;
  prepare(target: Target): Prepared;
}

export interface Prepared {
  /** WebGPU: record the dispatch being measured. */
  record(rec: Recorder): void;
  /** WebAssembly: run the kernel being measured once (absent in the cases of WebGPU-only kernels). */
  call?(k: WasmKernels): void;
  /** After one run of record(): compare the output with the CPU reference. */
  check(): Promise<Validation>;
  /** Restore the input of a kernel that works in place (before every timing sample). */
  reset?(): void;
  destroy(): void;
}

/** Kernels the bench leaves out, and why: they are not part of a model's forward pass. */
const NOT_BENCHED: Record<string, string> = {
  intervene: 'runs only when a hook intervenes, on shapes the user picks',
  attentionResult: 'runs only when a hook asks for hook_result',
  sumHeads: 'runs only when a hook asks for hook_result',
  chooseToken: 'one invocation over at most 64 candidates: timed within the decode engines',
};

/**
 * A kernel's versions on a backend as bench cases name them: every version, from the kernel's own list (WebGPU) or
 * from WASM_KERNELS (WebAssembly), or "-" for a kernel with a single one; none where the backend has no kernel.
 */
function versionNames(backend: BackendKind, kernel: string): string[] {
  const names = backend === 'webgpu'
    ? (KERNELS.find((k) => k.name === kernel)?.versions ?? []).map((v) => v.name)
    : WASM_KERNELS.filter((v) => v.kernel === kernel).map((v) => v.name);
  return names.length === 1 ? ['-'] : names;
}

/** Every version of every kernel the bench runs on `backend`, by the kernel's function name. */
export function kernelVersions(backend: BackendKind): Record<string, string[]> {
  const kernels = backend === 'webgpu' ? KERNELS.map((k) => k.name) : [...new Set(WASM_KERNELS.map((v) => v.kernel))];
  return Object.fromEntries(kernels.filter((k) => !(k in NOT_BENCHED)).map((k) => [k, versionNames(backend, k)]).filter(([, v]) => v!.length > 0));
}

/** Every version of every WGSL kernel the bench runs, by the kernel's function name. */
export const KERNEL_VERSIONS: Record<string, string[]> = kernelVersions('webgpu');

export interface CaseOptions {
  /** Multiply-adds the CPU reference may spend on one case before it checks a sample of rows instead of all. */
  referenceBudget: number;
}

/** A step of a model: the sizes its kernels run on, and the backend they run on. */
interface Step {
  backend: BackendKind;
  model: ModelShape;
  phase: 'prefill' | 'decode';
  T: number;
  pos0: number;
  S: number;
  options: CaseOptions;
}

/** Every kernel case of one prefill step (T tokens) and one decode step (at context S) of `model` on `backend`. */
export function modelCases(model: ModelShape, prefillTokens: number, decodeContext: number, options: CaseOptions, backend: BackendKind = 'webgpu'): KernelCase[] {
  const T = Math.min(prefillTokens, model.positions);
  const S = Math.min(decodeContext, model.positions);
  const prefill: Step = { backend, model, phase: 'prefill', T, pos0: 0, S: T, options };
  const decode: Step = { backend, model, phase: 'decode', T: 1, pos0: S - 1, S, options };
  return [...stepCases(prefill), ...stepCases(decode)];
}

/**
 * The kernels of one block in forward-pass order, then the LM head (a decode step computes it on one row). Each
 * kernel runs in every version its backend has, and not at all where the backend has none (the fused kernels and
 * the sampler's candidate selection are the WebGPU backend's).
 */
function stepCases(step: Step): KernelCase[] {
  const { model: m, T, phase, backend } = step;
  const C = m.hidden;
  const qkvWidth = (m.nHead + 2 * m.nKVHead) * m.headDim;
  const each = (kernel: string, make: (version: string) => KernelCase | KernelCase[]) => versionNames(backend, kernel).flatMap(make);
  const linear = (op: string, N: number, K: number, bias: boolean): KernelCase[] =>
    matmulVersions(backend, T).map(({ version, weights }) => matmulCase(step, op, T, N, K, version, weights, bias));
  const lmHead = phase === 'decode' ? linear('lm_head', m.vocab, C, false) : [];
  // the fused kernels (a matvec for one row, a matmul for more; attention for decode only), and in decode the
  // sampler's candidate selection on the LM head's output
  const fusedLinear = T === 1 ? 'matvecFused' : 'matmulFused';
  const fused = (attention: KernelCase[], linears: KernelCase[]) =>
    phase === 'decode' ? [...attention, ...linears, ...each('lmHead', () => both((w) => lmHeadCase(step, w))), ...each('topK', (v) => topKCase(step, v as TopKVersion))] : linears;
  const both = (f: (w: WeightFormat) => KernelCase) => [f('f32'), f('f16')];
  const attentionDecodeCases = phase === 'decode' && attentionDecodeFits(C, m.headDim) ? each('attentionDecode', (v) => both((w) => attentionDecodeCase(step, w, v as AttentionDecodeVersion))) : [];
  const attention = [...each('softmax', (v) => softmaxCase(step, v)), ...each('attentionValues', (v) => valuesCase(step, v))];
  const embedding = (op: string) => each('embed', () => [embeddingCase(step, op, 'f32'), embeddingCase(step, op, 'f16')]);

  if (m.arch === 'gpt2') {
    return [
      ...embedding('wte+wpe'),
      ...each('layerNorm', (v) => layerNormCase(step, 'ln_1', v)),
      ...linear('c_attn', qkvWidth, C, true),
      ...each('kvAppend', () => kvAppendCase(step, 'k_cache')),
      ...each('attentionScores', () => scoresCase(step)),
      ...attention,
      ...linear('attn.c_proj', C, C, true),
      ...each('residualAdd', () => residualCase(step)),
      ...linear('c_fc', m.intermediate, C, true),
      ...each('gelu', () => geluCase(step)),
      ...linear('mlp.c_proj', C, m.intermediate, true),
      ...lmHead,
      ...fused(attentionDecodeCases, each(fusedLinear, () => [
        ...both((w) => fusedLinearCase(step, 'ln_2+c_fc+gelu', m.intermediate, C, w, 'gelu')),
        ...both((w) => fusedLinearCase(step, 'c_proj+residual', C, m.intermediate, w, 'residual')),
      ])),
    ];
  }
  return [
    ...embedding('embed_tokens'),
    ...each('rmsNorm', (v) => rmsNormCase(step, 'input_layernorm', v)),
    ...linear('qkv_proj', qkvWidth, C, false),
    ...each('rope', () => ropeCase(step, 'rope_q')),
    ...each('kvAppend', () => kvAppendCase(step, 'k_cache')),
    ...each('attentionScores', () => scoresCase(step)),
    ...attention,
    ...linear('o_proj', C, m.nHead * m.headDim, false),
    ...each('residualAdd', () => residualCase(step)),
    ...linear('gate_up_proj', 2 * m.intermediate, C, false),
    ...each('swiglu', () => swigluCase(step)),
    ...linear('down_proj', C, m.intermediate, false),
    ...lmHead,
    ...fused(attentionDecodeCases, each(fusedLinear, () => both((w) => fusedLinearCase(step, 'norm+gate_up+swiglu', m.intermediate, C, w, 'swiglu')))),
  ];
}

/**
 * The matmul versions for T rows of a, each with the weight format it runs on: on WebGPU every version serving T
 * rows, the ones reading any format in f32 and f16 and the ones reading whole blocks in q8 and q4; on WebAssembly
 * every kernel of WASM_KERNELS serving T rows, in its own format.
 */
function matmulVersions(backend: BackendKind, T: number): { version: string; weights: WeightFormat }[] {
  if (backend === 'wasm') {
    return WASM_KERNELS.filter((v) => v.kernel === 'matmul' && (T === 1 || v.rows === 'any')).map((v) => ({ version: v.name, weights: v.weights! }));
  }
  const versions = (weights: 'any' | 'quant') => matmulKernel.versions.filter((v) => (T === 1 || v.rows === 'any') && v.weights === weights).map((v) => v.name);
  const formats = [...(['f32', 'f16'] as const).map((w) => [w, versions('any')] as const), ...(['q8', 'q4'] as const).map((w) => [w, versions('quant')] as const)];
  return formats.flatMap(([weights, names]) => names.map((version) => ({ version, weights })));
}

/** Square matmuls for the arithmetic ceiling: the best GFLOP/s any matmul version reaches on this adapter. */
export function ceilingCases(size: number, options: CaseOptions): KernelCase[] {
  const model: ModelShape = { name: `square-${size}`, arch: 'gpt2', hidden: size, nHead: 1, nKVHead: 1, headDim: size, intermediate: size, vocab: size, layers: 1, positions: size, source: 'ceiling' };
  const step: Step = { backend: 'webgpu', model, phase: 'prefill', T: size, pos0: 0, S: size, options };
  const cases = [matmulCase(step, 'square', size, size, size, 'v1', 'f32', false), matmulCase(step, 'square', size, size, size, 'v2', 'f32', false), matmulCase(step, 'square', size, size, size, 'v2', 'f16', false)];
  return cases.map((c) => ({ ...c, phase: 'ceiling', id: c.id.replace('/prefill/', '/ceiling/') }));
}

// ---------------------------------------------------------------------------------------------------------------
// Operands

/** A tensor of a case: a WebGPU buffer, or a region of the WebAssembly memory, as the case's target holds them. */
type Buf = Tensor | WasmTensor;

/** The WebGPU tensor of a case run on WebGPU. */
function gpuT(b: Buf): Tensor {
  if ('ptr' in b) throw new Error('a WebAssembly tensor given to a WebGPU kernel');
  return b;
}

/** The WebAssembly tensor of a case run on WebAssembly. */
function wasmT(b: Buf): WasmTensor {
  if (!('ptr' in b)) throw new Error('a WebGPU tensor given to a WebAssembly kernel');
  return b;
}

/** Tensors of one case on its target, destroyed together. */
class Operands {
  private tensors: Tensor[] = [];
  /** WebAssembly: the arena's top before this case, where destroy() frees back to. */
  private readonly mark: number;

  constructor(readonly target: Target) {
    this.mark = target.backend === 'wasm' ? target.k.arena.mark() : 0;
  }

  f32(data: Float32Array, shape: number[], label: string): Buf {
    const t = this.target;
    return t.backend === 'wasm' ? t.k.arena.upload('f32', shape, data, label) : this.keep(uploadTensor(t.gpu.device, 'f32', shape, data, label));
  }

  u32(data: Uint32Array, label: string): Buf {
    const t = this.target;
    return t.backend === 'wasm' ? t.k.arena.upload('u32', [data.length], data, label) : this.keep(uploadTensor(t.gpu.device, 'u32', [data.length], data, label));
  }

  /** A weight matrix [rows, cols] in `format`, and the values the reference must use for it (the rounded weights). */
  weight(data: Float32Array, rows: number, cols: number, format: WeightFormat, label: string): { tensor: Buf; values: Float32Array } {
    const t = this.target;
    if (format === 'f32') return { tensor: this.f32(data, [rows, cols], label), values: data };
    if (format !== 'f16') {
      // the values the kernels read: the weights quantized, then dequantized
      const values = roundWeights(format, data, cols);
      if (t.backend === 'wasm') return { tensor: t.k.uploadWeight(format, rows, cols, data, label), values };
      return { tensor: this.keep(uploadQuantized(t.gpu.device, format, rows, cols, data, label)), values };
    }
    let half = halves.get(data);
    if (half?.cols !== cols) {
      const packed = packF16(data, cols);
      half = { cols, packed, values: unpackF16(packed, rows, cols) }; // values: the f16-rounded weights the kernel reads
      halves.set(data, half);
    }
    const tensor = t.backend === 'wasm'
      ? t.k.arena.upload('f16x2', [rows, cols], half.packed, label)
      : this.keep(uploadTensor(t.gpu.device, 'f16x2', [rows, cols], half.packed, label));
    return { tensor, values: half.values };
  }

  /** An output, poisoned with NaN so an element the kernel never writes is caught. */
  output(shape: number[], label: string): Buf {
    const t = this.target;
    if (t.backend === 'wasm') {
      const out = t.k.arena.alloc('f32', shape, label);
      t.k.arena.f32(out).fill(Number.NaN);
      return out;
    }
    const out = this.keep(createTensor(t.gpu.device, 'f32', shape, label));
    poison(t.gpu.device, out);
    return out;
  }

  async read(b: Buf, count: number): Promise<Float32Array> {
    const t = this.target;
    return t.backend === 'wasm' ? t.k.arena.f32(wasmT(b)).slice(0, count) : readF32(t.gpu.device, gpuT(b), count);
  }

  /** Write `data` over `b` again (the pristine input of an in-place kernel). */
  restore(b: Buf, data: Float32Array): void {
    const t = this.target;
    if (t.backend === 'wasm') t.k.arena.f32(wasmT(b)).set(data);
    else t.gpu.device.queue.writeBuffer(gpuT(b).buffer, gpuT(b).offset, data.buffer, data.byteOffset, data.byteLength);
  }

  destroy(): void {
    if (this.target.backend === 'wasm') this.target.k.arena.release(this.mark);
    for (const t of this.tensors) t.buffer.destroy();
  }

  private keep(t: Tensor): Tensor {
    this.tensors.push(t);
    return t;
  }
}

/**
 * Values uniform in [lo, hi), never exactly 0. The arrays are shared, so callers copy one before changing it.
 * Large ones (an LM head is 38M values) are kept for the next cases, which mostly run the same layer again.
 */
function random(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const key = `${n}:${seed}:${lo}:${hi}`;
  const known = memo.get(key);
  if (known) return known;
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.range(lo, hi) || (hi - lo) / 7;
  if (n >= 1 << 20) {
    memo.set(key, out);
    if (memo.size > 3) memo.delete(memo.keys().next().value!);
  }
  return out;
}
const memo = new Map<string, Float32Array>();
/** The f16 form of the weight arrays above, packed once for all the cases that read it. */
const halves = new WeakMap<Float32Array, { cols: number; packed: Uint32Array; values: Float32Array }>();

function caseId(step: Step, op: string, version: string, weights?: WeightFormat): string {
  return [...(step.backend === 'wasm' ? ['wasm'] : []), step.model.name, step.phase, op, version, weights ?? '-'].join('/');
}

function base(step: Step, kernel: string, op: string, shape: string, flops: number, bytes: number, version = '-', weights?: WeightFormat) {
  const threaded = step.backend === 'wasm' && WASM_KERNELS.some((v) => v.kernel === kernel && (version === '-' || v.name === version) && v.threaded);
  return { id: caseId(step, op, version, weights), backend: step.backend, threaded, model: step.model.name, phase: step.phase, kernel, version, op, shape, weights, flops, bytes };
}

/** Causal (query, key) pairs of a step: query t sees keys 0 .. pos0 + t. */
function causalPairs(T: number, pos0: number): number {
  return T * pos0 + (T * (T + 1)) / 2;
}

// ---------------------------------------------------------------------------------------------------------------
// The cases, one function per kernel

function matmulCase(step: Step, op: string, M: number, N: number, K: number, version: string, weights: WeightFormat, bias: boolean): KernelCase {
  const flops = matmulFlops(M, N, K);
  const rounds = step.backend === 'wasm' && WASM_KERNELS.find((v) => v.kernel === 'matmul' && v.name === version)?.roundsActivations === true;
  const bytes = matmulBytes(M, N, K, weights === 'f16' ? 'f16x2' : weights);
  return {
    ...base(step, 'matmul', op, `[${M},${K}]x[${N},${K}]`, flops, bytes, version, weights),
    prepare(target) {
      const ops = new Operands(target);
      const a = random(M * K, 1);
      const w = ops.weight(random(N * K, 2), N, K, weights, 'w');
      const b = bias ? random(N, 3) : undefined;
      const at = ops.f32(a, [M, K], 'a');
      const bt = b && ops.f32(b, [N], 'bias');
      const out = ops.output([M, N], 'out');
      return {
        record: (rec) => matmul(rec, gpuT(out), gpuT(at), gpuT(w.tensor), bt && gpuT(bt), M, N, K, { version: version as MatmulVersion, label: op }),
        call: (k) => k.matmul(wasmT(out), wasmT(at), wasmT(w.tensor), bt && wasmT(bt), M, N, K, op, version),
        async check() {
          const got = await ops.read(out, M * N);
          const rows = rowsToCheck(M, N * K, step.options.referenceBudget);
          // Sums of K products of values in [-1, 1) round by about K * 2e-8 in f32 (a random walk of ulps of
          // partial sums near sqrt(K) / 3); atol 1e-7 * K covers sums that cancel to near zero. The WebAssembly q8/q4
          // kernels that round a's rows to int16 (q4: int8) first may add up to activationRoundingBound on top.
          const slack = rounds ? rows.reduce((most, m) => activationRoundingBound(weights as QuantFormat, a.subarray(m * K, (m + 1) * K), w.values, 1, N, K).reduce((x, y) => Math.max(x, y), most), 0) : 0;
          const c = new Checker({ rtol: 1e-4, atol: 1e-7 * K + slack }, describeRows(rows, M));
          c.expectNoNaN(got);
          const ref = new Float64Array(N);
          for (const m of rows) {
            matmulReference(ref, a.subarray(m * K, (m + 1) * K), w.values, b, 1, N, K);
            for (let n = 0; n < N; n++) c.add(got[m * N + n]!, ref[n]!, () => `out[${m}, ${n}]`);
          }
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function embeddingCase(step: Step, op: string, weights: WeightFormat): KernelCase {
  const { T, pos0, model: m } = step;
  const C = m.hidden;
  const hasWpe = m.arch === 'gpt2';
  const tableBytes = (T * C * (weights === 'f16' ? 2 : 4)) * (hasWpe ? 2 : 1);
  // flops: the add of the position row (none without wpe)
  return {
    ...base(step, 'embed', op, `[${T}, ${C}] of [${m.vocab}, ${C}]`, hasWpe ? T * C : 0, T * 4 + tableBytes + T * C * 4, '-', weights),
    prepare(target) {
      const ops = new Operands(target);
      const rng = new Rng(4);
      const ids = Uint32Array.from({ length: T }, () => rng.int(0, m.vocab - 1));
      const wte = ops.weight(random(m.vocab * C, 5), m.vocab, C, weights, 'wte');
      const wpe = hasWpe ? ops.weight(random(m.positions * C, 6, -0.1, 0.1), m.positions, C, weights, 'wpe') : undefined;
      const idsT = ops.u32(ids, 'ids');
      const out = ops.output([T, C], 'out');
      return {
        record: (rec) => embed(rec, gpuT(out), gpuT(idsT), gpuT(wte.tensor), wpe && gpuT(wpe.tensor), { T, C, pos0 }),
        call: (k) => k.embed(wasmT(out), wasmT(idsT), wasmT(wte.tensor), wpe && wasmT(wpe.tensor), { T, C, pos0 }),
        async check() {
          const got = await ops.read(out, T * C);
          const ref = new Float64Array(T * C);
          embedReference(ref, ids, wte.values, wpe?.values, { T, C, pos0 });
          // one f32 rounding of the sum of two f32 values: within 2^-24 of the result
          const c = new Checker({ rtol: 1e-6, atol: 0 });
          c.addAll(got, ref);
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function layerNormCase(step: Step, op: string, version: string): KernelCase {
  const { T, model: m } = step;
  const C = m.hidden;
  // flops: mean (1), variance (3), normalise, scale and shift (4) per element
  return {
    ...base(step, 'layerNorm', op, `[${T}, ${C}]`, 8 * T * C, (2 * T * C + 2 * C) * 4, version),
    prepare(target) {
      const ops = new Operands(target);
      const x = random(T * C, 7, -1.5, 2.5); // a mean away from 0, as residual streams have
      const gamma = random(C, 8, 0.8, 1.2);
      const beta = random(C, 9, -0.1, 0.1);
      const [xt, gt, bt] = [ops.f32(x, [T, C], 'x'), ops.f32(gamma, [C], 'gamma'), ops.f32(beta, [C], 'beta')];
      const out = ops.output([T, C], 'out');
      return {
        record: (rec) => layerNorm(rec, gpuT(out), gpuT(xt), gpuT(gt), gpuT(bt), T, C, 1e-5, { label: op, version: version as LayerNormVersion }),
        call: (k) => k.layerNorm(wasmT(out), wasmT(xt), wasmT(gt), wasmT(bt), T, C, 1e-5),
        async check() {
          const got = await ops.read(out, T * C);
          const ref = new Float64Array(T * C);
          layerNormReference(ref, x, gamma, beta, T, C, 1e-5);
          // outputs of order 1 keep a few f32 ulps of 1 in absolute terms
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 });
          c.addAll(got, ref);
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function rmsNormCase(step: Step, op: string, version: string): KernelCase {
  const { T, model: m } = step;
  const C = m.hidden;
  // flops: squares and their sum (2), scale by 1/rms and gamma (2) per element
  return {
    ...base(step, 'rmsNorm', op, `[${T}, ${C}]`, 4 * T * C, (2 * T * C + C) * 4, version),
    prepare(target) {
      const ops = new Operands(target);
      const x = random(T * C, 10, -2, 2);
      const gamma = random(C, 11, 0.8, 1.2);
      const [xt, gt] = [ops.f32(x, [T, C], 'x'), ops.f32(gamma, [C], 'gamma')];
      const out = ops.output([T, C], 'out');
      return {
        record: (rec) => rmsNorm(rec, gpuT(out), gpuT(xt), gpuT(gt), T, C, 1e-5, { label: op, version: version as RmsNormVersion }),
        call: (k) => k.rmsNorm(wasmT(out), wasmT(xt), wasmT(gt), T, C, 1e-5),
        async check() {
          const got = await ops.read(out, T * C);
          const ref = new Float64Array(T * C);
          rmsNormReference(ref, x, gamma, T, C, 1e-5);
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 });
          c.addAll(got, ref);
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

/** The q | k | v row layout of a fused projection: nHead query heads, then nKVHead key heads, then value heads. */
function qkvLayout(m: ModelShape) {
  return { stride: (m.nHead + 2 * m.nKVHead) * m.headDim, keys: m.nHead * m.headDim };
}

function kvAppendCase(step: Step, op: string): KernelCase {
  const { T, pos0, S, model: m } = step;
  const { stride, keys } = qkvLayout(m);
  const o: KvAppendOptions = { T, pos0, nKVHead: m.nKVHead, headDim: m.headDim, nCtx: S, srcStride: stride, srcOffset: keys };
  const n = T * m.nKVHead * m.headDim;
  return {
    ...base(step, 'kvAppend', op, `[${m.nKVHead}, ${pos0}+${T}, ${m.headDim}]`, 0, 2 * n * 4),
    prepare(target) {
      const ops = new Operands(target);
      const src = random(T * stride, 12);
      const srcT = ops.f32(src, [T, stride], 'qkv');
      const cache = ops.output([m.nKVHead, S, m.headDim], 'k_cache');
      return {
        record: (rec) => kvAppend(rec, gpuT(cache), gpuT(srcT), o),
        call: (k) => k.kvAppend(wasmT(cache), wasmT(srcT), o),
        async check() {
          const got = await ops.read(cache, m.nKVHead * S * m.headDim);
          const ref = new Float32Array(got.length);
          kvAppendReference(ref, src, o);
          const c = new Checker({ rtol: 0, atol: 0 }); // a copy: exact
          for (let j = 0; j < m.nKVHead; j++) {
            for (let t = 0; t < T; t++) {
              const at = (j * S + pos0 + t) * m.headDim;
              for (let d = 0; d < m.headDim; d++) c.add(got[at + d]!, ref[at + d]!, () => `cache[${j}, ${pos0 + t}, ${d}]`);
            }
          }
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function scoresOptions(step: Step): ScoresOptions {
  const { T, pos0, S, model: m } = step;
  return { T, pos0, nHead: m.nHead, nKVHead: m.nKVHead, headDim: m.headDim, nCtx: S, qStride: qkvLayout(m).stride, qOffset: 0, scale: 1 / Math.sqrt(m.headDim) };
}

function scoresCase(step: Step): KernelCase {
  const { T, pos0, S, model: m } = step;
  const { nHead: NH, nKVHead: KVH, headDim: HS } = m;
  const o = scoresOptions(step);
  const pairs = causalPairs(T, pos0);
  return {
    ...base(step, 'attentionScores', 'attn_scores', `[${NH}, ${T}, ${S}] x ${HS}`, 2 * NH * HS * pairs, (T * NH * HS + KVH * S * HS + NH * T * S) * 4),
    prepare(target) {
      const ops = new Operands(target);
      const q = random(T * o.qStride, 13);
      const k = random(KVH * S * HS, 14);
      const [qt, kt] = [ops.f32(q, [T, o.qStride], 'q'), ops.f32(k, [KVH, S, HS], 'k_cache')];
      const scores = ops.output([NH, T, S], 'scores');
      return {
        record: (rec) => attentionScores(rec, gpuT(scores), gpuT(qt), gpuT(kt), o),
        call: (k) => k.attentionScores(wasmT(scores), wasmT(qt), wasmT(kt), o),
        async check() {
          const got = await ops.read(scores, NH * T * S);
          const rows = rowsToCheck(T, NH * S * HS, step.options.referenceBudget);
          // a dot product of HS terms below 1 in size keeps a few f32 ulps of its partial sums (at most HS * scale)
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 * HS * o.scale }, describeRows(rows, T, 'query rows'));
          c.expectNoNaN(got);
          for (const t of rows) {
            const ref = attentionScoresReference(q.subarray(t * o.qStride), k, { ...o, T: 1, pos0: pos0 + t }); // [NH, 1, pos0 + t + 1]
            const seen = pos0 + t + 1;
            for (let h = 0; h < NH; h++) {
              for (let s = 0; s < S; s++) {
                const want = s < seen ? ref[h * seen + s]! : -Infinity; // the causal mask
                c.add(got[(h * T + t) * S + s]!, want, () => `scores[${h}, ${t}, ${s}]`);
              }
            }
          }
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function softmaxCase(step: Step, version: string): KernelCase {
  const { T, pos0, S, model: m } = step;
  const rows = m.nHead * T;
  // flops: max, subtract, exp, sum, divide per element; bytes: the row read once and written once
  return {
    ...base(step, 'softmax', 'attn_softmax', `[${rows}, ${S}]`, 5 * rows * S, 2 * rows * S * 4, version),
    prepare(target) {
      const ops = new Operands(target);
      // masked attention scores: -infinity past each query's position, as attentionScores leaves them
      const x = Float32Array.from(random(rows * S, 15, -8, 8));
      for (let r = 0; r < rows; r++) x.fill(-Infinity, r * S + pos0 + (r % T) + 1, (r + 1) * S);
      const xt = ops.f32(x, [rows, S], 'scores');
      return {
        record: (rec) => softmax(rec, gpuT(xt), rows, S, { label: 'attn_softmax', version: version as SoftmaxVersion }),
        call: (k) => k.softmax(wasmT(xt), rows, S),
        async check() {
          const got = await ops.read(xt, rows * S);
          const ref = Float64Array.from(x);
          softmaxReference(ref, rows, S);
          // probabilities below 1e-7 are held to 1e-7: f32 keeps about 7 digits of a row that sums to 1
          const c = new Checker({ rtol: 1e-4, atol: 1e-7 });
          c.addAll(got, ref, 'pattern');
          return c.result();
        },
        reset: () => ops.restore(xt, x),
        destroy: () => ops.destroy(),
      };
    },
  };
}

function valuesCase(step: Step, version: string): KernelCase {
  const { T, pos0, S, model: m } = step;
  const { nHead: NH, nKVHead: KVH, headDim: HS } = m;
  const o = { T, pos0, nHead: NH, nKVHead: KVH, headDim: HS, nCtx: S };
  const pairs = causalPairs(T, pos0);
  return {
    ...base(step, 'attentionValues', 'attn_values', `[${NH}, ${T}, ${S}] x ${HS}`, 2 * NH * HS * pairs, (NH * pairs + KVH * S * HS + T * NH * HS) * 4, version),
    prepare(target) {
      const ops = new Operands(target);
      const pattern = Float32Array.from(random(NH * T * S, 16, 0, 1));
      for (let r = 0; r < NH * T; r++) pattern.fill(0, r * S + pos0 + (r % T) + 1, (r + 1) * S);
      const v = random(KVH * S * HS, 17);
      const [pt, vt] = [ops.f32(pattern, [NH, T, S], 'pattern'), ops.f32(v, [KVH, S, HS], 'v_cache')];
      const z = ops.output([T, NH * HS], 'z');
      return {
        record: (rec) => attentionValues(rec, gpuT(z), gpuT(pt), gpuT(vt), { ...o, version: version as ValuesVersion }),
        call: (k) => k.attentionValues(wasmT(z), wasmT(pt), wasmT(vt), o),
        async check() {
          const got = await ops.read(z, T * NH * HS);
          const rows = rowsToCheck(T, NH * S * HS, step.options.referenceBudget);
          // sums of up to S products below 1 in size: atol 1e-7 * S, as for a matmul with K = S
          const c = new Checker({ rtol: 1e-4, atol: 1e-7 * S }, describeRows(rows, T, 'query rows'));
          c.expectNoNaN(got);
          for (const t of rows) {
            const seen = pos0 + t + 1;
            const row = new Float64Array(NH * seen); // this query's pattern as a one-row [NH, 1, seen]
            for (let h = 0; h < NH; h++) for (let s = 0; s < seen; s++) row[h * seen + s] = pattern[(h * T + t) * S + s]!;
            const ref = attentionValuesReference(row, v, { ...o, T: 1, pos0: pos0 + t });
            for (let i = 0; i < NH * HS; i++) c.add(got[t * NH * HS + i]!, ref[i]!, () => `z[${t}, ${i}]`);
          }
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function residualCase(step: Step): KernelCase {
  const n = step.T * step.model.hidden;
  return {
    ...base(step, 'residualAdd', 'residual', `[${n}]`, n, 3 * n * 4),
    prepare(target) {
      const ops = new Operands(target);
      const x = random(n, 18);
      const y = random(n, 19);
      const [xt, yt] = [ops.f32(x, [n], 'x'), ops.f32(y, [n], 'y')];
      return {
        record: (rec) => residualAdd(rec, gpuT(xt), gpuT(yt), n),
        call: (k) => k.residualAdd(wasmT(xt), wasmT(yt), n),
        async check() {
          const got = await ops.read(xt, n);
          const ref = Float64Array.from(x);
          residualAddReference(ref, y, n);
          const c = new Checker({ rtol: 1e-6, atol: 0 }); // one f32 rounding
          c.addAll(got, ref, 'x');
          return c.result();
        },
        reset: () => ops.restore(xt, x),
        destroy: () => ops.destroy(),
      };
    },
  };
}

function geluCase(step: Step): KernelCase {
  const n = step.T * step.model.intermediate;
  // flops: a polynomial (4), exp (1), add, divide and multiply (3) per element
  return {
    ...base(step, 'gelu', 'gelu', `[${n}]`, 8 * n, 2 * n * 4),
    prepare(target) {
      const ops = new Operands(target);
      const x = random(n, 20, -4, 4);
      const xt = ops.f32(x, [n], 'x');
      return {
        record: (rec) => gelu(rec, gpuT(xt), n),
        call: (k) => k.gelu(wasmT(xt), n),
        async check() {
          const got = await ops.read(xt, n);
          const ref = Float64Array.from(x);
          geluReference(ref, n);
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 });
          c.addAll(got, ref, 'x');
          return c.result();
        },
        reset: () => ops.restore(xt, x),
        destroy: () => ops.destroy(),
      };
    },
  };
}

function swigluCase(step: Step): KernelCase {
  const { T, model: m } = step;
  const I = m.intermediate;
  // flops: exp, add, divide, multiply per output
  return {
    ...base(step, 'swiglu', 'swiglu', `[${T}, ${I}]`, 4 * T * I, 3 * T * I * 4),
    prepare(target) {
      const ops = new Operands(target);
      const gateUp = random(T * 2 * I, 21, -4, 4);
      const gt = ops.f32(gateUp, [T, 2 * I], 'gate_up');
      const out = ops.output([T, I], 'out');
      return {
        record: (rec) => swiglu(rec, gpuT(out), gpuT(gt), T, I),
        call: (k) => k.swiglu(wasmT(out), wasmT(gt), T, I),
        async check() {
          const got = await ops.read(out, T * I);
          const ref = new Float64Array(T * I);
          swigluReference(ref, gateUp, T, I);
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 });
          c.addAll(got, ref);
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function ropeCase(step: Step, op: string): KernelCase {
  const { T, pos0, model: m } = step;
  const { stride } = qkvLayout(m);
  const o: RopeOptions = { T, pos0, nHeads: m.nHead, headDim: m.headDim, rotaryDim: m.headDim, stride, offset: 0 };
  const pairs = T * m.nHead * (m.headDim / 2);
  // flops: 4 multiplies and 2 adds per rotated pair (its sine and cosine not counted)
  return {
    ...base(step, 'rope', op, `[${T}, ${m.nHead}, ${m.headDim}]`, 6 * pairs, (4 * pairs + m.headDim / 2) * 4),
    prepare(target) {
      const ops = new Operands(target);
      const x = random(T * stride, 22);
      const invFreq = ropeInvFreq(m.headDim, m.ropeTheta ?? 10000);
      const [xt, ft] = [ops.f32(x, [T, stride], 'qkv'), ops.f32(invFreq, [invFreq.length], 'inv_freq')];
      return {
        record: (rec) => rope(rec, gpuT(xt), gpuT(ft), o),
        call: (k) => k.rope(wasmT(xt), wasmT(ft), o),
        async check() {
          const got = await ops.read(xt, T * stride);
          const ref = Float64Array.from(x);
          ropeReference(ref, invFreq, o);
          // rotated values of order 1 keep a few f32 ulps of 1 (the angle's reduction included)
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 });
          c.addAll(got, ref, 'x');
          return c.result();
        },
        reset: () => ops.restore(xt, x),
        destroy: () => ops.destroy(),
      };
    },
  };
}

/** The tail of a decode step fused: the final norm and the LM head, one row (lmHead). */
function lmHeadCase(step: Step, weights: WeightFormat): KernelCase {
  const { vocab: N, hidden: K } = step.model;
  const norm = step.model.arch === 'gpt2' ? ('layernorm' as const) : ('rmsnorm' as const);
  return {
    ...base(step, 'lmHead', 'ln_f+lm_head', `[1,${K}]x[${N},${K}]`, matmulFlops(1, N, K), matmulBytes(1, N, K, weights === 'f16' ? 'f16x2' : 'f32'), '-', weights),
    prepare(target) {
      const ops = new Operands(target);
      const a = random(K, 33, 1, 3);
      const w = ops.weight(random(N * K, 34), N, K, weights, 'w');
      const gamma = random(K, 35);
      const beta = random(K, 36);
      const out = ops.output([N], 'out');
      const fusedNorm = { kind: norm, gamma: gpuT(ops.f32(gamma, [K], 'gamma')), beta: norm === 'layernorm' ? gpuT(ops.f32(beta, [K], 'beta')) : undefined, eps: 1e-5 };
      const at = gpuT(ops.f32(a, [K], 'a'));
      return {
        record: (rec) => lmHead(rec, gpuT(out), at, gpuT(w.tensor), undefined, fusedNorm, N, K, { label: 'ln_f+lm_head' }),
        async check() {
          const got = await ops.read(out, N);
          const ref = new Float64Array(N);
          lmHeadReference(ref, a, w.values, undefined, N, K, { kind: norm, gamma, beta, eps: 1e-5 });
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 * K });
          c.expectNoNaN(got);
          c.addAll(got, ref, 'out');
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

/** A linear layer with its norm and epilogue fused in: matvecFused for one row (decode), matmulFused for T (prefill). */
function fusedLinearCase(step: Step, op: string, N: number, K: number, weights: WeightFormat, epilogue: 'gelu' | 'swiglu' | 'residual'): KernelCase {
  const M = step.T;
  const rows = epilogue === 'swiglu' ? 2 * N : N;
  const norm = epilogue === 'residual' ? undefined : step.model.arch === 'gpt2' ? ('layernorm' as const) : ('rmsnorm' as const);
  const bias = step.model.arch === 'gpt2';
  return {
    ...base(step, M === 1 ? 'matvecFused' : 'matmulFused', op, `[${M},${K}]x[${rows},${K}]`, matmulFlops(M, rows, K), matmulBytes(M, rows, K, weights === 'f16' ? 'f16x2' : 'f32'), '-', weights),
    prepare(target) {
      const ops = new Operands(target);
      const a = random(M * K, 23, 1, 3);
      const w = ops.weight(random(rows * K, 24), rows, K, weights, 'w');
      const b = bias ? random(rows, 25) : undefined;
      const gamma = random(K, 26);
      const beta = random(K, 27);
      const prior = random(M * N, 28);
      const out = epilogue === 'residual' ? ops.f32(prior, [M * N], 'x') : ops.output([M * N], 'out');
      const fusedNorm = norm && { kind: norm, gamma: gpuT(ops.f32(gamma, [K], 'gamma')), beta: norm === 'layernorm' ? gpuT(ops.f32(beta, [K], 'beta')) : undefined, eps: 1e-5 };
      const [at, bt] = [gpuT(ops.f32(a, [M * K], 'a')), b && gpuT(ops.f32(b, [rows], 'bias'))];
      const o = { norm: fusedNorm, epilogue, label: op };
      return {
        record: (rec) => (M === 1 ? matvecFused(rec, gpuT(out), at, gpuT(w.tensor), bt, N, K, o) : matmulFused(rec, gpuT(out), at, gpuT(w.tensor), bt, M, N, K, o)),
        async check() {
          const got = await ops.read(out, M * N);
          const ref = Float64Array.from(epilogue === 'residual' ? prior : new Float32Array(M * N));
          matmulFusedReference(ref, a, w.values, b, M, N, K, { norm: norm && { kind: norm, gamma, beta, eps: 1e-5 }, epilogue });
          const c = new Checker({ rtol: 1e-4, atol: 1e-6 * K });
          c.expectNoNaN(got);
          c.addAll(got, ref, 'out');
          return c.result();
        },
        reset: epilogue === 'residual' ? () => ops.restore(out, prior) : undefined,
        destroy: () => ops.destroy(),
      };
    },
  };
}

function attentionDecodeCase(step: Step, weights: WeightFormat, version: AttentionDecodeVersion): KernelCase {
  const { pos0, model: m } = step;
  const C = m.hidden;
  const HS = m.headDim;
  const QKV = (m.nHead + 2 * m.nKVHead) * HS;
  const P = pos0 + 1;
  const cacheSize = m.nKVHead * P * HS;
  // flops: the q | k | v matvec, then q.k and p.v over the keys; bytes: the weight, x, and the cache read once
  const flops = matmulFlops(1, QKV, C) + 4 * m.nHead * P * HS;
  const bytes = matmulBytes(1, QKV, C, weights === 'f16' ? 'f16x2' : 'f32') + 2 * cacheSize * 4;
  // GPT-2: LayerNorm, no RoPE; Llama: RMSNorm and RoPE on the whole head
  const llama = m.arch === 'llama';
  const what = llama ? 'norm+qkv+rope+attention' : 'ln_1+c_attn+attention';
  return {
    ...base(step, 'attentionDecode', what, `[${m.nHead}, ${P}, ${HS}]`, flops, bytes, version, weights),
    prepare(target) {
      const ops = new Operands(target);
      const x = random(C, 29, 1, 3);
      const w = ops.weight(random(QKV * C, 30, -0.2, 0.2), QKV, C, weights, 'w');
      const b = random(QKV, 31);
      const [gamma, beta] = [random(C, 32), random(C, 33)];
      const [k0, v0] = [random(cacheSize, 34), random(cacheSize, 35)];
      const [kt, vt] = [ops.f32(k0, [cacheSize], 'k'), ops.f32(v0, [cacheSize], 'v')];
      const z = ops.output([m.nHead * HS], 'z');
      const scores = ops.output([m.nHead * P], 'scores');
      const invFreq = ropeInvFreq(HS, m.ropeTheta ?? 10000);
      const shape = { C, nHead: m.nHead, nKVHead: m.nKVHead, headDim: HS, nCtx: P, pos0, eps: 1e-5, version };
      const o = { ...shape, rope: llama ? { invFreq: gpuT(ops.f32(invFreq, [HS / 2], 'inv_freq')), rotaryDim: HS } : undefined };
      const [xt, bt] = [ops.f32(x, [C], 'x'), ops.f32(b, [QKV], 'bias')];
      const kind = llama ? ('rmsnorm' as const) : ('layernorm' as const);
      const norm = { kind, gamma: gpuT(ops.f32(gamma, [C], 'gamma')), beta: llama ? undefined : gpuT(ops.f32(beta, [C], 'beta')) };
      return {
        record: (rec) => attentionDecode(rec, gpuT(z), gpuT(xt), norm, gpuT(w.tensor), gpuT(bt), gpuT(kt), gpuT(vt), gpuT(scores), o),
        async check() {
          const got = await ops.read(z, m.nHead * HS);
          const refRope = llama ? { invFreq, rotaryDim: HS } : undefined;
          const ref = attentionDecodeReference(x, { kind, gamma, beta }, w.values, b, Float64Array.from(k0), Float64Array.from(v0), { ...shape, rope: refRope });
          const c = new Checker({ rtol: 1e-4, atol: 1e-5 });
          c.expectNoNaN(got);
          c.addAll(got, ref, 'z');
          return c.result();
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}

function topKCase(step: Step, version: TopKVersion): KernelCase {
  const V = step.model.vocab;
  const K = 64;
  return {
    ...base(step, 'topK', 'sample_top_k', `[${V}] -> ${K}`, 2 * V, V * 4 + (3 + 2 * K) * 4, version),
    prepare(target) {
      const ops = new Operands(target);
      const logits = random(V, 36, -8, 8);
      const list = [{ id: 1, bias: 2, penalty: 1.3 }, { id: V - 1, bias: 0, penalty: 1.3 }];
      const lt = ops.f32(logits, [V], 'logits');
      const listTensor = ops.u32(new Uint32Array(packAdjustments(list)), 'list');
      const out = ops.output([3 + 2 * K], 'candidates');
      return {
        record: (rec) => topK(rec, gpuT(out), gpuT(lt), gpuT(listTensor), { V, K, nList: list.length, temperature: 0.8, version }),
        async check() {
          const got = readCandidates(await ops.read(out, 3 + 2 * K), K);
          const ref = topKReference(logits, list, K, 0.8);
          const c = new Checker({ rtol: 0, atol: 0 });
          got.ids.forEach((id, r) => c.add(id, ref.ids[r]!, () => `ids[${r}]`));
          c.add(got.ids.length, ref.ids.length, () => 'count');
          const lse = new Checker({ rtol: 1e-5, atol: 1e-5 });
          lse.add(got.max + Math.log(got.sumExp), ref.lse, () => 'log-sum-exp');
          const a = c.result();
          const b = lse.result();
          return b.valid ? a : b;
        },
        destroy: () => ops.destroy(),
      };
    },
  };
}
