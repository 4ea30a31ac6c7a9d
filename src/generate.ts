// Text generation: prefill the prompt once, then decode one token at a time from the KV cache, sampling each
// token with the filters of src/sampling. The same function serves the CLI, the web demo and programs.
import type { KVCache } from './backend/backend.ts';
import type { DispatchTiming } from './gpu/recorder.ts';
import type { LanguageModel } from './model/model.ts';
import { beamSearch } from './sampling/beam.ts';
import { logSoftmax, topLogprobs } from './sampling/logprobs.ts';
import { Sampler, validateSamplingOptions, type SamplingOptions } from './sampling/sampler.ts';
import { CpuTokens, DeviceTokens, type TokenSource } from './sampling/tokens.ts';
import type { Tokenizer } from './tokenizer/tokenizer.ts';
import { StreamDecoder } from './tokenizer/stream.ts';

export interface GenerateOptions extends Partial<SamplingOptions> {
  maxNewTokens?: number;
  /** Strings that end generation; the text is cut before the first one. */
  stop?: string[];
  /** false: recompute the whole sequence every step instead of reading the KV cache (to show what it saves). */
  useCache?: boolean;
  /** How many candidates each step's top_logprobs lists. */
  topLogprobs?: number;
  /**
   * false: report no log-probabilities (each step's logprob is NaN and its top_logprobs empty), for a caller that
   * wants the text alone: sampling on the CPU then skips a log-sum-exp over the vocabulary and the candidates every
   * token. The tokens are the same. Default true.
   */
  logprobs?: boolean;
  /** Beam search with this many beams (1: off). */
  beams?: number;
  lengthPenalty?: number;
  /** Stop at the model's end-of-text token (default true when the tokenizer has one). */
  stopAtEos?: boolean;
  signal?: AbortSignal;
  /** Time every dispatch of the prefill and of the first decode step (timestamp queries, when the adapter has them). */
  profile?: boolean;
  /**
   * Where a token is chosen: 'gpu' (the default where the model can) leaves the logits on the GPU and reads back the
   * sampler's candidates; 'cpu' reads each step's whole row of logits back and samples there (the reference, and
   * the only way on the WebAssembly backend). The tokens are the same for the same seed.
   */
  sampleOn?: 'gpu' | 'cpu';
  /**
   * With sampling on the GPU: submit each decode step before the one before it was read back, its token fed from
   * a GPU buffer (default true; where the options allow, see src/sampling/tokens.ts). The tokens are the same.
   */
  pipeline?: boolean;
  /**
   * A prompt too long for the context and maxNewTokens: keep its end (dropping tokens from the front) instead of
   * refusing it. Without it, only a prompt longer than the whole context is refused.
   */
  truncate?: boolean;
}

export interface TokenLogprob {
  id: number;
  text: string;
  logprob: number;
}

/**
 * One generated token. `logprob` and `top_logprobs` are under the model's raw distribution: log_softmax of the
 * logits as the model gave them, before the bias, penalties, temperature and filters that chose the token.
 */
export interface GenerationStep extends TokenLogprob {
  top_logprobs: TokenLogprob[];
}

/** Why generation ended: maxNewTokens reached, a stop string, the end-of-text token, Ctrl-C, or the context full. */
export type FinishReason = 'length' | 'stop' | 'eos' | 'abort' | 'context';

export interface GenerationResult {
  prompt_tokens: number[];
  tokens: number[];
  text: string;
  steps: GenerationStep[];
  /** With maxNewTokens 0: the top candidates for the position after the prompt. */
  next?: TokenLogprob[];
  timings: {
    prefill_ms: number;
    decode_ms: number;
    tokens_per_s: number;
    time_to_first_token_ms: number;
    prefill_tokens_per_s: number;
    /**
     * Kernel dispatches and bytes read back per decode token, where the model counts them: means over the decode
     * steps whose tokens were kept, with what a token cost besides its step (a whole row read, a step run again).
     */
    dispatches_per_token?: number;
    readback_bytes_per_token?: number;
  };
  finish_reason: FinishReason;
  /** The seed of the sampler: the one given, or the random one drawn for this run (pass it back to repeat the run). */
  seed: number;
  /** With the truncate option: how many tokens were dropped from the front of the prompt (0 when it fitted). */
  prompt_tokens_dropped: number;
  /** With the profile option: per-dispatch GPU timings of the prefill and the first decode step. */
  profile?: { prefill: DispatchTiming[]; decode?: DispatchTiming[] };
}

