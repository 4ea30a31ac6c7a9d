// The activations the attention and hidden-state views read, captured once per sequence with the hook API
// (src/hooks): every block's attention pattern and residual stream.
import { runWithCache, type HookedRun, type ModelDims } from 'wgpt';
import { memo, type InsideState } from '../state.ts';

export function dims(state: InsideState): ModelDims {
  return state.loaded.model.dims;
}

export function activations(state: InsideState): Promise<HookedRun> {
  const L = dims(state).nLayer;
  const names = ['blocks.0.hook_resid_pre'];
  for (let l = 0; l < L; l++) names.push(`blocks.${l}.attn.hook_pattern`, `blocks.${l}.hook_resid_post`);
  return memo(state, 'activations', () => runWithCache(state.loaded.model, state.ids, names));
}

/** A number input with a label, for layer / head choices that persist across renders. */
export function numberPicker(label: string, key: string, max: number, onChange: () => void): HTMLLabelElement {
  const wrap = document.createElement('label');
  wrap.textContent = `${label} `;
  const field = document.createElement('input');
  field.type = 'number';
  field.min = '0';
  field.max = String(max);
  field.value = String(Math.min(picks.get(key) ?? 0, max));
  field.addEventListener('change', () => {
    picks.set(key, Math.max(0, Math.min(max, Math.round(Number(field.value)) || 0)));
    onChange();
  });
  wrap.append(field);
  return wrap;
}

const picks = new Map<string, number>();
export function pick(key: string, max: number): number {
  return Math.min(picks.get(key) ?? 0, max);
}
export function setPick(key: string, value: number): void {
  picks.set(key, value);
}
