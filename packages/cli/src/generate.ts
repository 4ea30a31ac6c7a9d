// `wgpt generate`: stream a continuation of a prompt, with the decoding knobs of HF generate() and llama.cpp.
import { chatPrompt, deviceKind, fitPrompt, formatProfile, generate, isWasmDevice, openModel, PromptTooLongError, type Device, type GenerateOptions, type GenerationResult, type Tokenizer } from 'wgpt';
import { CliError, type Command, type Run } from './command.ts';
import { DEVICE_OPTION, OFFLINE_OPTION, toDevice, toList, toNumber, toWeights, WEIGHTS_OPTION } from './options.ts';
import { pullProgress } from './pull.ts';
import { readPrompt } from './prompt.ts';
import { spinner } from './spinner.ts';

export function registerGenerate(command: Command, run: Run): void {
  command
    .option('--model <dir|org/name>', 'Model folder (config.json + safetensors) or hub id; default: the embedded model')
    .option('--file <path>', 'Read the prompt from a file')
    .option('--max-new-tokens <n>', 'How many tokens to generate (also -n, --max-tokens)', { default: 64 })
    .option('--temperature <t>', 'Sampling temperature; 0 means greedy (default: 0.8) (also --temp)')
    .option('--top-k <k>', 'Keep only the k most likely tokens (0: off)')
    .option('--top-p <p>', 'Nucleus sampling: keep the smallest set reaching probability p')
    .option('--min-p <p>', 'Drop tokens below p times the most likely one')
    .option('--typical-p <p>', 'Locally typical sampling')
    .option('--repetition-penalty <r>', 'Penalise tokens already in the context (1: off) (also --repeat-penalty)')
    // mri reads any --no-X as "X is false", so main() renames this one to --ban-repeat-ngram before parsing
    .option('--ban-repeat-ngram <n>', 'Never repeat an n-gram of this size (also --no-repeat-ngram)')
    .option('--seed <n>', 'Random seed: the same seed gives the same text (default: a new one each run, shown by --stats and --json)')
    .option('--stop <text>', 'Stop when this text appears (repeatable)')
    .option('--logit-bias <token=value>', 'Add value to a token\'s logit; token is an id or a single-token text (repeatable)')
    .option('--beams <n>', 'Beam search with n beams (deterministic)')
    .option('--length-penalty <x>', 'Beam search length penalty exponent', { default: 1 })
    .option('--truncate', "Keep the end of a prompt too long for the context (and --max-new-tokens) instead of refusing it")
    .option('--no-cache', 'Recompute the whole sequence every step instead of using the KV cache')
    .option(...DEVICE_OPTION)
    .option(...WEIGHTS_OPTION)
    .option('--top-logprobs <k>', 'Candidates per step in --json output', { default: 5 })
    .option('--no-eos', 'Keep generating past the end-of-text token')
    .option('--sample-on <gpu|cpu>', 'Where tokens are chosen on WebGPU: gpu reads back only the candidates, cpu the whole row of logits (the reference)', { default: 'gpu' })
    .option('--no-pipeline', 'With --sample-on gpu: wait for each decode step to be read back before submitting the next')
    .option('--stats', 'Print timings and throughput to stderr')
    .option('--profile', 'Print the time of every dispatch (GPU) or op (WebAssembly) of the prefill and the first decode step to stderr (with --json: in the JSON)')
    .option('--chat', "Send the prompt as a user message through the model's chat template; print only the reply")
    .option('--json', 'Print one JSON object instead of streaming text')
    .option(...OFFLINE_OPTION)
    .example('wgpt generate "ROMEO:"')
    .example('wgpt generate "To be, or not to be" --temperature 0 --max-new-tokens 40')
    .example('wgpt generate "KING:" --top-k 40 --top-p 0.9 --seed 7 --stats')
    .example('echo "JULIET:" | wgpt generate --json --max-new-tokens 0')
    .action(run(async (promptArg: string | undefined, o: Record<string, any>) => {
      const prompt = await readPrompt(promptArg, o.file);
      const weights = toWeights(o.weights);
      const device = toDevice(o.device);
      const sampleOn = String(o.sampleOn);
      if (sampleOn !== 'gpu' && sampleOn !== 'cpu') throw new CliError(`--sample-on must be gpu or cpu, got "${sampleOn}"`);
      const options = generateOptions(o);
      options.sampleOn = sampleOn;
      options.pipeline = o.pipeline !== false;
      if ((options.beams ?? 1) > 1 && (options.temperature ?? 0) > 0) {
        throw new CliError('--beams is deterministic and cannot be combined with --temperature above 0: drop one of them');
      }

      const loading = spinner(process.stderr, 'loading the model');
      const pull = pullProgress(process.stderr);
      const onProgress: typeof pull.onProgress = (event) => {
        loading.stop(); // a download shows its own progress bars
        pull.onProgress(event);
      };
      const { model, tokenizer, gpu, name } = await openModel(o.model, { weights, device, offline: o.offline, onProgress });
      loading.stop();
      options.logitBias = parseLogitBias(toList(o.logitBias), tokenizer, model.vocabSize);

      // --chat: the prompt becomes a user turn, and the reply also stops at the template's end-of-turn tokens
      const chat = o.chat ? chatPrompt(tokenizer, prompt) : undefined;
      if (chat) options.stop = [...(options.stop ?? []), ...chat.stop];
      // checked before anything is printed: a prompt that does not fit is refused, or with --truncate loses its start
      const fitted = fitPromptForCli(chat?.ids ?? tokenizer.encode(prompt), model.nCtx, options.maxNewTokens ?? 64, options.truncate);
      if (fitted.dropped > 0) {
        const total = fitted.ids.length + fitted.dropped;
        process.stderr.write(`wgpt: the prompt is ${total} tokens and the context holds ${model.nCtx}: dropped its first ${fitted.dropped} tokens (--truncate), kept the last ${fitted.ids.length}\n`);
      }

      // Ctrl-C: stop after the current token, keep what was printed
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      options.signal = controller.signal;

      if (!o.json && !chat) process.stdout.write(fitted.dropped > 0 ? tokenizer.decode(fitted.ids) : prompt);
      // the first step compiles the pipelines and prefills the prompt: a spinner until the first text (or the JSON)
      const waiting = spinner(process.stderr, o.json ? 'generating' : 'prefill');
      const print = (text: string) => {
        waiting.stop();
        process.stdout.write(text);
      };
      // the text alone needs no log-probabilities: only --json prints them
      const result = await generate(model, tokenizer, fitted.ids, { ...options, logprobs: !!o.json }, o.json ? undefined : print);
      waiting.stop();
      process.off('SIGINT', onSigint);
      if (o.json) {
        process.stdout.write(`${JSON.stringify(jsonResult(result, name, gpu, fitted.dropped, o.profile))}\n`);
      } else {
        process.stdout.write('\n');
      }
      if (result.finish_reason === 'context') {
        const n = result.tokens.length;
        process.stderr.write(`wgpt: the context of ${model.nCtx} tokens is full: stopped after ${n} new token${n === 1 ? '' : 's'} of the ${options.maxNewTokens} asked for (finish reason "context")\n`);
      }
      if (o.stats) printStats(result, gpu, options.temperature === 0);
      if (o.profile && !o.json) printProfile(result, gpu.hasTimestamps || isWasmDevice(gpu));
      model.destroy();
      return result.finish_reason === 'abort' ? 130 : 0;
    }));
}

