// The labs: experiments from the interpretability tutorials, callable from programs; `wgpt lab <name>` runs them.
export { compare, DEFAULT_PROMPT, REAL_MODEL, type CompareOptions, type LabContext, type LabResult, type Sweep } from './common.ts';
export { ablateHead, boostPositions, nudgeNeuron, residualNoise, scaleHead, styleBias, zeroEmbeddingSlice } from './interventions.ts';
export { attentionLab } from './attention.ts';
export { embeddingsLab, DEFAULT_WORDS } from './embeddings.ts';
export { checkExperiment, EXPERIMENT_FORMAT, parseExperiment, runExperiment, type Experiment } from './experiment.ts';
export { hiddenStatesLab } from './hidden-states.ts';
export { kvCacheLab } from './kv-cache.ts';
export { logitLensLab } from './logit-lens.ts';
export { patchLab, PATCH_DEFAULTS, type PatchOptions } from './patch.ts';
export { temperatureLab, TEMPERATURES, type TemperatureOptions } from './temperature.ts';
export { weightsLab, WEIGHT_MATRICES, type WeightMatrix } from './weights.ts';
export { renderFigure, writeFigures, type Figure } from './figures.ts';
