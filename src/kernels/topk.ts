// The candidates of sampling, selected on the GPU (shaders/topK.wgsl): logit bias, repetition penalty and bans
// applied to the listed ids, the temperature, then the K largest values with their raw logits, and the
// log-sum-exp of the whole row. The CPU reads back 3 + 2K floats instead of V, and finishes the sampling on them
// exactly (src/sampling/gpu.ts). Versions: v1 (a workgroup, for GPUs) and v2 (one invocation, for software adapters).
//
//   out [3 + 2K] = [max, sumExp, floor, ids[K] (as f32; -1 past the end), raw[K]]; floor bounds every id not returned
//       [5 + 2K] with `untempered`: then also [max, sumExp] of the adjusted row before the temperature (with no
//       list, the raw row: the normaliser of reported log-probabilities, so no second selection is needed for it)
//   logits [V] f32, changed at the listed ids while the kernel runs and restored before it ends
//   list [nList] of { id, bias, penalty, raw }: 16 bytes each, raw written by the kernel
import type { Tensor } from '../gpu/buffers.ts';
import type { Recorder } from '../gpu/recorder.ts';
import { defineUniforms } from '../gpu/uniforms.ts';
import { defineKernel } from './versions.ts';

const TopKParams = defineUniforms('TopKParams', { V: 'u32', nList: 'u32', temperature: 'f32' });

export const topKKernel = defineKernel('topK', [
  {
    name: 'v1',
    uniforms: TopKParams,
    defaultOn: ['hardware'],
    changes: 'one workgroup: a sorted list of K per invocation over its stripe, then K rounds of a workgroup argmax',
  },
  {
    name: 'v2',
    uniforms: TopKParams,
    defaultOn: ['software'],
    changes: 'each invocation a sorted list of K + 1 over its stripe, one barrier, then invocation 0 merges them',
  },
]);

export type TopKVersion = (typeof topKKernel.versions)[number]['name'];

/** v1: invocations of the one workgroup; a power of two for the reductions. */
const TOPK = { WG: 64 };
/** v2: invocations of the one workgroup, each a list of K + 1 in workgroup memory (16 x 65 x 8 bytes for K = 64). */
const TOPK_V2 = { WG: 16 };
/** The most candidates one call returns. */
export const MAX_CANDIDATES = 64;

/** One listed id: logits[id] = penalise(logits[id] + bias); penalty 1 for none, bias -Infinity bans it. */
export interface LogitAdjust {
  id: number;
  bias: number;
  penalty: number;
}

/** The list as the kernel reads it: 16 bytes an entry (id, bias, penalty, and room for the raw logit). */
export function packAdjustments(list: readonly LogitAdjust[]): ArrayBuffer {
  const data = new DataView(new ArrayBuffer(Math.max(16, 16 * list.length)));
  list.forEach((e, j) => {
    data.setUint32(16 * j, e.id, true);
    data.setFloat32(16 * j + 4, e.bias, true);
    data.setFloat32(16 * j + 8, e.penalty, true);
  });
  return data.buffer;
}

/** Candidates of a row of V logits: writes out [3 + 2K] (see the top of this file). */
export function topK(
  rec: Recorder,
  out: Tensor,
  logits: Tensor,
  list: Tensor,
  o: { V: number; K: number; nList: number; temperature: number; untempered?: boolean; label?: string; version?: TopKVersion },
): void {
  const { V, K, nList, temperature } = o;
  const untempered = o.untempered === true;
  if (out.byteLength < 4 * candidateFloats(K, untempered)) throw new Error(`topK: out holds fewer than ${candidateFloats(K, untempered)} floats`);
  if (!(Number.isInteger(K) && K >= 1 && K <= MAX_CANDIDATES)) throw new Error(`topK: K must be 1..${MAX_CANDIDATES}, got ${K}`);
  if (V >= 2 ** 24) throw new Error(`topK: ids are returned as f32, exact below 2^24; V = ${V}`);
  if (!(temperature > 0)) throw new Error(`topK: temperature must be > 0, got ${temperature}`);
  const version = topKKernel.version(o.version ?? topKKernel.defaultFor(rec.gpu).name);
  rec.dispatch({
    shader: version.shader,
    constants: { ...(version.name === 'v1' ? TOPK : TOPK_V2), K, UNTEMPERED: untempered },
    uniforms: TopKParams.pack({ V, nList, temperature }),
    bindings: [out, logits, list],
    workgroups: [1],
    label: o.label ?? 'top_k',
    shape: `[${V}] -> ${K}`,
  });
}

/** The floats topK writes: 3 + 2K, and 2 more with the log-sum-exp before the temperature. */
export function candidateFloats(K: number, untempered = false): number {
  return 3 + 2 * K + (untempered ? 2 : 0);
}

/** What topK returns, read back. */
export interface Candidates {
  /** log-sum-exp of the whole adjusted, tempered row: max + log(sumExp). */
  max: number;
  sumExp: number;
  /** A bound on the ids not returned: each has an adjusted, tempered value at most this (-Infinity: none is left). */
  floor: number;
  /** The K largest, largest first; fewer when fewer are finite. */
  ids: number[];
  /** Their raw logits. */
  raw: number[];
  /** Asked for (`untempered`): the log-sum-exp of the adjusted row before the temperature, max + log(sumExp). */
  untempered?: { max: number; sumExp: number };
}

export function readCandidates(out: Float32Array, K: number): Candidates {
  const ids: number[] = [];
  const raw: number[] = [];
  for (let r = 0; r < K && out[3 + r]! >= 0; r++) {
    ids.push(out[3 + r]!);
    raw.push(out[3 + K + r]!);
  }
  const untempered = out.length >= candidateFloats(K, true) ? { max: out[3 + 2 * K]!, sumExp: out[4 + 2 * K]! } : undefined;
  return { max: out[0]!, sumExp: out[1]!, floor: out[2]!, ids, raw, ...(untempered && { untempered }) };
}

/** CPU reference in float64: the adjusted, tempered row's log-sum-exp and its K largest (lower id first on ties). */
export function topKReference(logits: ArrayLike<number>, list: readonly LogitAdjust[], K: number, temperature: number): { lse: number; ids: number[]; values: number[] } {
  const x = Float64Array.from(logits as ArrayLike<number>);
  for (const e of list) {
    const biased = x[e.id]! + e.bias;
    x[e.id] = biased > 0 ? biased / e.penalty : biased * e.penalty;
  }
  for (let i = 0; i < x.length; i++) x[i] = x[i]! / temperature;
  let max = -Infinity;
  for (const v of x) max = Math.max(max, v);
  let sum = 0;
  for (const v of x) if (v > -Infinity) sum += Math.exp(v - max);
  const order = Array.from(x.keys()).filter((i) => x[i]! > -Infinity);
  order.sort((a, b) => x[b]! - x[a]! || a - b);
  const ids = order.slice(0, K);
  return { lse: max + Math.log(sum), ids, values: ids.map((i) => x[i]!) };
}