function generateOptions(o: Record<string, any>): GenerateOptions {
  const beams = toNumber('beams', o.beams, { min: 1, integer: true, note: '1: off' });
  return {
    maxNewTokens: toNumber('max-new-tokens', o.maxNewTokens, { min: 0, integer: true }),
    temperature: toNumber('temperature', o.temperature, { min: 0, note: '0: greedy' }) ?? (beams && beams > 1 ? 0 : 0.8),
    topK: toNumber('top-k', o.topK, { min: 0, integer: true, note: '0: off' }),
    topP: toNumber('top-p', o.topP, { min: 0, max: 1, minExclusive: true, note: '1: off' }),
    minP: toNumber('min-p', o.minP, { min: 0, max: 1, note: '0: off' }),
    typicalP: toNumber('typical-p', o.typicalP, { min: 0, max: 1, minExclusive: true, note: '1: off' }),
    repetitionPenalty: toNumber('repetition-penalty', o.repetitionPenalty, { min: 0, minExclusive: true, note: '1: off' }),
    noRepeatNgram: toNumber('no-repeat-ngram', o.banRepeatNgram, { min: 0, integer: true, note: '0: off' }),
    seed: toNumber('seed', o.seed, { min: 0, max: 0xffffffff, integer: true }),
    stop: toList(o.stop),
    beams,
    lengthPenalty: toNumber('length-penalty', o.lengthPenalty),
    useCache: o.cache !== false,
    topLogprobs: toNumber('top-logprobs', o.topLogprobs, { min: 0, max: 100, integer: true }),
    stopAtEos: o.eos !== false,
    profile: !!o.profile,
    truncate: !!o.truncate,
  };
}

