// `wgpt lab <name>`: the interpretability labs (src/labs), each printing BASE vs TWEAK or a table and writing
// its figures as SVG and PNG. Parsing and printing only.
import { defaultModelDir, labs, openModel, resolveModelDir, type LabContext, type LabResult } from 'wgpt';
import { CliError, type Command, type Run } from './command.ts';
import { DEVICE_OPTION, OFFLINE_OPTION, toDevice, toNumber, toWeights, WEIGHTS_OPTION } from './options.ts';
import { pullProgress } from './pull.ts';
import { spinner } from './spinner.ts';

const LABS: Record<string, { args: string; help: string }> = {
  weights: { args: '', help: 'heatmap of a weight matrix as --weights holds it (--layer, --matrix q|k|v|o|up|down)' },
  'ablate-head': { args: 'L H', help: 'zero one attention head' },
  'scale-head': { args: 'L H factor', help: "scale one head's output" },
  'nudge-neuron': { args: 'L N delta', help: 'add delta to one MLP neuron' },
  'zero-embedding-slice': { args: 'a..b', help: 'zero dimensions a..b-1 of the token embeddings' },
  'residual-noise': { args: 'sigma', help: 'Gaussian noise into the residual stream of every block' },
  'boost-positions': { args: 'factor', help: 'scale the position embeddings (GPT-2) or the RoPE angles (Llama)' },
  'style-bias': { args: 'TOKEN=VALUE', help: "add VALUE to a token's logit" },
  temperature: { args: '', help: 'entropy and top-token probability at several T; top-k/top-p; samples' },
  'logit-lens': { args: '', help: 'what each layer predicts' },
  patch: { args: '', help: 'activation patching, clean vs corrupt (--clean, --corrupt, --answer, --wrong)' },
  attention: { args: '', help: 'attention patterns (--layer, --head)' },
  'hidden-states': { args: '', help: 'activations of two sentences (--a, --b, --layer)' },
  embeddings: { args: '', help: 'PCA and t-SNE of word vectors, analogies (--words, --from)' },
  'kv-cache': { args: '', help: 'cost of one step with and without the KV cache (--lengths, --repeats)' },
  run: { args: 'experiment.yaml', help: 'replay a saved experiment' },
};

