// `wgpt tokenize`: the first lesson of every tutorial -- text becomes a list of integer ids.
import { openModelFolder } from 'wgpt';
import type { Command, Run } from './command.ts';
import { OFFLINE_OPTION } from './options.ts';
import { readPrompt } from './prompt.ts';

export function registerTokenize(command: Command, run: Run): void {
  command
    .option('--model <dir|org/name>', "Use this model's tokenizer; default: the embedded model's (GPT-2's BPE)")
    .option('--file <path>', 'Read the text from a file')
    .option('--json', 'Print the tokens as JSON')
    .option(...OFFLINE_OPTION)
    .example('wgpt tokenize "Hello, world!"')
    .example('wgpt tokenize "naïve café" --json')
    .action(run(async (textArg: string | undefined, o: Record<string, any>) => {
      const text = await readPrompt(textArg, o.file, 'text');
      const { tokenizer, config } = await openModelFolder(o.model, { offline: o.offline });
      const ids = tokenizer.encode(text);
      const tokens = ids.map((id) => ({ id, text: tokenizer.tokenString(id), bytes: [...tokenizer.tokenBytes(id)] }));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ tokenizer: config.arch === 'gpt2' ? 'gpt2' : 'tokenizer.json', count: ids.length, tokens })}\n`);
        return;
      }
      const rows = tokens.map((t, i) => [String(i), String(t.id), JSON.stringify(t.text), t.bytes.map((b) => b.toString(16).padStart(2, '0')).join(' ')]);
      const header = ['#', 'id', 'token', 'bytes (hex)'];
      const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
      const line = (r: string[]) => r.map((cell, c) => cell.padEnd(widths[c]!)).join('  ').trimEnd();
      process.stdout.write(`${[line(header), ...rows.map(line)].join('\n')}\n`);
      process.stdout.write(`${ids.length} tokens, ${new TextEncoder().encode(text).length} bytes, ${[...text].length} characters\n`);
    }));
}
