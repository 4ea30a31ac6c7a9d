// Where generate()'s tokens come from, one at a time: the prompt is prefilled once, then token i (i >= 1) comes from
// the one-token step that runs token i - 1. Each token is reported with its log-probability and the most likely
// tokens, both under the model's raw distribution: log_softmax of the logits as the model gave them, before the
// bias, penalties, temperature and filters that chose it (as Hugging Face's output scores and OpenAI's logprobs).
//
//   CpuTokens     reads each step's whole row of logits back and samples on the CPU (src/sampling/sampler.ts); the
//                 reference, and the WebAssembly backend's way (its logits are already in CPU memory).
//   DeviceTokens  leaves the row on the GPU: the step ends with the sampler's candidates (src/kernels/topk.ts),
//                 and the CPU finishes the choice on them exactly (src/sampling/gpu.ts), reading the row only where
//                 they do not decide. With `pipeline`, the GPU also chooses the token (src/kernels/choose.ts) and
//                 the next step, whose embedding reads that token from a GPU buffer, is submitted before this
//                 step's candidates reach the CPU. The CPU still makes every choice from the candidates; where the
//                 GPU chose otherwise (a draw within rounding of a boundary) or the row must be read, the step
//                 submitted ahead is discarded and run again with the right token, so the tokens are always those
//                 of the step-by-step path.
import type { SampleRequest } from '../backend/backend.ts';
import type { DispatchTiming } from '../gpu/recorder.ts';
import { MAX_CANDIDATES, type Candidates } from '../kernels/topk.ts';
import type { ForwardResult, LanguageModel } from '../model/model.ts';
import { candidateRequest, logitAdjustments } from './gpu.ts';
import { logprobsOf } from './logprobs.ts';
import type { Sampler } from './sampler.ts';

/** A token with its log-probability and the `topLogprobs` most likely tokens, under the raw distribution. */
export interface ReportedToken {
  id: number;
  logprob: number;
  top: { id: number; logprob: number }[];
}

export interface TokenSourceOptions {
  /** Index of the last token asked for (tokens 0 .. last): no step runs past it. */
  last: number;
  topLogprobs: number;
  /** false: no log-probabilities (logprob NaN, no top): where sampling is on the CPU, no pass over the row for them. */
  logprobs?: boolean;
  /** false: every step recomputes the whole sequence from position 0. */
  useCache: boolean;
  /** Time the dispatches of the prefill and of the first decode step. */
  profile: boolean;
}

export interface TokenSource {
  /** Run the prompt; `context` (shared with the caller, who appends each token it keeps) starts as the prompt. */
  prefill(): Promise<void>;
  /** The most likely tokens for the position after the prompt (after prefill). */
  next(): Promise<{ id: number; logprob: number }[]>;
  /** Token i, chosen and reported; tokens 0 .. i - 1 were returned before and are in the context. */
  token(i: number): Promise<ReportedToken>;
  /** Wait for any step still in flight (one submitted ahead that generation no longer needs). */
  settle(): Promise<void>;
  profile: { prefill: DispatchTiming[]; decode?: DispatchTiming[] };
  /** Means over the decode steps whose tokens were returned (steps run again included), where the model counts. */
  perToken(): { dispatches?: number; readbackBytes?: number };
}

/** Counts of the decode steps whose tokens were returned. */
class Counters {
  steps = 0;
  dispatches = 0;
  readbackBytes = 0;
  counted = false;

  /** A step, and what its token cost besides (a row read, a step run again). */
  add(r: ForwardResult, extra = { dispatches: 0, readbackBytes: 0 }): void {
    this.steps++;
    if (r.dispatches !== undefined) this.counted = true;
    this.dispatches += (r.dispatches ?? 0) + extra.dispatches;
    this.readbackBytes += (r.readbackBytes ?? 0) + extra.readbackBytes;
  }

  perToken() {
    if (!this.counted || this.steps === 0) return {};
    return { dispatches: round(this.dispatches / this.steps), readbackBytes: round(this.readbackBytes / this.steps) };
  }
}

