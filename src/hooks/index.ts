// Looking inside a model: run it and copy activations back (runWithCache), change activations as it runs, on
// whichever backend runs it (runWithHooks, hookedModel for generation), and read the residual stream through the unembedding (the
// logit lens). The hook names and shapes are declared in points.ts.
import type { ForwardOptions, ForwardResult, LanguageModel } from '../model/model.ts';
import { Hooks, type Activation, type Intervention } from './hooks.ts';
import { HookError, type ModelDims } from './points.ts';

export { Hooks, CpuHooks, interventionBox, type Activation, type HookFn, type HookView, type Intervention } from './hooks.ts';
export { HOOK_POINTS, findHookPoint, hookNames, hookShape, HookError, type HookPoint, type ModelDims } from './points.ts';

export interface HookedRun {
  /** [T, V]: every position's logits. */
  logits: Float32Array;
  /** The requested activations, by hook name. */
  cache: Map<string, Activation>;
}

/** Run `ids` (from position 0) and copy back only the activations named; nothing else is read back. */
export function runWithCache(model: LanguageModel, ids: number[], names: Iterable<string>): Promise<HookedRun> {
  return runWithHooks(model, ids, [], names);
}

/** Run `ids` with interventions applied at their hooks; optionally copy activations back too. */
export async function runWithHooks(model: LanguageModel, ids: number[], interventions: readonly Intervention[], names: Iterable<string> = []): Promise<HookedRun> {
  const hooks = new Hooks(new Set(names), interventions);
  try {
    const { logits } = await model.forward(ids, 0, { allLogits: true, hooks });
    return { logits, cache: await hooks.collect() };
  } finally {
    hooks.release();
  }
}

/**
 * The model with interventions applied at every step (prefill and each decode step), for generate(): a
 * position-targeted intervention reaches that position whichever step runs it. `fixed` options (a RoPE angle
 * scale) are passed to every step too.
 */
export function hookedModel(model: LanguageModel, interventions: readonly Intervention[], fixed: Pick<ForwardOptions, 'ropeAngleScale'> = {}): LanguageModel {
  return {
    gpu: model.gpu,
    arch: model.arch,
    vocabSize: model.vocabSize,
    nCtx: model.nCtx,
    weightFormat: model.weightFormat,
    dims: model.dims,
    async forward(ids: number[], pos0: number, options: ForwardOptions = {}): Promise<ForwardResult> {
      const hooks = new Hooks(new Set(), interventions);
      try {
        return await model.forward(ids, pos0, { ...options, ...fixed, hooks });
      } finally {
        hooks.release();
      }
    },
    unembed: model.unembed?.bind(model),
    newCache: model.newCache?.bind(model),
    copyCache: model.copyCache?.bind(model),
    freeCache: model.freeCache?.bind(model),
    gpuBytes: () => model.gpuBytes(),
    destroy: () => model.destroy(),
  };
}

export interface LogitLens {
  /** Per block l: the logits [T, V] read off blocks.l.hook_resid_post through the final norm and the LM head. */
  layers: Float32Array[];
  T: number;
  V: number;
  /** The model's own logits [T, V] (equal to the last layer's). */
  logits: Float32Array;
}

/** The logit lens: what each block's residual stream would predict if the model stopped there. */
export async function logitLens(model: LanguageModel, ids: number[]): Promise<LogitLens> {
  const { dims } = model;
  if (!model.unembed) throw new HookError(`the ${model.arch} model has no unembed(): the logit lens needs it`);
  const names = Array.from({ length: dims.nLayer }, (_, l) => `blocks.${l}.hook_resid_post`);
  const { logits, cache } = await runWithCache(model, ids, names);
  const layers: Float32Array[] = [];
  for (const name of names) layers.push(await model.unembed(cache.get(name)!.data));
  return { layers, T: ids.length, V: model.vocabSize, logits };
}

/** The sizes the hook shapes are written in: the model's own (`model.dims`). */
export function modelDims(model: LanguageModel): ModelDims {
  return model.dims;
}
