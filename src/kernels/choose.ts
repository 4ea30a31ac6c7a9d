// The next token chosen on the GPU from topK's candidates (shaders/chooseToken.wgsl), written where the next step's
// embedding reads its token id: a decode step can then be submitted before the step before it was read back. Its
// reference is the CPU sampler itself (Sampler.nextFromCandidates with the same uniform number), which checks every
// choice when the candidates arrive (src/generate.ts).
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { MAX_CANDIDATES } from './topk.ts';
import { defineKernel } from './versions.ts';

const ChooseParams = defineUniforms('ChooseParams', {
  K: 'u32',
  nList: 'u32',
  temperature: 'f32',
  greedy: 'u32',
  topK: 'u32',
  topP: 'f32',
  minP: 'f32',
  typicalP: 'f32',
  u: 'f32',
});

export const chooseTokenKernel = defineKernel('chooseToken', [
  {
    name: 'v1',
    uniforms: ChooseParams,
    defaultOn: ['hardware', 'software'],
    changes: 'one invocation: the filters in order on at most 64 candidates, then the inverse-CDF draw',
  },
]);

/** What the choice does: the sampler's options, and the uniform number in [0, 1) drawn for this token. */
export interface ChooseRequest {
  greedy: boolean;
  /** The temperature topK divided by (1 for greedy). */
  temperature: number;
  topK: number;
  topP: number;
  minP: number;
  typicalP: number;
  u: number;
}

/** token[0] = the id chosen from candidates [3 + 2K] (topK's output over the same list). */
export function chooseToken(rec: Recorder, token: Tensor, candidates: Tensor, list: Tensor, o: ChooseRequest & { K: number; nList: number }): void {
  if (token.dtype !== 'u32') throw new Error(`chooseToken: the token must be a u32 tensor, not ${token.dtype}`);
  if (!(o.K >= 1 && o.K <= MAX_CANDIDATES)) throw new Error(`chooseToken: K must be 1..${MAX_CANDIDATES}, got ${o.K}`);
  const { K, nList, temperature, topK, topP, minP, typicalP, u } = o;
  rec.dispatch({
    shader: chooseTokenKernel.version('v1').shader,
    constants: { MAX: MAX_CANDIDATES },
    uniforms: ChooseParams.pack({ K, nList, temperature, greedy: o.greedy ? 1 : 0, topK, topP, minP, typicalP, u }),
    bindings: [token, candidates, list],
    workgroups: [1],
    label: 'choose_token',
    shape: `${K} -> 1`,
  });
}