const round = (x: number) => Math.round(x * 100) / 100;

/** The `k` most likely tokens of a whole row, and the log-probability of `id` (the CPU sampler's report). */
function reportFromRow(logits: Float32Array, id: number, k: number): ReportedToken {
  return { id, ...logprobsOf(logits, id, k) };
}

/** The logits read back every step, sampled on the CPU. */
export class CpuTokens implements TokenSource {
  profile: TokenSource['profile'] = { prefill: [] };
  private logits: Float32Array = new Float32Array(0);
  /** Where every decode step's logits are written (ForwardOptions.logitsInto): one array, not one a token. */
  private stepLogits?: Float32Array;
  private counters = new Counters();
  private promptLength: number;

  constructor(
    private model: LanguageModel,
    private sampler: Sampler,
    private context: number[],
    private o: TokenSourceOptions,
  ) {
    this.promptLength = context.length;
  }

  async prefill(): Promise<void> {
    const r = await this.model.forward(this.context, 0, { profile: this.o.profile });
    this.logits = r.logits;
    this.profile.prefill = r.profile ?? [];
  }

  async next() {
    return reportFromRow(this.logits, 0, this.o.topLogprobs).top;
  }

  async token(i: number): Promise<ReportedToken> {
    if (i > 0) {
      const profile = this.o.profile && i === 1; // the first decode step only
      const id = this.context[this.promptLength + i - 1]!;
      this.stepLogits ??= new Float32Array(this.model.vocabSize);
      const logitsInto = this.stepLogits;
      const r = this.o.useCache ? await this.model.forward([id], this.context.length - 1, { profile, logitsInto }) : await this.model.forward(this.context, 0, { profile, logitsInto });
      if (profile) this.profile.decode = r.profile ?? [];
      if (this.o.useCache) this.counters.add(r);
      this.logits = r.logits;
    }
    const id = this.sampler.next(this.logits, this.context);
    return this.o.logprobs === false ? { id, logprob: NaN, top: [] } : reportFromRow(this.logits, id, this.o.topLogprobs);
  }

  async settle(): Promise<void> {}

  perToken() {
    return this.counters.perToken();
  }
}

/** A step submitted: step j runs token j at position promptLength + j and gives token j + 1 (j = -1: the prompt). */
interface Submitted {
  result: Promise<ForwardResult>;
  /** Whether the step also chose its token on the GPU (for the step after it). */
  choosing: boolean;
}

export interface DeviceTokenOptions extends TokenSourceOptions {
  /** Submit step j + 1, on the token the GPU chose, before step j is read back (where the options allow). */
  pipeline: boolean;
}

/** The logits left on the GPU: candidates read back, and with pipelining the token fed back on the GPU. */
export class DeviceTokens implements TokenSource {
  profile: TokenSource['profile'] = { prefill: [] };
  /** Whether steps are submitted ahead (the options allow it; see pipelines()). */
  readonly pipelined: boolean;
  /** Steps submitted ahead and discarded: the GPU chose another token than the CPU, or the row had to be read. */
  discarded = 0;
  private steps = new Map<number, Submitted>();
  private inFlight: Promise<unknown>[] = [];
  /** The uniform number of token i (drawn in order, whichever path uses it). */
  private uniforms: number[] = [];
  private counters = new Counters();
  private profiledDecode = false;
  private promptLength: number;
  private V: number;
  /** top_logprobs beyond what a selection holds: every step reads the whole row. */
  private rowReport: boolean;

  constructor(
    private model: LanguageModel,
    private sampler: Sampler,
    private context: number[],
    private o: DeviceTokenOptions,
  ) {
    this.promptLength = context.length;
    this.V = model.vocabSize;
    this.rowReport = o.topLogprobs > MAX_CANDIDATES;
    this.pipelined = o.pipeline && o.useCache && !this.rowReport && model.deviceSampling?.tokenOnDevice === true && pipelines(sampler);
  }

