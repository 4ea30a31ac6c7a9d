// A decode loop on the WebAssembly backend records its one-token step once and replays it (BackendStep.replay,
// Transformer's decodeStep): the next step changes only the token and the position, which the ops read when they
// run. Everything is compared bit for bit with the same calls on a twin model that records every step anew
// (`profile: true` is never replayed, and runs the same ops), including the steps that must not be replayed.
import { describe, expect, it, vi } from 'vitest';
import { Hooks } from '../../src/hooks/index.ts';
import type { KVCache } from '../../src/backend/index.ts';
import { Llama } from '../../src/model/llama.ts';
import type { ForwardOptions, LanguageModel } from '../../src/model/model.ts';
import { gpt2Config, prompt } from '../hooks/fused-cases.ts';
import { wasmModels } from './models.ts';

const bits = (x: Float32Array) => [...x];
const argmax = (x: Float32Array) => x.indexOf(Math.max(...x));

/** The model's backend.begin, watched: how many steps were recorded. */
function recordings(model: LanguageModel) {
  return vi.spyOn((model as unknown as { backend: { begin: (...a: unknown[]) => unknown } }).backend, 'begin');
}

describe.each(wasmModels)('wasm %s: the replayed decode step', (_arch, make) => {
  it.each(['f32', 'q4'] as const)('%s weights: greedy decode records one step and gives the bits of steps recorded anew', async (weights) => {
    const [model, twin] = [await make(weights), await make(weights)];
    const begin = recordings(model);
    await model.forward(prompt, 0);
    await twin.forward(prompt, 0, { profile: true });
    let [a, b] = [prompt.at(-1)!, prompt.at(-1)!];
    for (let t = 0; t < 10; t++) {
      const [x, y] = [(await model.forward([a], prompt.length + t)).logits, (await twin.forward([b], prompt.length + t, { profile: true })).logits];
      expect(bits(x), `step ${t}`).toEqual(bits(y));
      [a, b] = [argmax(x), argmax(y)];
    }
    expect(begin, 'the prefill and the first decode step').toHaveBeenCalledTimes(2);
    model.destroy();
    twin.destroy();
  });

  it('records anew what it must not replay: hooks, the unfused step, another cache or RoPE scale, a cache made since', async () => {
    const [model, twin] = [await make('f32'), await make('f32')];
    const begin = recordings(model);
    const caches = new Map<LanguageModel, KVCache>();
    // each call runs on both models, the twin always profiled (recorded anew), and must give the same logits
    const both = async (label: string, ids: number[], pos0: number, o: ForwardOptions = {}, extra?: (m: LanguageModel) => ForwardOptions) => {
      const x = (await model.forward(ids, pos0, { ...o, ...extra?.(model) })).logits;
      const y = (await twin.forward(ids, pos0, { ...o, ...extra?.(twin), profile: true })).logits;
      expect(bits(x), label).toEqual(bits(y));
      return begin.mock.calls.length;
    };
    const P = prompt.length;
    await both('prefill', prompt, 0);
    let n = await both('first decode step', [3], P);
    expect(await both('replayed', [4], P + 1), 'replayed').toBe(n);
    const made: Hooks[] = [];
    const hooks = () => ({ hooks: made[made.push(new Hooks(new Set(['blocks.0.hook_resid_post']), [])) - 1] });
    n = await both('hooked', [5], P + 2, {}, hooks);
    for (const h of made) h.release();
    expect(await both('after the hooked step', [6], P + 3), 'the kept step replayed after a hooked one').toBe(n);
    n = await both('unfused', [7], P + 4, { fused: false });
    n = await both('fused again', [8], P + 5);
    expect(n, 'the unfused step is not replayed as a fused one').toBe(begin.mock.calls.length);
    expect(await both('replayed again', [9], P + 6)).toBe(n);
    // a cache made since (a tensor of the backend's) and decoding into it
    for (const m of [model, twin]) {
      const c = m.newCache!();
      m.copyCache!(c, (m as unknown as { cache: KVCache }).cache, P + 7);
      caches.set(m, c);
    }
    const onCopy = (m: LanguageModel) => ({ cache: caches.get(m)! });
    const before = begin.mock.calls.length;
    await both('another cache', [10], P + 7, {}, onCopy);
    await both('another cache, replayed', [11], P + 8, {}, onCopy);
    expect(begin.mock.calls.length, 'one recording for the new cache').toBe(before + 1);
    await both('the model cache again', [12], P + 7);
    expect(begin.mock.calls.length, 'recorded anew for the first cache').toBe(before + 2);
    if (model instanceof Llama) {
      await both('RoPE scaled', [13], P + 8, { ropeAngleScale: 2 });
      await both('RoPE scaled, replayed', [14], P + 9, { ropeAngleScale: 2 });
      // the scaled frequencies are one vector, rewritten for another scale: a replay must find its own again
      await both('a prefill at another scale', [15, 16], P + 10, { ropeAngleScale: 3 });
      await both('RoPE scaled 2 after it, replayed', [17], P + 12, { ropeAngleScale: 2 });
      await both('RoPE scale 1 again', [18], P + 13);
      await both('and replayed', [19], P + 14);
    }
    for (const m of [model, twin]) {
      m.freeCache!(caches.get(m)!);
      m.destroy();
    }
  });
});

describe('wasm replay and the tensors of the backend', () => {
  it('records anew once the backend has made a tensor since (a slot made larger moves the activations)', async () => {
    const [model, twin] = [await wasmModels[0]![1]('f32'), await wasmModels[0]![1]('f32')];
    const begin = recordings(model);
    for (const m of [model, twin]) await m.forward(prompt, 0);
    const step = async (id: number, pos0: number) => {
      const [x, y] = [(await model.forward([id], pos0)).logits, (await twin.forward([id], pos0, { profile: true })).logits];
      expect(bits(x), `step at ${pos0}`).toEqual(bits(y));
    };
    await step(3, prompt.length);
    await step(4, prompt.length + 1);
    expect(begin).toHaveBeenCalledTimes(2);
    const backend = (model as unknown as { backend: { slot(name: string, rows: number, cols: number): { ptr: number } } }).backend;
    const before = backend.slot('x', 1, gpt2Config.nEmbd).ptr;
    const after = backend.slot('x', 64, gpt2Config.nEmbd).ptr; // larger than any step's: made anew
    expect(after, 'the residual stream moved').not.toBe(before);
    await step(5, prompt.length + 2);
    expect(begin, 'recorded with the new slot').toHaveBeenCalledTimes(3);
    await step(6, prompt.length + 3);
    expect(begin, 'and replayed').toHaveBeenCalledTimes(3);
    model.destroy();
    twin.destroy();
  });
});

describe('wasm decode loop', () => {
  it('still lets the event loop turn: a timer fires while tokens are generated', async () => {
    const model = await wasmModels[0]![1]('f32');
    await model.forward(prompt, 0);
    let fired = false;
    setTimeout(() => (fired = true), 0);
    const t0 = performance.now();
    let steps = 0;
    // a step takes well under a millisecond here; the event loop turns at least every 10 ms
    while (!fired && performance.now() - t0 < 2000) {
      await model.forward([3], prompt.length + (steps % 8));
      steps++;
    }
    expect(fired, `a 0 ms timer fired within ${steps} steps`).toBe(true);
    model.destroy();
  });
});
