// Beam search: keep the numBeams most likely partial sequences at each step instead of one.
//
// The search knows nothing about models: a scoring callback `step` gets the running sequences (prompt +
// tokens so far) and returns, for each, the log-probabilities of every possible next token. It also gets, for
// each sequence, which sequence of its previous call it extends by one token, so a caller holding one KV cache
// per beam can reorder its caches and run only the new token. Scores follow
// Hugging Face: a hypothesis with generated tokens y_1..y_L (an end-of-sequence token included) scores
//
//   score = (sum_t log p(y_t | prompt, y_<t)) / L ** lengthPenalty
//
// lengthPenalty 0 ranks by total log-probability (which favours short endings), 1 by the mean log-probability
// per token, and larger values favour longer hypotheses.
//
// The search stops at maxNewTokens, or earlier once numBeams hypotheses have finished and no running beam
// could still beat the worst of them (an exact bound, like Hugging Face's early_stopping="never"), so with
// enough beams the result is exactly what exhaustive search finds.
import { idsByValueDescending } from './logprobs.ts';

/**
 * The scoring callback: next-token log-probabilities (V values each) for each running sequence, in order.
 * `parents[i]` is the index, in the previous call's `sequences`, of the sequence that sequences[i] extends by its
 * last token; the first call (the prompt alone) has no parents.
 */
export type BeamStep = (sequences: number[][], parents?: number[]) => Promise<ArrayLike<number>[]>;

export interface BeamSearchOptions {
  /** How many partial sequences are kept at each step. */
  numBeams: number;
  /** The longest a hypothesis may grow, in new tokens. */
  maxNewTokens: number;
  /** The exponent of the length normalisation (see above). Default 1, as in Hugging Face. */
  lengthPenalty?: number;
  /** A token that finishes a hypothesis. Without one, every hypothesis runs to maxNewTokens. */
  eosTokenId?: number;
  /** The tokens every sequence starts with; `step` sees them, results leave them out. Default none. */
  prompt?: readonly number[];
  /** How many hypotheses to return, best first. Default 1; at most numBeams. */
  numReturn?: number;
}

/** A finished hypothesis. */
export interface BeamHypothesis {
  /** The generated tokens, without the prompt and without the final eos token. */
  tokens: number[];
  /** Sum of the log-probabilities of the tokens (and of the eos token when there is one). */
  logprob: number;
  /** logprob / L ** lengthPenalty, L counting the eos token: what the hypotheses are ranked by. */
  score: number;
  /** Whether it ended with the eos token (rather than by reaching maxNewTokens). */
  finishedByEos: boolean;
}

/** The best hypothesis, and the `numReturn` best (that one first) in `hypotheses`. */
export interface BeamSearchResult extends BeamHypothesis {
  hypotheses: BeamHypothesis[];
}

/** A running (unfinished) beam. */
interface Beam {
  tokens: number[];
  logprob: number;
  /** The beam of the previous step it extends (none for the empty beam of the first step). */
  parent?: number;
}

