// Where the prompt (or, for tokenize, the text) comes from: the argument, --file, or standard input.
import { readFile } from 'node:fs/promises';
import { CliError } from './command.ts';

export async function readPrompt(arg: string | undefined, file: string | undefined, what = 'prompt'): Promise<string> {
  if (arg !== undefined && file !== undefined) throw new CliError(`give the ${what} either as an argument or with --file, not both`);
  if (arg !== undefined) return String(arg);
  if (file !== undefined) {
    try {
      return await readFile(String(file), 'utf8');
    } catch (e) {
      throw new CliError(`cannot read --file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (process.stdin.isTTY) throw new CliError(`no ${what}: pass it as an argument, with --file, or on standard input`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new CliError(`the ${what} on standard input is empty`);
  return text;
}
