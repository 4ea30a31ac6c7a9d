// `wgpt`: argument parsing and output only. Every command calls the public API (`wgpt`, src/index.ts), which
// programs can call the same way. A command's module, and with it the API, loads only when that command runs, so
// `wgpt --version` and `wgpt --help` start about as fast as Node itself.
import { cac } from 'cac';
import { prepareArgv } from './argv.ts';
import { CliError, type Command, type Run } from './command.ts';
import { stopSpinner } from './spinner.ts';
import { version } from './version.ts';

interface CommandEntry {
  usage: string;
  description: string;
  /** The command's module: adds its options and action to the command. */
  load: () => Promise<(command: Command, run: Run) => void>;
}

const COMMANDS: Record<string, CommandEntry> = {
  generate: {
    usage: 'generate [prompt]',
    description: 'Continue a prompt, streaming tokens as they are produced',
    load: async () => (await import('./generate.ts')).registerGenerate,
  },
  perplexity: {
    usage: 'perplexity',
    description: 'Score a text file: perplexity by sliding windows (--file, --from 0.9 for its last 10%)',
    load: async () => (await import('./perplexity.ts')).registerPerplexity,
  },
  tokenize: {
    usage: 'tokenize [text]',
    description: 'Show how text splits into tokens: ids and the bytes of each token',
    load: async () => (await import('./tokenize.ts')).registerTokenize,
  },
  doctor: {
    usage: 'doctor',
    description: 'Show the WebGPU adapter wgpt uses, why, its features and limits',
    load: async () => (await import('./doctor.ts')).registerDoctor,
  },
  bench: {
    usage: 'bench [...reports]',
    description: "Time every kernel against the adapter's ceilings, profile a forward pass, measure throughput",
    load: async () => (await import('./bench.ts')).registerBench,
  },
  pull: {
    usage: 'pull [model]',
    description: 'Download a model (org/name) from the Hugging Face hub into its cache',
    load: async () => (await import('./pull.ts')).registerPull,
  },
  models: {
    usage: 'models',
    description: 'List the models in the Hugging Face hub cache, with their sizes',
    load: async () => (await import('./models.ts')).registerModels,
  },
  rm: {
    usage: 'rm [model]',
    description: 'Remove a model (org/name) from the Hugging Face hub cache',
    load: async () => (await import('./models.ts')).registerRm,
  },
  lab: {
    usage: 'lab <name> [...args]',
    description: 'Interpretability labs with figures (wgpt lab --help lists them)',
    load: async () => (await import('./lab.ts')).registerLab,
  },
};

/** Run the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = cac('wgpt');
  const verbose = argv.includes('--verbose');
  let action: Promise<number | void> | undefined;
  const run: Run = (fn) => (...args) => {
    action = fn(...args);
  };

  try {
    // the global options are flags, so the first word that is not an option names the command
    const name = argv.find((arg) => !arg.startsWith('-'));
    const entry = name !== undefined && Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (entry) {
      (await entry.load())(cli.command(entry.usage, entry.description), run);
    } else {
      // `wgpt --help`, `wgpt`, or an unknown command: list the commands without loading any of them
      for (const e of Object.values(COMMANDS)) cli.command(e.usage, e.description);
    }
    cli.option('--verbose', 'Print stack traces of errors');
    cli.help((sections) => {
      for (const section of sections) section.body = tidyHelp(section.body);
    });
    cli.version(version());
    cli.usage('<command> [options]\n\n  Run GPT-style language models on WebGPU, and look inside them.');

    const prepared = prepareArgv(cli, argv.map(renameNegativeLookalikes));
    const parsed = cli.parse(['node', 'wgpt', ...prepared.argv], { run: false });
    prepared.restore(cli);
    if (parsed.options.help || parsed.options.version) return 0;
    if (parsed.options.offline) process.env.HF_HUB_OFFLINE = '1'; // read wherever `--model org/name` is resolved
    if (!cli.matchedCommand) {
      if (cli.args.length > 0) throw new CliError(`unknown command "${cli.args[0]}": run \`wgpt --help\` to see the commands`);
      cli.outputHelp();
      return 0;
    }
    await cli.runMatchedCommand();
    return (await action) ?? 0;
  } catch (e) {
    return reportError(e, verbose);
  }
}

async function reportError(e: unknown, verbose: boolean): Promise<number> {
  stopSpinner();
  const error = e instanceof Error ? e : new Error(String(e));
  const { isUserError } = await import('wgpt');
  // cac's own parse errors (unknown option, missing value) are usage errors too
  const usage = isUserError(error) || error.name === 'CACError';
  if (verbose) console.error(error.stack ?? error.message);
  else if (usage) console.error(error.message.split('\n').map((line) => `wgpt: ${line}`).join('\n')); // one line per problem
  else console.error(`wgpt: internal error: ${error.message} (run with --verbose for the stack trace)`);
  return usage ? 2 : 1;
}

/** `--no-repeat-ngram N` is a number, not the negation of --repeat-ngram; give it a name mri will not negate. */
function renameNegativeLookalikes(arg: string): string {
  return arg.replace(/^--no-repeat-ngram(?==|$)/, '--ban-repeat-ngram');
}

/** cac shows "(default: true)" on --no-X flags and our internal name for --no-repeat-ngram; show what users type. */
function tidyHelp(body: string): string {
  return body
    .replace(/--ban-repeat-ngram <n>(\s*)(.*) \(also --no-repeat-ngram\)/, '--no-repeat-ngram <n> $1$2')
    .replace(/^(\s*--no-.*?) \(default: true\)/gm, '$1');
}