export class GenerateError extends Error {
  override name = 'GenerateError';
}

/** A prompt longer than the context, refused because truncation was not asked for. */
export class PromptTooLongError extends GenerateError {
  constructor(
    readonly tokens: number,
    readonly nCtx: number,
  ) {
    super(`the prompt is ${tokens} tokens but the model's context holds ${nCtx}: shorten the prompt, or truncate it to keep its end`);
  }
}

const now = () => performance.now();

/**
 * Generate a continuation of `prompt`. `onText` receives text as it becomes final (never text past a stop
 * string, never half a UTF-8 character).
 */
export async function generate(
  model: LanguageModel,
  tokenizer: Tokenizer,
  prompt: string | number[],
  options: GenerateOptions = {},
  onText?: (text: string, step: GenerationStep) => void,
): Promise<GenerationResult> {
  const maxNew = options.maxNewTokens ?? 64;
  const withLogprobs = options.logprobs !== false;
  const k = withLogprobs ? (options.topLogprobs ?? 5) : 0;
  validateSamplingOptions(options);
  const fitted = fitPrompt(typeof prompt === 'string' ? tokenizer.encode(prompt) : [...prompt], model.nCtx, maxNew, options.truncate);
  const promptIds = fitted.ids;
  const seed = options.seed ?? randomSeed();
  // beam search needs a token to search for; with maxNewTokens 0 the plain path reports what comes next
  if ((options.beams ?? 1) > 1 && maxNew > 0) return generateBeams(model, tokenizer, promptIds, { ...options, seed }, fitted.dropped, onText);

  const sampler = new Sampler({ ...options, seed });
  const describe = (t: { id: number; logprob: number }): TokenLogprob => ({ id: t.id, text: tokenizer.decode([t.id]), logprob: t.logprob });
  const eos = options.stopAtEos === false ? undefined : tokenizer.eosTokenId;
  const stops = (options.stop ?? []).filter((s) => s.length > 0);

  const context = [...promptIds];
  const tokens: number[] = [];
  const steps: GenerationStep[] = [];
  const decoder = new StreamDecoder(tokenizer);
  let text = ''; // all decoded text so far
  let emitted = 0; // how much of `text` was handed to onText
  let finish: FinishReason = 'length';

  // the prompt and the new tokens share the context; when it is full first, generation ends early
  const room = model.nCtx - promptIds.length;
  if (room < maxNew) finish = 'context';
  const count = Math.min(maxNew, room);
  const sourceOptions = { last: count - 1, topLogprobs: k, logprobs: withLogprobs, useCache: options.useCache !== false, profile: options.profile === true };
  const onGpu = options.sampleOn !== 'cpu' && model.deviceSampling !== undefined;
  const source: TokenSource = onGpu
    ? new DeviceTokens(model, sampler, context, { ...sourceOptions, pipeline: options.pipeline !== false })
    : new CpuTokens(model, sampler, context, sourceOptions);

  const t0 = now();
  await source.prefill();
  const prefillMs = now() - t0;
  let next: TokenLogprob[] | undefined;
  if (maxNew <= 0) next = (await source.next()).map(describe);

  const t1 = now();
  try {
    for (let i = 0; i < count; i++) {
      if (options.signal?.aborted) {
        finish = 'abort';
        break;
      }
      const t = await source.token(i);
      const step: GenerationStep = withLogprobs ? { ...describe(t), top_logprobs: t.top.map(describe) } : { ...describe({ id: t.id, logprob: NaN }), top_logprobs: [] };
      const id = t.id;
      if (id === eos) {
        finish = 'eos';
        break;
      }
      tokens.push(id);
      steps.push(step);
      context.push(id);
      text += decoder.push(id);

      // a stop string ends generation; text that could still become one is held back from the stream
      const hit = firstStop(text, stops);
      if (hit >= 0) {
        text = text.slice(0, hit);
        finish = 'stop';
      }
      const safe = finish === 'stop' ? text.length : text.length - heldBack(text, stops);
      if (safe > emitted) {
        onText?.(text.slice(emitted, safe), step);
        emitted = safe;
      }
      if (finish === 'stop') break;
    }
  } finally {
    await source.settle(); // a step submitted ahead that generation no longer needs
  }
  if (finish !== 'stop') {
    text += decoder.flush();
    if (text.length > emitted && steps.length > 0) onText?.(text.slice(emitted), steps.at(-1)!);
  }
  const decodeMs = now() - t1;
  return {
    prompt_tokens: promptIds,
    tokens,
    text,
    steps,
    next,
    timings: timings(promptIds.length, tokens.length, prefillMs, decodeMs, source.perToken()),
    finish_reason: finish,
    seed,
    prompt_tokens_dropped: fitted.dropped,
    ...(options.profile ? { profile: source.profile } : {}),
  };
}

