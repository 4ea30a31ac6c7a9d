// What the inside views share: the loaded model, the token sequence they look at, the chosen token, and one lock
// so that only one thing at a time drives the GPU (a forward pass rewrites the model's activations and KV cache).
import type { Device } from 'wgpt';
import type { BrowserModel } from './model-source.ts';

export interface SamplingView {
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
}

export interface InsideState {
  /** The device the model runs on: a WebGPU device or the WebAssembly kernels. */
  gpu: Device;
  loaded: BrowserModel;
  /** The sequence the views look at: the prompt, then what was generated. */
  ids: number[];
  promptLength: number;
  /** The length of the text's tokens when it was longer than the model's context (the views show the first nCtx). */
  cutFrom?: number;
  /** Index into ids of the chosen token. */
  selected: number;
  /** The sampling sliders as they are now. */
  sampling(): SamplingView;
  select(index: number): void;
  /** Run `work` when no other GPU work is in flight. */
  exclusive<T>(work: () => Promise<T>): Promise<T>;
  /** Results computed once per sequence (keyed by view), dropped when the sequence or model changes. */
  memo: Map<string, unknown>;
}

export interface View {
  name: string;
  /** Two or three sentences under the tab: what the view shows and what to look for ({term} links the glossary). */
  intro: string;
  /** Draw into `root` (emptied first). May run the model through state.exclusive. */
  render(root: HTMLElement, state: InsideState): Promise<void> | void;
  /** Redraw when the sampling sliders move (only views that show sampling). */
  followsSliders?: boolean;
}

/** Memoise an async computation per sequence. */
export async function memo<T>(state: InsideState, key: string, compute: () => Promise<T>): Promise<T> {
  if (!state.memo.has(key)) state.memo.set(key, state.exclusive(compute));
  try {
    return (await state.memo.get(key)) as T;
  } catch (e) {
    state.memo.delete(key);
    throw e;
  }
}