/** Runs beam search: the best hypothesis, with the best `numReturn` in `hypotheses`. */
export async function beamSearch(step: BeamStep, options: BeamSearchOptions): Promise<BeamSearchResult> {
  const { numBeams, maxNewTokens, eosTokenId } = options;
  const lengthPenalty = options.lengthPenalty ?? 1;
  const prompt = options.prompt ?? [];
  const numReturn = options.numReturn ?? 1;
  if (!(Number.isInteger(numBeams) && numBeams >= 1)) throw new RangeError(`--beams must be a whole number >= 1, got ${numBeams}`);
  if (!(Number.isInteger(maxNewTokens) && maxNewTokens >= 1)) throw new RangeError(`beam search needs maxNewTokens >= 1, got ${maxNewTokens}`);
  if (!(Number.isInteger(numReturn) && numReturn >= 1 && numReturn <= numBeams)) {
    throw new RangeError(`beam search can return 1 to ${numBeams} hypotheses (the number of beams), asked for ${numReturn}`);
  }
  const scoreOf = (logprob: number, length: number): number => logprob / length ** lengthPenalty;

  const finished = new FinishedHypotheses(numBeams);
  let running: Beam[] = [{ tokens: [], logprob: 0 }];

  for (let length = 1; length <= maxNewTokens && running.length > 0; length++) {
    const parents = length === 1 ? undefined : running.map((b) => b.parent!);
    const logprobs = await step(running.map((b) => [...prompt, ...b.tokens]), parents);
    if (logprobs.length !== running.length) {
      throw new Error(`beam search: step returned ${logprobs.length} distributions for ${running.length} sequences`);
    }

    // Candidates: every running beam extended by one token. Only a beam's 2*numBeams best tokens can make
    // the overall top 2*numBeams, and those always hold numBeams that are not eos (each beam has one eos).
    const candidates: { beam: number; token: number; logprob: number }[] = [];
    running.forEach((beam, b) => {
      const lp = logprobs[b]!;
      for (const token of idsByValueDescending(lp, 2 * numBeams)) {
        candidates.push({ beam: b, token, logprob: beam.logprob + lp[token]! });
      }
    });
    candidates.sort((x, y) => y.logprob - x.logprob || x.beam - y.beam || x.token - y.token);

    // The best candidates become the next beams; an eos candidate instead becomes a finished hypothesis,
    // if it ranks among the numBeams best (as in Hugging Face).
    const next: Beam[] = [];
    for (let rank = 0; rank < candidates.length && next.length < numBeams; rank++) {
      const c = candidates[rank]!;
      const tokens = running[c.beam]!.tokens;
      if (c.token === eosTokenId) {
        if (rank < numBeams) finished.add({ tokens, logprob: c.logprob, score: scoreOf(c.logprob, length), finishedByEos: true });
      } else {
        next.push({ tokens: [...tokens, c.token], logprob: c.logprob, parent: c.beam });
      }
    }
    running = next;
    // Stop early once no continuation of the running beams could enter the finished list.
    if (length < maxNewTokens && finished.cannotImprove(bestPossibleScore(running, length, maxNewTokens, lengthPenalty))) {
      running = [];
    }
  }

  // Out of length: the beams still running are hypotheses too.
  for (const b of running) finished.add({ tokens: b.tokens, logprob: b.logprob, score: scoreOf(b.logprob, b.tokens.length), finishedByEos: false });
  const hypotheses = finished.best(numReturn);
  if (hypotheses.length === 0) throw new Error('beam search: every next-token log-probability was -Infinity at the first step');
  return { ...hypotheses[0]!, hypotheses };
}

/**
 * The highest score any continuation of these beams could still reach. Log-probabilities are <= 0, so a
 * beam's sum only falls; what can still change is the length it is divided by, from length+1 (eos at the
 * next step) to maxNewTokens. With lengthPenalty > 0 the longest length gives the best (least negative)
 * score, otherwise the shortest does.
 */
function bestPossibleScore(running: Beam[], length: number, maxNewTokens: number, lengthPenalty: number): number {
  let best = -Infinity;
  for (const b of running) best = Math.max(best, b.logprob);
  const bestLength = lengthPenalty > 0 ? maxNewTokens : length + 1;
  return best / bestLength ** lengthPenalty;
}

/** The best `capacity` finished hypotheses seen so far, best first. */
class FinishedHypotheses {
  private list: BeamHypothesis[] = [];
  constructor(private capacity: number) {}

  add(h: BeamHypothesis): void {
    this.list.push(h);
    this.list.sort((a, b) => b.score - a.score);
    if (this.list.length > this.capacity) this.list.pop();
  }

  /** True once the list is full and its worst score is at least `bestPossible`: searching on cannot help. */
  cannotImprove(bestPossible: number): boolean {
    return this.list.length === this.capacity && this.list[this.capacity - 1]!.score >= bestPossible;
  }

  best(n: number): BeamHypothesis[] {
    return this.list.slice(0, n);
  }
}
