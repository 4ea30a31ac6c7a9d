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
import { findHookPoint, type Intervention } from '../hooks/index.ts';
import { UserError } from '../errors.ts';
import { compare, type LabContext, type LabResult } from './common.ts';

export interface Experiment {
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
    model: doc.model ?? undefined,
    prompt: doc.prompt,
    seed: num(doc.seed, 0, 'seed'),
    decoding: { maxNewTokens: num(d.max_new_tokens, 20, 'decoding.max_new_tokens'), temperature: num(d.temperature, 0, 'decoding.temperature'), topK: num(d.top_k, 0, 'decoding.top_k') },
    interventions,
  };
}

export function runExperiment(ctx: LabContext, e: Experiment): Promise<LabResult> {
  const what = e.interventions.map((iv) => `${iv.op} ${iv.hook}${iv.head !== undefined ? ` head ${iv.head}` : ''}`).join(', ') || 'no intervention';
  return compare(ctx, 'run', e.interventions, { prompt: e.prompt, seed: e.seed, ...e.decoding }, what);
}