export function registerLab(command: Command, run: Run): void {
  command
    .usage(`lab <name> [...args]\n\n  Labs:\n${Object.entries(LABS)
      .map(([name, lab]) => `    ${`${name} ${lab.args}`.padEnd(30)}${lab.help}`)
      .join('\n')}\n\n  Experiment files (wgpt lab run experiment.yaml), checked against the model before anything runs:\n${labs.EXPERIMENT_FORMAT.split('\n')
      .map((line) => `    ${line}`)
      .join('\n')}`)
    .option('--model <dir|org/name>', 'Model folder or hub id; default: the embedded model')
    // defaults with line breaks are shown JSON-quoted and applied in the action, so the help stays one line each
    .option('--prompt <text>', `Prompt (default: ${JSON.stringify(labs.DEFAULT_PROMPT)})`)
    .option('--max-new-tokens <n>', 'Tokens to generate for BASE and TWEAK', { default: 20 })
    .option('--seed <n>', 'Random seed (noise, sampling)', { default: 0 })
    .option('--layer <n>', 'Layer (weights, attention: default 0; hidden-states: default the last)')
    .option('--head <n>', 'Head (attention)', { default: 0 })
    .option('--matrix <name>', 'Weight matrix: q, k, v, o, up, down', { default: 'q' })
    .option('--temperature <t>', 'Temperature the top-k / top-p figure is drawn at (temperature)', { default: 1.2 })
    .option('--top-k <k>', 'Top-k compared (temperature)', { default: 40 })
    .option('--top-p <p>', 'Top-p compared (temperature)', { default: 0.9 })
    .option('--clean <text>', `Clean prompt (patch) (default: ${JSON.stringify(labs.PATCH_DEFAULTS.clean)})`)
    .option('--corrupt <text>', `Corrupted prompt, same token count (patch) (default: ${JSON.stringify(labs.PATCH_DEFAULTS.corrupt)})`)
    .option('--answer <token>', `Answer token of the clean prompt (patch) (default: ${JSON.stringify(labs.PATCH_DEFAULTS.answer)})`)
    .option('--wrong <token>', `Answer token of the corrupt prompt (patch) (default: ${JSON.stringify(labs.PATCH_DEFAULTS.wrong)})`)
    .option('--a <text>', 'First sentence (hidden-states)', { default: 'I love this movie' })
    .option('--b <text>', 'Second sentence (hidden-states)', { default: 'I hate this movie' })
    .option('--words <list>', 'Comma-separated words (embeddings)', { default: labs.DEFAULT_WORDS.join(',') })
    .option('--from <where>', 'Word vectors: static, or a block whose output is averaged (embeddings; default: the last block)')
    .option('--lengths <list>', 'Comma-separated sequence lengths (kv-cache)', { default: '8,32,64,128' })
    .option('--repeats <n>', 'Timings per length and mode (kv-cache)', { default: 5 })
    .option('--out <dir>', 'Folder for the SVG and PNG figures', { default: './wgpt-out' })
    .option('--json', 'Print the results and the numbers behind every figure as one JSON object')
    .option(...DEVICE_OPTION)
    .option(...WEIGHTS_OPTION)
    .option(...OFFLINE_OPTION)
    .example('wgpt lab ablate-head 1 2 --prompt "ROMEO:"')
    .example('wgpt lab attention --layer 2 --head 1')
    .example('wgpt lab style-bias ,=4')
    .example('wgpt lab run experiment.yaml')
    .action(run(async (name: string, args: string[], o: Record<string, any>) => {
      const lab = LABS[name];
      if (!lab) throw new CliError(`unknown lab "${name}": choose one of ${Object.keys(LABS).join(', ')}`);
      const want = lab.args ? lab.args.split(' ').length : 0;
      if (args.length !== want) throw new CliError(`wgpt lab ${name} takes ${want ? lab.args : 'no arguments'}; got ${args.length ? args.join(' ') : 'none'}`);
      const weights = toWeights(o.weights);
      const experiment = name === 'run' ? await readExperiment(args[0]!) : undefined;
      const modelArg: string | undefined = o.model ?? experiment?.model;
      const waiting = spinner(process.stderr, `lab ${name}`); // until the results print
      const pull = pullProgress(process.stderr);
      const onProgress: typeof pull.onProgress = (event) => {
        waiting.stop(); // a download shows its own progress bars
        pull.onProgress(event);
      };
      const { model, tokenizer } = await openModel(modelArg, { device: toDevice(o.device), weights, offline: o.offline, onProgress });
      const modelDir = modelArg === undefined ? defaultModelDir() : await resolveModelDir(modelArg, { offline: o.offline });
      const ctx: LabContext = { model, tokenizer, modelDir, embedded: modelArg === undefined };
      try {
        const result = await runLab(ctx, name, args, o, experiment);
        const files = await labs.writeFigures(result.figures, String(o.out));
        waiting.stop();
        if (o.json) process.stdout.write(`${JSON.stringify(jsonOf(result, files))}\n`);
        else printResult(result, files);
      } finally {
        model.destroy();
      }
    }));
}