  async prefill(): Promise<void> {
    const r = this.submit(-1, this.context);
    this.profile.prefill = (await r.result).profile ?? [];
  }

  async next() {
    const r = await this.steps.get(-1)!.result;
    if (this.rowReport || !this.selectionCovers(r)) return reportFromRow(await r.readLogits!(), 0, this.o.topLogprobs).top;
    return this.reportFromSelection(r, undefined).top;
  }

  async token(i: number): Promise<ReportedToken> {
    const step = this.steps.get(i - 1) ?? this.submit(i - 1, this.sequence(i - 1));
    // the step after it, on the token the GPU chooses, while this one computes
    const ahead = this.pipelined && step.choosing && i <= this.o.last - 1 ? this.submit(i, 'device') : undefined;
    let r = await step.result;
    const u = this.uniform(i);
    let id = this.sampler.nextFromCandidates(r.candidates!, this.context, this.V, u);
    let row: Float32Array | undefined;
    const extra = { dispatches: 0, readbackBytes: 0 };
    if (id === undefined || this.rowReport || !this.selectionCovers(r)) {
      if (ahead) {
        // the step submitted ahead overwrote this one's row: run this one again (the same kernels on the same
        // inputs give the same row, and the same keys and values at its position), and the one ahead later
        this.discard(i);
        extra.dispatches += r.dispatches ?? 0;
        extra.readbackBytes += r.readbackBytes ?? 0;
        r = await this.submit(i - 1, this.sequence(i - 1), false).result;
      }
      row = await r.readLogits!();
      extra.readbackBytes += row.byteLength;
      id ??= this.sampler.next(row, this.context, u);
    }
    if (this.steps.has(i) && r.chosen !== id) this.discard(i); // the GPU chose another token: run step i again
    if (i > 0 && this.o.useCache) this.counters.add(r, extra);
    return row ? reportFromRow(row, id, this.o.topLogprobs) : this.reportFromSelection(r, id);
  }

  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight);
  }

  perToken() {
    return this.counters.perToken();
  }

  /** Prompt and tokens 0 .. j: what step j runs (from position 0 without the KV cache). */
  private sequence(j: number): number[] {
    return this.context.slice(0, this.promptLength + j + 1);
  }

  private uniform(i: number): number {
    if (this.sampler.greedy) return 0;
    while (this.uniforms.length <= i) this.uniforms.push(this.sampler.draw());
    return this.uniforms[i]!;
  }

  /**
   * Submit step j on `ids` (the whole sequence, or 'device': the token the step before chose on the GPU). It is
   * queued when this returns; its promise resolves when its selection is read back.
   */
  private submit(j: number, ids: number[] | 'device', choose = this.pipelined && j >= 0 && j + 1 <= this.o.last - 1): Submitted {
    const request = this.request(j, choose);
    const onDevice = ids === 'device';
    const cached = this.o.useCache && j >= 0;
    const tokens = onDevice ? [0] : cached ? ids.slice(-1) : ids;
    const pos0 = cached || onDevice ? this.promptLength + j : 0;
    // the prefill, and the first decode step
    const profile = this.o.profile && (j === -1 || (j === 0 && !this.profiledDecode));
    const result = this.model.forward(tokens, pos0, { select: request, tokenOnDevice: onDevice, profile });
    const submitted: Submitted = { result, choosing: choose };
    if (profile && j === 0) {
      this.profiledDecode = true;
      void result.then((r) => (this.profile.decode = r.profile ?? []), () => {});
    }
    this.steps.set(j, submitted);
    this.inFlight.push(result.catch(() => {}));
    return submitted;
  }

  private discard(j: number): void {
    this.steps.delete(j);
    this.discarded++;
  }

  /** What step j selects for token j + 1: the sampler's candidates, the raw row's top for the report, the choice. */
  private request(j: number, choose: boolean): SampleRequest {
    const o = this.sampler.options;
    const { K, temperature } = candidateRequest(o);
    const list = logitAdjustments(o, this.context, this.V);
    const k = this.rowReport ? 0 : this.o.topLogprobs;
    // with no bias or penalty the selection is in the raw row's order (a temperature only scales it), so it serves
    // the report too, with the log-sum-exp before the temperature from the same pass (see selectionCovers);
    // otherwise a second one selects from the raw row
    const rawOrder = list.length === 0;
    const { topK, topP, minP, typicalP } = o;
    return {
      K: rawOrder ? Math.max(K, k) : K,
      temperature,
      list,
      untempered: rawOrder && temperature !== 1 && !this.rowReport,
      report: rawOrder || this.rowReport ? undefined : Math.max(1, k),
      choose: choose ? { greedy: this.sampler.greedy, temperature, topK, topP, minP, typicalP, u: this.uniform(j + 1) } : undefined,
    };
  }

  /**
   * Whether the selections hold the report: a selection of the raw row (the report's, or the sampler's at
   * temperature 1) always does. The sampler's at another temperature holds the raw row's top `topLogprobs` when every
   * id it left out lies clearly below the last of them: dividing by the temperature keeps the order of the raw
   * logits, but f32 rounding may tie two apart (a tie goes to the lower id), and the report compares f32
   * log-probabilities. An id left out has a tempered value of at most `floor`, so a raw logit of at most about
   * floor * temperature; that must be below the last reported raw logit by more than those roundings. Otherwise
   * the row is read.
   */
  private selectionCovers(r: ForwardResult): boolean {
    const c = r.candidates!;
    if (r.report || !c.untempered || c.floor === -Infinity || this.o.topLogprobs === 0) return true;
    const top = byRawLogit(c).slice(0, this.o.topLogprobs);
    const last = c.raw[top.at(-1)!]!;
    const leftOut = (c.floor + 1e-5 * Math.abs(c.floor)) * this.sampler.options.temperature;
    const logZ = c.untempered.max + Math.log(c.untempered.sumExp);
    return leftOut < last - 1e-5 * (Math.abs(last) + Math.abs(logZ));
  }

  /** The report from the selections: each log-probability is a raw logit minus the raw row's log-sum-exp. */
  private reportFromSelection(r: ForwardResult, id: number | undefined): ReportedToken {
    const sel: Candidates = r.report ?? r.candidates!;
    const lse = r.report ?? sel.untempered ?? sel;
    const logZ = lse.max + Math.log(lse.sumExp);
    const logprob = (raw: number) => Math.fround(raw - logZ);
    // ordered as the CPU orders its f32 log-probabilities: larger first, the lower id on a tie
    const top = byRawLogit(sel).map((n) => ({ id: sel.ids[n]!, logprob: logprob(sel.raw[n]!) }));
    top.sort((a, b) => b.logprob - a.logprob || a.id - b.id);
    top.length = Math.min(top.length, this.o.topLogprobs);
    if (id === undefined) return { id: 0, logprob: 0, top };
    const c = r.candidates!;
    return { id, logprob: logprob(c.raw[c.ids.indexOf(id)]!), top };
  }
}

/** The indices of a selection's candidates by raw logit, larger first, the lower id on a tie. */
function byRawLogit(c: Candidates): number[] {
  return c.ids.map((_, n) => n).sort((a, b) => c.raw[b]! - c.raw[a]! || c.ids[a]! - c.ids[b]!);
}

/**
 * Whether steps can be submitted ahead for these options: the step's adjustments must not depend on the token not
 * yet read (no repetition penalty, no n-gram bans), and the candidates must usually decide (greedy, top-k up to 64,
 * a top-p or min-p line); plain sampling and typical-p alone read the whole row every step.
 */
export function pipelines(sampler: Sampler): boolean {
  const o = sampler.options;
  if (o.repetitionPenalty !== 1 || o.noRepeatNgram > 0) return false;
  return sampler.greedy || (o.topK > 0 && o.topK <= MAX_CANDIDATES) || o.topP < 1 || o.minP > 0;
}
