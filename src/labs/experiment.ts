// Experiments as files: a YAML file names the model, the prompt, the seed, the interventions and the decoding,
// and `wgpt lab run file.yaml` replays it, BASE then TWEAK. For example:
//
//   model: null                 # a model folder or org/name; null or absent: the embedded model
//   prompt: "ROMEO:\nI love thee"
//   seed: 0
//   decoding: { max_new_tokens: 20, temperature: 0, top_k: 0 }
//   interventions:
//     - { hook: blocks.1.attn.hook_z, op: zero, head: 2 }
//     - { hook: blocks.0.mlp.hook_post, op: add, neuron: 7, value: 4 }
import { parse } from 'yaml';
import { findHookPoint, hookShape, type Intervention } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { compare, dims, type LabContext, type LabResult } from './common.ts';

export interface Experiment {
  /** The file it was read from (named in errors). */
  file: string;
  model?: string;
  prompt: string;
  seed: number;
  decoding: { maxNewTokens: number; temperature: number; topK: number };
  interventions: Intervention[];
}

const OPS = ['zero', 'scale', 'add', 'noise', 'patch'];
const KEYS = new Set(['hook', 'op', 'factor', 'vector', 'value', 'sigma', 'seed', 'head', 'position', 'dims', 'neuron']);

/** Parse and check an experiment file's text; `file` names it in errors. */
export function parseExperiment(text: string, file: string): Experiment {
  let doc: any;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UserError(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new UserError(`${file} must be a YAML mapping with at least a prompt`);
  if (typeof doc.prompt !== 'string' || doc.prompt === '') throw new UserError(`${file}: "prompt" must be a non-empty string`);
  const d = doc.decoding ?? {};
  const num = (x: unknown, fallback: number, what: string) => {
    if (x === undefined || x === null) return fallback;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw new UserError(`${file}: ${what} must be a number`);
    return x;
  };
  const interventions: Intervention[] = (doc.interventions ?? []).map((iv: any, i: number) => {
    const where = `${file}: interventions[${i}]`;
    if (!iv || typeof iv.hook !== 'string' || !findHookPoint(iv.hook)) throw new UserError(`${where}: "hook" must name a hook point, e.g. blocks.0.attn.hook_z`);
    if (!OPS.includes(iv.op) || iv.op === 'patch') throw new UserError(`${where}: "op" must be one of zero, scale, add, noise`);
    for (const key of Object.keys(iv)) if (!KEYS.has(key)) throw new UserError(`${where}: unknown key "${key}"`);
    return iv as Intervention;
  });
  return {
    file,
    model: doc.model ?? undefined,
    prompt: doc.prompt,
    seed: num(doc.seed, 0, 'seed'),
    decoding: { maxNewTokens: num(d.max_new_tokens, 20, 'decoding.max_new_tokens'), temperature: num(d.temperature, 0, 'decoding.temperature'), topK: num(d.top_k, 0, 'decoding.top_k') },
    interventions,
  };
}

export async function runExperiment(ctx: LabContext, e: Experiment): Promise<LabResult> {
  e.interventions.forEach((iv, i) => checkIntervention(ctx, iv, `${e.file}: interventions[${i}]`));
  const what = e.interventions.map((iv) => `${iv.op} ${iv.hook}${iv.head !== undefined ? ` head ${iv.head}` : ''}`).join(', ') || 'no intervention';
  const r = await compare(ctx, 'run', e.interventions, { prompt: e.prompt, seed: e.seed, ...e.decoding }, what);
  return {
    ...r,
    lesson: [
      'The experiment replayed: BASE without the interventions, TWEAK with them, the same decoding and seed.',
      "Look at the first divergence and at the KL per step along BASE's continuation: where the change bites.",
    ],
  };
}

/** Every index of an intervention inside the model it runs on: block, head, neuron, position, dims; one line if not. */
function checkIntervention(ctx: LabContext, iv: Intervention, where: string): void {
  const d = dims(ctx);
  const found = findHookPoint(iv.hook)!;
  if (!found.point.archs.includes(d.arch)) throw new UserError(`${where}: ${iv.hook} does not exist in a ${d.arch} model`);
  if (found.layer !== undefined && found.layer >= d.nLayer) throw new UserError(`${where}: block ${found.layer} does not exist: the model has blocks 0..${d.nLayer - 1}`);
  const need = (key: keyof Intervention, what: string) => {
    if (typeof iv[key] !== 'number' || !Number.isFinite(iv[key] as number)) throw new UserError(`${where}: op ${iv.op} needs "${key}", ${what}`);
  };
  if (iv.op === 'scale') need('factor', 'the number to multiply by');
  if (iv.op === 'noise') need('sigma', 'the standard deviation of the noise');
  if (iv.op === 'add' && iv.vector === undefined) need('value', 'the number to add');
  // [T, X]: columns X; [T, H, HS]: heads H of HS columns; [NH, T, S]: heads NH (columns depend on the step)
  const shape = hookShape(iv.hook, d, 1);
  const perHead = shape.length === 3;
  const heads = perHead ? (shape[0] === 1 ? shape[1]! : shape[0]!) : 0;
  const cols = perHead ? (shape[0] === 1 ? shape[2]! : undefined) : shape[1]!;
  const index = (x: unknown, n: number | undefined, what: string) => {
    if (x === undefined) return;
    if (!(Number.isInteger(x) && (x as number) >= 0 && (n === undefined || (x as number) < n))) {
      throw new UserError(`${where}: ${what} ${JSON.stringify(x)} does not exist: ${iv.hook} has ${what}s 0..${n === undefined ? '' : n - 1}`);
    }
  };
  if (iv.head !== undefined && !perHead) throw new UserError(`${where}: ${iv.hook} has no heads: remove "head" or use a per-head hook such as blocks.0.attn.hook_z`);
  index(iv.head, heads, 'head');
  index(iv.neuron, cols, 'neuron');
  for (const p of typeof iv.position === 'number' ? [iv.position] : iv.position ?? []) index(p, ctx.model.nCtx, 'position');
  if (iv.dims !== undefined) {
    const [a, b] = Array.isArray(iv.dims) ? iv.dims : [];
    if (!(Number.isInteger(a) && Number.isInteger(b) && a! >= 0 && a! < b! && (cols === undefined || b! <= cols))) {
      throw new UserError(`${where}: dims must be [a, b] with 0 <= a < b <= ${cols ?? 'the width'}, got ${JSON.stringify(iv.dims)}`);
    }
  }
}
