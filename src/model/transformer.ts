// One transformer runtime for every architecture. An architecture (gpt2.ts, llama.ts) is its weight-name table
// and its block; everything else lives here once: checking a call, running a long prompt in steps of at most Tc
// tokens (each reading the KV cache the earlier ones wrote), the KV cache, the embedding, the final norm and the
// LM head (tied to the embedding or not), the logit lens's unembed, and the model's size on the device.
//
// Dimension legend (llm.c's letters):
//   T  tokens in this call            pos0  position of the first of them      S  key length = pos0 + T
//   C  width        NH  query heads   NKV   key/value heads (NH for GPT-2)     HS head size
//   I  the MLP's hidden width         V     vocabulary size    L  layers       P  positions the KV cache holds
//   Tc the most tokens one step runs (a longer prompt is prefilled in steps of Tc)
import { createBackend, type Act, type Backend, type BackendStep, type KVCache, type Matrix, type Norm, type Vector } from '../backend/index.ts';
import type { Device } from '../backend/device.ts';
import { ropeInvFreq, type RopeScaling } from '../kernels/rope.ts';
import { candidateFloats, readCandidates, type Candidates } from '../kernels/topk.ts';
import type { ForwardOptions, ForwardResult, LanguageModel, ModelDims, WeightFormat } from './model.ts';
import { Step, type StepContext } from './step.ts';

/** What the shared runtime needs to know of an architecture besides its weights. */
export interface TransformerSpec {
  dims: ModelDims;
  /** P: positions the KV cache holds. */
  nCtx: number;
  norm: 'layernorm' | 'rmsnorm';
  eps: number;
  /** Rows of the MLP's first projection: I, or 2I for a gated MLP (gate | up). */
  mlpWidth: number;
  /** Rotary position embeddings; none for learned positions. */
  rope?: { rotaryDim: number; theta: number; scaling?: RopeScaling };
  /** Tc asked for; the backend may lower it so every activation fits. */
  stepTokens: number;
}

/** How a model runs, whatever its architecture. */
export interface RunOptions {
  /** How the weight matrices are stored (default f32). */
  weights?: WeightFormat;
  /**
   * The most tokens one step runs (Tc); a longer prompt is prefilled in steps of this many, each reading the KV
   * cache the previous ones wrote. Lowered where needed so every activation buffer (the attention scores
   * [NH, Tc, P] are the largest) fits one storage binding.
   */
  maxStepTokens?: number;
  /** The largest storage binding, in bytes (default: the device's limit). Tests lower it to force split weights. */
  maxBindingBytes?: number;
}

/** The weights every architecture has besides its blocks, as backend handles. */
export interface TransformerWeights<B> {
  embed: Matrix; // [V, C] token embeddings
  positions?: Matrix; // [P, C] learned position embeddings
  blocks: B[];
  norm: Norm; // the final norm
  lmHead: Matrix; // [V, C]: `embed` itself when tied
}

export abstract class Transformer<B> implements LanguageModel {
  readonly arch: ModelDims['arch'];
  readonly vocabSize: number;
  readonly nCtx: number;
  readonly weightFormat: WeightFormat;
  /** Tc: the most tokens one step runs. */
  readonly maxStepTokens: number;
  protected readonly weights: TransformerWeights<B>;
  /** The keys and values of the sequence being run, unless a call passes its own (ForwardOptions.cache). */
  private cache: KVCache;
  /** [rotaryDim / 2] RoPE frequencies, and a copy times ForwardOptions.ropeAngleScale, made on first use. */
  private invFreq?: Vector;
  private scaledInvFreq?: { scale: number; v: Vector };
  /** The last plain one-token step, and what it was recorded for (see decodeStep). */
  private lastStep?: { step: BackendStep; head?: Act; cache: KVCache; fused: boolean; scale: number };

  /** Runs every op: buffers, kernels and hooks live there. */
  private backend: Backend;
  readonly deviceSampling?: { tokenOnDevice: boolean };

  protected constructor(
    readonly gpu: Device,
    private spec: TransformerSpec,
    options: RunOptions,
    load: (backend: Backend) => TransformerWeights<B>,
  ) {
    const { dims, nCtx: P, stepTokens } = spec;
    const { NH, NKV, HS, C, V } = dims;
    if (!(Number.isSafeInteger(stepTokens) && stepTokens >= 1)) throw new RangeError(`maxStepTokens must be a positive integer, got ${stepTokens}`);
    const backend = (this.backend = createBackend(gpu, { weights: options.weights, maxBindingBytes: options.maxBindingBytes }));
    this.arch = dims.arch;
    this.vocabSize = V;
    this.nCtx = P;
    this.weightFormat = backend.weightFormat;
    // every activation is [Tc, width] (the scores [NH, Tc, P]): refuse what cannot hold even one token, before loading
    const widest = Math.max(NH * P, (NH + 2 * NKV) * HS, spec.mlpWidth, V, C, NH * HS);
    backend.checkFits(widest, NKV * P * HS, P);
    this.weights = load(backend);
    this.deviceSampling = backend.deviceSampling?.(this.weights.embed);
    if (spec.rope) this.invFreq = backend.vector(this.ropeInvFreq(), 'rope.inv_freq');
    this.maxStepTokens = backend.stepTokens(Math.min(stepTokens, P), widest);
    this.cache = backend.kvCache(dims.nLayer, NKV, P, HS);
    // record one step of Tc tokens and never run it: the backend allocates every activation now, at load
    this.record(new Array<number>(this.maxStepTokens).fill(0), 0, 'last', {});
  }

