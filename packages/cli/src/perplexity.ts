// `wgpt perplexity`: how well a model predicts a text file, by sliding windows (src/perplexity.ts says which
// tokens are scored, with which context). Parsing and printing only.
import { deviceKind, openModel, perplexity, type PerplexityResult } from 'wgpt';
import { CliError, type Command, type Run } from './command.ts';
import { DEVICE_OPTION, OFFLINE_OPTION, toDevice, toNumber, toWeights, WEIGHTS_OPTION } from './options.ts';
import { pullProgress } from './pull.ts';
import { progressLine, spinner } from './spinner.ts';

export function registerPerplexity(command: Command, run: Run): void {
  command
    .usage(
      'perplexity --file <path> [options]\n\n' +
        '  The text is read in windows of --context tokens whose starts are --stride tokens apart. Every token but the\n' +
        '  first is scored once, by the first window that holds it: in the first window from all the tokens before it,\n' +
        '  in every later one from at least context - stride tokens (llama.cpp --ppl-stride, Hugging Face\'s strided\n' +
        '  perplexity). Perplexity = exp(mean negative log-likelihood per token), in nats.',
    )
    .option('--model <dir|org/name>', 'Model folder (config.json + safetensors) or hub id; default: the embedded model')
    .option('--file <path>', 'The text to score (UTF-8) (also -f)')
    .option('--from <fraction>', "Score the text from this fraction of the file's characters on, e.g. 0.9: its last 10% (default 0)")
    .option('--to <fraction>', "Score the text up to this fraction of the file's characters (default 1)")
    .option('--context <n>', "Tokens in a window (default: the model's context)")
    .option('--stride <n>', 'Tokens between the starts of two windows, below --context (default: half the context)')
    .option(...WEIGHTS_OPTION)
    .option(...DEVICE_OPTION)
    .option('--json', 'Print one JSON object: ppl, nll_mean, tokens scored, windows, weights, device, seconds')
    .option(...OFFLINE_OPTION)
    .example('wgpt perplexity --file tinyshakespeare.txt --from 0.9')
    .example('wgpt perplexity --file wiki.test.raw --model gpt2 --context 512 --stride 256 --weights f16 --json')
    .action(run(async (o: Record<string, any>) => {
      if (o.file === undefined || o.file === true) throw new CliError('wgpt perplexity needs --file <path>: the text file to score');
      const file = String(o.file);
      const from = toNumber('from', o.from, { min: 0, max: 1 }) ?? 0;
      const to = toNumber('to', o.to, { min: 0, max: 1 }) ?? 1;
      if (from >= to) throw new CliError(`--from (${from}) must be below --to (${to}): they pick the part of the file to score`);
      const context = toNumber('context', o.context, { min: 2, integer: true });
      const stride = toNumber('stride', o.stride, { min: 1, integer: true });
      if (context !== undefined && stride !== undefined && stride >= context) {
        throw new CliError(`--stride must be below --context (${context}) so every scored token has context, got ${stride}`);
      }
      const weights = toWeights(o.weights);
      const device = toDevice(o.device);
      const all = readText(file);
      const [begin, end] = [charIndex(all, from), charIndex(all, to)];
      const text = all.slice(begin, end);
      if (text.length === 0) throw new CliError(`--from ${from} --to ${to} picks no characters of ${file} (${all.length} characters): widen the range`);

      const loading = spinner(process.stderr, 'loading the model');
      const pull = pullProgress(process.stderr);
      const onProgress: typeof pull.onProgress = (event) => {
        loading.stop(); // a download shows its own progress bars
        pull.onProgress(event);
      };
      const { model, tokenizer, gpu, name } = await openModel(o.model, { weights, device, contextLength: context, offline: o.offline, onProgress });
      try {
        const ids = tokenizer.encode(text);
        loading.stop();
        const where = from === 0 && to === 1 ? file : `${file} (characters ${begin}..${end} of ${all.length})`;
        if (ids.length < 2) throw new CliError(`${where} is ${ids.length} token${ids.length === 1 ? '' : 's'}: perplexity needs at least 2 (the first is never scored)`);
        if (context !== undefined && context > model.nCtx) throw new CliError(`--context must be at most ${model.nCtx} (the model's context), got ${context}`);
        const window = context ?? model.nCtx;
        if (stride !== undefined && stride >= window) throw new CliError(`--stride must be below the context (${window} tokens) so every scored token has context, got ${stride}`);

        const progress = progressLine(process.stderr);
        const started = performance.now();
        const result = await perplexity(model, ids, {
          context: window,
          stride,
          onProgress: (p) => progress.update(`window ${p.window}/${p.windows}: ${count(p.scored)} tokens scored, perplexity so far ${Math.exp(p.nllMean).toFixed(4)}`),
        });
        progress.stop();
        const seconds = (performance.now() - started) / 1000;
        const facts = { model: name, file, from, to, characters: [begin, end] as [number, number], weights: model.weightFormat, device: deviceKind(gpu), adapter: gpu.info.name, seconds };
        process.stdout.write(o.json ? `${JSON.stringify(jsonResult(result, facts))}\n` : report(result, facts, where));
      } finally {
        model.destroy();
      }
    }));
}

interface RunFacts {
  model: string;
  file: string;
  from: number;
  to: number;
  characters: [number, number];
  weights: string;
  device: string;
  adapter: string;
  seconds: number;
}

function jsonResult(r: PerplexityResult, run: RunFacts) {
  return {
    ppl: r.perplexity,
    nll_mean: r.nllMean,
    tokens: r.tokens,
    tokens_scored: r.scored,
    windows: r.windows,
    context: r.context,
    stride: r.stride,
    model: run.model,
    file: run.file,
    from: run.from,
    to: run.to,
    characters: run.characters,
    weights: run.weights,
    device: run.device,
    adapter: run.adapter,
    seconds: run.seconds,
  };
}

function report(r: PerplexityResult, run: RunFacts, where: string): string {
  const lines = [
    `model:       ${run.model}, ${run.weights} weights on ${run.device} (${run.adapter})`,
    `text:        ${where}: ${count(r.tokens)} tokens`,
    `windows:     ${count(r.windows)} of ${r.context} tokens, stride ${r.stride}: ${count(r.scored)} token${r.scored === 1 ? '' : 's'} scored, each once`,
    `time:        ${run.seconds.toFixed(1)} s (${count(Math.round(r.scored / run.seconds))} tokens/s)`,
    `mean NLL:    ${r.nllMean.toFixed(4)} nats per token`,
    `perplexity:  ${r.perplexity.toFixed(4)}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** 33,201 */
function count(n: number): string {
  return n.toLocaleString('en-US');
}

/** The file as text; a missing file, a folder or an empty file is a one-line error. */
function readText(file: string): string {
  const fs = process.getBuiltinModule('fs') as typeof import('fs');
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(`--file ${file}: no such file; give the path of a text file to score`);
    if (code === 'EISDIR') throw new CliError(`--file ${file} is a folder; give the path of a text file to score`);
    throw new CliError(`cannot read --file ${file} (${(e as Error).message})`);
  }
  if (text.length === 0) throw new CliError(`--file ${file} is empty: there is nothing to score`);
  return text;
}

/** The index of the character at `fraction` of the text, moved off the middle of a surrogate pair. */
function charIndex(text: string, fraction: number): number {
  const i = Math.floor(fraction * text.length);
  const code = text.charCodeAt(i);
  return code >= 0xdc00 && code <= 0xdfff ? i + 1 : i;
}