function runLab(ctx: LabContext, name: string, args: string[], o: Record<string, any>, experiment?: labs.Experiment): Promise<LabResult> {
  const compare = {
    prompt: String(o.prompt ?? labs.DEFAULT_PROMPT),
    maxNewTokens: toNumber('max-new-tokens', o.maxNewTokens, { min: 0, integer: true })!,
    seed: toNumber('seed', o.seed, { min: 0, max: 0xffffffff, integer: true })!,
  };
  const layer = int(o.layer ?? 0, '--layer');
  switch (name) {
    case 'weights': return labs.weightsLab(ctx, layer, String(o.matrix) as labs.WeightMatrix);
    case 'ablate-head': return labs.ablateHead(ctx, int(args[0], 'layer L'), int(args[1], 'head H'), compare);
    case 'scale-head': return labs.scaleHead(ctx, int(args[0], 'layer L'), int(args[1], 'head H'), num(args[2], 'the factor'), compare);
    case 'nudge-neuron': return labs.nudgeNeuron(ctx, int(args[0], 'layer L'), int(args[1], 'neuron N'), num(args[2], 'the delta'), compare);
    case 'zero-embedding-slice': return labs.zeroEmbeddingSlice(ctx, args[0]!, compare);
    case 'residual-noise': return labs.residualNoise(ctx, toNumber('the sigma', args[0], { min: 0 })!, compare);
    case 'boost-positions': return labs.boostPositions(ctx, num(args[0], 'the factor'), compare);
    case 'style-bias': return labs.styleBias(ctx, args[0]!, compare);
    case 'temperature': return labs.temperatureLab(ctx, compare.prompt, { ...compare, temperature: toNumber('temperature', o.temperature, { min: 0, note: '0: greedy' })!, topK: toNumber('top-k', o.topK, { min: 0, integer: true, note: '0: off' })!, topP: toNumber('top-p', o.topP, { min: 0, max: 1, note: '1: off' })! });
    case 'logit-lens': return labs.logitLensLab(ctx, compare.prompt);
    case 'patch': return labs.patchLab(ctx, { ...labs.PATCH_DEFAULTS, ...definedStrings({ clean: o.clean, corrupt: o.corrupt, answer: o.answer, wrong: o.wrong }) });
    case 'attention': return labs.attentionLab(ctx, compare.prompt, layer, int(o.head, '--head'));
    case 'hidden-states': return labs.hiddenStatesLab(ctx, String(o.a), String(o.b), o.layer === undefined ? undefined : layer);
    case 'embeddings': return labs.embeddingsLab(ctx, String(o.words).split(',').map((w) => w.trim()).filter(Boolean), compare.seed, o.from === undefined ? undefined : o.from === 'static' ? 'static' : int(o.from, '--from (static or a block index)'));
    case 'kv-cache': return labs.kvCacheLab(ctx, compare.prompt, String(o.lengths).split(',').map((x) => int(x, '--lengths')), int(o.repeats, '--repeats'));
    default: return labs.runExperiment(ctx, experiment!);
  }
}

async function readExperiment(file: string): Promise<labs.Experiment> {
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  if (!fs.existsSync(file)) throw new CliError(`experiment file ${file} does not exist: give the path of a .yaml file`);
  return labs.parseExperiment(fs.readFileSync(file, 'utf8'), file);
}

/** Layers, heads, neurons and token counts: whole numbers >= 0 (each lab checks the model's upper bound). */
function int(x: unknown, what: string): number {
  return toNumber(what, x ?? '', { min: 0, integer: true })!;
}

function num(x: unknown, what: string): number {
  return toNumber(what, x ?? '', {})!;
}

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (code: number, text: string) => (colour ? `\x1b[${code}m${text}\x1b[0m` : text);

function printResult(r: LabResult, files: string[]): void {
  const out = process.stdout;
  for (const line of r.lesson) out.write(`${paint(1, 'look for:')} ${line}\n`);
  if (r.prompt !== undefined) out.write(`${paint(2, 'prompt')} ${JSON.stringify(r.prompt)}\n`);
  // continuations on one line each (newlines escaped), with a mark where they first differ
  const shown = (text: string, at: number | undefined) => {
    const json = (t: string) => JSON.stringify(t).slice(1, -1);
    return at === undefined ? json(text) : `${json(text.slice(0, at))}${paint(33, '|>')}${json(text.slice(at))}`;
  };
  if (r.base !== undefined) out.write(`${paint(36, 'BASE ')} ${shown(r.base, r.divergence?.base)}\n`);
  if (r.tweak !== undefined) out.write(`${paint(35, 'TWEAK')} ${shown(r.tweak, r.divergence?.tweak)}\n`);
  if (r.divergence) out.write(paint(2, `(|> marks the first divergence, step ${r.divergence.step})\n`));
  for (const line of r.lines) out.write(`${line}\n`);
  if (r.tooSmall) out.write(`${paint(33, 'note:')} ${r.tooSmall}\n`);
  out.write(paint(2, `figures: ${files.join(', ')}\n`));
}

function jsonOf(r: LabResult, files: string[]) {
  return {
    lab: r.lab,
    lesson: r.lesson,
    ...(r.tooSmall ? { too_small: r.tooSmall } : {}),
    ...(r.divergence ? { divergence: r.divergence } : {}),
    ...(r.prompt !== undefined ? { prompt: r.prompt } : {}),
    base: r.base,
    tweak: r.tweak,
    lines: r.lines,
    figures: r.figures.map((f) => ({ name: f.name, title: f.title, data: f.data })),
    files,
    ...r.numbers,
  };
}

/** The options the user gave, as strings (cac leaves the others undefined). */
function definedStrings(o: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
}