  get dims(): ModelDims {
    return this.spec.dims;
  }

  /** One block, in the shape of nanoGPT's Block.forward: x = x + attn(norm1(x)); x = x + mlp(norm2(x)). */
  protected abstract block(x: Step, b: B): void;

  /** Runs `ids` in steps of at most Tc tokens; all-position logits are gathered from every step. */
  async forward(ids: number[], pos0: number, options: ForwardOptions = {}): Promise<ForwardResult> {
    const T = ids.length;
    const V = this.vocabSize;
    if (T === 0) throw new RangeError('forward() needs at least one token');
    if (pos0 < 0 || pos0 + T > this.nCtx) {
      throw new RangeError(`positions ${pos0}..${pos0 + T - 1} do not fit the context of ${this.nCtx} tokens`);
    }
    for (const id of ids) if (!(id >= 0 && id < V && Number.isInteger(id))) throw new RangeError(`token id ${id} is outside the vocabulary of ${V}`);
    const scale = options.ropeAngleScale ?? 1;
    if (!this.spec.rope && scale !== 1) throw new RangeError('ropeAngleScale needs RoPE, and this model has learned position embeddings: scale hook_pos_embed instead');
    if (!Number.isFinite(scale)) throw new RangeError(`ropeAngleScale must be a finite number, got ${scale}`);
    const cache = options.cache ?? this.cache;
    if (options.tokenOnDevice && !(T === 1 && this.deviceSampling?.tokenOnDevice)) throw new RangeError('tokenOnDevice: a one-token step, on a backend whose sampling can feed the embedding');
    if (pos0 + T > cache.positions) throw new RangeError(`positions ${pos0}..${pos0 + T - 1} do not fit a KV cache of ${cache.positions} positions`);

    const Tc = this.maxStepTokens;
    const all = options.allLogits ? new Float32Array(T * V) : undefined;
    if (options.logitsInto && all) throw new RangeError('logitsInto holds the last position only, not allLogits');
    if (options.logitsInto && options.logitsInto.length < V) throw new RangeError(`logitsInto holds ${options.logitsInto.length} floats, fewer than the ${V} logits`);
    let logits: Float32Array = new Float32Array(0);
    const profile: NonNullable<ForwardResult['profile']> = [];
    let dispatches: number | undefined;
    let readbackBytes = 0;
    let candidates: Candidates | undefined;
    let report: Candidates | undefined;
    let chosen: number | undefined;
    let readLogits: (() => Promise<Float32Array>) | undefined;
    for (let t0 = 0; t0 < T; t0 += Tc) {
      const chunk = ids.slice(t0, t0 + Tc);
      const final = t0 + chunk.length === T;
      const { step, head } = this.decodeStep(chunk, pos0 + t0, options, cache) ?? this.record(chunk, pos0 + t0, all ? 'all' : final ? 'last' : 'none', options, cache);
      const r = final && !all ? options.select : undefined;
      const picked = r && step.sample ? step.sample(head!, r) : undefined;
      if (step.dispatches !== undefined) dispatches = (dispatches ?? 0) + step.dispatches;
      if (picked) {
        // the copy of the selection is queued right behind the step, before this call first waits: a program may
        // submit the next step (ForwardOptions.select) before awaiting this one
        const [timings, out] = await Promise.all([step.run(), step.read(picked, 1)]);
        profile.push(...timings);
        readbackBytes += out.byteLength;
        let at = candidateFloats(r!.K, r!.untempered);
        candidates = readCandidates(out.subarray(0, at), r!.K);
        if (r!.report) {
          report = readCandidates(out.subarray(at, at + candidateFloats(r!.report)), r!.report);
          at += candidateFloats(r!.report);
        }
        if (r!.choose) chosen = new Uint32Array(out.buffer, out.byteOffset + 4 * at, 1)[0];
        readLogits = () => step.read(head!, 1);
        continue;
      }
      profile.push(...(await step.run()));
      const out = head ? await step.read(head, head.shape[0]!, final && !all ? options.logitsInto : undefined) : undefined;
      readbackBytes += out?.byteLength ?? 0;
      if (all) all.set(out!, t0 * V);
      else if (final) logits = out!;
    }
    // a backend that records dispatches reads its results back from the device; one that does not (WebAssembly)
    // computes them in memory the CPU reads, and has neither to report
    const counted = dispatches !== undefined;
    return { logits: all ?? logits, profile: options.profile ? profile : undefined, dispatches, readbackBytes: counted ? readbackBytes : undefined, candidates, report, chosen, readLogits };
  }

