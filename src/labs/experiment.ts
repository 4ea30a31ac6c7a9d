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
//
// Every hook name, layer, head, neuron, column range and position is checked against the model before anything
// runs, and every problem is reported, one line each (EXPERIMENT_FORMAT is the help text that documents the file).
import { parse } from 'yaml';
import { findHookPoint, type Intervention } from '../hooks/index.ts';
import type { ModelDims } from '../hooks/points.ts';
import { UserError } from '../errors.ts';
import { compare, dims, encodePrompt, type LabContext, type LabResult } from './common.ts';

export interface Experiment {
  /** The file it was read from (named in errors). */
  file: string;
  model?: string;
  prompt: string;
  seed: number;
  decoding: { maxNewTokens: number; temperature: number; topK: number };
  interventions: Intervention[];
}

/** The file format, as `wgpt lab run --help` and the README show it. */
export const EXPERIMENT_FORMAT = `model: null                      # model folder or org/name; null or absent: the embedded model
prompt: "ROMEO:\\nI love thee"    # required
seed: 0                          # sampling and noise
decoding: { max_new_tokens: 20, temperature: 0, top_k: 0 }
interventions:                   # applied at every step of TWEAK; BASE runs without them
  - { hook: blocks.1.attn.hook_z, op: zero, head: 2 }
  - { hook: blocks.0.mlp.hook_post, op: add, neuron: 7, value: 4 }
  - { hook: blocks.2.hook_resid_post, op: noise, sigma: 0.5, seed: 1, position: [0, 3] }
  - { hook: hook_embed, op: scale, factor: 2, dims: [0, 32] }
ops: zero, scale (factor), add (value, or vector: one number per column), noise (sigma, seed)
where: head, neuron (one column), dims: [from, to) of the columns, position: n or [from, to)
  (positions count the prompt's tokens from 0, then the generated ones); leave one out to take all of it
hooks: hook_embed, hook_pos_embed, blocks.{i}.hook_resid_pre, .attn.hook_q/k/v/z, .attn.hook_pattern,
  .hook_attn_out, .hook_resid_mid, .mlp.hook_pre, .mlp.hook_post, .hook_mlp_out, .hook_resid_post, ...
  (src/hooks/points.ts lists them all)`;

const OPS = ['zero', 'scale', 'add', 'noise'];
const KEYS = new Set(['hook', 'op', 'factor', 'vector', 'value', 'sigma', 'seed', 'head', 'position', 'dims', 'neuron']);

