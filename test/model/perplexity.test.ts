// Sliding-window perplexity (src/perplexity.ts) of a tiny random GPT-2, against the float64 CPU reference forward.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeModelFiles } from '../../src/loading/files.ts';
import type { GPT2Config } from '../../src/model/config.ts';
import type { GPT2Params } from '../../src/model/gpt2.ts';
import { loadModel } from '../../src/model/load.ts';
import type { LanguageModel } from '../../src/model/model.ts';
import { randomGPT2Params, writeGPT2Folder } from '../../src/model/random.ts';
import { perplexity, perplexityWindows } from '../../src/perplexity.ts';
import { Rng } from '../../src/random.ts';
import { gpt2ForwardReference } from '../../src/reference/gpt2.ts';
import { device, DEVICE_KINDS } from '../helpers.ts';

// Odd sizes: 3 heads of 16, a vocabulary and a context that are not powers of two.
const config: GPT2Config = {
  arch: 'gpt2',
  vocabSize: 101,
  nPositions: 24,
  nEmbd: 48,
  nLayer: 2,
  nHead: 3,
  nInner: 192,
  layerNormEpsilon: 1e-5,
  activation: 'gelu_new',
  tieWordEmbeddings: true,
  bosTokenId: 100,
  eosTokenId: 100,
};

// A token's NLL is logsumexp(row) - row[target] of f32 logits that match the reference to about 1e-6 relative
// (f32 rounding through two layers); measured, the NLLs differ from the reference by at most 6e-6 on both devices.
// 1e-4 per token and 5e-5 on the mean leave a margin of 10x, and an off-by-one in the context a token is scored
// from (a change of O(1) in its NLL) fails by far.
const TOKEN_TOL = 1e-4;
const MEAN_TOL = 5e-5;

/**
 * The reference, written from the definition: target t (t >= 1) belongs to the first window [kS, kS + N) that holds
 * it, the last window ending at the last token, and is predicted from the tokens of that window before it. Each
 * window is one float64 forward of the whole window; row t - 1 - kS predicts t.
 */
function referenceNll(params: GPT2Params, ids: number[], N: number, S: number): Float64Array {
  const V = params.config.vocabSize;
  const nll = new Float64Array(ids.length - 1);
  const done = new Uint8Array(ids.length);
  for (let k = 0; ; k++) {
    const begin = k * S;
    const end = Math.min(begin + N, ids.length);
    const logits = gpt2ForwardReference(params, ids.slice(begin, end));
    for (let t = Math.max(begin + 1, 1); t < end; t++) {
      if (done[t]) continue;
      const row = logits.subarray((t - 1 - begin) * V, (t - begin) * V);
      const max = Math.max(...row);
      const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
      nll[t - 1] = logZ - row[ids[t]!]!;
      done[t] = 1;
    }
    if (end === ids.length) break;
  }
  expect(done.slice(1).every((d) => d === 1), 'the reference scores every token but the first').toBe(true);
  return nll;
}

function randomIds(seed: number, n: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, () => rng.int(0, config.vocabSize - 1));
}

describe.each(DEVICE_KINDS)('perplexity by sliding windows on %s', (kind) => {
  let params: GPT2Params;
  let model: LanguageModel;

  beforeAll(async () => {
    params = randomGPT2Params(config, 3);
    const dir = await mkdtemp(join(tmpdir(), 'wgpt-ppl-'));
    await writeGPT2Folder(dir, params);
    model = await loadModel(await device(kind), nodeModelFiles(dir));
  });
  afterAll(() => model?.destroy());

  // [tokens, context, stride]: the defaults (24, 12), overlapping by one, stride 1, a window shorter than the model's
  // context, a sequence that ends exactly at a window's end, and one shorter than a single window
  it.each([
    [71, undefined, undefined],
    [50, 24, 23],
    [20, 6, 1],
    [45, 10, 3],
    [40, 16, 8],
    [13, undefined, undefined],
    [2, 5, 2],
  ])('%i tokens, context %s, stride %s: every token but the first scored once, as the reference scores it', async (n, context, stride) => {
    const ids = randomIds(n, n);
    const N = context ?? config.nPositions;
    const S = stride ?? Math.floor(N / 2);
    const windows: number[] = [];
    const result = await perplexity(model, ids, { context, stride, onProgress: (p) => windows.push(p.window) });
    const ref = referenceNll(params, ids, N, S);

    expect(result.tokens).toBe(n);
    expect(result.scored).toBe(n - 1);
    expect(result.windows).toBe(perplexityWindows(n, N, S));
    expect(windows).toEqual(Array.from({ length: result.windows }, (_, i) => i + 1));
    expect([result.context, result.stride]).toEqual([N, S]);
    for (let i = 0; i < n - 1; i++) expect(Math.abs(result.tokenNll[i]! - ref[i]!), `NLL of token ${i + 1}`).toBeLessThan(TOKEN_TOL);
    const refMean = ref.reduce((s, x) => s + x, 0) / (n - 1);
    expect(Math.abs(result.nllMean - refMean)).toBeLessThan(MEAN_TOL);
    expect(result.perplexity).toBeCloseTo(Math.exp(result.nllMean), 10);
    // a random model is no better than chance, nor infinitely worse: the figure is a real one
    expect(result.perplexity).toBeGreaterThan(5);
    expect(Number.isFinite(result.perplexity)).toBe(true);
  });

  it('more context per token does not change which tokens are scored, only their NLL', async () => {
    const ids = randomIds(5, 60);
    const wide = await perplexity(model, ids, { context: 24, stride: 4 });
    const narrow = await perplexity(model, ids, { context: 6, stride: 4 });
    expect(wide.scored).toBe(narrow.scored);
    // window 0 is the same in both for its first 5 targets: same context, same NLL
    for (let i = 0; i < 5; i++) expect(Math.abs(wide.tokenNll[i]! - narrow.tokenNll[i]!)).toBeLessThan(1e-4);
    expect(Math.abs(wide.nllMean - narrow.nllMean)).toBeGreaterThan(1e-3);
  });

  it('refuses a context past the model, a stride that leaves a token without context, and fewer than 2 tokens', async () => {
    const ids = randomIds(1, 30);
    await expect(perplexity(model, ids, { context: 25 })).rejects.toThrow(/context must be a whole number of tokens in \[2, 24\].*got 25/);
    await expect(perplexity(model, ids, { context: 8, stride: 8 })).rejects.toThrow(/stride must be a whole number in \[1, 7\].*got 8/);
    await expect(perplexity(model, ids, { stride: 0 })).rejects.toThrow(/stride/);
    await expect(perplexity(model, [7], {})).rejects.toThrow(/at least 2 tokens/);
  });
});
