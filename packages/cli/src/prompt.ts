// Where the prompt comes from: the argument, --file, or standard input.
import { readFile } from 'node:fs/promises';
import { CliError } from './command.ts';

export async function readPrompt(arg: string | undefined, file: string | undefined): Promise<string> {
  if (arg !== undefined && file !== undefined) throw new CliError('give the prompt either as an argument or with --file, not both');
  if (arg !== undefined) return String(arg);
  if (file !== undefined) {
    try {
      return await readFile(String(file), 'utf8');
    } catch (e) {
      throw new CliError(`cannot read --file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  if (process.stdin.isTTY) throw new CliError('no prompt: pass one as an argument, with --file, or on standard input');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new CliError('the prompt on standard input is empty');
  return text;
}