/** Parse an experiment file's text and check its form; `file` names it in errors (all of them, one line each). */
export function parseExperiment(text: string, file: string): Experiment {
  let doc: any;
  try {
    doc = parse(text);
  } catch (e) {
    throw new UserError(`${file} is not valid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (!doc || typeof doc !== 'object') throw new UserError(`${file} must be a YAML mapping with at least a prompt`);
  const problems: string[] = [];
  if (typeof doc.prompt !== 'string' || doc.prompt === '') problems.push(`${file}: "prompt" must be a non-empty string`);
  const d = doc.decoding ?? {};
  const num = (x: unknown, fallback: number, what: string, whole: boolean) => {
    if (x === undefined || x === null) return fallback;
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0 || (whole && !Number.isInteger(x))) {
      problems.push(`${file}: ${what} must be ${whole ? 'a whole number' : 'a number'} >= 0, got ${JSON.stringify(x)}`);
      return fallback;
    }
    return x;
  };
  const list = doc.interventions ?? [];
  if (!Array.isArray(list)) problems.push(`${file}: "interventions" must be a list`);
  const interventions: Intervention[] = (Array.isArray(list) ? list : []).map((iv: any, i: number) => {
    const where = `${file}: interventions[${i}]`;
    if (!iv || typeof iv !== 'object' || Array.isArray(iv)) {
      problems.push(`${where}: must be a mapping such as { hook: blocks.0.attn.hook_z, op: zero, head: 0 }`);
      return iv;
    }
    if (typeof iv.hook !== 'string') problems.push(`${where}: "hook" must name a hook point, e.g. blocks.0.attn.hook_z`);
    if (!OPS.includes(iv.op)) problems.push(`${where}: "op" must be one of ${OPS.join(', ')}, got ${JSON.stringify(iv.op)}`);
    for (const key of Object.keys(iv)) if (!KEYS.has(key)) problems.push(`${where}: unknown key "${key}" (keys: ${[...KEYS].join(', ')})`);
    return iv as Intervention;
  });
  const experiment: Experiment = {
    file,
    model: doc.model ?? undefined,
    prompt: doc.prompt,
    seed: num(doc.seed, 0, 'seed', true),
    decoding: {
      maxNewTokens: num(d.max_new_tokens, 20, 'decoding.max_new_tokens', true),
      temperature: num(d.temperature, 0, 'decoding.temperature', false),
      topK: num(d.top_k, 0, 'decoding.top_k', true),
    },
    interventions,
  };
  if (problems.length > 0) throw new UserError(problems.join('\n'));
  return experiment;
}

/**
 * Every problem of the interventions on this model, one line each: hook names, layers, heads, neurons, column
 * ranges, positions (the prompt's `promptTokens` and the generated tokens), and each op's number.
 */
export function checkExperiment(e: Experiment, d: ModelDims, promptTokens: number): string[] {
  const problems: string[] = [];
  const positions = promptTokens + e.decoding.maxNewTokens;
  const whole = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
  e.interventions.forEach((iv, i) => {
    const say = (text: string) => problems.push(`${e.file ?? 'experiment'}: interventions[${i}] (${iv.hook}): ${text}`);
    const found = findHookPoint(iv.hook);
    if (!found) return say(`there is no such hook: names look like blocks.0.attn.hook_z (\`wgpt lab run --help\` lists them)`);
    if (!found.point.archs.includes(d.arch)) return say(`${d.arch} models have no such hook (it is ${found.point.archs.join(', ')} only)`);
    if (found.layer !== undefined && found.layer >= d.nLayer) say(`layer ${found.layer} does not exist: the model has blocks 0..${d.nLayer - 1}`);

    // the columns an intervention picks from: per head, or the whole row ([NH, T, S] patterns have S key columns)
    const shape = found.point.shape;
    const headDim = shape.includes('NH') ? 'NH' : shape.includes('NKV') ? 'NKV' : undefined;
    const heads = headDim ? d[headDim] : 0;
    const size: Record<string, number> = { C: d.C, NH: d.NH, NKV: d.NKV, HS: d.HS, I: d.I, V: d.V, S: positions };
    const rowShape = shape[0] === 'NH' ? shape.slice(2) : shape.slice(1);
    const rowWidth = rowShape.reduce((w, dim) => w * size[dim]!, 1);
    const perHead = iv.head !== undefined && shape[0] !== 'NH';
    const width = perHead ? d.HS : rowWidth;
    const columns = perHead ? `the head's ${width} columns` : `${width} columns`;

    if (iv.head !== undefined) {
      if (!heads) say('this hook has no heads: leave out "head"');
      else if (!(whole(iv.head) && iv.head >= 0 && iv.head < heads)) say(`head ${JSON.stringify(iv.head)} does not exist: the model has heads 0..${heads - 1}`);
    }
    if (iv.neuron !== undefined && iv.dims !== undefined) say('give "neuron" or "dims", not both');
    if (iv.neuron !== undefined && !(whole(iv.neuron) && iv.neuron >= 0 && iv.neuron < width)) {
      say(`neuron ${JSON.stringify(iv.neuron)} does not exist: ${columns} are 0..${width - 1}`);
    }
    if (iv.dims !== undefined) {
      const [a, b] = Array.isArray(iv.dims) ? iv.dims : [];
      if (!(Array.isArray(iv.dims) && iv.dims.length === 2 && whole(a) && whole(b) && a >= 0 && a < b && b <= width)) {
        say(`dims ${JSON.stringify(iv.dims)} must be [from, to) with 0 <= from < to <= ${width} (${columns})`);
      }
    }
    if (iv.position !== undefined) {
      const [a, b] = typeof iv.position === 'number' ? [iv.position, iv.position + 1] : Array.isArray(iv.position) && iv.position.length === 2 ? iv.position : [NaN, NaN];
      if (!(whole(a) && whole(b) && a >= 0 && a < b && b <= positions)) {
        say(`position ${JSON.stringify(iv.position)} is outside the run: the prompt has ${promptTokens} tokens and ${e.decoding.maxNewTokens} are generated, so positions are 0..${positions - 1} (one, or [from, to))`);
      }
    }

    const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
    if (iv.op === 'scale' && !finite(iv.factor)) say('scale needs a number "factor"');
    if (iv.op === 'noise' && !(finite(iv.sigma) && iv.sigma! >= 0)) say('noise needs "sigma", a number >= 0');
    if (iv.seed !== undefined && !(whole(iv.seed) && iv.seed >= 0)) say(`seed must be a whole number >= 0, got ${JSON.stringify(iv.seed)}`);
    if (iv.op === 'add') {
      const selected = iv.neuron !== undefined ? 1 : Array.isArray(iv.dims) ? iv.dims[1]! - iv.dims[0]! : width;
      if (iv.vector !== undefined) {
        if (!Array.isArray(iv.vector) || !iv.vector.every(finite)) say('"vector" must be a list of numbers');
        else if (iv.vector.length !== selected) say(`"vector" has ${iv.vector.length} numbers for ${selected} selected columns`);
      } else if (!finite(iv.value)) {
        say('add needs a number "value" (or "vector", one number per column)');
      }
    }
  });
  return problems;
}

export async function runExperiment(ctx: LabContext, e: Experiment): Promise<LabResult> {
  const problems = checkExperiment(e, dims(ctx), encodePrompt(ctx, e.prompt).length);
  if (problems.length > 0) throw new UserError(problems.join('\n'));
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