/** TOKEN=VALUE pairs; TOKEN is a token id or a text that is exactly one token. */
function parseLogitBias(pairs: string[], tokenizer: Tokenizer, vocabSize: number): Map<number, number> {
  const bias = new Map<number, number>();
  for (const pair of pairs) {
    const eq = pair.lastIndexOf('=');
    if (eq <= 0) throw new CliError(`--logit-bias needs TOKEN=VALUE, got "${pair}"`);
    const token = pair.slice(0, eq);
    const text = pair.slice(eq + 1).trim();
    // -inf bans the token outright
    const value = /^-inf(inity)?$/i.test(text) ? -Infinity : text === '' ? NaN : Number(text);
    if (!(Number.isFinite(value) || value === -Infinity)) throw new CliError(`--logit-bias ${pair}: the value after = must be any number, or -inf to ban the token`);
    let id: number;
    if (/^\d+$/.test(token)) {
      id = Number(token);
    } else {
      const ids = tokenizer.encode(token);
      if (ids.length !== 1) throw new CliError(`--logit-bias: "${token}" is ${ids.length} tokens (${ids.join(' ')}); give a single token or its id`);
      id = ids[0]!;
    }
    if (id >= vocabSize) throw new CliError(`--logit-bias: token id ${id} is outside the vocabulary: ids are 0..${vocabSize - 1}`);
    bias.set(id, (bias.get(id) ?? 0) + value);
  }
  return bias;
}

function jsonResult(r: GenerationResult, model: string, gpu: Device, dropped: number, profile: boolean) {
  return {
    model,
    adapter: gpu.info.name,
    device: deviceKind(gpu),
    device_reason: gpu.info.reason,
    seed: r.seed,
    prompt_tokens: r.prompt_tokens,
    ...(dropped > 0 ? { prompt_tokens_dropped: dropped } : {}),
    tokens: r.tokens,
    text: r.text,
    steps: r.steps,
    ...(r.next ? { next: r.next } : {}),
    timings: r.timings,
    finish_reason: r.finish_reason,
    // each dispatch (GPU) or op (WebAssembly): its kernel, its layer, and its time where the adapter has timestamps
    ...(profile ? { profile: { prefill: profileJson(r.profile?.prefill), decode: profileJson(r.profile?.decode) } } : {}),
  };
}

function profileJson(timings: NonNullable<GenerationResult['profile']>['prefill'] | undefined) {
  return (timings ?? []).map((d) => ({ kernel: d.label, layer: d.layer ?? null, shape: d.shape ?? null, ms: d.ms }));
}

function printStats(r: GenerationResult, gpu: Device, greedy: boolean): void {
  const t = r.timings;
  const lines = [
    `device:         ${deviceKind(gpu)} (${gpu.info.reason})`,
    `adapter:        ${gpu.info.name}`,
    `seed:           ${r.seed} ${greedy ? '(not used: greedy decoding is the same every run)' : `(--seed ${r.seed} repeats this run)`}`,
    `prompt tokens:  ${r.prompt_tokens.length}`,
    `prefill:        ${t.prefill_ms.toFixed(1)} ms (${t.prefill_tokens_per_s.toFixed(1)} tok/s)`,
    `time to first:  ${t.time_to_first_token_ms.toFixed(1)} ms`,
    `decode:         ${r.tokens.length} tokens in ${t.decode_ms.toFixed(1)} ms (${t.tokens_per_s.toFixed(1)} tok/s)`,
    ...(t.dispatches_per_token !== undefined ? [`per token:      ${t.dispatches_per_token} dispatches, ${t.readback_bytes_per_token} bytes read back`] : []),
    `finish reason:  ${r.finish_reason}`,
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
}

function printProfile(r: GenerationResult, hasTimestamps: boolean): void {
  if (!hasTimestamps) {
    process.stderr.write('wgpt: this adapter has no timestamp-query feature, so there is no per-dispatch profile\n');
    return;
  }
  const steps = [formatProfile(`prefill (${r.prompt_tokens.length} tokens)`, r.profile?.prefill ?? [])];
  if (r.profile?.decode) steps.push(formatProfile('first decode step', r.profile.decode));
  process.stderr.write(`${steps.join('\n\n')}\n`);
}

/** fitPrompt, with the refusal in the command line's terms. */
function fitPromptForCli(ids: number[], nCtx: number, maxNewTokens: number, truncate?: boolean): { ids: number[]; dropped: number } {
  try {
    return fitPrompt(ids, nCtx, maxNewTokens, truncate);
  } catch (e) {
    if (!(e instanceof PromptTooLongError)) throw e;
    throw new CliError(`the prompt is ${e.tokens} tokens but the model's context holds ${e.nCtx}: shorten it, or add --truncate to keep its end`);
  }
}