  /** A KV cache for one more sequence, holding `positions` positions (at most nCtx): see LanguageModel.newCache. */
  newCache(positions = this.nCtx): KVCache {
    if (!(Number.isInteger(positions) && positions >= 1 && positions <= this.nCtx)) throw new RangeError(`a KV cache holds 1..${this.nCtx} positions, asked for ${positions}`);
    const { nLayer, NKV, HS } = this.dims;
    return this.backend.kvCache(nLayer, NKV, positions, HS);
  }

  /** dst = src for positions 0 .. positions - 1 of every layer, before any later forward() reads dst. */
  copyCache(dst: KVCache, src: KVCache, positions: number): void {
    this.backend.copyKVCache(dst, src, positions);
  }

  freeCache(cache: KVCache): void {
    if (cache === this.cache) throw new Error("freeCache: the model's own KV cache lives as long as the model");
    this.backend.freeKVCache(cache);
  }

  /** The final norm and the LM head on residual-stream rows resid [T, C] of another run: the logit lens. */
  async unembed(resid: Float32Array): Promise<Float32Array> {
    const { C } = this.dims;
    const T = resid.length / C;
    if (!(Number.isInteger(T) && T >= 1 && T <= this.maxStepTokens)) throw new RangeError(`unembed() needs 1..${this.maxStepTokens} rows of ${C} floats`);
    const step = this.backend.begin(T, 0, { label: 'unembed' });
    const x = new Step(step, this.context(1, false, this.cache));
    x.x = step.input('x', resid, C);
    const logits = x.head('all', this.weights.norm, this.weights.lmHead); // (T, V)
    await step.run();
    return step.read(logits, T);
  }

  /**
   * A plain one-token step (the last row's logits; no hooks, no profile, no sampling on the device): the last one
   * recorded, replayed at this position with this token where the backend can (BackendStep.replay) and it was
   * recorded for the same cache, `fused` and RoPE scale; otherwise recorded anew, and kept. Undefined for any other
   * step. The steps of a decode loop are one recording apart only in their token and position, and on the CPU
   * recording one costs about a tenth of a millisecond, a few percent of GPT-2 124M's token and more of a small
   * model's.
   */
  private decodeStep(ids: readonly number[], pos0: number, options: ForwardOptions, cache: KVCache): { step: BackendStep; head?: Act } | undefined {
    if (ids.length !== 1 || options.allLogits || options.hooks || options.profile || options.select || options.tokenOnDevice) return undefined;
    const fused = options.fused ?? true;
    const scale = options.ropeAngleScale ?? 1;
    const kept = this.lastStep;
    if (this.spec.rope) this.ropeFrequencies(scale); // another step may have rewritten the scaled frequencies since
    if (kept && kept.cache === cache && kept.fused === fused && kept.scale === scale && kept.step.replay?.(pos0, ids[0]!)) return kept;
    const r = this.record(ids, pos0, 'last', options, cache);
    this.lastStep = r.step.replay ? { ...r, cache, fused, scale } : undefined;
    return r;
  }

  /** One step of T <= Tc tokens, recorded: embed, every block, and the head on every row, the last, or none. */
  private record(ids: readonly number[], pos0: number, head: 'all' | 'last' | 'none', options: ForwardOptions, cache = this.cache): { step: BackendStep; head?: Act } {
    const step = this.backend.begin(ids.length, pos0, { profile: options.profile, hooks: options.hooks, tokenOnDevice: options.tokenOnDevice });
    const x = new Step(step, this.context(options.ropeAngleScale ?? 1, options.fused ?? true, cache));
    x.embed(ids, this.weights.embed, this.weights.positions);
    this.weights.blocks.forEach((b, l) => {
      x.enter(l);
      this.block(x, b);
    });
    return { step, head: head === 'none' ? undefined : x.head(head, this.weights.norm, this.weights.lmHead) };
  }

  private context(ropeAngleScale: number, fused: boolean, cache: KVCache): StepContext {
    const { dims, norm, eps, rope } = this.spec;
    return { dims, norm, eps, fused, cache, rope: rope && { invFreq: this.ropeFrequencies(ropeAngleScale), rotaryDim: rope.rotaryDim } };
  }

  private ropeInvFreq(): Float32Array {
    const { rotaryDim, theta, scaling } = this.spec.rope!;
    return ropeInvFreq(rotaryDim, theta, scaling);
  }

  /**
   * The RoPE frequencies of a step: the model's own, or for ropeAngleScale != 1 a second vector holding each of
   * them times the scale (rounded to f32, as the CPU reference rounds them), so the model's own are never overwritten.
   */
  private ropeFrequencies(scale: number): Vector {
    if (scale === 1) return this.invFreq!;
    if (this.scaledInvFreq?.scale !== scale) {
      const scaled = this.ropeInvFreq().map((f) => f * scale);
      if (this.scaledInvFreq) this.backend.writeVector(this.scaledInvFreq.v, scaled);
      this.scaledInvFreq = { scale, v: this.scaledInvFreq?.v ?? this.backend.vector(scaled, 'rope.inv_freq_scaled') };
    }
    return this.scaledInvFreq.v;
  }

  gpuBytes() {
    return this.backend.bytes();
  }

  destroy(): void {
    this.backend.destroy();
  }
}
