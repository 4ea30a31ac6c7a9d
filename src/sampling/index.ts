// Sampling: the logits processors, the sampler, beam search and the distribution helpers, in one import.
export { beamSearch, type BeamHypothesis, type BeamSearchOptions, type BeamSearchResult, type BeamStep } from './beam.ts';
export { argmax, entropy, idsByValueDescending, logSoftmax, maxLogit, softmax, topLogprobs } from './logprobs.ts';
export {
  logitBiasEntries,
  resolveSamplingOptions,
  SAMPLING_DEFAULTS,
  SamplingOptionError,
  validateSamplingOptions,
  type ResolvedSamplingOptions,
  type SamplingOptions,
} from './options.ts';
export {
  applyFilters,
  applyLogitBias,
  applyNoRepeatNgram,
  applyPenalties,
  applyRepetitionPenalty,
  applyTemperature,
  minPFilter,
  processLogits,
  topKFilter,
  topPFilter,
  typicalFilter,
} from './processors.ts';
export { Sampler, sampleFrom } from './sampler.ts';
