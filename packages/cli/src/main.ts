// `wgpt`: argument parsing and output only. Every command calls the public API in src/, which programs can call
// the same way.
import { cac } from 'cac';
import { isUserError } from '../../../src/errors.ts';
import { prepareArgv } from './argv.ts';
import { registerBench } from './bench.ts';
import { registerDoctor } from './doctor.ts';
import { registerGenerate } from './generate.ts';
import { registerLab } from './lab.ts';
import { registerModels } from './models.ts';
import { registerPull } from './pull.ts';
import { registerTokenize } from './tokenize.ts';
import { version } from './version.ts';

/** Run the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cli = cac('wgpt');
  const verbose = argv.includes('--verbose');
  let action: Promise<number | void> | undefined;
  const run = (fn: (...args: any[]) => Promise<number | void>) => (...args: any[]) => {
    action = fn(...args);
  };

  registerGenerate(cli, run);
  registerTokenize(cli, run);
  registerDoctor(cli, run);
  registerBench(cli, run);
  registerPull(cli, run);
  registerModels(cli, run);
  registerLab(cli, run);
  cli.option('--verbose', 'Print stack traces of errors');
  cli.help((sections) => {
    for (const section of sections) section.body = tidyHelp(section.body);
  });
  cli.version(version());
  cli.usage('<command> [options]\n\n  Run GPT-style language models on WebGPU, and look inside them.');

  try {
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

/** A usage mistake on the command line. */
export class CliError extends Error {
  override name = 'UserError';
}

function reportError(e: unknown, verbose: boolean): number {
  const error = e instanceof Error ? e : new Error(String(e));
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
