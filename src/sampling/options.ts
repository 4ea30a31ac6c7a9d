// The knobs of a sampling decoder, their "off" defaults, and the one-line checks a user's values go through.
//
// Every option has a value that turns it off, so `new Sampler({})` samples from the model's distribution as
// it is (temperature 1, no filters). The error messages name the CLI flags because that is where users type
// these values; programs calling the library get the same messages.

/** What a sampler does to the logits before it draws a token. Any field left out is off. */
export interface SamplingOptions {
  /** Divides the logits. 0 means greedy: take the most likely token. Default 1 (off). */
  temperature?: number;
  /** Keep only the k most likely tokens. Default 0 (off). */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p. Default 1 (off). */
  topP?: number;
  /** Drop tokens whose probability is below minP times the largest probability. Default 0 (off). */
  minP?: number;
  /** Locally typical sampling: keep the tokens closest to the expected surprise, up to mass p. Default 1 (off). */
  typicalP?: number;
  /** Divide positive logits (multiply negative ones) of tokens already in the context. Default 1 (off). */
  repetitionPenalty?: number;
  /** Never repeat an n-gram of this size. Default 0 (off). */
  noRepeatNgram?: number;
  /** Added to the logit of a token id, e.g. { 50256: -Infinity } bans end-of-text. Default none. */
  logitBias?: Map<number, number> | Record<number, number>;
  /** Seeds the random generator: the same seed gives the same tokens. Default: a random seed. */
  seed?: number;
}

/** SamplingOptions with every field filled in; `logitBias` as a list of [token id, bias] pairs. */
export interface ResolvedSamplingOptions {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  typicalP: number;
  repetitionPenalty: number;
  noRepeatNgram: number;
  logitBias: [number, number][];
  seed: number | undefined;
}

/** The values that turn each option off. */
export const SAMPLING_DEFAULTS: Readonly<ResolvedSamplingOptions> = Object.freeze({
  temperature: 1,
  topK: 0,
  topP: 1,
  minP: 0,
  typicalP: 1,
  repetitionPenalty: 1,
  noRepeatNgram: 0,
  logitBias: [],
  seed: undefined,
});

/** A sampling option out of range; the message is one line that names the flag and the value given. */
export class SamplingOptionError extends Error {
  override name = 'SamplingOptionError';
}

/** Throws a SamplingOptionError for the first option out of range; returns nothing when all are fine. */
export function validateSamplingOptions(o: SamplingOptions): void {
  // Written as `!(x in range)` so that NaN fails every check.
  const fail = (message: string): never => {
    throw new SamplingOptionError(message);
  };
  if (o.temperature !== undefined && !(o.temperature >= 0 && Number.isFinite(o.temperature))) {
    fail(`--temperature must be a number >= 0 (0 means greedy), got ${o.temperature}`);
  }
  if (o.topK !== undefined && !(Number.isInteger(o.topK) && o.topK >= 0)) {
    fail(`--top-k must be a whole number >= 0 (0 turns it off), got ${o.topK}`);
  }
  if (o.topP !== undefined && !(o.topP > 0 && o.topP <= 1)) {
    fail(`--top-p must be in (0, 1], got ${o.topP}`);
  }
  if (o.minP !== undefined && !(o.minP >= 0 && o.minP <= 1)) {
    fail(`--min-p must be in [0, 1], got ${o.minP}`);
  }
  if (o.typicalP !== undefined && !(o.typicalP > 0 && o.typicalP <= 1)) {
    fail(`--typical-p must be in (0, 1], got ${o.typicalP}`);
  }
  if (o.repetitionPenalty !== undefined && !(o.repetitionPenalty > 0 && Number.isFinite(o.repetitionPenalty))) {
    fail(`--repetition-penalty must be a number > 0 (1 turns it off), got ${o.repetitionPenalty}`);
  }
  if (o.noRepeatNgram !== undefined && !(Number.isInteger(o.noRepeatNgram) && o.noRepeatNgram >= 0)) {
    fail(`--no-repeat-ngram must be a whole number >= 0 (0 turns it off), got ${o.noRepeatNgram}`);
  }
  if (o.seed !== undefined && !(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff)) {
    fail(`--seed must be a whole number in [0, 4294967295], got ${o.seed}`);
  }
  for (const [id, bias] of logitBiasEntries(o.logitBias)) {
    if (!(Number.isInteger(id) && id >= 0)) {
      fail(`--logit-bias needs a token id that is a whole number >= 0, got ${id}`);
    }
    // -Infinity is allowed: it bans the token outright.
    if (!(Number.isFinite(bias) || bias === -Infinity)) {
      fail(`--logit-bias value for token ${id} must be a number (or -Infinity to ban it), got ${bias}`);
    }
  }
}

/** Validates `o` and fills in the defaults. */
export function resolveSamplingOptions(o: SamplingOptions = {}): ResolvedSamplingOptions {
  validateSamplingOptions(o);
  const d = SAMPLING_DEFAULTS;
  return {
    temperature: o.temperature ?? d.temperature,
    topK: o.topK ?? d.topK,
    topP: o.topP ?? d.topP,
    minP: o.minP ?? d.minP,
    typicalP: o.typicalP ?? d.typicalP,
    repetitionPenalty: o.repetitionPenalty ?? d.repetitionPenalty,
    noRepeatNgram: o.noRepeatNgram ?? d.noRepeatNgram,
    logitBias: logitBiasEntries(o.logitBias),
    seed: o.seed,
  };
}

/** The [token id, bias] pairs of a Map or a plain object (whose keys are strings). */
export function logitBiasEntries(bias: SamplingOptions['logitBias']): [number, number][] {
  if (bias === undefined) return [];
  if (bias instanceof Map) return [...bias.entries()];
  return Object.entries(bias).map(([id, value]) => [Number(id), value]);
}
