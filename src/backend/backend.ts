// The seam between the forward pass and the hardware that runs it. The model (src/model/) describes what to
// compute, as ops on activations; a backend owns every buffer and runs the ops. WebGPU (webgpu.ts) records them
// as kernel dispatches; another backend (WebAssembly on the CPU) implements the same primitives, and the model
// files, the hook names and the hook semantics stay as they are.
//
// Everything crossing the seam is a handle: the model never sees a buffer, a shader or a command encoder.
//   Act     an activation of this step: [rows, cols] (rows = the step's T tokens, or 1), or [NH, T, S] scores
//   Matrix  a weight [rows, cols] (nn.Linear's [out, in]) with an optional bias [rows]
//   Vector  a 1-D parameter (a norm's gamma or beta, RoPE frequencies)
//   KVCache the keys and values of one sequence, [NKV, P, HS] per layer
//
// Activations are slots: each primitive that makes one names its slot ("qkv", "attn_out", ...). A backend keeps
// one buffer per slot, sized for the longest step, and every layer and every step reuses it; so a decode step
// allocates nothing. Hooks (src/hooks) read and change activations through `hook()`; the model decides where
// they fire (src/model/step.ts), the backend how.
import type { DispatchTiming } from '../gpu/recorder.ts';
import type { Hooks, HookView } from '../hooks/hooks.ts';
import type { ChooseRequest } from '../kernels/choose.ts';
import type { LogitAdjust } from '../kernels/topk.ts';
import type { WeightFormat } from '../model/model.ts';

export interface Act {
  readonly shape: readonly number[];
}

export interface Matrix {
  readonly rows: number;
  readonly cols: number;
  /** The module it belongs to, without the layer ("c_attn", "lm_head"): its slot and its name in profiles. */
  readonly label: string;
}

export interface Vector {
  readonly length: number;
}

/** A norm's parameters: gamma, and beta for LayerNorm (RMSNorm has none). */
export interface Norm {
  /** The module ("ln_1", "norm"): its name in profiles. */
  readonly label: string;
}

/** Keys and values of one sequence, per layer. One cache per sequence (a beam search would hold several). */
export interface KVCache {
  readonly layers: number;
  /** P: the positions it holds. */
  readonly positions: number;
}

/** Heads within the fused q | k | v rows: `heads` heads of HS floats each, from column `offset`. */
export interface HeadSlice {
  offset: number;
  heads: number;
}

/** What a fused matvec does after its dot products: GELU, or silu(gate) * up of the gate | up rows. */
export type FusedEpilogue = 'gelu' | 'swiglu';

/**
 * Fused primitives of a step (src/kernels/fused.ts on WebGPU), of one token or (normLinear, linearAdd) several.
 * Each returns undefined (or false) where it cannot run a call (a weight split into chunks, a shape too big for
 * workgroup memory, attention for more than one token), and the step then records the unfused primitives
 * instead. A backend without them leaves `BackendStep.fused` undefined.
 */
export interface FusedStep {
  /** epilogue(norm(x) @ w^T + bias): [T, w.rows], or [T, w.rows / 2] for swiglu, in `slot`. */
  normLinear(slot: string, x: Act, norm: { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number } | undefined, w: Matrix, epilogue?: FusedEpilogue, layer?: number): Act | undefined;
  /** x += h @ w^T + bias, in place. */
  linearAdd(x: Act, h: Act, w: Matrix, layer: number): boolean;
  /**
   * The tail of a decode step: logits = norm(x) @ w^T + bias for one row x [1, C], in `slot`. Undefined where the
   * backend runs the tail unfused (a split LM head, or an adapter where the fused tail is slower).
   */
  head(slot: string, x: Act, norm: { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number }, w: Matrix): Act | undefined;
  /**
   * One token's attention from the residual row x: its norm, q | k | v = h @ qkv^T + bias, RoPE on q and k where
   * given, k and v appended to the cache at pos0, softmax(q.k / sqrt(HS)) . v. Returns z [1, NH * HS].
   */
  attention(
    cache: KVCache,
    x: Act,
    norm: { w: Norm; kind: 'layernorm' | 'rmsnorm'; eps: number },
    qkv: Matrix,
    heads: { NH: number; NKV: number; HS: number },
    rope: { invFreq: Vector; rotaryDim: number } | undefined,
    layer: number,
  ): Act | undefined;
}

