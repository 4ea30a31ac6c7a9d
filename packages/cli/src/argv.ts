// The command line as the user wrote it. cac's parser (mri) reads a value that looks like a number as one, so
// `--stop " "` and `--stop $'\n\n'` become 0, and takes any word starting with '-' for a flag, so `--top-k -3`
// is "unknown option -3". Here every option value, and every negative number among the arguments, goes through
// cac as a placeholder and comes back verbatim afterwards; options from llama.cpp, OpenAI and HF generate() map to
// ours; and an unknown option is refused with the nearest known one.
import type { CAC, Command } from 'cac';
import { CliError } from './command.ts';

/** Other tools' names for our options: each is used when the command has the option it points to. */
const ALIASES: Record<string, string> = {
  '-n': '--max-new-tokens', // llama.cpp
  '--n-predict': '--max-new-tokens', // llama.cpp
  '--max-tokens': '--max-new-tokens', // OpenAI
  '--temp': '--temperature', // llama.cpp
  '--repeat-penalty': '--repetition-penalty', // llama.cpp
  '--num-beams': '--beams', // HF generate()
  '--no-repeat-ngram-size': '--no-repeat-ngram', // HF generate()
  '-m': '--model', // llama.cpp
  '-f': '--file', // llama.cpp
  '-s': '--seed', // llama.cpp
};

/** Names we parse under another name (main.ts renames --no-repeat-ngram before parsing): what users type. */
const SHOWN_AS: Record<string, string> = { '--ban-repeat-ngram': '--no-repeat-ngram' };

const NEGATIVE_NUMBER = /^-(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;
const PLACEHOLDER = /^\u0000wgpt(\d+)$/;

export interface PreparedArgv {
  /** What to hand to cac. */
  argv: string[];
  /** Put the values back into cac's parsed options and arguments, as the user wrote them. */
  restore(cli: CAC): void;
}

/** Check and rewrite `argv` (without node and the script) for the command it names. */
export function prepareArgv(cli: CAC, argv: string[]): PreparedArgv {
  const values: string[] = [];
  const hold = (value: string) => `\u0000wgpt${values.push(value) - 1}`;
  const commandName = argv.find((a) => !a.startsWith('-'));
  const command = cli.commands.find((c) => c.isMatched(commandName ?? ''));
  const asking = argv.includes('--help') || argv.includes('-h');
  if (!command) return { argv, restore() {} };

  const flags = knownFlags(command, cli.globalCommand);
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.push(arg);
      continue;
    }
    if (NEGATIVE_NUMBER.test(arg)) {
      out.push(hold(arg)); // an argument, e.g. the delta of `wgpt lab nudge-neuron 1 5 -8`
      continue;
    }
    const eq = arg.indexOf('=');
    let flag = eq > 0 ? arg.slice(0, eq) : arg;
    if (flag.startsWith('--')) flag = flag.replaceAll('_', '-'); // HF's spelling: --max_new_tokens
    if (!flags.has(flag) && ALIASES[flag] && flags.has(ALIASES[flag]!)) flag = ALIASES[flag]!;
    const takesValue = flags.get(flag);
    if (takesValue === undefined) {
      if (asking) continue;
      throw new CliError(unknownOption(flag, [...flags.keys()], command));
    }
    if (!takesValue) {
      out.push(eq > 0 ? `${flag}${arg.slice(eq)}` : flag);
      continue;
    }
    // the value is the rest after '=', or the next word, whatever it holds, unless that is one of our flags
    const next = argv[i + 1];
    if (eq > 0) {
      out.push(flag, hold(arg.slice(eq + 1)));
    } else if (next !== undefined && !(next.startsWith('-') && flags.has(next.split('=')[0]!))) {
      out.push(flag, hold(next));
      i++;
    } else if (!asking) {
      throw new CliError(`${SHOWN_AS[flag] ?? flag} needs a value: ${flagUsage(flag, command, cli.globalCommand)}`);
    }
  }

  const original = (x: unknown): unknown => {
    if (Array.isArray(x)) return x.map(original);
    const m = typeof x === 'string' ? PLACEHOLDER.exec(x) : null;
    return m ? values[Number(m[1])] : x;
  };
  return {
    argv: out,
    restore(parsed: CAC) {
      for (const key of Object.keys(parsed.options)) parsed.options[key] = original(parsed.options[key]);
      parsed.args = parsed.args.map((a) => original(a) as string);
    },
  };
}

/** "--stop <text>": how the help writes a flag. */
function flagUsage(flag: string, command: Command, global: Command): string {
  const option = [...global.options, ...command.options].find((o) => o.rawName.split(/[ ,]+/).includes(flag));
  return (option?.rawName ?? flag).replace(/^--ban-repeat-ngram/, '--no-repeat-ngram');
}

/** Every flag of a command (and the global ones), and whether it takes a value. */
function knownFlags(command: Command, global: Command): Map<string, boolean> {
  const flags = new Map<string, boolean>();
  for (const option of [...global.options, ...command.options]) {
    for (const flag of option.rawName.match(/(?<![\w-])--?[A-Za-z][\w-]*/g) ?? []) flags.set(flag, option.required !== undefined);
  }
  return flags;
}

/** "unknown option --temprature for `wgpt generate`: did you mean --temperature?" */
function unknownOption(flag: string, known: string[], command: Command): string {
  const where = `for \`wgpt ${command.name}\``;
  const shown = (f: string) => SHOWN_AS[f] ?? f;
  // other tools' names count as candidates too: --maxtokens is nearest to --max-tokens, which is --max-new-tokens
  const aliases = Object.keys(ALIASES).filter((a) => known.includes(ALIASES[a]!));
  const near = nearest(flag, [...known, ...aliases]);
  if (near) return `unknown option ${flag} ${where}: did you mean ${shown(ALIASES[near] && !known.includes(near) ? ALIASES[near]! : near)}?`;
  const alias = ALIASES[flag];
  if (alias) return `unknown option ${flag} ${where}: it means ${alias} elsewhere, which \`wgpt ${command.name}\` does not have; \`wgpt ${command.name} --help\` lists its options`;
  return `unknown option ${flag} ${where}: \`wgpt ${command.name} --help\` lists its options`;
}

/** The known flag closest to `flag` by edit distance, when it is close enough to be what was meant. */
export function nearest(flag: string, known: string[]): string | undefined {
  if (!flag.startsWith('--')) return undefined; // one letter is too little to guess from
  const bare = (f: string) => f.replace(/^-+/, '');
  const word = bare(flag);
  // a prefix of a longer name first (--max for --max-new-tokens), then a typo: one in a short word, two (or a
  // third of the letters) in a long one
  const prefix = known.find((k) => k.startsWith('--') && word.length >= 3 && bare(k).startsWith(word));
  if (prefix) return prefix;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    if (!candidate.startsWith('--') || candidate === '--help' || candidate === '--version') continue;
    const distance = editDistance(word, bare(candidate));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= (word.length <= 4 ? 1 : Math.max(2, Math.floor(word.length / 3))) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours cost 1. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}
