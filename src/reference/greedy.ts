// Greedy decoding on a CPU reference forward pass: recompute everything for each new token.
import { argmax } from '../sampling/logprobs.ts';

/** `newTokens` argmax tokens after `prompt`; `forward` gives the logits [T, V] of every position. */
export function greedyReference(forward: (ids: number[]) => Float64Array, vocabSize: number, prompt: number[], newTokens: number): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < newTokens; i++) {
    const logits = forward(ids);
    const last = logits.subarray((ids.length - 1) * vocabSize, ids.length * vocabSize);
    const best = argmax(last);
    ids.push(best);
    out.push(best);
  }
  return out;
}