export interface StepOptions {
  /** Time every primitive (where the backend can). */
  profile?: boolean;
  hooks?: Hooks;
  label?: string;
  /**
   * A one-token step whose token is the one an earlier step's sample() chose on the device: embed() reads it from
   * there and ignores the id it is given. See Backend.deviceSampling.
   */
  tokenOnDevice?: boolean;
}

/**
 * Sampling on the device (src/kernels/topk.ts, choose.ts): what one step's sample() selects from its row of logits.
 * Read back, its result holds, in order: the sampler's candidates [3 + 2K]; with `report`, the largest `report`
 * raw logits and the raw row's log-sum-exp [3 + 2 report]; with `choose`, the chosen id [1] (u32 bits).
 */
export interface SampleRequest {
  /** The sampler's candidates: the K largest after the listed ids' bias and penalty and the temperature. */
  K: number;
  temperature: number;
  list: readonly LogitAdjust[];
  /**
   * Also the log-sum-exp of the row before the temperature, from the same selection (Candidates.untempered): with
   * no list, the raw row's, which log-probabilities are reported against.
   */
  untempered?: boolean;
  /** Also select from the raw row, for log-probabilities (when the sampler's selection is not of the raw row). */
  report?: number;
  /** Also choose the token, where the next step's embedding reads it (StepOptions.tokenOnDevice). */
  choose?: ChooseRequest;
}

export interface Backend {
  readonly weightFormat: WeightFormat;
  /** Upload a weight matrix (and its bias) in the backend's weight format. */
  matrix(weight: Float32Array, bias: Float32Array | undefined, rows: number, cols: number, label: string): Matrix;
  /** Upload a norm's gamma (and beta), always f32. */
  norm(weight: Float32Array, bias: Float32Array | undefined, label: string): Norm;
  /** Upload a vector, always f32. */
  vector(values: Float32Array, label: string): Vector;
  /** Overwrite a vector's values (RoPE frequencies scaled for one call). */
  writeVector(v: Vector, values: Float32Array): void;
  kvCache(layers: number, nKVHead: number, positions: number, headDim: number): KVCache;
  /**
   * dst = src for positions 0 .. positions - 1 of every layer (keys and values), in queue order: a step submitted
   * after it reads the copy. Beam search gives each chosen beam its parent's cache this way.
   */
  copyKVCache(dst: KVCache, src: KVCache, positions: number): void;
  /** Free a cache made by kvCache(); the model's own lives as long as the model. */
  freeKVCache(cache: KVCache): void;
  /**
   * Refuse, before any weight is uploaded, a model whose activations for one token (`widest` floats a row; the
   * scores of one query are NH x P) or one layer's cache (`cacheFloats`) the backend cannot hold.
   */
  checkFits(widest: number, cacheFloats: number, positions: number): void;
  /** Tc: at most `requested` tokens a step, fewer where rows of `widest` floats (or split weights) must fit. */
  stepTokens(requested: number, widest: number): number;
  /** Start recording a step of T tokens at positions pos0 .. pos0 + T - 1. */
  begin(T: number, pos0: number, o?: StepOptions): BackendStep;
  /**
   * Where steps have sample(): whether the token it chooses can feed the next step's embedding from `table`
   * (StepOptions.tokenOnDevice; not where the table is split into chunks). Undefined: no sampling on the device.
   */
  deviceSampling?(table: Matrix): { tokenOnDevice: boolean };
  bytes(): { weights: number; activations: number; kvCache: number };
  destroy(): void;
}

/**
 * The primitives of one step. They are recorded in order and run by `run()`; a step never run only allocates
 * (the model records one at load, so every slot exists before the first forward).
 */