/**
 * The prompt's tokens that go to the model. One that fills the context still runs (its logits say what comes
 * next); one past it is refused, or with `truncate` loses tokens from its front until it leaves room for
 * `maxNewTokens` (keeping at least one token).
 */
export function fitPrompt(ids: number[], nCtx: number, maxNewTokens: number, truncate = false): { ids: number[]; dropped: number } {
  if (ids.length === 0) throw new GenerateError('the prompt is empty: give some text to continue');
  const keep = truncate ? Math.max(1, nCtx - maxNewTokens) : nCtx;
  if (ids.length <= keep) return { ids, dropped: 0 };
  if (!truncate) {
    throw new PromptTooLongError(ids.length, nCtx);
  }
  return { ids: ids.slice(ids.length - keep), dropped: ids.length - keep };
}

/** A seed for a run that was given none: different every run, and reported so the run can be repeated. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 0x100000000);
}

function timings(promptTokens: number, newTokens: number, prefillMs: number, decodeMs: number, perToken: { dispatches?: number; readbackBytes?: number } = {}) {
  // the first new token comes from the prefill's logits; the decode loop produces the rest
  const decoded = Math.max(newTokens - 1, 0);
  return {
    prefill_ms: round(prefillMs),
    decode_ms: round(decodeMs),
    tokens_per_s: decoded > 0 && decodeMs > 0 ? round((decoded * 1000) / decodeMs) : 0,
    time_to_first_token_ms: round(prefillMs),
    prefill_tokens_per_s: prefillMs > 0 ? round((promptTokens * 1000) / prefillMs) : 0,
    ...(perToken.dispatches !== undefined ? { dispatches_per_token: perToken.dispatches } : {}),
    ...(perToken.readbackBytes !== undefined ? { readback_bytes_per_token: perToken.readbackBytes } : {}),
  };
}

const round = (x: number) => Math.round(x * 100) / 100;

/** Index of the earliest stop string in `text`, or -1. */
function firstStop(text: string, stops: string[]): number {
  let best = -1;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (best < 0 || i < best)) best = i;
  }
  return best;
}

/** Length of the longest suffix of `text` that is a proper prefix of a stop string (it may still complete). */
function heldBack(text: string, stops: string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

/** Next-token log-probabilities of each sequence, each run from position 0 through the model's own cache. */
export async function recomputeEveryBeam(model: LanguageModel, sequences: number[][]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const seq of sequences) out.push(logSoftmax((await model.forward(seq, 0)).logits));
  return out;
}

/**
 * One KV cache per running beam, for beam search's scoring callback. The first call prefills the prompt into one
 * cache. Each later call first gives every beam its parent's cache, as the search chose them: a parent's first
 * child takes its cache over, a further child gets a copy in a cache whose beam was dropped (or a new one); then
 * it runs only each beam's new token, at its position, from the beam's cache. At most numBeams caches exist.
 */
export class BeamCaches {
  /** caches[i]: the keys and values of sequence i of the previous call. */
  private caches: KVCache[] = [];
  /** Caches of dropped beams, to be reused. */
  private spare: KVCache[] = [];

  constructor(
    private model: LanguageModel,
    /** Positions each cache holds: the prompt and every new token. */
    private positions: number,
  ) {}

  async step(sequences: number[][], parents: number[] | undefined): Promise<Float32Array[]> {
    if (!parents) {
      this.caches = [this.take()];
      return [logSoftmax((await this.model.forward(sequences[0]!, 0, { cache: this.caches[0] })).logits)];
    }
    const previous = this.caches;
    this.spare.push(...previous.filter((_, i) => !parents.includes(i)));
    const taken = new Set<number>();
    this.caches = parents.map((p, i) => {
      if (!taken.has(p)) {
        taken.add(p);
        return previous[p]!;
      }
      const copy = this.take();
      this.model.copyCache!(copy, previous[p]!, sequences[i]!.length - 1); // the parent's positions 0 .. S - 2
      return copy;
    });
    const out: Float32Array[] = [];
    for (const [i, seq] of sequences.entries()) {
      const { logits } = await this.model.forward([seq.at(-1)!], seq.length - 1, { cache: this.caches[i] });
      out.push(logSoftmax(logits));
    }
    return out;
  }

