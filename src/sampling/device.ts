// One step of decoding with the logits left on the device: the model's forward ends with the candidate selection
// (ForwardOptions.select), the sampler finishes on the candidates (src/sampling/gpu.ts), and only where they do not
// decide is the whole row read. The token is always the one Sampler.next would choose from the whole row.
import type { ForwardOptions, LanguageModel } from '../model/model.ts';
import { candidateRequest, logitAdjustments } from './gpu.ts';
import type { Sampler } from './sampler.ts';

export interface DeviceSample {
  id: number;
  /** Bytes read back for this token: the candidates, plus the whole row where they did not decide. */
  readbackBytes: number;
  dispatches: number;
  /** Whether the candidates decided alone. */
  decided: boolean;
}

/**
 * Run `ids` at pos0 and choose the next token. `context` is every token so far (prompt included), ids among them,
 * as Sampler.next takes it.
 */
export async function sampleOnDevice(model: LanguageModel, sampler: Sampler, ids: number[], pos0: number, context: readonly number[], options: ForwardOptions = {}): Promise<DeviceSample> {
  const V = model.vocabSize;
  const select = { ...candidateRequest(sampler.options), list: logitAdjustments(sampler.options, context, V) };
  const r = await model.forward(ids, pos0, { ...options, select });
  const dispatches = r.dispatches ?? 0;
  let readbackBytes = r.readbackBytes ?? 0;
  if (!r.candidates) return { id: sampler.next(r.logits, context), readbackBytes, dispatches, decided: false }; // a backend without selection
  const id = sampler.nextFromCandidates(r.candidates, context, V);
  if (id !== undefined) return { id, readbackBytes, dispatches, decided: true };
  const logits = await r.readLogits!();
  readbackBytes += logits.byteLength;
  return { id: sampler.next(logits, context), readbackBytes, dispatches, decided: false };
}