export interface BackendStep {
  readonly T: number;
  readonly pos0: number;
  /** Whether the run has hooks at all (a plain step skips naming them). */
  readonly hooked: boolean;
  /** Whether the run reads or changes this hook. */
  wants(hook: string): boolean;
  /** Apply the run's interventions at `hook` to the view of x, and copy it back when asked. */
  hook(hook: string, x: Act, view: HookView): void;
  /** Rows given by the CPU (the logit lens's residual stream). */
  input(slot: string, values: Float32Array, cols: number): Act;
  /** table[ids[t]] (+ positions[pos0 + t], learned position embeddings): [T, C]. */
  embed(slot: string, ids: readonly number[], table: Matrix, positions?: Matrix): Act;
  /** x += y, in place. */
  add(x: Act, y: Act, layer?: number): void;
  layerNorm(slot: string, x: Act, w: Norm, eps: number, layer?: number): Act;
  rmsNorm(slot: string, x: Act, w: Norm, eps: number, layer?: number): Act;
  /** x @ w^T + bias: [rows, w.rows], in the slot named after w (or `slot`: the LM head, tied to the embedding). */
  linear(x: Act, w: Matrix, layer?: number, slot?: string): Act;
  /** The last row of x: [1, cols]. */
  lastRow(slot: string, x: Act): Act;
  /** Rotate the heads `part` of qkv in place by their positions (RoPE). */
  rope(qkv: Act, part: HeadSlice, invFreq: Vector, headDim: number, rotaryDim: number, layer: number): void;
  /** Copy the heads `part` of qkv into the keys (`which` = 'k') or values of `layer`, at positions pos0 ... */
  kvAppend(cache: KVCache, which: 'k' | 'v', qkv: Act, part: HeadSlice, layer: number): void;
  /** q.k / sqrt(HS) over the cached keys, -inf past the causal mask: [NH, T, S]. */
  attentionScores(cache: KVCache, qkv: Act, q: HeadSlice, headDim: number, layer: number): Act;
  /** Softmax of each row, in place. */
  softmax(x: Act, label: string, layer: number): void;
  /** pattern @ cached values, heads side by side: [T, NH * HS]. */
  attentionValues(cache: KVCache, pattern: Act, headDim: number, layer: number): Act;
  /**
   * Each head's share of the output projection w [C, NH * HS] of z [T, NH * HS], before the heads are summed:
   * [T, NH * C] (TransformerLens's hook_result). Costs NH times the projection's reads of z: run only when asked.
   */
  attentionResult(z: Act, w: Matrix, heads: number, headDim: number, layer: number): Act;
  /** The heads of attentionResult added, plus w's bias: [T, C], in w's slot (what linear(z, w) gives). */
  sumHeads(result: Act, w: Matrix, heads: number, layer: number): Act;
  /** GPT-2's tanh GELU, in place. */
  gelu(x: Act, layer: number): void;
  /** silu(gate) * up of gate | up rows [T, 2I]: [T, I]. */
  swiglu(slot: string, gateUp: Act, layer: number): Act;
  /**
   * Sampling on the device from one row of logits [1, V]: the selections and the choice `r` asks for, gathered in
   * one row to read back (see SampleRequest). Where the backend has it (Backend.deviceSampling).
   */
  sample?(logits: Act, r: SampleRequest): Act;
  /** The fused primitives, where the backend has them. */
  readonly fused?: FusedStep;
  /** Kernel dispatches recorded so far (a backend that counts them). */
  readonly dispatches?: number;
  /** Run what was recorded; the timings when profiling. */
  run(): Promise<DispatchTiming[]>;
  /** The first `rows` rows of x, after run(); into `into` (a view of its start) when given. */
  read(x: Act, rows: number, into?: Float32Array): Promise<Float32Array>;
  /**
   * Make this step, once run, the one-token step at position pos0 of token `id`, to run() again: every other
   * operand as recorded. False where it cannot be (a step of several tokens, with hooks, profiled, holding an op
   * whose shape depends on the position, or whose tensors the backend has since replaced); then record anew.
   * Where the backend has it: recording a decode step costs more than running it on the CPU.
   */
  replay?(pos0: number, id: number): boolean;
}

/** The first n floats of `into`, where a step's read writes them (ForwardOptions.logitsInto). */
export function floatsOf(into: Float32Array, n: number): Float32Array {
  if (into.length < n) throw new RangeError(`an array of ${into.length} floats cannot hold the ${n} read back`);
  return into.subarray(0, n);
}
