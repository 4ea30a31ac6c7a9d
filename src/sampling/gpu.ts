// Sampling with the logits left on the GPU. The GPU applies the bias, penalties and temperature approximately (f32)
// and returns the K largest candidates with their raw logits and the log-sum-exp of the whole row
// (src/kernels/topk.ts); here the CPU redoes the processing on those candidates exactly as the CPU sampler does,
// and finishes the choice only where the candidates provably hold everything the options look at:
//
//   greedy           the argmax, when it beats every id not returned (floor + slack)
//   top-k (k <= K)   the k largest, when the k-th beats every id not returned; then top-p, min-p and typical-p
//                    work within those k, exactly as on the whole row
//   top-p alone      the shortest prefix reaching p (by the GPU's normaliser), when it is reached inside the
//                    candidates and no candidate sits within `MARGIN` of the line
//   min-p alone      when every id not returned is below the line by MARGIN
//
// Anything else (typical-p alone, plain sampling, a near tie at a boundary) returns undefined: the caller reads
// the whole row and runs the CPU sampler, so the token is the CPU sampler's in every case. The draw uses the
// sampler's own seeded generator, one uniform number a token, whichever path chose.
import type { Candidates, LogitAdjust } from '../kernels/topk.ts';
import { idsByValueDescending, maxLogit } from './logprobs.ts';
import type { ResolvedSamplingOptions } from './options.ts';
import { applyFilters, applyNoRepeatNgram, applyPenalties, applyTemperature } from './processors.ts';

/** Candidates asked for: enough for any top-k up to 64 and most top-p lines; greedy needs a few only. */
export const SAMPLING_CANDIDATES = 64;
export const GREEDY_CANDIDATES = 8;
/** Probability mass and log-probability margin inside which the GPU's f32 normaliser is not trusted. */
const MARGIN = 1e-4;

/** How far a value the GPU computed in f32 may be from the CPU's: a few f32 roundings, generously. */
function slack(v: number): number {
  return 1e-5 * Math.abs(v) + 1e-30;
}

/** The ids the GPU must adjust before selecting: bias, repetition penalty and n-gram bans, one entry an id. */
export function logitAdjustments(o: ResolvedSamplingOptions, context: readonly number[], V: number): LogitAdjust[] {
  const byId = new Map<number, LogitAdjust>();
  const entry = (id: number) => {
    let e = byId.get(id);
    if (!e) byId.set(id, (e = { id, bias: 0, penalty: 1 }));
    return e;
  };
  for (const [id, bias] of o.logitBias) if (id < V) entry(id).bias += bias;
  if (o.repetitionPenalty !== 1) for (const id of new Set(context)) if (id < V) entry(id).penalty = o.repetitionPenalty;
  if (o.noRepeatNgram > 0) {
    const banned = applyNoRepeatNgram(new Float32Array(V), context, o.noRepeatNgram);
    for (let id = 0; id < V; id++) if (banned[id] === -Infinity) entry(id).bias = -Infinity;
  }
  return [...byId.values()];
}

/** How many candidates and at what temperature the GPU selects for these options. */
export function candidateRequest(o: ResolvedSamplingOptions): { K: number; temperature: number } {
  return o.temperature === 0 ? { K: GREEDY_CANDIDATES, temperature: 1 } : { K: SAMPLING_CANDIDATES, temperature: o.temperature };
}

/**
 * The logits the CPU sampler would draw from, when the candidates cover them (see the top of this file): the
 * processed row with every other id at -Infinity. For greedy, the processed row before filters. Undefined: read
 * the whole row instead.
 */
export function processCandidates(c: Candidates, o: ResolvedSamplingOptions, context: readonly number[], V: number): Float32Array | undefined {
  const sparse = new Float32Array(V).fill(-Infinity);
  c.ids.forEach((id, r) => (sparse[id] = c.raw[r]!));
  const penalised = applyPenalties(sparse, context, o); // the candidates' values exactly as the CPU sampler has them
  if (maxLogit(penalised) === -Infinity) return undefined; // let the CPU sampler say that nothing is left
  const all = c.floor === -Infinity; // every finite id is a candidate
  const beatsTheRest = (x: number) => all || x > c.floor + slack(c.floor);

  if (o.temperature === 0) return beatsTheRest(maxLogit(penalised)) ? penalised : undefined;

  const tempered = o.temperature !== 1 ? applyTemperature(penalised, o.temperature) : penalised;
  const order = idsByValueDescending(tempered);
  if (o.topK > 0) {
    const kth = order[Math.min(o.topK, order.length) - 1]!;
    if (!all && (order.length < o.topK || !beatsTheRest(tempered[kth]!))) return undefined;
    return applyFilters(penalised, o); // after top-k, the sparse row and the whole one are the same array
  }
  const logZ = c.max + Math.log(c.sumExp);
  if (o.topP < 1) {
    let mass = 0;
    for (let r = 0; r < order.length; r++) {
      const before = mass;
      mass += Math.exp(tempered[order[r]!]! - logZ);
      if (mass < o.topP) continue;
      if (before >= o.topP - MARGIN || mass < o.topP + MARGIN || !beatsTheRest(tempered[order[r]!]!)) return undefined;
      const kept = new Float32Array(V).fill(-Infinity);
      for (const id of order.slice(0, r + 1)) kept[id] = penalised[id]!;
      return applyFilters(kept, { ...o, topP: 1 });
    }
    return undefined; // the candidates do not reach p
  }
  if (o.minP > 0) {
    const line = tempered[order[0]!]! + Math.log(o.minP);
    if (!all && !(c.floor < line - MARGIN)) return undefined;
    if (order.some((id) => Math.abs(tempered[id]! - line) < MARGIN)) return undefined;
    return applyFilters(penalised, o);
  }
  return undefined; // typical-p alone or plain sampling: the whole distribution matters
}
