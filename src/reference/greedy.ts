// Greedy decoding on a CPU reference forward pass: recompute everything for each new token.

/** `newTokens` argmax tokens after `prompt`; `forward` gives the logits [T, V] of every position. */
export function greedyReference(forward: (ids: number[]) => Float64Array, vocabSize: number, prompt: number[], newTokens: number): number[] {
  const ids = [...prompt];
  const out: number[] = [];
  for (let i = 0; i < newTokens; i++) {
    const logits = forward(ids);
    const last = logits.subarray((ids.length - 1) * vocabSize, ids.length * vocabSize);
    let best = 0;
    for (let j = 1; j < vocabSize; j++) if (last[j]! > last[best]!) best = j;
    ids.push(best);
    out.push(best);
  }
  return out;
}