  free(): void {
    for (const c of [...this.caches, ...this.spare]) this.model.freeCache!(c);
    this.caches = [];
    this.spare = [];
  }

  private take(): KVCache {
    return this.spare.pop() ?? this.model.newCache!(this.positions);
  }
}

/** Thrown from inside the beam search's scoring callback to end it at Ctrl-C. */
class BeamAbort extends Error {}

/**
 * Beam search (src/sampling/beam.ts). Which beam wins is known only when the search ends, so its text reaches
 * `onText` in one piece then. Each running beam has its own KV cache (BeamCaches): the prompt is prefilled once,
 * then every step runs one token per beam. With useCache false every step recomputes each running beam from
 * position 0 instead (to show what the caches save). The first step, which runs the prompt alone, is what the
 * timings call the prefill.
 */
async function generateBeams(
  model: LanguageModel,
  tokenizer: Tokenizer,
  promptIds: number[],
  options: GenerateOptions & { seed: number },
  dropped: number,
  onText?: (text: string, step: GenerationStep) => void,
): Promise<GenerationResult> {
  const maxNew = options.maxNewTokens ?? 64;
  const room = model.nCtx - promptIds.length;
  const t0 = now();
  let prefillMs: number | undefined;
  let best: { tokens: number[]; finishedByEos: boolean } = { tokens: [], finishedByEos: false };
  let finish: FinishReason = room < maxNew ? 'context' : 'length';
  const maxNewTokens = Math.min(maxNew, room);
  const caches = options.useCache !== false && model.newCache ? new BeamCaches(model, promptIds.length + maxNewTokens) : undefined;
  try {
    if (room > 0) {
      best = await beamSearch(
        async (sequences, parents) => {
          if (options.signal?.aborted) throw new BeamAbort();
          const out = caches ? await caches.step(sequences, parents) : await recomputeEveryBeam(model, sequences);
          prefillMs ??= now() - t0;
          return out;
        },
        {
          numBeams: options.beams!,
          maxNewTokens,
          prompt: promptIds,
          lengthPenalty: options.lengthPenalty ?? 1,
          eosTokenId: options.stopAtEos === false ? undefined : tokenizer.eosTokenId,
        },
      );
    }
  } catch (e) {
    if (!(e instanceof BeamAbort)) throw e;
    finish = 'abort';
  } finally {
    caches?.free();
  }
  const searchMs = now() - t0;
  if (best.finishedByEos) finish = 'eos'; // otherwise the winner ran to maxNewTokens, or to the end of the context

  // the winner's text, cut before the first stop string (and its tokens after the one that completed it)
  const stops = (options.stop ?? []).filter((x) => x.length > 0);
  const decoder = new StreamDecoder(tokenizer);
  let tokens = best.tokens;
  let text = '';
  for (let i = 0; i < tokens.length; i++) {
    text += decoder.push(tokens[i]!);
    if (i === tokens.length - 1) text += decoder.flush();
    const hit = firstStop(text, stops);
    if (hit >= 0) {
      text = text.slice(0, hit);
      tokens = tokens.slice(0, i + 1);
      finish = 'stop';
      break;
    }
  }

  // one more pass over the winning sequence gives each step's log-probabilities for the report
  const steps: GenerationStep[] = [];
  if (tokens.length > 0) {
    const seq = [...promptIds, ...tokens];
    const { logits } = await model.forward(seq.slice(0, -1), 0, { allLogits: true });
    const V = model.vocabSize;
    tokens.forEach((id, i) => {
      const row = promptIds.length - 1 + i;
      const lp = logSoftmax(logits.subarray(row * V, (row + 1) * V));
      const top = topLogprobs(lp, options.topLogprobs ?? 5).map((c) => ({ id: c.id, text: tokenizer.decode([c.id]), logprob: c.logprob }));
      steps.push({ id, text: tokenizer.decode([id]), logprob: lp[id]!, top_logprobs: top });
    });
  }
  if (text.length > 0) onText?.(text, steps.at(-1)!);
  const prefill = prefillMs ?? searchMs;
  return {
    prompt_tokens: promptIds,
    tokens,
    text,
    steps,
    // nothing is shown before the search ends: that is the time to the first token
    timings: { ...timings(promptIds.length, tokens.length, prefill, searchMs - prefill), time_to_first_token_ms: round(searchMs) },
    finish_reason: finish,
    seed: options.seed,
    prompt_tokens_dropped: dropped,
  };
}
